"""The reform rules (#17), pure: the catalogue rebuilt from its history on a day, the report's figures on a small
known catalogue, when an ended item stops taking applications, the order the history is written in."""

from datetime import date

import pytest

from services.approvals.domain import Rules
from services.approvals.reform import domain
from services.approvals.reform.domain import Decided

RULES = Rules()


def entry(id_, code, change, on, dept="D1", kind="committed", s=20, c=None, joint=False):
    return {"id": id_, "item_code": code, "change": change, "effective_on": on, "name": code, "department": dept,
            "kind": kind, "statutory_limit": s, "committed_limit": c, "joint": joint}


# the catalogue as found (seeded 2026-06-01, standing for every earlier day), and a year of changes
HISTORY = [
    entry(1, "A1", "initial", date(2026, 6, 1), s=20, c=10),
    entry(2, "A2", "initial", date(2026, 6, 1), s=20, c=8),
    entry(3, "A3", "initial", date(2026, 6, 1), kind="immediate", s=10),
    entry(4, "B1", "added", date(2025, 5, 1), dept="D2", s=40, c=15),
    entry(5, "B2", "added", date(2025, 5, 1), dept="D2", s=None, c=None),  # the rules' 20 for both
    entry(6, "A1", "changed", date(2026, 3, 1), s=20, c=5),
    entry(7, "A2", "merged", date(2026, 3, 2), s=20, c=8),
    entry(8, "C1", "added", date(2026, 3, 2), s=15, c=5),
    entry(9, "B2", "retired", date(2026, 4, 1), dept="D2", s=None, c=None),
    entry(10, "J1", "added", date(2026, 5, 1), dept="D2", s=None, c=None, joint=True),  # after as_of
]
DECIDED = [Decided("A1", "D1", 3), Decided("A1", "D1", 1), Decided("B1", "D2", 5), Decided("B2", "D2", 1)]


def test_the_catalogue_on_a_day_from_its_history():
    assert set(domain.catalogue_on(HISTORY, date(2025, 12, 31))) == {"A1", "A2", "A3", "B1", "B2"}
    assert domain.catalogue_on(HISTORY, date(2025, 12, 31))["A1"]["committed_limit"] == 10
    assert set(domain.catalogue_on(HISTORY, date(2026, 3, 2))) == {"A1", "A3", "B1", "B2", "C1"}
    assert set(domain.catalogue_on(HISTORY, date(2026, 4, 2))) == {"A1", "A3", "B1", "C1"}
    assert set(domain.catalogue_on(HISTORY, date(2025, 4, 30))) == {"A1", "A2", "A3"}


def test_the_report_of_a_small_known_catalogue():
    r = domain.report(2026, date(2026, 4, 2), [h for h in HISTORY if h["effective_on"] <= date(2026, 4, 2)
                                                or h["change"] == "initial"], DECIDED, RULES)
    assert (r["start_on"], r["as_of"]) == (date(2026, 1, 1), date(2026, 4, 2))
    d1, d2 = r["departments"]
    assert d1 == {"department": "D1", "items_start": 3, "items_now": 3, "items_cut_pct": 0.0, "added": 1,
                  "retired": 0, "merged": 1, "limit_changes": 1,
                  "statutory_avg_start": 16.67, "statutory_avg_now": 15.0, "statutory_cut_pct": 10.0,
                  "committed_avg_start": 6.0, "committed_avg_now": 3.33, "committed_cut_pct": 44.4,
                  "decided": 2, "items_decided": 1, "actual_avg_days": 2.0}
    assert d2 == {"department": "D2", "items_start": 2, "items_now": 1, "items_cut_pct": 50.0, "added": 0,
                  "retired": 1, "merged": 0, "limit_changes": 0,
                  "statutory_avg_start": 30.0, "statutory_avg_now": 40.0, "statutory_cut_pct": -33.3,
                  "committed_avg_start": 17.5, "committed_avg_now": 15.0, "committed_cut_pct": 14.3,
                  "decided": 2, "items_decided": 2, "actual_avg_days": 3.0}
    assert r["city"] == {"items_start": 5, "items_now": 4, "items_cut_pct": 20.0, "added": 1, "retired": 1,
                         "merged": 1, "limit_changes": 1,
                         "statutory_avg_start": 22.0, "statutory_avg_now": 21.25, "statutory_cut_pct": 3.4,
                         "committed_avg_start": 10.6, "committed_avg_now": 6.25, "committed_cut_pct": 41.0,
                         "decided": 4, "items_decided": 3, "actual_avg_days": 2.67}


def test_a_past_year_reads_to_its_last_day_and_a_joint_item_takes_the_joint_limit():
    r = domain.report(2026, date(2027, 2, 1), HISTORY, [], RULES)
    assert r["as_of"] == date(2026, 12, 31)
    assert r["city"]["items_now"] == 5 and r["city"]["added"] == 2
    assert domain.limits(HISTORY[-1], RULES) == (45, 45)
    assert domain.limits(HISTORY[2], RULES) == (10, 0)  # immediate: decided on the spot
    assert r["city"]["actual_avg_days"] is None and r["city"]["items_decided"] == 0


def test_an_empty_start_has_no_cut():
    r = domain.report(2026, date(2026, 4, 2), [entry(1, "X", "added", date(2026, 2, 1))], [], RULES)
    assert r["city"]["items_start"] == 0 and r["city"]["items_now"] == 1
    assert r["city"]["items_cut_pct"] is None and r["city"]["statutory_cut_pct"] is None


def test_an_ended_item_takes_no_application_from_its_day():
    assert domain.takes_applications("active", None, date(2026, 4, 1))
    assert domain.takes_applications("retired", date(2026, 4, 1), date(2026, 3, 31))
    assert not domain.takes_applications("retired", date(2026, 4, 1), date(2026, 4, 1))
    assert not domain.takes_applications("merged", date(2026, 4, 1), date(2026, 5, 1))


def test_the_history_is_written_in_the_order_of_its_dates():
    domain.check_dated("A1", "active", None, date(2026, 1, 1))
    domain.check_dated("A1", "active", date(2026, 3, 1), date(2026, 3, 1))
    with pytest.raises(domain.ReformRefused):
        domain.check_dated("A1", "active", date(2026, 3, 1), date(2026, 2, 28))
    with pytest.raises(domain.ReformRefused) as exc:
        domain.check_dated("A2", "merged", None, date(2026, 5, 1))
    assert "合并" in exc.value.message_zh


def test_the_csv_and_the_printable_page():
    from datetime import datetime

    from services.approvals.reform.render import to_csv, to_html
    from services.kernel import clock

    r = domain.report(2026, date(2026, 4, 2), HISTORY[:-1], DECIDED, RULES)
    for d in r["departments"]:
        d["department_name"] = {"D1": "市场监管局", "D2": "=HYPERLINK()"}[d["department"]]
    r.update(generated_at=datetime(2026, 4, 2, 10, 0, tzinfo=clock.TZ), uncounted=1)
    lines = to_csv(r).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("单位代码,单位,年初事项数,现有事项数,事项精简率(%)")
    assert lines[1].startswith("D1,市场监管局,3,3,0.0,1,0,1,1,16.67,15.0,10.0,6.0,3.33,44.4,2,2.0")
    assert lines[2].startswith("D2,'=HYPERLINK(),2,1,50.0")  # a formula is text
    assert lines[3] == ",全市合计,5,4,20.0,1,1,1,1,22.0,21.25,3.4,10.6,6.25,41.0,4,2.67"
    page = to_html(r)
    assert "<title>2026 年度审批事项精简与时限压减情况</title>" in page and "全市合计" in page
    assert "2026-04-02 10:00" in page and "另有 1 件办结件" in page
    assert "<script" not in page and "//" not in page.replace("<!doctype html>", "")
