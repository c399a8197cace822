"""The demo city end to end: `demo.generate` at a small size sent by `demo.runner` to the real appeals and
approvals services (and scoring, when its API is there) on a fresh vhost. The year it leaves behind is checked
through the services' own APIs: appeals from every channel, emergencies, repeats, overdue cases, yellow cards,
irregularities, a populated hot-issue brief; the same seed gives the same requests, and a re-run creates
nothing."""

import os
from datetime import date, datetime, timedelta

import pytest
import requests

from demo import city
from demo.generate import Sizes, generate
from demo.keys import make_keys
from demo.runner import run
from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from services.kernel import clock
from services.kernel.registry import SERVICES as REGISTRY
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.timeout(300)

GRACE = 8  # seconds: each chain is sent within it, so only what the demo leaves open is alarmed
SEED = 11
SIZES = Sizes(appeals=90, applications=70)


def scoring_service():
    try:
        from services.scoring.service import ScoringService
    except ImportError:
        return None
    return ScoringService


@pytest.fixture
def city_services(service_config, start_service, keys_file, fresh_amqp_uri):
    urls = {}
    # approvals with make run's demo registers of enforcement certificates and penalty bases (#17)
    seeds = {"approvals": {"SEED_CERTIFICATES": os.path.join(ROOT, "services", "approvals", "certificates.demo.yaml"),
                           "SEED_PENALTY_BASES": os.path.join(ROOT, "services", "approvals",
                                                              "penalty_bases.demo.yaml")}}
    for name, cls in (("appeals", AppealsService), ("approvals", ApprovalsService)):
        cfg = service_config(name, AMQP_URI=fresh_amqp_uri, LATE_REPORT_GRACE_SECONDS=GRACE, **seeds.get(name, {}))
        start_service(cls, cfg)
        urls[name] = cfg["base_url"]
    scoring = scoring_service()
    seed = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")
    if scoring is not None:
        extra = {"SEED_DEPARTMENTS": seed} if os.path.exists(seed) else {}
        cfg = service_config("scoring", AMQP_URI=fresh_amqp_uri, **extra)
        start_service(scoring, cfg)
        urls["scoring"] = cfg["base_url"]
    else:  # nothing listens there: the runner skips the scoring part and says so
        urls["scoring"] = "http://127.0.0.1:9"
    return urls, make_keys(keys_file)


def get(urls, keys, service, path, key="operator", **params):
    r = requests.get(f"{urls[service]}{path}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {keys[key]}"})
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r.json()


def all_pages(urls, keys, service, path, key="operator", **params):
    items, page = [], 1
    while True:
        body = get(urls, keys, service, path, key, page=page, per_page=500, **params)
        items += body["items"]
        if len(items) >= body["total"] or not body["items"]:
            return items
        page += 1


def test_the_demo_year_populates_the_services_and_a_rerun_creates_nothing(city_services):
    urls, keys = city_services
    until = datetime.now(clock.TZ).date()
    reqs = list(generate(SEED, until=until, sizes=SIZES))
    assert reqs == list(generate(SEED, until=until, sizes=SIZES)), "the same seed gives the same requests"
    assert reqs != list(generate(SEED + 1, until=until, sizes=SIZES))
    end = datetime.combine(until, datetime.min.time(), clock.TZ)
    assert all(datetime.fromisoformat(r.at) < end for r in reqs), "every moment is back-dated"

    first = run(reqs, urls, keys)
    print(first.summary())
    assert not first.failures, first.summary()

    # -- appeals -----------------------------------------------------------------------------------
    appeals = all_pages(urls, keys, "appeals", "/api/v1/appeals")
    originals = [a for a in appeals if a["status"] != "duplicate"]
    assert {a["channel"] for a in originals} == {"hotline", "mayor_line", "sunshine_dialogue", "online_opinion",
                                                 "window", "web"}
    assert any(a["urgency"] == "emergency" for a in originals)
    assert any(a["status"] == "duplicate" for a in appeals) and any(a["repeat_count"] for a in originals)
    assert any(a["return_count"] for a in originals) and any(a["reopen_count"] for a in originals)
    assert any(a["extension"]["used"] for a in originals) and any(a["supervised_until"] for a in originals)
    complaints = [a for a in originals if a["type"] == "efficiency_complaint"]
    assert complaints and all(a["department"] == city.DISCIPLINE_OFFICE for a in complaints)
    assert {a["finding"] for a in complaints if a["finding"]} == {"upheld", "not_upheld"}
    statuses = {a["status"] for a in originals}
    assert {"closed", "accepted", "replied"} <= statuses, statuses
    departments = {a["department"] for a in originals if a["department"]}
    assert len(departments) >= 12, departments
    assert min(a["received_at"] for a in appeals) < f"{until.year}-04"  # spread over the year
    # cases the demo left open past their deadline: overdue once the grace has passed
    overdue = wait_for(lambda: get(urls, keys, "appeals", "/api/v1/appeals", overdue="true")["total"],
                       timeout=GRACE + 30, interval=0.5, message="overdue appeals")
    assert overdue >= 1

    # the hot-issue brief of the last four weeks and of the year
    report = get(urls, keys, "appeals", "/api/v1/reports/hot-issues", **{"from": str(until - timedelta(days=28)),
                                                                          "to": str(until)})
    assert report["totals"]["count"] > 0 and report["categories"] and report["town_streets"]
    html = requests.get(f"{urls['appeals']}/api/v1/reports/hot-issues", timeout=30, params={"format": "html"},
                        headers={"Authorization": f"Bearer {keys['operator']}"})
    assert html.status_code == 200 and "热点" in html.text

    # -- approvals ---------------------------------------------------------------------------------
    applications = all_pages(urls, keys, "approvals", "/api/v1/applications", key="window_system")
    assert len(applications) == SIZES.applications
    assert len({a["department"] for a in applications}) >= 12
    assert {"delivered", "refused", "accepted"} <= {a["state"] for a in applications}
    assert any(a["green_channel"] for a in applications) and any(a["supplement_count"] for a in applications)
    assert any(a["decided_in_time"] is False for a in applications)
    assert any(a["clock"] and a["clock"]["paused_intervals"] for a in applications)
    # #15: every application has its responsible window and badge (首问负责); the windows were registered first
    assert all(a["responsible"] and a["responsible"]["window"] and a["responsible"]["badge"] for a in applications)
    assert first.sent[("window.register", 201)] + first.sent[("window.register", 200)] == len(city.windows())
    # 好差评 after the outcomes, some bad ones waiting for (or past) their follow-up
    reviews = all_pages(urls, keys, "approvals", "/api/v1/reviews", key="monitor")
    assert len(reviews) >= SIZES.applications // 4 and any(r["bad"] for r in reviews), len(reviews)
    assert {r["channel"] for r in reviews} == {"window"}
    # a satisfied window named for the first half-year (群众满意窗口), on the keyless list
    if until >= date(until.year, 7, 16):
        named = requests.get(f"{urls['approvals']}/public/v1/satisfied-windows", timeout=10).json()
        assert [w["window_name"] for w in named["items"]] == ["市民中心二楼 B 区 市场监管 1 号窗口"], named

    def alerts(level):
        return get(urls, keys, "approvals", "/api/v1/alerts", key="monitor", level=level)["total"]

    assert wait_for(lambda: alerts("yellow"), timeout=GRACE + 30, interval=0.5, message="yellow cards")
    assert alerts("irregularity") >= 1

    # -- enforcement (#17): each irregular inspection and penalty of the demo alerted once, by its rule ---------
    def enforcement_rules(subject):
        found = get(urls, keys, "approvals", "/api/v1/alerts", key="monitor", subject=subject, per_page=500)
        return sorted(a["rule"].split(":")[0] for a in found["items"])

    assert enforcement_rules("inspection") == ["inspection_without_approval", "too_many_inspections",
                                               "uncertified_inspector", "unregistered_inspection"]
    assert enforcement_rules("penalty") == ["late_filing", "no_circumstance", "out_of_band"]

    # -- scoring (when its API is there) -----------------------------------------------------------
    if "scoring" in first.unavailable:
        assert first.unavailable["scoring"]  # says why
    else:
        assert first.sent[("scoring.evaluation", 201)] >= 1 and first.sent[("scoring.visit", 201)] >= 1

    # -- a second run: every creation answers 200 with the existing record, nothing else is sent ----------
    again = run(reqs, urls, keys)
    assert not again.failures and again.created == 0, again.summary()
    assert len(all_pages(urls, keys, "appeals", "/api/v1/appeals")) == len(appeals)
    assert len(all_pages(urls, keys, "approvals", "/api/v1/applications", key="window_system")) == len(applications)


# -- make run: the demo year is loaded on the first start only ---------------------------------------------


@pytest.fixture
def run_vhost_for_make_run(rabbit_admin):
    name = rabbit_admin.create_vhost("xiaoneng-test-demo-run")
    yield name
    rabbit_admin.delete_vhost(name)


def start_run_local(env, console):
    import subprocess
    import sys

    with open(console, "wb") as out:
        return subprocess.Popen([sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def wait_console(proc, console, text, timeout):
    """Wait until run_local.py has printed `text`; fail with what it printed when it dies or takes too long."""
    try:
        def printed():
            if proc.poll() is not None:
                raise AssertionError(f"run_local.py exited with {proc.returncode}")
            return text in console.read_text()

        wait_for(printed, timeout=timeout, interval=0.5, message=repr(text))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; run_local.py printed:\n{console.read_text()}") from None
    return console.read_text()


def stop_run_local(proc, console):
    import signal

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, console.read_text()


@pytest.mark.integration
def test_make_run_loads_the_demo_year_on_first_start_only(tmp_path, rabbit_admin, run_vhost_for_make_run):
    from tests.conftest import free_port

    var = tmp_path / "var"
    env = {**os.environ, "XIAONENG_VAR_DIR": str(var), "AMQP_URI": rabbit_admin.amqp_uri(run_vhost_for_make_run),
           "KEYS_FILE": str(var / "keys.yaml"), "XIAONENG_START_TIMEOUT": "90",
           "XIAONENG_DEMO_ARGS": "--appeals 25 --applications 15 --workers 2"}
    env.pop("XIAONENG_DEMO", None)
    urls = {}
    for name in REGISTRY:
        port = free_port()
        env[f"{name.upper()}_HTTP"] = f"127.0.0.1:{port}"
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite:///{var / f'{name}.db'}"
        urls[name] = f"http://127.0.0.1:{port}"

    console = tmp_path / "first.txt"
    proc = start_run_local(env, console)
    try:
        text = wait_console(proc, console, "The demo city's year is in", 240)
        assert f"{urls['notify']}/console" in text and "0 failed" in text, text
        rows = [line.split() for line in (var / "demo-keys.txt").read_text().splitlines()
                if line and not line.startswith("#")]
        operator = next(row[-1] for row in rows if row[0] == "operator")
        total = requests.get(f"{urls['appeals']}/api/v1/appeals", headers={"Authorization": f"Bearer {operator}"},
                             timeout=10).json()["total"]
        assert total >= 25
        stop_run_local(proc, console)
        assert (var / "demo.done").exists()

        console = tmp_path / "second.txt"
        proc = start_run_local(env, console)
        wait_console(proc, console, "Press Ctrl-C", 120)
        assert "Loading the demo" not in console.read_text()
        rows = [line.split() for line in (var / "demo-keys.txt").read_text().splitlines()
                if line and not line.startswith("#")]
        operator = next(row[-1] for row in rows if row[0] == "operator")
        again = wait_for(lambda: (r := requests.get(f"{urls['appeals']}/api/v1/appeals", timeout=10,
                                                    headers={"Authorization": f"Bearer {operator}"})).ok and r,
                         timeout=10, message="the operator key of the second start")
        assert again.json()["total"] == total
        stop_run_local(proc, console)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
