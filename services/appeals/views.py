"""How the JSON API shows an appeal: names and phones in full only to those who may see them, codes with their
Chinese names beside them."""

from __future__ import annotations

from services.kernel.contracts.appeals import CHANNEL_ZH, TYPE_ZH, URGENCY_ZH
from services.kernel.departments import DepartmentRegister

from .domain import STATUS_ZH, mask_name, mask_phone
from .handlers import AppealRecord
from .store import Catalogue


class Labels:
    """The names people read beside the codes of a case: the category's in the dispatch catalogue (道路设施), the
    department's and the town-street's in the register of organisations (DEPARTMENTS_FILE: 市住房和城乡建设局,
    文昌街道), the channel's, type's and urgency's (the contracts' vocabularies: 12345热线). A code nobody names
    is shown as itself."""

    def __init__(self, catalogue: Catalogue | None, register: DepartmentRegister):
        self.catalogue = catalogue
        self.register = register

    def category(self, category: str | None, town_street: str | None = None) -> str | None:
        name = self.catalogue.name_of(category, town_street) if self.catalogue is not None else None
        return name or category

    def of(self, row: dict) -> dict:
        """The `*_name` / `*_zh` fields of a case's answer (and of its assisting departments)."""
        named = {"assisting": [{**a, "department_name": self.register.name(a["department"])}
                               for a in row["assisting"]]} if row.get("assisting") else {}
        return {**named,"category_name": self.category(row["category"], row.get("town_street")),
                "department_name": self.register.name(row["department"]),
                "town_street_name": self.register.name(row.get("town_street")),
                "subject_department_name": self.register.name(row.get("subject_department")),
                "channel_zh": CHANNEL_ZH.get(row["channel"], row["channel"]),
                "type_zh": TYPE_ZH.get(row["type"], row["type"]),
                "urgency_zh": URGENCY_ZH.get(row["urgency"], row["urgency"])}


def present(row: dict, *, personal: bool, duplicate_case_no: str | None = None) -> dict:
    """The API view of a case. Names and phones in full only for operators and the handling department."""
    name, phone = row["appellant_name"], row["appellant_phone"]
    if not personal:
        name, phone = mask_name(name), mask_phone(phone)
    return {
        **row,
        "status_zh": STATUS_ZH.get(row["status"], row["status"]),
        "appellant": {"name": name, "phone": phone, "anonymous": row["anonymous"]},
        "location": {k: row[k] for k in ("address", "town_street", "latitude", "longitude")},
        "clock": {"started_at": row["clock_started_at"], "limit_days": row["limit_days"], "due_at": row["due_at"],
                  "error": row["clock_error"], "overdue": row["overdue"], "urged_at": row["urged_at"],
                  "escalated_at": row["escalated_at"]},
        "wait": ({"since": row["waiting_since"], "due_at": row["wait_due_at"]}
                 if row.get("waiting_since") is not None else None),
        "extension": {"used": row["extension_used"], "pending_days": row["extension_days"],
                      "reason": row["extension_reason"]},
        "duplicate_of": duplicate_case_no,
        "attachments": row["attachments"] or [],
    }


def sees_personal_data(call, row: dict) -> bool:
    p = call.principal
    return p is not None and (p.role in ("operator", "admin")
                              or (p.role == "department_handler" and p.department == row["department"]))


def shown(call, record: AppealRecord, labels: Labels) -> dict:
    """The answer about one appeal to this caller, with the names of its codes."""
    return {**present(record.row, personal=sees_personal_data(call, record.row),
                      duplicate_case_no=record.duplicate_case_no), **labels.of(record.row)}


def listed(record: AppealRecord, labels: Labels) -> dict:
    """A case in a list or an export: personal data masked (a list is read by many), with the names of its codes."""
    return {**present(record.row, personal=False, duplicate_case_no=record.duplicate_case_no),
            **labels.of(record.row)}
