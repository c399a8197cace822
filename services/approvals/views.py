"""How an application is shown: the view every endpoint answers with, and who may see it."""

from __future__ import annotations

from services.kernel.departments import DepartmentRegister
from services.kernel.errors import NotFound

from . import store
from .domain import STATE_ZH, Application
from .windows.domain import responsible


def mask_id_number(number: str) -> str:
    """Only the first three and the last four characters stay readable."""
    if len(number) <= 7:
        return "*" * (len(number) - 2) + number[-2:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def clock_view(app: Application, now) -> dict | None:
    status = app.clock_status(now)
    if status is None:
        return None
    return {**status, "paused_intervals": app.row.get("special_procedures") or [],
            "extension_days": app.row.get("extension_days")}


def present(row: dict, app: Application | None, now, register: DepartmentRegister, windows=None) -> dict:
    """An application as every endpoint answers it: its department also by the register's name, its responsible
    window and badge (首问负责) with the window's name by `windows` (windows/usecases.py `WindowNames`, warmed)."""
    return {
        **{k: v for k, v in row.items() if k != "query_code"},  # the receipt's: only the submission answers it
        "department_name": register.name(row["department"]),
        "state_zh": STATE_ZH.get(row["state"], row["state"]),
        "applicant": {"name": row["applicant_name"], "kind": row["applicant_kind"],
                      "id_number": row["applicant_id_masked"]},
        "clock": clock_view(app, now) if app is not None else None,
        "responsible": responsible(row, (lambda code: None) if windows is None else windows.name),
    }


def visible(call, session, application_id: int, lock: bool = False) -> dict:
    """The stored application, if the caller of an HTTP `call` may see it (`find_visible`)."""
    return find_visible(session, application_id, call.department_scope, lock)


def find_visible(session, application_id: int, scope: str | None, lock: bool = False) -> dict:
    """The stored application, if a caller confined to the department `scope` (None: not confined) may see it:
    one 404 for "missing" and "another department's", so that neither leaks the other."""
    row = store.get(session, application_id, lock=lock)
    if row is None or (scope is not None and row["department"] != scope):
        raise NotFound(f"no application {application_id}", message_zh="申请不存在")
    return row
