"""The sanctions register on PostgreSQL: the same measure entered at the same moment many times is one measure (one
201, the others 200 with it, never a 500), a clashing one a 409; the year filter on a date column; two decisions of
one review at once: one wins, the other is a 409; the withdrawn warning's fact voided there as on SQLite."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from services.kernel.clock import TZ
from services.scoring.service import ScoringService

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
MEASURE = {"kind": "efficiency_warning", "department": "D1", "source": "direct", "deciding_body": "市效能办",
           "document_no": "效能告诫〔2026〕8号", "decided_on": "2026-09-28", "reason": "推诿扯皮"}

pytestmark = pytest.mark.postgres


def test_the_register_holds_on_postgresql(start_on_postgres, api_keys, frozen):
    frozen(NOW)
    cfg = start_on_postgres(ScoringService)
    base = cfg["base_url"]

    def call(method, path, body=None, who="assessor", **params):
        return requests.request(method, f"{base}{path}", json=body, params=params, timeout=20,
                                headers={"Authorization": f"Bearer {api_keys[who]}"})

    assert call("POST", "/api/v1/departments", {"code": "D1", "name": "一号局", "approval_functions": True}
                ).status_code == 201
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: call("POST", "/api/v1/sanctions", MEASURE), range(8)))
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    with ThreadPoolExecutor(4) as pool:
        clashes = list(pool.map(lambda i: call("POST", "/api/v1/sanctions", {**MEASURE, "deciding_body": f"区{i}"}),
                                range(4)))
    assert [r.status_code for r in clashes] == [409] * 4

    listed = call("GET", "/api/v1/sanctions", year=2026).json()
    assert listed["total"] == 1 and call("GET", "/api/v1/sanctions", year=2025).json()["total"] == 0
    sanction = listed["items"][0]

    def deduction():
        rows = call("GET", "/api/v1/scores", period="2026-09").json()["rows"]
        return next(r for r in rows if r["department"] == "D1")["deduction"]

    assert deduction() == 0.5
    assert call("POST", f"/api/v1/sanctions/{sanction['id']}/review", {"reason": "申辩"}, "handler_d1"
                ).status_code == 201
    with ThreadPoolExecutor(2) as pool:
        decided = list(pool.map(lambda d: call("POST", f"/api/v1/sanctions/{sanction['id']}/review/decide",
                                               {"decision": d, "note": d}), ("withdrawn", "upheld")))
    codes = sorted(r.status_code for r in decided)
    assert codes == [200, 409], [r.text for r in decided]
    winner = next(r.json() for r in decided if r.status_code == 200)
    assert deduction() == (0.0 if winner["state"] == "withdrawn" else 0.5)
