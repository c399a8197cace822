"""Replaying the ledger into a year's ranking: 1,000,000 facts → the 2026 ranking of every department.

Target (issue 5): under 30 s on this 2-core machine. Loads a fresh SQLite file (the default store) with N
facts of 2026 as the service writes them (15 departments, every metric, red cards with their resolutions,
efficiency warnings, evaluations, adjustments), then times the recomputation the service does for
`GET /api/v1/scores?period=2026` and for closing the year (ledger.compute: the sums, the red cards and
their resolutions, the visits, the rules), three times, and checks each run gives the identical ranking.
A second replay reads every fact row into Python and folds it there (no GROUP BY in the database), and
must give the same ranking. Baseline in the same run, on the same file: `SELECT count(*), sum(value)`
over the ledger (the floor: touching every fact once).

    .venv/bin/python bench/scoring_replay.py [--facts 1000000] [--keep DIR]
"""

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from services.kernel import clock  # noqa: E402
from services.kernel.db import create_db_engine  # noqa: E402
from services.scoring import ledger, store  # noqa: E402
from services.scoring.domain import Rules, parse_period, rank  # noqa: E402
from services.scoring.service import DEFAULT_RULES, seed_departments  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _support import report  # noqa: E402

TARGET_S = 30
DEPTS = ["FGJ", "ZJJ", "SWJ", "HBJ", "GAJ", "SCJGJ", "RSJ", "JYJ", "WJW", "ZWFW", "CGJ", "ZFB", "JW", "WCJD", "DCJD"]
# metric → (relative volume, value maker)
METRICS = {
    "appeals_received": (20, lambda r: 1.0), "appeals_accepted": (15, lambda r: 1.0),
    "appeals_accepted_in_time": (15, lambda r: float(r.random() < 0.92)), "appeals_replied": (12, lambda r: 1.0),
    "appeals_replied_in_time": (12, lambda r: float(r.random() < 0.88)), "callbacks": (8, lambda r: 1.0),
    "callbacks_resolved": (8, lambda r: float(r.random() < 0.8)),
    "callbacks_satisfied": (8, lambda r: float(r.random() < 0.85)), "approvals_submitted": (10, lambda r: 1.0),
    "approvals_decided": (9, lambda r: 1.0), "approvals_decided_in_time": (9, lambda r: float(r.random() < 0.9)),
    "approvals_overdue": (9, lambda r: float(r.random() < 0.1)), "approval_warnings": (2, lambda r: 1.0),
    "yellow_cards": (1, lambda r: 1.0), "irregularities": (0.5, lambda r: 1.0), "appeals_returned": (1, lambda r: 1.0),
    "appeals_overdue": (1, lambda r: 1.0), "appeals_supervised": (0.3, lambda r: 1.0),
    "appeals_escalated": (0.05, lambda r: 1.0), "efficiency_warnings": (0.003, lambda r: 1.0),
    "evaluations": (0.5, lambda r: 1.0), "evaluation_score": (0.5, lambda r: float(r.randint(60, 100))),
}
BATCH = 100_000


def load(path: str, n: int) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    store.metadata.create_all(engine)
    engine.dispose()
    seed_departments(_db(path), os.path.join(ROOT, "services", "scoring", "departments.demo.yaml"))
    rng = random.Random(2026)
    names, weights = list(METRICS), [w for w, _ in METRICS.values()]
    dept_weights = [rng.uniform(0.5, 2.0) for _ in DEPTS]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    recorded = datetime(2026, 11, 26, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    sql = ("INSERT INTO facts (department, period, metric, value, ref, detail, at, source_event_id, "
           "source_event_type, occurred_at, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    red = 0
    made = 0
    while made < n:
        rows = []
        for _ in range(min(BATCH, n - made)):
            dept = rng.choices(DEPTS, dept_weights)[0]
            moment = start + timedelta(seconds=rng.randrange(365 * 86400))
            local = moment.astimezone(clock.TZ)
            at = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
            if rng.random() < 0.00004:  # a red card (40 in a million), resolved four times in five
                red += 1
                ref = f"R{red}"
                rows.append((dept, f"{local:%Y-%m}", "red_cards", 1.0, ref, None, at, str(uuid.uuid4()),
                             "monitor.red_card", at, recorded))
                if rng.random() < 0.8 and len(rows) < BATCH:
                    done = (moment + timedelta(days=rng.randint(1, 14)))
                    d_at = done.strftime("%Y-%m-%d %H:%M:%S.%f")
                    rows.append((dept, f"{done.astimezone(clock.TZ):%Y-%m}", "red_cards_resolved", 1.0, ref, None,
                                 d_at, str(uuid.uuid4()), "monitor.alert_resolved", d_at, recorded))
                continue
            metric = rng.choices(names, weights)[0]
            rows.append((dept, f"{local:%Y-%m}", metric, METRICS[metric][1](rng), None, None, at, str(uuid.uuid4()),
                         "bench", at, recorded))
        conn.executemany(sql, rows)
        conn.commit()
        made += len(rows)
    conn.execute("INSERT INTO facts (department, period, metric, value, ref, detail, at, source_event_id, "
                 "source_event_type, occurred_at, recorded_at) VALUES ('GAJ', '2026-05', 'criticisms', 1, "
                 "'效通〔2026〕5号', NULL, '2026-05-06 02:00:00.000000', 'criticism-1', 'scoring.criticism', "
                 "'2026-05-06 02:00:00.000000', ?)", (recorded,))
    conn.commit()
    conn.close()


def _db(path):
    from services.kernel.db import Database

    return Database(f"sqlite:///{path}", store.metadata, service="scoring")


def python_fold(engine, period, rules, now):
    """The same ranking, with every fact row read and summed in Python."""
    totals = defaultdict(lambda: defaultdict(float))
    with engine.connect() as conn:
        for dept, fact_period, metric, value in conn.exec_driver_sql(
                "SELECT department, period, metric, value FROM facts"):
            if dept is not None and ledger.in_period(period, fact_period):
                totals[dept][metric] += value
    with Session(engine) as s:
        i = ledger.inputs(s, period, now)  # red cards, criticisms, visits: a few hundred rows
        for dept, t in totals.items():
            i.totals.setdefault(dept, {})
            for metric in t:
                if metric != "visits_overdue":
                    i.totals[dept][metric] = t[metric]
        return rank(ledger.departments(s), {d: dict(t) for d, t in i.totals.items()}, rules, i.reasons,
                    i.adjustments)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--keep", help="keep the SQLite file in this directory (and reuse it if there)")
    args = parser.parse_args()
    rules = Rules.load(DEFAULT_RULES)
    period = parse_period("2026")
    now = datetime(2027, 1, 10, tzinfo=clock.TZ)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(args.keep or tmp, f"scoring-replay-{args.facts}.db")
        if not os.path.exists(path):
            t = time.perf_counter()
            load(path, args.facts)
            print(f"loaded {args.facts:,} facts in {time.perf_counter() - t:.1f} s ({path})")
        engine = create_db_engine(f"sqlite:///{path}", read_only=True)
        with engine.connect() as conn:
            t = time.perf_counter()
            count, total = conn.exec_driver_sql("SELECT count(*), sum(value) FROM facts").one()
            base = time.perf_counter() - t
        runs, results = [], []
        for _ in range(3):
            with Session(engine) as s:
                t = time.perf_counter()
                result = ledger.compute(s, rules, period, now)
                runs.append(time.perf_counter() - t)
            results.append(json.dumps(result["rows"], sort_keys=True))
        t = time.perf_counter()
        folded = python_fold(engine, period, rules, now)
        fold = time.perf_counter() - t
        engine.dispose()
    same = len(set(results)) == 1
    same_fold = json.dumps(folded, sort_keys=True) == results[0]
    best = json.loads(results[0])
    print(f"scoring replay: {count:,} facts (sum {total:,.0f}) → the 2026 ranking of {len(best)} departments, SQLite")
    print(f"  baseline: SELECT count(*), sum(value) over the ledger   {base:6.2f} s")
    print(f"  ledger.compute (the service's recomputation), 3 runs    min {min(runs):6.2f} s  "
          f"median {statistics.median(runs):6.2f} s  ({min(runs) / base:.1f}× baseline)  identical: {same}")
    print(f"  every row folded in Python (no GROUP BY)                {fold:6.2f} s  identical: {same_fold}")
    print(f"  target < {TARGET_S} s: {'met' if max(runs) < TARGET_S and fold < TARGET_S else 'NOT MET'}")
    report(f"ranking recomputed over {count:,} facts (worst of 3)", max(runs), "s", baseline=base,
           target=f"< {TARGET_S} s, identical", met=max(runs) < TARGET_S and same and same_fold)
    top = best[:3]
    print("  top three: " + ", ".join(f"{r['department']} {r['composite']:.2f} ({r['final']:+.2f})" for r in top)
          + f"; disqualified: {sum(r['disqualified'] for r in best)}")
    return 0 if same and same_fold and max(runs) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
