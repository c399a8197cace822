"""The reform rules (精简审批事项, 压减审批时限), pure: the catalogue as it stood on a day, rebuilt from its history;
when an item takes no application any more; the report's figures per department and for the city."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from ..domain import IMMEDIATE, Item, Rules

ACTIVE, RETIRED, MERGED = "active", "retired", "merged"
INITIAL, ADDED, CHANGED = "initial", "added", "changed"
CHANGES = (INITIAL, ADDED, CHANGED, RETIRED, MERGED)
ENDINGS = (RETIRED, MERGED)
CHANGE_ZH = {INITIAL: "初始", ADDED: "新增", CHANGED: "变更", RETIRED: "取消", MERGED: "合并"}


class ReformRefused(Exception):
    """A change the catalogue's history cannot take (409)."""

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


def takes_applications(status: str, ended_on: date | None, on: date) -> bool:
    """A retired or merged item takes no application received on or after the day its ending takes effect."""
    return status == ACTIVE or ended_on is None or on < ended_on


def check_dated(item_code: str, status: str, last_dated: date | None, effective_on: date) -> None:
    """A change of an ended item, or one dated before the item's last dated change, is refused: the history is
    read in the order of its dates, so it must be written in it."""
    if status != ACTIVE:
        raise ReformRefused(f"item {item_code} is {status}; its history is closed",
                            f"审批事项 {item_code} 已{CHANGE_ZH[status]}，不能再变更")
    if last_dated is not None and effective_on < last_dated:
        raise ReformRefused(f"effective_on {effective_on} is before the item's last recorded change ({last_dated})",
                            f"生效日期早于该事项最近一次变更的生效日期（{last_dated}）")


def catalogue_on(changes: Iterable[Mapping], day: date) -> dict[str, Mapping]:
    """The items in force at the end of `day`, by code, each as its latest entry taking effect by then. An
    "initial" entry is the catalogue as found when the history began: it stands for every earlier day too."""
    ordered = sorted(changes, key=lambda c: (c["change"] != INITIAL, c["effective_on"], c["id"]))
    out: dict[str, Mapping] = {}
    for c in ordered:
        if c["change"] != INITIAL and c["effective_on"] > day:
            continue
        if c["change"] in ENDINGS:
            out.pop(c["item_code"], None)
        else:
            out[c["item_code"]] = c
    return out


def limits(entry: Mapping, rules: Rules) -> tuple[int, int]:
    """(statutory, committed) working days of an item as the clock reads them: no statutory limit in the catalogue
    takes the rules' (joint or not); the committed one is what monitoring runs against (0 for an immediate item)."""
    item = Item(code=entry["item_code"], name=entry["name"], department=entry["department"], kind=entry["kind"],
                statutory_limit=entry["statutory_limit"], committed_limit=entry["committed_limit"],
                joint=bool(entry["joint"]))
    statutory = item.statutory_limit
    if statutory is None:
        statutory = rules.joint_limit if item.joint else rules.statutory_limit
    committed = 0 if item.kind == IMMEDIATE else rules.limit_for(item)
    return statutory, committed


@dataclass(frozen=True)
class Decided:
    """One decided application of the year: its item, department and working days from acceptance to decision."""

    item_code: str
    department: str
    days: int


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _cut(start: float | None, now: float | None) -> float | None:
    """The cut in per cent of the start (positive: smaller now); None without a start to compare with."""
    if not start or now is None:
        return None
    return round((start - now) / start * 100, 1)


def figures(start: list[Mapping], now: list[Mapping], changes: list[Mapping], decided: list[Decided],
            rules: Rules) -> dict:
    """The figures of one department or the city: items and average limits at the start and now (averages to two
    decimals, cuts in per cent to one, from the unrounded averages), the year's additions / retirements / mergers /
    changes, and the average actual working days per item (each item's own average over its decided
    applications, then averaged over the items)."""
    s_lim = [limits(e, rules) for e in start]
    n_lim = [limits(e, rules) for e in now]
    per_item: dict[str, list[int]] = {}
    for d in decided:
        per_item.setdefault(d.item_code, []).append(d.days)
    avg = {"statutory_avg_start": _mean([s for s, _ in s_lim]), "statutory_avg_now": _mean([s for s, _ in n_lim]),
           "committed_avg_start": _mean([c for _, c in s_lim]), "committed_avg_now": _mean([c for _, c in n_lim])}
    return {"items_start": len(start), "items_now": len(now), "items_cut_pct": _cut(len(start), len(now)),
            "added": sum(c["change"] == ADDED for c in changes),
            "retired": sum(c["change"] == RETIRED for c in changes),
            "merged": sum(c["change"] == MERGED for c in changes),
            "limit_changes": sum(c["change"] == CHANGED for c in changes),
            **{k: _round(v, 2) for k, v in avg.items()},
            "statutory_cut_pct": _cut(avg["statutory_avg_start"], avg["statutory_avg_now"]),
            "committed_cut_pct": _cut(avg["committed_avg_start"], avg["committed_avg_now"]),
            "decided": len(decided), "items_decided": len(per_item),
            "actual_avg_days": _round(_mean([sum(v) / len(v) for v in per_item.values()]), 2)}


def year_span(year: int, today: date) -> tuple[date, date]:
    """(the first day of the year, the day "now" means: today in the running year, else the year's last day)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return first, min(today, last)


def report(year: int, today: date, changes: list[Mapping], decided: list[Decided], rules: Rules) -> dict:
    """The reform report of `year`: per department (sorted by code) and for the city. `changes`: the history
    through the day "now" means; `decided`: the applications decided in the year up to then."""
    first, as_of = year_span(year, today)
    start = catalogue_on(changes, first - timedelta(days=1))
    now = catalogue_on(changes, as_of)
    in_year = [c for c in changes if c["change"] != INITIAL and first <= c["effective_on"] <= as_of]
    departments = sorted({e["department"] for e in (*start.values(), *now.values())}
                         | {c["department"] for c in in_year} | {d.department for d in decided})

    def of(dept: str | None) -> dict:
        def mine(rows):
            return [r for r in rows if dept is None or r["department"] == dept]

        return figures(mine(start.values()), mine(now.values()), mine(in_year),
                       [d for d in decided if dept is None or d.department == dept], rules)

    return {"year": year, "start_on": first, "as_of": as_of,
            "departments": [{"department": d, **of(d)} for d in departments], "city": of(None)}
