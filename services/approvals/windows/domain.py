"""The rules of windows and badges (pure): which registered window may record a step of an application, what a
step's history line says of its window and badge, and who becomes responsible for the application (首问负责)."""

from __future__ import annotations

from typing import Any

FIRST_RESPONSIBLE_ZH = "首问负责"


def refusal(window: dict | None, department: str) -> str | None:
    """Why `window` (its register row, None: not registered) may not record a step of an application of
    `department`, or None when it may: a registered, active window of that department or a comprehensive one."""
    if window is None:
        return "not a registered window; see GET /api/v1/windows"
    if not window["active"]:
        return "the window is not active"
    if window["department"] is not None and window["department"] != department:
        return f"a window of {window['department']}, not of the application's department {department}"
    return None


def step_details(window: str | None, badge: str | None) -> dict[str, Any]:
    """What a step's history line records of its window and badge (nothing when neither was named)."""
    return {k: v for k, v in (("window", window), ("badge", badge)) if v is not None}


def first_responsible(row: dict | None, window: str | None, badge: str | None) -> dict[str, Any]:
    """The application's columns that make this step's window and badge responsible (首问负责): set by the first
    step that names a badge, never changed after (`row`: the application before the step, None: a submission)."""
    if badge is None or (row is not None and row.get("first_badge") is not None):
        return {}
    return {"first_window": window, "first_badge": badge}


def responsible(row: dict, window_name) -> dict | None:
    """The application's responsible window and badge as answered (`window_name(code)`: its registered name)."""
    if row.get("first_badge") is None:
        return None
    code = row.get("first_window")
    return {"window": code, "window_name": None if code is None else window_name(code), "badge": row["first_badge"]}
