"""The assessment year (#16) in scoring's core, without a broker: the half-year review as a period, city
departments and town-streets ranked separately (or together, as the rule file says) with their own ranks, thirds,
advanced units and red/black lists, corrections of the office's own inputs (void, correct; the ranking follows; a
closed period refuses them until reopened) and the stationed units' (驻莱单位) evaluation report."""

from datetime import datetime

import pytest
import yaml

from services.kernel.clock import TZ
from services.kernel.contracts import make_event, parse_event
from services.kernel.db import Database
from services.kernel.departments import DepartmentRegister
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.scoring import handlers, store
from services.scoring.domain import (
    Department,
    Rules,
    RulesError,
    parse_period,
    rank,
    red_black_lists,
    stationed_report,
)
from services.scoring.service import DEFAULT_RULES

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=TZ)
RULES = Rules.load(DEFAULT_RULES)


def rules_with(**changes) -> Rules:
    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data.update(changes)
    return Rules.from_dict(data)


def one_metric(groups=None, count=10) -> Rules:
    """composite = 100 − misses, so a test sets each composite exactly."""
    data = {"version": "t1", "metrics": [{"code": "m", "label_zh": "测", "weight": 1, "kind": "penalty",
                                          "points": {"misses": 1}}],
            "advanced_units": {"count": count, "bonus": 0.2}}
    if groups is not None:
        data["groups"] = groups
    return Rules.from_dict(data)


# -- periods ---------------------------------------------------------------------------------------------

def test_the_half_year_is_a_period_beside_year_quarter_and_month():
    h1, h2 = parse_period("2026-H1"), parse_period("2026-H2")
    assert (h1.kind, h1.months, h1.label_zh()) == ("half", (1, 2, 3, 4, 5, 6), "2026年上半年")
    assert (h2.kind, h2.months, h2.label_zh()) == ("half", (7, 8, 9, 10, 11, 12), "2026年下半年")
    assert h1.end == datetime(2026, 7, 1, tzinfo=TZ) and h2.end == datetime(2027, 1, 1, tzinfo=TZ)
    assert h1.contains(parse_period("2026-06")) and not h1.contains(parse_period("2026-07"))
    assert h2.contains(parse_period("2026-Q3")) and parse_period("2026").contains(h1)
    assert not parse_period("2026-Q2").contains(h1)
    for bad in ("2026-H3", "2026-H0", "2026-h1", "2026H1"):
        with pytest.raises(ValueError, match="half-year"):
            parse_period(bad)


# -- groups ----------------------------------------------------------------------------------------------

CITY = [Department(f"C{i}", f"局{i}", approval_functions=i != 2, tier="city") for i in range(1, 7)]
TOWNS = [Department(f"T{i}", f"街道{i}", enforcement_functions=i != 1, tier="town_street") for i in range(1, 4)]
MISSES = {"C1": 0, "C2": 1, "C3": 2, "C4": 3, "C5": 4, "C6": 5, "T1": 0, "T2": 10, "T3": 20}


def totals():
    return {code: {"misses": float(n)} for code, n in MISSES.items()}


def test_city_departments_and_town_streets_are_ranked_separately_each_with_its_own_thirds():
    rows = rank(CITY + TOWNS, totals(), one_metric({"ranking": "separate"}, count=2))
    got = [(r["department"], r["ranking_group"], r["rank"], r["tier"], r["group_size"], r["advanced_unit"])
           for r in rows]
    assert got == [
        # six city departments: thirds cut at 2 and 4; C2 has neither approval nor enforcement functions, so the
        # second advanced unit is C3
        ("C1", "city", 1, 1, 6, True), ("C2", "city", 2, 1, 6, False), ("C3", "city", 3, 2, 6, True),
        ("C4", "city", 4, 2, 6, False), ("C5", "city", 5, 3, 6, False), ("C6", "city", 6, 3, 6, False),
        # three town-streets: ranks 1..3 of their own (T2 at 90 is second although city departments score more)
        ("T1", "town_street", 1, 1, 3, False), ("T2", "town_street", 2, 2, 3, True),
        ("T3", "town_street", 3, 3, 3, True)]
    assert {r["ranking_group_zh"] for r in rows} == {"市直部门", "镇街"}
    assert [r["bonus"] for r in rows if r["ranking_group"] == "town_street"] == [1.0, 0.95, 0.7]
    lists = red_black_lists(rows, 2)
    assert [(g["group"], [r["department"] for r in g["red"]], [r["department"] for r in g["black"]])
            for g in lists["groups"]] == [("city", ["C1", "C2"], ["C6", "C5"]),
                                          ("town_street", ["T1", "T2"], ["T3", "T2"])]
    assert [r["department"] for r in lists["red"]] == ["C1", "C2", "T1", "T2"]


def test_together_when_the_rule_file_says_so_and_before_2026_4():
    for rules in (one_metric({"ranking": "together", "together_label_zh": "全市统一排名"}), one_metric()):
        rows = rank(CITY + TOWNS, totals(), rules)
        assert [r["department"] for r in rows] == ["C1", "T1", "C2", "C3", "C4", "C5", "C6", "T2", "T3"]
        assert [r["rank"] for r in rows] == [1, 1, 3, 4, 5, 6, 7, 8, 9]
        assert [r["tier"] for r in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
        assert {r["ranking_group"] for r in rows} == {"all"} and {r["group_size"] for r in rows} == {9}
        assert rows[1]["group"] == "town_street" and rows[1]["group_zh"] == "镇街"
    assert rows[0]["ranking_group_zh"] == "统一排名"
    assert RULES.version == "2026.4" and [g.code for g in RULES.groups] == ["city", "town_street"]


def test_a_group_may_name_its_own_number_of_advanced_units():
    rules = one_metric({"ranking": "separate", "list": [
        {"code": "city", "label_zh": "市直部门", "members": ["city"]},
        {"code": "town_street", "label_zh": "镇街", "members": ["town_street"], "advanced_count": 0}]}, count=1)
    rows = rank(CITY + TOWNS, totals(), rules)
    assert [r["department"] for r in rows if r["advanced_unit"]] == ["C1"]


@pytest.mark.parametrize("groups, words", [
    ({"ranking": "apart"}, "separate or together"),
    ({"ranking": "separate", "list": [{"code": "a", "label_zh": "甲", "members": ["city", "village"]}]}, "register"),
    ({"ranking": "separate", "list": [{"code": "a", "label_zh": "甲", "members": ["city"]},
                                      {"code": "b", "label_zh": "乙", "members": ["city"]}]}, "one group"),
    ({"ranking": "separate", "list": [{"code": "a", "members": ["city"]}]}, "incomplete"),
])
def test_a_bad_groups_section_is_refused(groups, words):
    with pytest.raises(RulesError, match=words):
        rules_with(groups=groups)


def test_published_rows_without_groups_make_one_pair_of_lists():
    rows = [{"department": "A", "rank": 1, "composite": 90.0}, {"department": "B", "rank": 2, "composite": 80.0}]
    lists = red_black_lists(rows, 1)
    assert [r["department"] for r in lists["red"] + lists["black"]] == ["A", "B"]
    assert [g["group"] for g in lists["groups"]] == ["all"]


# -- stationed units -------------------------------------------------------------------------------------

def test_the_stationed_units_report_counts_means_bands_and_ranks():
    units = [Department("SW", "税务局", superior="国家税务总局烟台市税务局"),
             Department("YC", "烟草专卖局", superior="烟台市烟草专卖局"),
             Department("DL", "供电公司", superior="国网烟台供电公司"),
             Department("ZJJ", "住建局")]
    rows = stationed_report(units, {"SW": [95.0, 85.0, 59.5], "YC": [90.0, 70.0], "ZJJ": [100.0]})
    assert [(r["department"], r["evaluations"], r["average"], r["rank"], r["ranked_units"]) for r in rows] == [
        ("YC", 2, 80.0, 1, 2), ("SW", 3, 79.83, 2, 2), ("DL", 0, None, None, 2)]
    assert rows[1]["distribution"] == {"优秀": 1, "良好": 1, "一般": 0, "较差": 1}
    assert rows[1]["superior"] == "国家税务总局烟台市税务局" and (rows[1]["lowest"], rows[1]["highest"]) == (59.5, 95)
    bands = rules_with(stationed_units={"bands": [{"label_zh": "好", "min": 60}, {"label_zh": "差", "min": 0}]})
    assert stationed_report(units[:1], {"SW": [95.0, 59.5]}, bands.evaluation_bands)[0]["distribution"] == {
        "好": 1, "差": 1}
    with pytest.raises(RulesError, match="starts at 0"):
        rules_with(stationed_units={"bands": [{"label_zh": "好", "min": 60}]})


def test_the_register_of_organisations_names_a_stationed_units_superior(tmp_path):
    path = tmp_path / "departments.yaml"
    path.write_text(yaml.safe_dump([
        {"code": "SWJ", "name": "国家税务总局莱州市税务局", "tier": "city", "superior": " 国家税务总局烟台市税务局 "},
        {"code": "ZJJ", "name": "住建局", "tier": "city"}], allow_unicode=True), encoding="utf-8")
    register = DepartmentRegister.load(str(path))
    assert (register.superior("SWJ"), register.superior("ZJJ"), register.superior(None)) == (
        "国家税务总局烟台市税务局", None, None)
    path.write_text(yaml.safe_dump([{"code": "SWJ", "name": "税务局", "superior": ["x"]}]), encoding="utf-8")
    with pytest.raises(ValueError, match="superior"):
        DepartmentRegister.load(str(path))


# -- with a database -------------------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/scoring.db", store.metadata, service="scoring")
    database.create_all()
    with database.unit_of_work() as uow:
        for code, name, tier, superior in (("ZJJ", "住建局", "city", None), ("HBJ", "生态环境局", "city", None),
                                           ("SWJ", "国家税务总局莱州市税务局", "city", "国家税务总局烟台市税务局"),
                                           ("WCJD", "文昌街道", "town_street", None)):
            handlers.register_department(uow, {"code": code, "name": name, "approval_functions": True,
                                               "enforcement_functions": False, "tier": tier, "superior": superior},
                                         NOW)
    yield database
    database.dispose()


def feed(db, *events):
    consumer = db.batched_consumer("scoring.on_event", handlers.record_facts)
    for e in events:
        consumer.consume(e, handlers.ledger_rows(e))


def accepted(appeal_id, department, moment, in_time=True):
    return parse_event(make_event("appeal.accepted", {
        "appeal_id": appeal_id, "case_no": f"MY{appeal_id}", "department": department, "in_time": in_time},
        service="appeals", occurred_at=moment))


def rows_of(db, period, rules=RULES):
    with db.reader() as s:
        return {r["department"]: r for r in handlers.scores(s, rules, parse_period(period), NOW)["rows"]}


def test_facts_in_june_count_in_the_first_half_and_in_july_in_the_second(db):
    rules = rules_with(metrics=[{**m, "min_sample": {**m["min_sample"], "count": 1}} for m in yaml.safe_load(
        DEFAULT_RULES.read_text(encoding="utf-8"))["metrics"]])
    june_end = datetime(2026, 6, 30, 23, 30, tzinfo=TZ)  # 15:30 UTC, still June in Laizhou
    july = datetime(2026, 7, 1, 0, 30, tzinfo=TZ)
    feed(db, accepted("1", "ZJJ", june_end), accepted("2", "HBJ", june_end, in_time=False),
         accepted("3", "ZJJ", july, in_time=False), accepted("4", "HBJ", july))
    h1, h2 = rows_of(db, "2026-H1", rules), rows_of(db, "2026-H2", rules)
    assert (h1["ZJJ"]["rank"], h1["ZJJ"]["composite"], h1["HBJ"]["rank"], h1["HBJ"]["composite"]) == (1, 100, 2, 0)
    assert (h2["HBJ"]["rank"], h2["HBJ"]["composite"], h2["ZJJ"]["rank"], h2["ZJJ"]["composite"]) == (1, 100, 2, 0)
    assert rows_of(db, "2026", rules)["ZJJ"]["composite"] == 50.0
    with db.unit_of_work() as uow:
        closed = handlers.close_period(uow, rules, parse_period("2026-H1"), "考核办", NOW)
        assert uow.published[0]["payload"]["period"] == "2026-H1"
    assert closed["state"] == "closed" and closed["replay_matches"] is True
    with pytest.raises(Conflict, match="not ended"), db.unit_of_work() as uow:
        handlers.close_period(uow, rules, parse_period("2026-H2"), "考核办", NOW)


def evaluate(db, enterprise, department, score, period="2026-09"):
    with db.unit_of_work() as uow:
        return handlers.add_evaluation(uow, {"enterprise": enterprise, "department": department, "period": period,
                                             "scores": {"效率": score}}, "考核办", NOW)


def correct(db, kind, item_id, action, **data):
    with db.unit_of_work() as uow:
        return handlers.correct_item(uow, kind, item_id, action, {"assessor": "李考核", "reason": "录入错误", **data},
                                     "test-assessor", NOW)


def test_a_voided_evaluation_changes_the_ranking_and_leaves_an_audit_entry(db):
    ids = [evaluate(db, f"企业{i}", dept, score)["id"]
           for i, (dept, score) in enumerate([("ZJJ", 90), ("ZJJ", 90), ("ZJJ", 10), ("HBJ", 60), ("HBJ", 60),
                                              ("HBJ", 60)])]
    before = rows_of(db, "2026-09")
    assert (before["ZJJ"]["rank"], before["ZJJ"]["composite"], before["HBJ"]["rank"]) == (1, 63.33, 2)
    view = correct(db, "evaluation", ids[2], "void")
    assert view["voided"] and view["void_reason"] == "录入错误"
    after = rows_of(db, "2026-09")
    # two evaluations left: below the minimum of three, ZJJ is not ranked any more
    assert (after["HBJ"]["rank"], after["ZJJ"]["standing"]) == (1, "not_ranked")
    with db.reader() as s:
        trail = handlers.find_corrections(s, {"period": "2026-09"})
        facts = {f["id"]: f for f in store.list_facts(s)}
        gone = [v for v in handlers.ledger.voided(s) if v["void_cause"] == "correction"]
    assert [(c["kind"], c["item_id"], c["action"], c["assessor"], c["by"], c["before"]["scores"], c["after"])
            for c in trail] == [("evaluation", ids[2], "void", "李考核", "test-assessor", {"效率": 10.0}, None)]
    assert sorted(facts[v["id"]]["metric"] for v in gone) == ["evaluation_score", "evaluations"]
    # the same void again answers as the first; another reason is a 409, and so is a correction of a voided one
    assert correct(db, "evaluation", ids[2], "void")["corrections"] == view["corrections"]
    with pytest.raises(Conflict, match="voided"):
        correct(db, "evaluation", ids[2], "void", reason="别的理由")
    with pytest.raises(Conflict, match="voided"):
        correct(db, "evaluation", ids[2], "correct", changes={"scores": {"效率": 50}})


def test_a_corrected_evaluation_counts_with_its_new_values_and_keeps_the_original(db):
    ids = [evaluate(db, f"企业{i}", "ZJJ", 60)["id"] for i in range(3)]
    view = correct(db, "evaluation", ids[0], "correct", changes={"scores": {"效率": 90, "服务": 100}})
    assert (view["score"], view["scores"], view["voided"]) == (95.0, {"效率": 90, "服务": 100}, False)
    assert view["corrections"][0]["before"]["score"] == 60 and view["corrections"][0]["after"]["score"] == 95
    assert rows_of(db, "2026-09")["ZJJ"]["metrics"]["enterprise_evaluation"] == 71.67  # (95 + 60 + 60) / 3
    view = correct(db, "evaluation", ids[0], "correct", changes={"department": "HBJ"})
    assert [c["revision"] for c in view["corrections"]] == [1, 2] and view["department"] == "HBJ"
    with db.reader() as s:
        live = [f for f in store.list_facts(s, department="HBJ") if f["metric"] == "evaluation_score"]
        assert [(f["value"], f["source_event_id"]) for f in live] == [(95.0, f"evaluation-{ids[0]}-r2")]
    assert rows_of(db, "2026-09")["ZJJ"]["metrics"]["enterprise_evaluation"] is None  # two left: not enough
    with pytest.raises(BadRequest) as bad:
        correct(db, "evaluation", ids[1], "correct", changes={"department": "NOPE"})
    assert list(bad.value.errors["changes"]) == ["department"]
    with pytest.raises(Conflict, match="already evaluated"):  # 企业0 evaluated HBJ in 2026-09 now
        correct(db, "evaluation", ids[1], "correct", changes={"enterprise": "企业0", "department": "HBJ"})
    with pytest.raises(BadRequest):
        correct(db, "evaluation", ids[1], "correct", changes={"scores": {"效率": 60}})  # nothing changes
    with pytest.raises(NotFound):
        correct(db, "evaluation", 999, "void")


def test_a_correction_into_a_closed_period_is_refused_until_it_is_reopened(db):
    e = evaluate(db, "企业", "ZJJ", 80)
    with db.unit_of_work() as uow:
        handlers.close_period(uow, RULES, parse_period("2026-09"), "考核办", NOW)
    with pytest.raises(Conflict, match="2026-09") as refused:
        correct(db, "evaluation", e["id"], "void")
    assert "重新开启" in refused.value.message_zh
    # moving it into a closed period is refused as well
    other = evaluate(db, "企业", "ZJJ", 80, period="2026-10")
    with pytest.raises(Conflict):
        correct(db, "evaluation", other["id"], "correct", changes={"period": "2026-09"})
    with db.unit_of_work() as uow:
        handlers.reopen_period(uow, RULES, parse_period("2026-09"), "更正评议", "考核办", NOW)
    assert correct(db, "evaluation", e["id"], "void")["voided"]
    with db.reader() as s:
        assert store.get_row(s, store.evaluations, other["id"])["period"] == "2026-10"  # the refusal changed nothing


def test_a_voided_criticism_makes_the_unit_eligible_again_and_an_adjustment_follows_its_correction(db):
    with db.unit_of_work() as uow:
        crit = handlers.add_criticism(uow, {"department": "ZJJ", "issued_at": datetime(2026, 9, 5, tzinfo=TZ),
                                            "document": "效通〔2026〕9号", "reason": "误录"}, "考核办", NOW)
        adj = handlers.add_adjustment(uow, {"department": "ZJJ", "period": "2026-09", "value": 1.0,
                                            "reason": "重点工作", "approved_by": "主任"}, "考核办", NOW)
    for i in range(3):
        evaluate(db, f"企业{i}", "ZJJ", 80)
    row = rows_of(db, "2026-09")["ZJJ"]
    assert row["disqualified"] and not row["advanced_unit"] and row["adjustment"] == 1.0
    correct(db, "criticism", crit["id"], "void")
    view = correct(db, "adjustment", adj["id"], "correct", changes={"value": -0.5})
    assert view["value"] == -0.5 and view["corrections"][0]["before"]["value"] == 1.0
    row = rows_of(db, "2026-09")["ZJJ"]
    assert (row["disqualified"], row["advanced_unit"], row["adjustment"], row["final"]) == (False, True, -0.5, 0.7)
    with db.reader() as s:
        score = handlers.department_score(s, RULES, parse_period("2026-09"), "ZJJ", NOW)
    assert [c["voided"] for c in score["criticisms"]] == [True]
    assert [(a["value"], a["voided"]) for a in score["adjustments"]] == [(-0.5, False)]


def test_a_voided_visit_finding_no_longer_counts_nor_runs_its_clock(db):
    with db.unit_of_work() as uow:
        v = handlers.add_visit(uow, {"department": "ZJJ", "point_code": None, "finding": "窗口无人",
                                     "visited_at": datetime(2026, 9, 1, 9, tzinfo=TZ),
                                     "due_at": datetime(2026, 9, 10, tzinfo=TZ), "visitor": "暗访组"}, NOW)
    with db.reader() as s:
        totals = handlers.ledger.inputs(s, parse_period("2026-09"), NOW).totals["ZJJ"]
    assert (totals["visit_findings"], totals["visits_overdue"]) == (1, 1)
    with pytest.raises(BadRequest) as bad:
        correct(db, "visit", v["id"], "correct", changes={"due_at": datetime(2026, 8, 1, tzinfo=TZ)})
    assert list(bad.value.errors["changes"]) == ["due_at"]
    moved = correct(db, "visit", v["id"], "correct", changes={"department": "HBJ"})
    assert moved["department"] == "HBJ" and moved["corrections"][0]["periods"] == ["2026-09"]
    with db.reader() as s:
        assert store.get_rectification(s, v["id"])["department"] == "HBJ"
    correct(db, "visit", v["id"], "void")
    with db.reader() as s:
        totals = handlers.ledger.inputs(s, parse_period("2026-09"), NOW).totals
        assert store.get_rectification(s, v["id"])["state"] == "closed"
    assert "visit_findings" not in totals.get("ZJJ", {}) and "visits_overdue" not in totals.get("HBJ", {})


def test_the_stationed_units_report_reads_the_ledger_as_it_counts_now(db):
    ids = [evaluate(db, f"企业{i}", "SWJ", score, period)["id"]
           for i, (score, period) in enumerate([(95, "2026-09"), (70, "2026-Q3"), (50, "2026-10")])]
    evaluate(db, "企业9", "ZJJ", 100)
    correct(db, "evaluation", ids[2], "void")
    with db.reader() as s:
        report = handlers.stationed_units(s, RULES, parse_period("2026-H2"), NOW)
    assert [(r["department"], r["evaluations"], r["average"], r["rank"]) for r in report["rows"]] == [
        ("SWJ", 2, 82.5, 1)]
    assert report["superiors"][0]["superior"] == "国家税务总局烟台市税务局"
    assert report["label_zh"] == "2026年下半年" and report["rows"][0]["distribution"]["优秀"] == 1
