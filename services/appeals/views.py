"""How the JSON API shows an appeal: names and phones in full only to those who may see them."""

from __future__ import annotations

from .domain import STATUS_ZH, mask_name, mask_phone
from .handlers import AppealRecord


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


def shown(call, record: AppealRecord) -> dict:
    """The answer about one appeal to this caller."""
    return present(record.row, personal=sees_personal_data(call, record.row),
                   duplicate_case_no=record.duplicate_case_no)
