"""The reform use cases: the record of a catalogue edit, retiring and merging items, the history, the changes of a
year and the report."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.kernel import clock
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.workcal import CalendarUnavailable

from .. import store as core
from . import domain
from . import store as reform_store

ITEM_NOT_FOUND = "no such approval item"


def _today(now: datetime) -> date:
    return now.astimezone(clock.TZ).date()


def _checked(session, code: str, effective_on: date) -> dict:
    """The item, if its history can take a change dated `effective_on` (404 / 409 otherwise)."""
    item = core.get_item(session, code)
    if item is None:
        raise NotFound(ITEM_NOT_FOUND, message_zh="审批事项不存在")
    try:
        domain.check_dated(code, item["status"], core.last_dated_change(session, code), effective_on)
    except domain.ReformRefused as exc:
        raise Conflict(exc.message, message_zh=exc.message_zh) from None
    return item


def record_of_edit(session, data: dict, by: str, now: datetime) -> dict:
    """The history record of a catalogue edit (PUT): its day (default today, never in the future), its document
    and who recorded it. 409 for an edit of a retired or merged item, or one dated before the item's last change."""
    today = _today(now)
    effective_on = data.get("effective_on") or today
    if effective_on > today:
        raise BadRequest({"effective_on": ["an edit takes effect when recorded: not a day in the future / "
                                           "修改即时生效，生效日期不能晚于今天"]})
    if core.get_item(session, data["code"]) is not None:
        _checked(session, data["code"], effective_on)
    return {"effective_on": effective_on, "document": data.get("document"), "recorded_by": by}


def end(uow, settings, code: str, change: str, data: dict, by: str, now: datetime) -> dict:
    """Retire an item (取消) or merge it into another (合并) from `effective_on` (default today; may be a coming
    day): from then on it takes no new application. 404 unknown item; 400 an unknown target; 409 an item ended
    already, a target ended or the item itself, a day before the item's last change."""
    s = uow.session
    effective_on = data.get("effective_on") or _today(now)
    item = _checked(s, code, effective_on)
    into = None
    if change == domain.MERGED:
        into = data["into"]
        target = core.get_item(s, into)
        if target is None:
            raise BadRequest({"into": ["unknown approval item / 合并目标事项不存在"]})
        if into == code:
            raise Conflict("an item cannot be merged into itself", message_zh="不能合并到事项自身")
        if target["status"] != domain.ACTIVE:
            raise Conflict(f"item {into} is {target['status']}", message_zh=f"合并目标事项 {into} 已取消或合并")
    record = {"effective_on": effective_on, "document": data["document"], "reason": data.get("reason"),
              "merged_into": into, "recorded_by": by}
    core.add_item_change(s, item, change, record, now, previous={k: item[k] for k in core.TRACKED})
    out = core.end_item(s, code, change, effective_on, into, now)
    settings.items.forget()
    return out


def history(session, settings, code: str) -> dict:
    item = core.get_item(session, code)
    if item is None:
        raise NotFound(ITEM_NOT_FOUND, message_zh="审批事项不存在")
    return {"item": _named(settings, item), "changes": [_change(settings, c) for c in core.item_history(session, code)]}


def changes(session, settings, query: dict) -> tuple[list[dict], int]:
    first, last = date(query["year"], 1, 1), date(query["year"], 12, 31)
    rows, total = core.item_changes_page(session, first, last, query["department"], query["page"], query["per_page"])
    return [_change(settings, c) for c in rows], total


def report(session, settings, year: int, now: datetime) -> dict:
    """The reform report of `year` (see domain.report); 400 for a year not begun."""
    today = _today(now)
    if year > today.year:
        raise BadRequest({"year": ["a year not begun has no figures / 该年度尚未开始"]})
    as_of = domain.year_span(year, today)[1]
    history_rows = core.item_changes_through(session, as_of)
    start = datetime(year, 1, 1, tzinfo=clock.TZ)
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=clock.TZ)
    decided, uncounted = [], 0
    for a in reform_store.decided_between(session, start, end):
        started = a["clock_started_at"] or a["accepted_at"]
        if started is None:  # decided without acceptance (cannot happen through the window contract)
            uncounted += 1
            continue
        try:
            days = settings.calendar.working_days_between(started, a["decided_at"])
        except CalendarUnavailable:  # a year with no schedule: said, not guessed
            uncounted += 1
            continue
        decided.append(domain.Decided(a["item_code"], a["department"], days))
    out = domain.report(year, today, history_rows, decided, settings.rules)
    names = settings.departments
    for d in out["departments"]:
        d["department_name"] = names.name(d["department"])
    out.update(generated_at=now, uncounted=uncounted)
    return out


def _named(settings, item: dict) -> dict:
    return {**item, "department_name": settings.departments.name(item["department"])}


def _change(settings, c: dict) -> dict:
    return {**c, "change_zh": domain.CHANGE_ZH.get(c["change"], c["change"]),
            "department_name": settings.departments.name(c["department"])}
