"""The use cases of the satisfied windows, as plain functions of a session or unit of work, the settings, the
standard and the command's data: a window's figures and the candidates of a period (评选), the leading group's
decision naming windows (命名), a title's revocation, the quarterly re-check (复查) and an appeal's finding learnt."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.errors import BadRequest, Conflict, NotFound

from ..windows.usecases import COMPREHENSIVE_ZH
from . import domain, store
from .domain import TITLE_ZH, Figures, Period, Standard

log = logging.getLogger(__name__)

RECHECK_BATCH = 50


# -- figures and candidates ----------------------------------------------------------------------------------------


def figures(session, windows: list[dict], period: Period) -> dict[str, Figures]:
    """Each window's record over `period` (a comprehensive window has no department: no complaint counts)."""
    codes = [w["code"] for w in windows]
    since, until = period.start, period.end
    levels = store.levels_by_window(session, since, until, codes)
    reds = store.red_cards_by_window(session, since, until, codes)
    decided = store.decided_by_window(session, since, until, codes)
    upheld = store.upheld_by_department(session, period.first, period.last)
    out = {}
    for w in windows:
        n, k = decided.get(w["code"], (0, 0))
        out[w["code"]] = Figures(levels=levels.get(w["code"], {}), red_cards=tuple(reds.get(w["code"], ())),
                                 complaints=tuple(upheld.get(w["department"], ())) if w["department"] else (),
                                 decided=n, in_time=k, department=w["department"])
    return out


def _department_name(settings, department: str | None) -> str:
    return COMPREHENSIVE_ZH if department is None else settings.departments.name(department)


def _started(period: Period, now: datetime) -> None:
    if now < period.start:
        raise BadRequest({"period": ["the period has not begun / 评选期间尚未开始"]})


def candidates(session, settings, standard: Standard, code: str, now: datetime) -> dict:
    """Every active window with its figures over the period and, per criterion, met or not with the evidence."""
    period = Period.parse(code)
    _started(period, now)
    windows = store.active_windows(session)
    record = figures(session, windows, period)
    named = {t["window"]: t["id"] for t in store.titles_of(session, period.code, [w["code"] for w in windows])}
    out = []
    for w in windows:
        criteria = domain.verdict(standard, record[w["code"]])
        out.append({"window": w["code"], "name": w["name"], "department": w["department"],
                    "department_name": _department_name(settings, w["department"]),
                    "service_point": w["service_point"], "meets": not domain.failing(criteria), "criteria": criteria,
                    "title_id": named.get(w["code"])})
    return {"period": period.code, "period_from": period.first, "period_to": period.last,
            "complete": now >= period.end, "standard": [{"criterion": c.key, "label_zh": c.label_zh,
                                                         "threshold": c.value} for c in standard.criteria],
            "windows": out}


# -- naming -------------------------------------------------------------------------------------------------------


def present_title(row: dict, settings, names) -> dict:
    return {**row, "title_zh": TITLE_ZH, "window_name": names.get(row["window"]),
            "department_name": _department_name(settings, row["department"]),
            "state_zh": domain.TITLE_STATE_ZH.get(row["state"], row["state"])}


def _names(session) -> dict[str, str]:
    from ..windows import store as windows

    return windows.names(session)


def decide(uow, settings, standard: Standard, data: dict, by: str, now: datetime) -> dict:
    """Record the leading group's decision naming `data["windows"]` for the period: one title per window
    (`naming.window_named` each), all or none. 400: an unknown or inactive window, a decision dated before the
    period began or in the future, a window not meeting the standard without `override_reason`; 409: a window
    named for the period already."""
    from ..windows import store as windows

    s = uow.session
    period = Period.parse(data["period"])
    _started(period, now)
    decided_at = data["decided_at"]
    if decided_at > now or decided_at < period.start:
        raise BadRequest({"decided_at": ["between the period's beginning and now / "
                                         "须在评选期间开始之后且不晚于当前时间"]})
    rows = {code: windows.get(s, code) for code in data["windows"]}
    bad = [code for code, w in rows.items() if w is None or not w["active"]]
    if bad:
        raise BadRequest({"windows": [f"no such active window: {', '.join(bad)} / 窗口不存在或已停用"]})
    named = store.titles_of(s, period.code, data["windows"])
    if named:
        codes = ", ".join(sorted(t["window"] for t in named))
        raise Conflict(f"named for {period.code} already: {codes}",
                       message_zh=f"窗口已被命名（{period.code}）：{codes}",
                       details={"windows": sorted(t["window"] for t in named)})
    record = figures(s, list(rows.values()), period)
    verdicts = {code: domain.verdict(standard, record[code]) for code in rows}
    unmet = {code: domain.failing(v) for code, v in verdicts.items() if domain.failing(v)}
    reason = data.get("override_reason")
    if unmet and not reason:
        listed = "; ".join(f"{code}: {', '.join(keys)}" for code, keys in unmet.items())
        raise BadRequest({"override_reason": [f"required: not meeting the standard — {listed} / "
                                              f"未达到创建标准的窗口须说明命名理由"]})
    decision_id = store.add_decision(s, {
        "period": period.code, "decided_by": data["decided_by"], "decided_at": decided_at,
        "document_no": data.get("document_no"), "windows": list(data["windows"]), "override_reason": reason,
        "recorded_by": by, "recorded_at": now})
    named_on = decided_at.astimezone(clock.TZ).date()
    for code, w in rows.items():
        met = code not in unmet
        # a concurrent decision naming it too: the unique key refuses one of them (the endpoint answers 409)
        title_id = store.add_title(s, {
            "decision_id": decision_id, "period": period.code, "window": code, "department": w["department"],
            "named_at": decided_at, "named_on": named_on, "met": met, "override_reason": None if met else reason,
            "criteria": verdicts[code], "state": "active", "updated_at": now})
        uow.publish("naming.window_named", {
            "title_id": str(title_id), "decision_id": str(decision_id), "window": code, "window_name": w["name"],
            "department": w["department"], "period": period.code, "named_at": decided_at, "named_on": named_on,
            "met": met, "failing": unmet.get(code, []), "document_no": data.get("document_no"), "by": by},
            department=w["department"])
    names = _names(s)
    return {"id": decision_id, "period": period.code, "decided_by": data["decided_by"], "decided_at": decided_at,
            "document_no": data.get("document_no"), "windows": list(data["windows"]),
            "titles": [present_title(store.get_title(s, t["id"]), settings, names)
                       for t in store.titles_of(s, period.code, data["windows"])]}


def get_title(session, settings, title_id: int) -> dict:
    row = store.get_title(session, title_id)
    if row is None:
        raise NotFound(f"no title {title_id}", message_zh="命名记录不存在")
    return present_title(row, settings, _names(session))


def list_titles(session, settings, query: dict) -> tuple[list[dict], int]:
    rows, total = store.list_titles(session, **query)
    names = _names(session)
    return [present_title(r, settings, names) for r in rows], total


def revoke(uow, settings, title_id: int, data: dict, by: str, now: datetime) -> dict:
    """Revoke an active title with the leading group's reason (`naming.title_revoked`, naming the failed re-check
    it follows, if any); it leaves the public list. 404 unknown, 409 revoked already."""
    s = uow.session
    row = store.get_title(s, title_id, lock=True)
    if row is None:
        raise NotFound(f"no title {title_id}", message_zh="命名记录不存在")
    if row["state"] != "active":
        raise Conflict(f"title {title_id} was revoked already", message_zh="该窗口的命名已撤销")
    flag = store.open_flag(s, title_id)
    store.change_title(s, title_id, state="revoked", revoked_at=now, revoked_by=data["decided_by"],
                       revoke_reason=data["reason"], revoke_recorded_by=by,
                       recheck_id=None if flag is None else flag["id"], updated_at=now)
    uow.publish("naming.title_revoked", {
        "title_id": str(title_id), "window": row["window"], "department": row["department"],
        "period": row["period"], "named_on": row["named_on"], "reason": data["reason"],
        "recheck_id": None if flag is None else str(flag["id"]),
        "quarter": None if flag is None else flag["quarter"], "revoked_at": now, "by": by},
        department=row["department"])
    return get_title(s, settings, title_id)


def public_list(session, settings) -> dict:
    """The active titles for the public page: the window's name, its department's name, its service point, the
    period and the date; nothing else (no badges, no persons)."""
    items = [{"window_name": r["name"], "department_name": _department_name(settings, r["department"]),
              "service_point": r["service_point"], "period": r["period"], "named_on": r["named_on"],
              "title_zh": TITLE_ZH} for r in store.public_titles(session)]
    return {"items": items, "total": len(items)}


# -- the quarterly re-check ---------------------------------------------------------------------------------------


def any_recheck_due(session, now: datetime) -> bool:
    quarter = domain.last_quarter(now)
    return bool(store.due_for_recheck(session, quarter.code, quarter.end, limit=1))


def recheck_due(db, standard: Standard, now: datetime, limit: int = RECHECK_BATCH) -> list[int]:
    """Check every active title named before the last quarter ended against the standard over that quarter, once
    per title and quarter however many instances tick (the re-check row's unique key: the one that commits first
    wins, the others roll back, event and all). A failing one is flagged (`naming.recheck_failed`). The re-checks
    recorded here."""
    from ..windows import store as windows

    quarter = domain.last_quarter(now)
    with db.reader() as s:
        due = store.due_for_recheck(s, quarter.code, quarter.end, limit)
    done = []
    for title in due:
        try:
            with db.unit_of_work() as uow:
                window = windows.get(uow.session, title["window"]) or {"code": title["window"], "name": None,
                                                                       "department": title["department"]}
                window = {**window, "code": title["window"], "department": title["department"]}
                criteria = domain.verdict(standard, figures(uow.session, [window], quarter)[title["window"]])
                failing = domain.failing(criteria)
                recheck_id = store.add_recheck(uow.session, {
                    "title_id": title["id"], "window": title["window"], "quarter": quarter.code,
                    "passed": not failing, "failing": failing, "criteria": criteria, "checked_at": now})
                if failing:
                    uow.publish("naming.recheck_failed", {
                        "recheck_id": str(recheck_id), "title_id": str(title["id"]), "window": title["window"],
                        "window_name": window.get("name"), "department": title["department"],
                        "period": title["period"], "quarter": quarter.code, "failing": failing,
                        "failing_zh": [standard[k].label_zh for k in failing], "checked_at": now},
                        department=title["department"])
        except IntegrityError:
            log.info("re-check of title %s over %s was recorded by another instance", title["id"], quarter.code)
            continue
        log.info("re-check of title %s (%s) over %s: %s", title["id"], title["window"], quarter.code,
                 "failed " + ", ".join(failing) if failing else "passed")
        done.append(recheck_id)
    return done


def present_recheck(row: dict, standard: Standard, names: dict) -> dict:
    return {**row, "window_name": names.get(row["window"]),
            "failing_zh": [c["label_zh"] for c in row["criteria"] if c["criterion"] in row["failing"]]}


def list_rechecks(session, standard: Standard, query: dict) -> tuple[list[dict], int]:
    rows, total = store.list_rechecks(session, **query)
    names = _names(session)
    return [present_recheck(r, standard, names) for r in rows], total


# -- appeals' findings --------------------------------------------------------------------------------------------


def record_finding(uow, event) -> bool:
    """An upheld efficiency complaint against a department, kept on the day it was found (Asia/Shanghai); any
    other finding, or one against no department, is not kept. Whether it was kept."""
    p = event.payload
    if p["finding"] != "upheld" or not p.get("subject_department"):
        return False
    store.add_upheld(uow.session, {
        "department": p["subject_department"], "day": event.occurred_at.astimezone(clock.TZ).date(),
        "appeal_id": p["appeal_id"], "case_no": p["case_no"], "event_id": event.event_id,
        "recorded_at": clock.now()})
    return True
