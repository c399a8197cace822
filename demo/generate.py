"""A plausible year of the demo city as HTTP requests to the real services: appeals from every channel with
their handling, approval applications with the window's actions, and the assessment office's own inputs.

`generate(...)` yields `Request`s; the same arguments give the same requests (one seeded random generator,
no clock: everything is dated between `start` and `until`). Requests of one chain (one case, one application,
the scoring inputs) are in time order and must be sent in order; chains are independent of each other, so a
runner may send them in parallel. Every time is back-dated with `at` / `received_at` and lies before `until`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from services.kernel.clock import TZ
from services.kernel.workcal import CalendarUnavailable, WorkCalendar

from . import city

APPEAL_LIMITS = {"consultation": 3, "help": 3, "praise": 3, "complaint": 13, "suggestion": 13, "report": 13,
                 "efficiency_complaint": 13}
CHANNELS = {"hotline": 45, "web": 18, "online_opinion": 12, "window": 11, "mayor_line": 8, "sunshine_dialogue": 6}
TYPES = {"complaint": 32, "help": 25, "consultation": 20, "suggestion": 12, "report": 7, "praise": 4}
CATEGORY_WEIGHTS = {"road": 12, "water": 10, "heating": 3, "environment": 10, "traffic": 7, "market": 10, "labour": 7,
                    "housing": 10, "education": 5, "health": 6, "approval": 4, "sanitation": 10, "energy": 3,
                    "other": 4}
DEFAULT_START = date(2026, 1, 4)  # the first working day of 2026


@dataclass(frozen=True)
class Request:
    """One HTTP request of the demo. `path` may hold `{id}`: the id of the entity `parent` (made earlier in the
    same chain). `key` names the API key: a role, or `handler:<department>`."""

    service: str  # appeals | approvals | scoring
    method: str
    path: str
    body: dict | None
    key: str
    chain: str
    what: str
    ref: str | None = None  # this request creates the entity called `ref` (the answer's `id`)
    parent: str | None = None  # sent only if `parent` was created (201) in this run of the runner
    expect: tuple[int, ...] = (200, 201)
    at: str = ""  # when it happens in the demo's year (for ordering and reading; not sent)


@dataclass
class Sizes:
    appeals: int = 300
    applications: int = 200
    points: int | None = None  # monitoring points; default from the sizes
    visits: int | None = None
    evaluations: int | None = None


@dataclass
class _Chain:
    name: str
    steps: list[tuple[datetime, Request]] = field(default_factory=list)


def iso(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat()


class Year:
    """Draws the demo's year. One instance per generation: its random generator is the only state."""

    def __init__(self, seed: int, until: date, start: date = DEFAULT_START, calendar: WorkCalendar | None = None):
        if until <= start:
            raise ValueError(f"until ({until}) must be after the start of the demo's year ({start})")
        self.rng = random.Random(seed)
        self.seed = seed
        self.start = start
        self.until = until
        self.end = datetime.combine(until, time(0), TZ)  # every moment is before this
        self.calendar = calendar or WorkCalendar.load(None)
        self.days = [start + timedelta(days=i) for i in range((until - start).days)]
        self.working_days = [d for d in self.days if self.calendar.is_working_day(d)]
        # each department's diligence (0..1): how likely it is on time, so the ranking has a spread
        rng = random.Random(seed * 7919 + 1)
        self.diligence = {code: round(rng.uniform(0.55, 0.98), 3) for code in city.DEPARTMENTS}

    # -- drawing helpers ----------------------------------------------------------------------------

    def pick(self, weights: dict):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def on_day(self, d: date, first: float = 8.5, last: float = 17.5) -> datetime:
        """A moment on day `d` between the hours `first` and `last` (to the minute)."""
        minutes = self.rng.randint(int(first * 60), int(last * 60))
        return datetime.combine(d, time(minutes // 60, minutes % 60), TZ)

    def later_on(self, moment: datetime, last: float = 20.0) -> datetime:
        """A moment later on the same day as `moment` (or a minute later when the day is over)."""
        latest = datetime.combine(moment.date(), time(int(last), int(last % 1 * 60)), TZ)
        if latest <= moment + timedelta(minutes=20):
            return moment + timedelta(minutes=self.rng.randint(1, 15))
        span = int((latest - moment).total_seconds() // 60)
        return moment + timedelta(minutes=self.rng.randint(15, span))

    def working_day_after(self, moment: datetime, n: int, first: float = 8.5, last: float = 17.5) -> datetime:
        """A moment on the n-th working day after `moment`'s day (n = 0: later the same day)."""
        if n == 0:
            return self.later_on(moment, last)
        return self.on_day(self.add_working_days(moment.astimezone(TZ).date(), n), first, last)

    def add_working_days(self, d: date, n: int) -> date:
        """The calendar's n-th working day after `d`; beyond the years it knows, a day after the demo's end
        (such a step is simply not sent)."""
        try:
            return self.calendar.add_working_days(d, n)
        except CalendarUnavailable:
            return self.until + timedelta(days=1 + n)

    def working_days_between(self, start: date, end: date) -> int:
        try:
            return self.calendar.working_days_between(start, end)
        except CalendarUnavailable:
            return 0

    def person(self) -> tuple[str, str]:
        name = self.rng.choice(city.SURNAMES) + "".join(self.rng.choices(city.GIVEN, k=self.rng.choice((1, 2))))
        return name, f"1{self.rng.choice('3589')}{self.rng.randint(0, 999999999):09d}"

    def diligent(self, department: str, p_base: float = 1.0) -> bool:
        return self.chance(self.diligence.get(department, 0.8) * p_base)


def generate(seed: int = 2026, *, until: date, sizes: Sizes | None = None, start: date = DEFAULT_START,
             calendar: WorkCalendar | None = None) -> Iterator[Request]:
    """The demo's requests, chain after chain (each chain in time order)."""
    sizes = sizes or Sizes()
    year = Year(seed, until, start, calendar)
    chains: list[_Chain] = [_windows(year)]
    phones: set[str] = set()
    for n in range(sizes.appeals):
        chains.append(_appeal(year, n, phones))
    for n in range(sizes.applications):
        chains.append(_application(year, n))
    chains.append(_scoring(year, sizes))
    chains.append(_naming(year))
    chains.append(_enforcement(year))
    for chain in chains:
        # stable: steps at the same moment keep the order they were written in
        for _, request in sorted(chain.steps, key=lambda step: step[0]):
            yield request


# -- appeals ----------------------------------------------------------------------------------------


def _appeal(year: Year, n: int, phones: set[str]) -> _Chain:
    rng = year.rng
    ref = f"DEMO-{year.seed}-A{n:05d}"
    chain = _Chain(f"appeal:{ref}")
    # Every kind of case comes at least once in a small year (by the case's number), more by chance.
    if n % 28 == 5 or rng.random() < 0.02:
        return _efficiency_complaint(year, n, ref, chain)
    channel = list(CHANNELS)[n] if n < len(CHANNELS) else year.pick(CHANNELS)
    category = year.pick(CATEGORY_WEIGHTS)
    town = rng.choice(sorted(city.TOWN_STREETS))
    place = rng.choice(city.TOWN_STREETS[town][1])
    hotspot = rng.random() < 0.1
    if hotspot:
        category, town, place = rng.choice(city.HOTSPOTS)
    if n % 30 == 11:
        category = "water"
    department = city.TOWN_STREET_RULES.get((category, town)) or city.CATEGORIES[category][0]
    emergency = n % 30 == 11 or (category in ("water", "road", "environment", "energy") and rng.random() < 0.05)
    kind = "help" if emergency else "complaint" if n % 12 == 4 else year.pick(TYPES)
    limit = 0 if emergency else APPEAL_LIMITS[kind]
    days = year.days if channel in ("hotline", "web", "online_opinion") else year.working_days
    # a third in the last four weeks: the hot-issue brief's default week and the console have a live look
    hanging = n % 33 == 20  # signed for and never answered: long overdue
    day = rng.choice(days[: len(days) // 2] if hanging else days[-10:] if hotspot
                     else days[-28:] if rng.random() < 0.3 else days)
    received = year.on_day(day, 7.5, 21.5) if channel != "window" else year.on_day(day, 9, 17)
    name, phone = year.person()
    while phone in phones:  # one phone per case: only the intended repeats are linked as duplicates
        name, phone = year.person()
    phones.add(phone)
    anonymous = n % 13 != 1 and rng.random() < 0.08
    content = f"{place}{rng.choice(city.CATEGORIES[category][1])}"
    body = {"channel": channel, "external_ref": ref, "type": kind, "urgency": "emergency" if emergency else "normal",
            "category": category, "content": content, "received_at": iso(received),
            "appellant": {"anonymous": True} if anonymous else {"name": name, "phone": phone},
            "location": {"address": f"{city.TOWN_STREETS[town][0]}{place}", "town_street": town}}
    step = _Steps(year, chain, ref)
    step.add(received, Request("appeals", "POST", "/api/v1/appeals", body, "operator" if channel != "window"
                               else "window_system", chain.name, f"appeal.intake.{channel}", ref=ref))
    moment = received

    # a repeat call while the case is open (linked to it, not dispatched again)
    repeat_at = None
    if not anonymous and (n % 13 == 1 or rng.random() < 0.05):
        repeat_at = received + timedelta(hours=rng.randint(3, 96))

    # misassigned: the department returns it, an operator approves the return (退单审核) and dispatches it to
    # the right one
    if n % 16 == 2 or rng.random() < 0.04:
        moment = year.working_day_after(moment, rng.choice((0, 1)))
        if moment >= year.end:
            return step.done(repeat_at, body, phone)
        step.add(moment, step.handler(department, "return", {"reason": "不属于本单位职责，请重新派单"},
                                      "appeal.return"))
        moment = moment + timedelta(minutes=rng.randint(10, 60))
        if moment >= year.end:
            return step.done(repeat_at, body, phone)
        step.add(moment, step.call("operator", "review-return", {"decision": "approved", "note": "确非本单位职责"},
                                   "appeal.return_review"))
        moment = moment + timedelta(minutes=rng.randint(10, 180))
        department = city.RIGHT_DEPARTMENT[category]
        if moment >= year.end:
            return step.done(repeat_at, body, phone)
        step.add(moment, step.call("operator", "dispatch", {"department": department}, "appeal.redispatch"))

    dispatched = moment
    for round_ in (0, 1):  # a reopening after an unsatisfied call-back is the second round
        # sign for it: usually the same or the next working day (in time), a slack department later
        lag = 0 if emergency else (rng.choice((0, 0, 1)) if year.diligent(department) else rng.choice((2, 3, 4)))
        moment = year.working_day_after(dispatched, lag) if not emergency else dispatched + timedelta(
            minutes=rng.randint(5, 50))
        if moment >= year.end:
            break
        step.add(moment, step.handler(department, "accept", {}, "appeal.accept"))
        # left hanging: signed for, never answered (overdue, urged and escalated by the monitor)
        if round_ == 0 and (hanging or rng.random() < 0.02 * (1.6 - year.diligence[department])):
            break
        on_time = year.diligent(department, 1.05)
        due_day = year.add_working_days(dispatched.date(), limit)
        if limit >= 8 and (n % 12 == 4 or rng.random() < 0.05):  # asks for more time before the deadline
            asked = year.on_day(year.add_working_days(dispatched.date(), limit - rng.randint(1, 3)))
            if moment < asked < year.end:
                days = rng.choice((3, 5, 7, 10))
                step.add(asked, step.handler(department, "extension", {"days": days, "reason": "需多部门联合现场核查"},
                                             "appeal.extension"))
                decided = asked + timedelta(hours=rng.randint(1, 20))
                approved = rng.random() < 0.8
                if decided < year.end:
                    note = "同意延期" if approved else "理由不充分"
                    step.add(decided, step.call("operator", "extension/decision",
                                                {"approved": approved, "note": note}, "appeal.extension_decision"))
                    moment = decided
                    if approved:
                        due_day = year.add_working_days(dispatched.date(), limit + days)
        if emergency:
            replied = moment + timedelta(minutes=rng.randint(30, 300)) if on_time else moment + timedelta(
                days=rng.randint(1, 2), minutes=rng.randint(0, 600))
        elif on_time:
            span = max(0, year.working_days_between(moment.date(), due_day))
            replied = year.working_day_after(moment, rng.randint(0, span)) if span else year.later_on(moment, 22)
        else:
            replied = year.on_day(year.add_working_days(due_day, rng.randint(1, 5)))
        replied = max(replied, moment + timedelta(minutes=5))
        if replied >= year.end:
            break
        step.add(replied, step.handler(department, "reply", {"reply": _reply_text(rng, category)}, "appeal.reply"))
        # supervision of a slow case while it was open
        if n % 14 == 8 or (not on_time and rng.random() < 0.3):
            ordered = moment + timedelta(hours=rng.randint(1, 6))
            if ordered < replied:
                step.add(ordered, step.call("monitor", "supervise", {
                    "act_by": (ordered + timedelta(days=3)).date().isoformat(), "note": "请加快办理并报告结果",
                    "exposed": rng.random() < 0.2}, "appeal.supervise"))
        called = replied + timedelta(hours=rng.randint(4, 60))
        if called >= year.end:
            break
        satisfaction = rng.choices(("satisfied", "basically_satisfied", "unsatisfied"),
                                   weights=(62 * year.diligence[department], 22, 12 if round_ == 0 else 6))[0]
        if round_ == 0 and n % 9 == 6:
            satisfaction = "unsatisfied"
        step.add(called, step.call("operator", "callback", {
            "satisfaction": satisfaction, "resolved": satisfaction != "unsatisfied" or rng.random() < 0.2},
            "appeal.callback"))
        if satisfaction != "unsatisfied" or round_ == 1:
            break
        dispatched = called  # reopened: back to the department with a new deadline
    return step.done(repeat_at, body, phone)


def _reply_text(rng: random.Random, category: str) -> str:
    return rng.choice(["已安排人员现场核查并处理完毕", "经核实情况属实，已责令整改", "已协调相关单位限期解决",
                       "已向来电人解释相关政策", "问题已纳入年度计划，将于近期实施"])


class _Steps:
    """Builds a case's requests (the path holds `{id}`, filled in by the runner from `parent`)."""

    def __init__(self, year: Year, chain: _Chain, ref: str):
        self.year, self.chain, self.ref = year, chain, ref

    def add(self, moment: datetime, request: Request) -> None:
        if request.body is not None and request.method == "POST" and "/{id}/" in request.path:
            request.body.setdefault("at", iso(moment))
        self.chain.steps.append((moment, _dated(request, moment)))

    def handler(self, department: str, action: str, body: dict, what: str) -> Request:
        return self.call(f"handler:{department}", action, body, what)

    def call(self, key: str, action: str, body: dict, what: str, *, service: str = "appeals",
             base: str = "/api/v1/appeals", expect=(200,)) -> Request:
        return Request(service, "POST", f"{base}/{{id}}/{action}", body, key, self.chain.name, what,
                       parent=self.ref, expect=expect)

    def done(self, repeat_at: datetime | None, body: dict, phone: str) -> _Chain:
        """Add the repeat call if it falls while the case is still open (before its last step)."""
        if repeat_at is not None and len(self.chain.steps) > 1:
            last = max(m for m, _ in self.chain.steps)
            closes = any(r.what == "appeal.callback" for _, r in self.chain.steps)
            if repeat_at < self.year.end and (not closes or repeat_at < last):
                repeat = {**body, "external_ref": f"{self.ref}-R", "received_at": iso(repeat_at),
                          "channel": "hotline", "content": f"再次反映：{body['content']}"}
                self.chain.steps.append((repeat_at, _dated(Request(
                    "appeals", "POST", "/api/v1/appeals", repeat, "operator", self.chain.name, "appeal.repeat",
                    parent=self.ref, expect=(201,)), repeat_at)))
        return self.chain


def _dated(request: Request, moment: datetime) -> Request:
    return Request(**{**request.__dict__, "at": iso(moment)})


def _efficiency_complaint(year: Year, n: int, ref: str, chain: _Chain) -> _Chain:
    rng = year.rng
    subject = rng.choice([d for d in city.DEPARTMENTS if d not in (city.DISCIPLINE_OFFICE, "ZFB")])
    received = year.on_day(rng.choice(year.working_days), 8, 20)
    name, phone = year.person()
    body = {"channel": year.pick({"hotline": 5, "web": 3, "mayor_line": 2}), "external_ref": ref,
            "type": "efficiency_complaint", "category": "efficiency", "subject_department": subject,
            "content": f"反映{city.DEPARTMENTS[subject]}：{rng.choice(city.EFFICIENCY_COMPLAINTS)}",
            "received_at": iso(received), "appellant": {"name": name, "phone": phone}}
    step = _Steps(year, chain, ref)
    step.add(received, Request("appeals", "POST", "/api/v1/appeals", body, "operator", chain.name,
                               "appeal.intake.efficiency_complaint", ref=ref))
    accepted = year.working_day_after(received, rng.choice((0, 1)))
    if accepted >= year.end:
        return chain
    step.add(accepted, step.handler(city.DISCIPLINE_OFFICE, "accept", {}, "appeal.accept"))
    found = year.working_day_after(accepted, rng.randint(3, 12))
    if found >= year.end:
        return chain
    upheld = (n // 28) % 2 == 0 if n % 28 == 5 else rng.random() < 0.45
    person = None
    if upheld and rng.random() < 0.5:  # sometimes a named member of staff (a warning to a person)
        person = f"{rng.choice(city.SURNAMES)}某某（{city.DEPARTMENTS[subject]}科员）"
    step.add(found, step.call("monitor", "finding", {
        "finding": "upheld" if upheld else "not_upheld",
        "reasons": "经调查核实，反映问题属实，已责令整改并通报" if upheld else "经调阅记录、询问当事人，反映问题不属实",
        "person": person, "reward": upheld and rng.random() < 0.3}, "appeal.finding"))
    return chain


# -- approvals --------------------------------------------------------------------------------------


def _windows(year: Year) -> _Chain:
    """The demo city's windows registered first (a setup chain: runner.SETUP), so that every step can name one."""
    chain = _Chain("setup:windows")
    moment = datetime.combine(year.start, time(0, 0), TZ)
    for w in city.windows():
        chain.steps.append((moment, Request("approvals", "PUT", "/api/v1/windows", dict(w), "operator", chain.name,
                                            "window.register", expect=(200, 201), at=iso(moment))))
    return chain


BAD_REVIEWS = ("窗口让我来回跑了好几趟", "材料要求前后说法不一致", "等了很久才受理", "工作人员态度生硬")


def _review(year: Year, wrng: random.Random, department: str, moment: datetime, act) -> None:
    """The applicant rates the service at the window's device after its outcome (好差评), more than half of them;
    a diligent department's counter is rated better."""
    if wrng.random() >= 0.6:
        return
    at = moment + timedelta(minutes=wrng.randint(1, 20))
    if at >= year.end:
        return
    d = year.diligence.get(department, 0.8)
    level = wrng.choices(city.REVIEW_LEVELS, weights=(50 * d, 30, 12, 8 * (1.2 - d) + 1, 4 * (1.2 - d) + 0.5))[0]
    body = {"level": level}
    if level in ("unsatisfied", "very_unsatisfied"):
        body.update(aspects=wrng.sample(city.REVIEW_ASPECTS, wrng.randint(1, 2)), text=wrng.choice(BAD_REVIEWS))
    act(at, "review", body, expect=(201,), what="application.review")


def _naming(year: Year) -> _Chain:
    """The leading group names the city's busiest counter a satisfied window (群众满意窗口) for the first half-year in
    mid-July — on a recorded override, since a demo year holds fewer reviews than the standard asks — so that the
    public list and the quarterly re-checks have something to show. A re-run's second naming is the 409 it should be."""
    chain = _Chain("naming")
    decided = datetime(year.start.year, 7, 15, 10, 0, tzinfo=TZ)
    if decided >= year.end or year.start > date(decided.year, 6, 30):  # the demo year holds the half-year
        return chain
    chain.steps.append((decided, Request("approvals", "POST", "/api/v1/naming/decisions", {
        "period": f"{decided.year}-H1", "windows": [NAMED_WINDOW], "decided_by": "市机关效能建设领导小组",
        "decided_at": iso(decided), "document_no": f"效能〔{decided.year}〕12号",
        "override_reason": "演示数据：评价样本少于标准要求，领导小组研究决定命名"}, "assessor", chain.name,
        "naming.decision", expect=(201, 409), at=iso(decided))))
    return chain


NAMED_WINDOW = "SMZX-B01"  # 市民中心二楼 B 区 市场监管 1 号窗口: the food licences' counter


def _application(year: Year, n: int) -> _Chain:
    rng = year.rng
    ref = f"DEMO-{year.seed}-P{n:05d}"
    chain = _Chain(f"application:{ref}")
    # every item and every scenario at least once in a small year, by the application's number
    code = list(city.ITEMS)[n] if n < len(city.ITEMS) else year.pick(city.ITEM_WEIGHTS)
    department, materials = city.ITEMS[code]
    limit = {"SCJ-001": 5, "SCJ-002": 0, "ZJJ-001": 7, "HBJ-001": 10, "FGJ-001": 45, "SWJ-001": 10, "GAJ-001": 5,
             "RSJ-001": 10, "JYJ-001": 15, "WJW-001": 10, "ZWFW-001": 0, "CGJ-001": 5, "WCJD-001": 3,
             "DCJD-001": 15}[code]
    scenarios = ("normal", "late", "stalled", "supplement", "refused", "special", "extension", "irregular")
    scenario = scenarios[n] if n < len(scenarios) else rng.choices(scenarios, weights=(
        46, 9 * (1.5 - year.diligence[department]), 5 * (1.5 - year.diligence[department]), 12, 5, 6, 6, 6))[0]
    days = year.working_days
    submitted = year.on_day(rng.choice(days[:-30] if scenario == "stalled" else days), 9, 16.5)
    enterprise = rng.random() < 0.7
    name = (rng.choice(city.ENTERPRISE_WORDS) + rng.choice(city.ENTERPRISE_KINDS)) if enterprise else year.person()[0]
    id_number = (f"91330{rng.randint(10**12, 10**13 - 1)}" if enterprise
                 else f"330{rng.randint(10**14, 10**15 - 1)}")
    given = list(materials)
    missing = []
    if scenario == "supplement" and len(materials) > 1:
        missing = rng.sample(materials, rng.randint(1, len(materials) - 1))
        given = [m for m in materials if m not in missing]
    green = n % 12 == 3 or rng.random() < 0.06
    # the window and the staff member's badge (佩证上岗) from a generator of their own: the year's draws stay as
    # they were before windows existed
    wrng = random.Random(f"{year.seed}-window-{n}")
    counters = [w["code"] for w in city.windows() if w["department"] == department] or \
        [w["code"] for w in city.windows() if w["department"] is None]
    at_window = {"window": wrng.choice(counters), "badge": f"{department}-{wrng.randint(1, 12):02d}"}
    body = {**at_window, "external_ref": ref, "item_code": code, "materials": given, "green_channel": green,
            "applicant": {"name": name, "kind": "enterprise" if enterprise else "person", "id_number": id_number},
            "service_point": year.pick({"city_center": 6, "town_street_center": 3, "village_agent": 1}),
            "at": iso(submitted)}
    step = _Steps(year, chain, ref)

    def act(moment: datetime, action: str, body: dict | None = None, expect=(200,), what: str | None = None):
        request = step.call("window_system", action, dict(body or {}), what or f"application.{action}",
                            service="approvals", base="/api/v1/applications", expect=expect)
        step.add(moment, request)

    step.add(submitted, Request("approvals", "POST", "/api/v1/applications", body, "window_system", chain.name,
                                "application.submit", ref=ref))
    moment = submitted
    if scenario == "supplement" and missing:
        moment = year.working_day_after(moment, rng.choice((0, 1, 2)))
        if moment >= year.end:
            return chain
        act(moment, "request-supplement", {"missing": missing, "note": "请补正以下材料"})
        if rng.random() < 0.25:  # a second notice: the one-time notice rule broken (recorded as irregular)
            moment = year.working_day_after(moment, 1)
            if moment >= year.end:
                return chain
            act(moment, "request-supplement", {"missing": missing[:1], "note": "再次补正"},
                what="application.request-supplement.again")
        moment = year.working_day_after(moment, rng.randint(1, 6))
        if moment >= year.end:
            return chain
        act(moment, "supplement-received")
    if scenario == "refused":
        moment = year.working_day_after(moment, rng.choice((0, 1)))
        if moment < year.end:
            if rng.random() < 0.3:  # a refusal without reason: refused, and recorded as an irregularity
                act(moment, "refuse", {}, expect=(409,), what="application.refuse.without_reason")
                moment += timedelta(minutes=10)
            act(moment, "refuse", {**at_window, "reason": "申请事项不属于本机关职权范围"})
            _review(year, wrng, department, moment, act)
        return chain
    # a decision before acceptance: refused, and recorded as an irregularity
    if scenario == "irregular" and (n < len(scenarios) or rng.random() < 0.5):
        moment = year.later_on(moment, 17.5)
        act(moment, "decide", {"approved": True}, expect=(409,), what="application.decide.before_acceptance")
    moment = year.working_day_after(moment, rng.choice((0, 0, 1, 2)) if scenario != "supplement" else 0)
    if moment >= year.end:
        return chain
    act(moment, "accept", at_window)
    accepted = moment
    due_day = year.add_working_days(accepted.date(), limit)
    if scenario == "stalled":  # never decided: yellow card after the due time, red five working days later
        return chain
    if scenario == "special":
        started = year.working_day_after(moment, rng.randint(0, max(0, limit - 1)))
        overrun = rng.random() < 0.25
        ended = started + timedelta(days=rng.randint(62, 75)) if overrun else year.working_day_after(
            started, rng.randint(2, 12))
        if started >= year.end:
            return chain
        act(started, "special-procedure/start", {"kind": rng.choice(city.SPECIAL_PROCEDURES)})
        if ended >= year.end:
            return chain
        act(ended, "special-procedure/end")
        paused = year.working_days_between(started.date(), ended.date())
        due_day = year.add_working_days(accepted.date(), limit + paused)
        moment = ended
    if scenario == "extension" and limit >= 3:
        asked = year.on_day(year.add_working_days(accepted.date(), max(1, limit - 1)), 9, 12)
        if moment < asked < year.end:
            days = rng.choice((3, 5, 10))
            act(asked, "extend", {"days": days, "approver": "分管副局长", "reason": "需现场踏勘和专家论证"})
            due_day = year.add_working_days(accepted.date(), limit + days)
            moment = asked
    if scenario == "late":
        decided = year.on_day(year.add_working_days(due_day, rng.randint(1, 8)))
    else:
        span = year.working_days_between(moment.date(), due_day)
        decided = year.working_day_after(moment, rng.randint(0, span)) if span else year.later_on(moment, 18)
    decided = max(decided, moment + timedelta(minutes=5))
    if decided >= year.end:
        return chain
    approved = rng.random() < 0.92
    act(decided, "decide", {"approved": approved, "reason": None if approved else "不符合法定条件"})
    delivered = year.working_day_after(decided, rng.choice((0, 1, 2)))
    if delivered < year.end:
        act(delivered, "deliver")
        _review(year, wrng, department, delivered, act)
    return chain


# -- the assessment office's own inputs ----------------------------------------------------------------


def _scoring(year: Year, sizes: Sizes) -> _Chain:
    """Monitoring points, enterprise evaluations, undercover visits (closed out, open, open past due), a
    criticism and an adjustment: one chain, since only the first evaluation tells a re-run that it is one."""
    rng = year.rng
    chain = _Chain("scoring")
    scale = max(sizes.appeals, sizes.applications)
    n_points = sizes.points if sizes.points is not None else max(8, min(250, scale // 10))
    n_visits = sizes.visits if sizes.visits is not None else max(10, min(400, scale // 8))
    n_evaluations = sizes.evaluations if sizes.evaluations is not None else max(15, min(600, scale // 5))
    first = year.end - timedelta(days=1)  # everything is sent first thing, dated as it happened

    def add(moment: datetime, request: Request) -> None:
        chain.steps.append((first, _dated(request, moment)))

    towns = sorted(city.TOWN_STREETS)
    points = []
    for i in range(n_points):
        village = i % 5 == 4
        code = f"MP-{'V' if village else 'E'}{i + 1:03d}"
        name = (rng.choice(city.VILLAGES) if village else rng.choice(city.ENTERPRISE_WORDS)
                + rng.choice(city.ENTERPRISE_KINDS))
        points.append(code)
        add(first, Request("scoring", "POST", "/api/v1/monitoring-points", {
            "code": code, "name": name, "kind": "village" if village else "enterprise",
            "town_street": towns[i % len(towns)]}, "assessor", chain.name, "scoring.monitoring_point"))
    departments = [d for d in city.DEPARTMENTS if d != city.DISCIPLINE_OFFICE]
    guard = None
    seen = set()
    for _ in range(n_evaluations):
        enterprise = rng.choice(city.ENTERPRISE_WORDS) + rng.choice(city.ENTERPRISE_KINDS)
        department = rng.choice(departments)
        quarter = rng.choice([q for q in (1, 2, 3, 4) if date(2026, 3 * q - 2, 1) < year.until] or [1])
        period = f"2026-Q{quarter}"
        if (enterprise, department, period) in seen:
            continue
        seen.add((enterprise, department, period))
        base = 60 + 35 * year.diligence[department]
        scores = {c: max(0, min(100, round(rng.gauss(base, 6)))) for c in city.EVALUATION_CRITERIA}
        ref = "scoring:first-evaluation" if guard is None else None
        add(first, Request("scoring", "POST", "/api/v1/evaluations", {
            "enterprise": enterprise, "department": department, "period": period, "scores": scores},
            "assessor", chain.name, "scoring.evaluation", ref=ref, parent=guard,
            expect=(201,) if guard else (201, 409)))
        guard = guard or ref
    # visits: the ids come back from the service; a visit's close-out names it by its own ref
    for i in range(n_visits):
        department = rng.choice([d for d in departments if d != "ZFB"])
        visited = year.on_day(rng.choice(year.working_days), 9, 16)
        due = visited + timedelta(days=rng.choice((7, 15, 30)))
        ref = f"scoring:visit:{i}"
        add(visited, Request("scoring", "POST", "/api/v1/visits", {
            "department": department, "point_code": rng.choice(points), "visited_at": iso(visited),
            "finding": rng.choice(city.VISIT_FINDINGS), "due_at": iso(due), "visitor": "市效能办暗访组"},
            "assessor", chain.name, "scoring.visit", ref=ref, parent=guard, expect=(201,)))
        closing = rng.random()
        if closing < 0.7 * year.diligence[department] + 0.1:
            closed = visited + timedelta(days=rng.randint(1, 30))
            if closed < year.end:
                add(closed, Request("scoring", "POST", "/api/v1/visits/{id}/close", {
                    "evidence": "整改情况说明及现场照片", "closed_at": iso(closed)}, "assessor", chain.name,
                    "scoring.visit_close", parent=ref, expect=(200, 201)))
    worst = sorted(departments, key=lambda d: year.diligence[d])
    criticised = worst[0]
    issued = year.on_day(rng.choice(year.working_days[len(year.working_days) // 2:]), 9, 12)
    add(issued, Request("scoring", "POST", "/api/v1/criticisms", {
        "department": criticised, "issued_at": iso(issued), "document": "效能通报〔2026〕7号",
        "reason": "审批事项多次超期且群众投诉查实"}, "assessor", chain.name, "scoring.criticism", parent=guard,
        expect=(201,)))
    adjusted = worst[-1]
    add(first, Request("scoring", "POST", "/api/v1/adjustments", {
        "department": adjusted, "period": "2026", "value": 1.0,
        "reason": "承担全市营商环境改革试点任务，经考核委员会研究加分", "approved_by": "市考核办主任"},
        "assessor", chain.name, "scoring.adjustment", parent=guard, expect=(201,)))
    _accountability_year(year, worst, add, chain.name, guard)
    return chain


# the year's key tasks (目标管理): (title, lead unit, co-units, whether its plan came in, and when)
KEY_TASKS = (
    ("工程建设项目审批制度改革", "ZJJ", ["ZWFW", "HBJ"], "late"),
    ("“一网通办”事项全覆盖", "ZWFW", ["SCJGJ"], "late"),
    ("城区积水点整治", "SWJ", ["CGJ", "WCJD"], None),
)


def _accountability_year(year: Year, worst: list[str], add, chain: str, guard: str | None) -> None:
    """The assessment year's own inputs (#16): the key tasks and their plans (two came in after 28 February, one
    never), measures in the sanctions register (a 效能告诫 to a post after an inspection, one to a unit, an
    organisational measure), and the stationed unit's enterprise evaluations (驻莱单位). From a generator of its
    own: the year's other draws stay as they were."""
    rng = random.Random(f"{year.seed}-accountability")
    first = year.end - timedelta(days=1)
    # a new task's milestones lie ahead (the API refuses days gone by): the year's last weeks
    year_end = date(2026, 12, 31)
    milestones = [{"due_on": d.isoformat(), "what": what} for d, what in (
        (year.until + timedelta(days=14), "完成年度任务的主要节点"), (year_end, "全面完成年度任务"))
        if year.until <= d <= year_end]
    for i, (title, lead, co_units, plan) in enumerate(KEY_TASKS if milestones else ()):
        ref = f"scoring:target:{i}"
        add(first, Request("scoring", "POST", "/api/v1/targets", {
            "year": 2026, "title": title, "standard": "按市政府年度工作要点完成，群众满意度不低于90%",
            "lead_unit": lead, "co_units": co_units, "steps": ["制定实施方案", "按季度推进", "年底总结评估"],
            "assessment": "按进度节点完成情况和群众评价考核", "weight": 10.0, "plan_due": "2026-02-28",
            "milestones": milestones},
            "assessor", chain, "scoring.target", ref=ref, parent=guard, expect=(201,)))
        if plan:
            add(first, Request("scoring", "POST", "/api/v1/targets/{id}/plan", {
                "plan": f"{title}实施方案：明确责任分工、时间节点和保障措施。",
                "assessment_rules": f"{title}考核细则：按节点完成率和群众满意度计分。"},
                f"handler:{lead}", chain, "scoring.target_plan", parent=ref, expect=(200, 201)))
    decided = [datetime.combine(rng.choice(year.working_days), time(10, rng.randint(0, 59)), TZ) for _ in range(3)]

    def person() -> str:
        return rng.choice(city.SURNAMES) + rng.choice(city.GIVEN)

    measures = (
        {"kind": "efficiency_warning", "target": "person", "department": worst[1], "person_name": person(),
         "post": "审批科科长", "source": "inspection", "deciding_body": "市效能建设领导小组办公室",
         "document_no": "效能告诫〔2026〕2号", "reason": "重点督察发现审批事项超期办理且未说明理由"},
        {"kind": "efficiency_warning", "target": "unit", "department": worst[2], "source": "direct",
         "deciding_body": "市效能建设领导小组办公室", "document_no": "效能告诫〔2026〕5号",
         "reason": "窗口服务承诺未落实，多次被群众投诉"},
        {"kind": "organisational", "target": "person", "department": worst[0], "person_name": person(),
         "post": "窗口负责人", "source": "direct", "deciding_body": "市纪委监委",
         "document_no": "组织处理〔2026〕1号", "reason": "首问负责制落实不到位，诫勉谈话"},
    )
    for moment, measure in zip(decided, measures, strict=True):
        add(moment, Request("scoring", "POST", "/api/v1/sanctions", {
            **measure, "decided_on": moment.date().isoformat()}, "assessor", chain, "scoring.sanction",
            parent=guard, expect=(200, 201)))
    # the stationed unit (驻莱单位): its evaluations, reported to its superior authority
    for quarter in (q for q in (1, 2, 3, 4) if date(2026, 3 * q - 2, 1) < year.until):
        for k in range(3):
            scores = {c: max(0, min(100, round(rng.gauss(86, 5)))) for c in city.EVALUATION_CRITERIA}
            add(first, Request("scoring", "POST", "/api/v1/evaluations", {
                "enterprise": f"{city.ENTERPRISE_WORDS[k]}{city.ENTERPRISE_KINDS[0]}", "department": STATIONED,
                "period": f"2026-Q{quarter}", "scores": scores}, "assessor", chain, "scoring.evaluation",
                parent=guard, expect=(201,)))


STATIONED = "SWGS"  # 国家税务总局莱州市税务局, in services/scoring/departments.demo.yaml with its superior


# -- enforcement under the monitor (#17) ---------------------------------------------------------------


def _enforcement(year: Year) -> _Chain:
    """Inspections registered with the legal office and penalties filed, some of them irregular, so that the
    console shows the monitor at work on enforcement: an inspector whose certificate expired, an inspection carried
    out without approval, an enterprise inspected too often (扰企), an inspection only the enterprise reported, a
    major penalty filed late, a fine outside its band, a fine without its circumstance. The legal office decides
    and the department reports at the moment the demo runs (those steps carry no date of their own), so the
    inspections are planned for the demo's last day and the days after it; the penalties were decided in the year.
    From a generator of its own: the year's other draws stay as they were."""
    chain = _Chain("enforcement")
    first = year.end - timedelta(days=1)
    today = year.until
    enterprise, code = "鑫源食品有限公司", "91370683MA3C8XY71K"

    def add(request: Request) -> None:
        chain.steps.append((first, _dated(request, first)))

    def inspection(n: int, department: str, inspectors: list[str], planned: date, **more) -> str:
        ref = f"enforcement:inspection:{n}"
        add(Request("approvals", "POST", "/api/v1/inspections", {
            "enterprise": more.pop("enterprise", enterprise), "enterprise_code": more.pop("code", code),
            "basis": "《中华人民共和国食品安全法》第一百一十条", "inspectors": inspectors,
            "planned_on": planned.isoformat(), "external_ref": f"DEMO-{year.seed}-JC{n:03d}"},
            f"handler:{department}", chain.name, "inspection.register", ref=ref, expect=(200, 201)))
        return ref

    def decide(ref: str, approved: bool = True) -> None:
        add(Request("approvals", "POST", "/api/v1/inspections/{id}/decide", {
            "approved": approved, "note": "检查计划符合规定" if approved else "检查依据不充分"},
            "legal_office", chain.name, "inspection.decide", parent=ref, expect=(200,)))

    # two clean inspections planned for the days after the demo's last day, approved (the same enterprise's
    # inspections on days of one period, whatever the day the demo runs: 扰企 below counts per period)
    soon = max(today, min(today + timedelta(days=3), date(today.year, 3 * ((today.month - 1) // 3) + 3, 28)))
    decide(inspection(1, "SCJGJ", ["SCJ-330101", "SCJ-330102"], soon))
    decide(inspection(2, "HBJ", ["HBJ-330301", "HBJ-330302"], soon, enterprise="宏达化工有限公司", code=None))
    # an inspector whose certificate ran out in June (执法证过期)
    decide(inspection(3, "SCJGJ", ["SCJ-330101", "SCJ-330103"], soon))
    # carried out today without the legal office's approval (未经审核擅自检查)
    unapproved = inspection(4, "ZJJ", ["ZJJ-330201", "ZJJ-330202"], today)
    add(Request("approvals", "POST", "/api/v1/inspections/{id}/result", {
        "carried_out_on": today.isoformat(), "result": "rectification_ordered", "findings": "施工现场扬尘措施不到位",
        "inspectors": ["ZJJ-330201", "ZJJ-330202"]}, "handler:ZJJ", chain.name, "inspection.result",
        parent=unapproved, expect=(200, 201)))
    # the same enterprise a fifth time this quarter (扰企: four at most)
    decide(inspection(5, "WJW", ["WJW-330401", "WJW-330402"], soon))
    decide(inspection(6, "HBJ", ["HBJ-330301", "HBJ-330302"], soon))
    # an inspection only the enterprise reported, through the enterprise-service desk (未登记检查)
    add(Request("approvals", "POST", "/api/v1/inspection-reports", {
        "enterprise": "金海水产有限公司", "department": "HBJ",
        "inspected_on": (today - timedelta(days=10)).isoformat(),
        "note": "企业反映环保部门来企检查，未出示检查通知"}, "enterprise_desk", chain.name, "inspection.report",
        expect=(200, 201)))

    # penalties: decided in the year, filed now
    recent = year.working_days[-2] if len(year.working_days) > 1 else today
    penalties = (
        # major (suspension always is) and filed in time
        dict(department="SCJGJ", case_no="市监罚〔2026〕101号", party=("enterprise", "鑫源食品有限公司"),
             basis="SP-126", kinds=["fine", "suspension"], amount=30000, circumstance="general", decided=recent),
        # major (a fine of 450,000 to an enterprise), decided months ago: filed late (重大行政处罚备案逾期)
        dict(department="HBJ", case_no="环罚〔2026〕12号", party=("enterprise", "宏达化工有限公司"), basis="HB-99",
             kinds=["fine"], amount=450000, circumstance="general", decided=date(2026, 6, 15)),
        # a fine above its band (超出裁量基准)
        dict(department="SCJGJ", case_no="市监罚〔2026〕102号", party=("enterprise", "好运来超市"), basis="SP-126",
             kinds=["fine"], amount=20000, circumstance="minor", decided=recent),
        # a fine without the circumstance its basis grades (未说明裁量情节); a person: kept masked
        dict(department="SCJGJ", case_no="市监罚〔2026〕103号", party=("person", "王建国"), basis="SP-126",
             kinds=["warning", "fine"], amount=8000, circumstance=None, decided=recent),
        # in band, not major: nothing to say
        dict(department="SWJ", case_no="水罚〔2026〕7号", party=("enterprise", "清源水务有限公司"), basis="SW-60",
             kinds=["fine"], amount=1500, circumstance="general", decided=recent),
    )
    for p in penalties:
        kind, party = p["party"]
        add(Request("approvals", "POST", "/api/v1/penalties", {
            "case_no": p["case_no"], "party_kind": kind, "party_name": party, "basis_code": p["basis"],
            "kinds": p["kinds"], "amount": p["amount"], "circumstance": p["circumstance"],
            "decided_on": p["decided"].isoformat()}, f"handler:{p['department']}", chain.name, "penalty.file",
            expect=(200, 201)))
    return chain
