"""The exposure board (曝光台) through HTTP on the real broker: a case the supervising office exposed is on it,
desensitised (the appellant's name, phones, id number and exact address planted in its text and fields appear in
no answer, JSON or the page), with the department's reply as its rectification once closed; a case not exposed,
an exposed efficiency complaint, an exposed case of the discipline office's category and an exposed case later
withdrawn never are; a merged case follows its main case; paging, 400s, one 404 for every id not on the board,
429 for an address walking ids; the page and its script with their headers; every route in the OpenAPI document;
on SQLite and PostgreSQL. And revision 0009, which gives the cases from before public ids one."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from services.appeals.service import AppealsService
from services.kernel import clock, migrate
from services.kernel.keys import KeyStore

NAME = "欧阳明月"
ID_NO = "33010619900101123X"
STREET, HOUSE = "文三路", "478 号 3 栋 2 单元 501 室"
EXACT = f"{STREET} {HOUSE}"
DEPARTMENTS = ("ZJJ", "JW")
ROUTES = ("/public/v1/exposures", "/public/v1/exposures/{public_id}", "/public/exposures",
          "/public/exposures/static/{name}")


def phone_of(i: int) -> str:
    return f"1391234{5670 + i}"


def said(i: int, what: str = "楼道燃气味很重") -> str:
    digits = phone_of(i)
    return (f"我叫{NAME}，住{STREET}{HOUSE.replace(' ', '')}，{what}。电话 +86 {digits[:3]} {digits[3:7]} "
            f"{digits[7:]}，身份证 {ID_NO}")


def personal_data_in(text: str) -> list[str]:
    """What of the planted personal data `text` holds (full-width folded; spaces and dashes between digits)."""
    folded = unicodedata.normalize("NFKC", text)
    found = [phone_of(i) for i in range(20) if re.search(r"[\s\-.()+]{0,3}".join(phone_of(i)), folded)]
    if NAME in folded:
        found.append(NAME)
    if re.search(r"3301\D?0619\D?9001\D?0112\D?3X", folded, re.IGNORECASE):
        found.append(ID_NO)
    if re.search(r"478\s*号|501\s*室|2\s*单元|3\s*栋", folded):
        found.append(EXACT)
    return found


class Board:
    def __init__(self, base: str, keys: dict):
        self.base, self.keys = base, keys
        self.http = requests.Session()

    def api(self, method, path, who, body=None, status=None):
        r = self.http.request(method, self.base + path, json=body, timeout=10,
                              headers={"Authorization": f"Bearer {self.keys[who]}"})
        assert (r.status_code == status) if status else r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def intake(self, i: int, **fields) -> dict:
        body = {"channel": "hotline", "type": "help", "category": "road", "content": said(i),
                "appellant": {"name": NAME, "phone": phone_of(i)},
                "location": {"address": EXACT, "town_street": "WCJD"}, **fields}
        return self.api("POST", "/api/v1/appeals", "operator", body)

    def supervise(self, case: dict, exposed: bool, **fields) -> dict:
        act_by = (clock.now() + timedelta(days=7)).date().isoformat()
        return self.api("POST", f"/api/v1/appeals/{case['id']}/supervise", "monitor",
                        {"act_by": act_by, "note": f"请联系 {phone_of(0)}", "exposed": exposed, **fields})

    def close(self, case: dict, reply: str) -> dict:
        self.api("POST", f"/api/v1/appeals/{case['id']}/accept", "ZJJ")
        self.api("POST", f"/api/v1/appeals/{case['id']}/reply", "ZJJ", {"reply": reply})
        return self.api("POST", f"/api/v1/appeals/{case['id']}/callback", "operator",
                        {"satisfaction": "satisfied", "resolved": True})

    def get(self, path: str, **params) -> requests.Response:
        return self.http.get(self.base + path, params=params, timeout=10)

    def items(self, **params) -> list[dict]:
        r = self.get("/public/v1/exposures", **params)
        assert r.status_code == 200, r.text
        return r.json()["items"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def start_board(request, service_config, start_service, api_keys, keys_file, fresh_amqp_uri):
    """start_board(**config) -> the appeals service on a broker of its own, with department handlers' keys, on
    SQLite and on a PostgreSQL database of its own (the board reads JSON in the history: both dialects)."""
    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in DEPARTMENTS:
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    started, database = [], None
    if request.param == "postgresql":
        pg_admin, pg_url = request.getfixturevalue("pg_admin"), request.getfixturevalue("pg_url")
        database = f"xiaoneng_test_board_{uuid.uuid4().hex[:10]}"
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        url = make_url(pg_url).set(database=database).render_as_string(hide_password=False)

    def start(**overrides) -> Board:
        if database is not None:
            overrides["DATABASE_URL"] = url
        cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri, **overrides)
        started.append(start_service(AppealsService, cfg))
        return Board(cfg["base_url"], keys)

    yield start
    if database is not None:
        for container in started:  # before the database goes
            container.kill()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_an_exposed_case_is_shown_desensitised_and_rectified_once_closed_and_nothing_else_is(start_board):
    board = start_board()
    assert board.items() == []
    exposed = board.intake(1)
    assert exposed["public"] is False  # a hotline call: not public by consent, yet the office may expose it
    not_exposed = board.intake(2)
    complaint = board.intake(3, type="efficiency_complaint", category="efficiency", subject_department="ZJJ",
                             content=f"住建局王科长吃拿卡要。{said(3)}", public=True)
    discipline = board.intake(4, category="efficiency", content=said(4, "窗口人员态度恶劣"))
    withdrawn = board.intake(5)
    for case in (exposed, complaint, discipline, withdrawn):
        board.supervise(case, True)
    board.supervise(not_exposed, False)
    board.api("POST", f"/api/v1/appeals/{withdrawn['id']}/withdraw", "operator", {"reason": "来电人撤诉"})

    r = board.get("/public/v1/exposures")
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1 and page["page"] == 1 and page["per_page"] == 20
    [item] = page["items"]
    today = clock.now().date()
    assert item["public_id"] == exposed["public_id"] and exposed["case_no"] not in r.text
    assert item["category_name"] == "道路设施" and item["department_name"] == "ZJJ"
    assert item["town_street_name"] == "WCJD"
    assert item["state"] == "整改中" and item["rectified"] is False
    assert item["rectification"] is None and item["closed_at"] is None
    assert item["exposed_at"] == today.isoformat() and item["act_by"] == (today + timedelta(days=7)).isoformat()
    assert item["problem"].startswith(f"我叫[姓名]，住{STREET}，楼道燃气味很重") and "[电话]" in item["problem"]
    assert "[身份证号]" in item["problem"]
    assert personal_data_in(r.text) == [] and "王科长" not in r.text and "态度恶劣" not in r.text

    one = board.get(f"/public/v1/exposures/{exposed['public_id']}")
    assert one.status_code == 200 and one.json() == item

    # not exposed, a complaint, the discipline office's category, withdrawn, unknown, not an id: one answer
    misses = [c["public_id"] for c in (not_exposed, complaint, discipline, withdrawn)] + ["0" * 20, "x/../y", "!"]
    for public_id in misses:
        r = board.get(f"/public/v1/exposures/{public_id}")
        assert r.status_code == 404, (public_id, r.text)
        assert r.json()["error"]["code"] == "not_found" and personal_data_in(r.text) == []

    board.close(exposed, f"已修复燃气管道，已电话 {phone_of(1)} 告知{NAME}，{EXACT}复查无异味")
    r = board.get(f"/public/v1/exposures/{exposed['public_id']}")
    done = r.json()
    assert done["state"] == "已整改" and done["rectified"] is True and done["closed_at"] == today.isoformat()
    assert done["rectification"] == f"已修复燃气管道，已电话 [电话] 告知[姓名]，{STREET}复查无异味"
    assert personal_data_in(r.text) == [] and personal_data_in(board.get("/public/v1/exposures").text) == []


def test_a_merged_case_shows_its_main_case_rectification(start_board):
    board = start_board()
    long_story = said(1) + "，" + "燃气味越来越重" * 40 + f"，再说一遍电话 {phone_of(1)}"
    merged, main = board.intake(1, content=long_story), board.intake(2, content="文三路燃气管道漏气")
    board.supervise(merged, True)
    board.api("POST", f"/api/v1/appeals/{merged['id']}/merge", "operator", {"into": main["id"], "reason": "同一事项"})
    r = board.get("/public/v1/exposures")
    [item] = r.json()["items"]
    assert item["public_id"] == merged["public_id"] and item["state"] == "整改中"
    assert len(item["problem"]) == 200 and item["problem"].endswith("…") and "燃气味越来越重" in item["problem"]
    assert personal_data_in(r.text) == []
    board.close(main, f"已更换燃气管道，联系人{NAME}")
    [item] = board.items()
    assert item["state"] == "已整改" and item["rectification"] == "已更换燃气管道，联系人[姓名]"


def test_the_board_pages_newest_exposure_first_and_refuses_bad_paging(start_board):
    board = start_board()
    cases = [board.intake(i) for i in range(5)]
    board.supervise(cases[2], False)  # an order that does not expose: the board does not count it
    for i in (3, 0, 4, 1):  # not in the order of intake: the board goes by the moment of exposure
        board.supervise(cases[i], True)
    board.supervise(cases[3], True)  # exposed again: its first exposure counts
    board.supervise(cases[0], False)  # a later order that does not expose: still exposed, since its first
    board.supervise(cases[2], True)
    ids = [c["public_id"] for c in cases]
    newest_first = [ids[2], ids[1], ids[4], ids[0], ids[3]]
    assert [i["public_id"] for i in board.items()] == newest_first
    first = board.get("/public/v1/exposures", page=1, per_page=3).json()
    second = board.get("/public/v1/exposures", page=2, per_page=3).json()
    assert first["total"] == second["total"] == 5 and (first["page"], second["page"]) == (1, 2)
    assert [len(first["items"]), len(second["items"])] == [3, 2]
    assert [i["public_id"] for i in first["items"] + second["items"]] == newest_first
    assert board.get("/public/v1/exposures", page=3, per_page=3).json()["items"] == []

    for params, field in (({"page": 0}, "page"), ({"page": "x"}, "page"), ({"per_page": 101}, "per_page"),
                          ({"per_page": 0}, "per_page"), ({"sort": "case_no"}, "sort")):
        r = board.get("/public/v1/exposures", **params)
        assert r.status_code == 400, (params, r.text)
        assert field in r.json()["errors"], r.text


def test_an_address_asking_for_too_many_ids_not_on_the_board_is_refused(start_board):
    board = start_board(EXPOSURE={"FAILURES_PER_WINDOW": 3, "WINDOW_SECONDS": 600})
    case = board.intake(1)
    board.supervise(case, True)
    assert board.get(f"/public/v1/exposures/{case['public_id']}").status_code == 200  # a hit is no failure
    for n in range(3):
        assert board.get(f"/public/v1/exposures/{n:020d}").status_code == 404
    for public_id in ("1" * 20, case["public_id"]):  # refused either way: the refusal tells nothing
        r = board.get(f"/public/v1/exposures/{public_id}")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    assert board.get("/public/v1/exposures").status_code == 200  # the board itself is never throttled


def test_the_page_and_its_files_are_served_with_their_headers_and_every_route_is_documented(start_board):
    board = start_board()
    case = board.intake(1)
    board.supervise(case, True)
    page = board.get("/public/exposures")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    html = page.text
    assert '<meta name="viewport"' in html and "曝光台" in html and personal_data_in(html) == []
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page fetches nothing from outside"
    assert "<style" not in html and not re.search(r"<script>(?!</script>)", html), "no inline script or style"
    for name, kind in (("exposures.js", "text/javascript"), ("exposures.css", "text/css")):
        assert f"/public/exposures/static/{name}" in html
        r = board.get(f"/public/exposures/static/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), name
        assert r.headers["X-Content-Type-Options"] == "nosniff" and "http" not in r.text, name
    script = board.get("/public/exposures/static/exposures.js").text
    assert "/public/v1/exposures" in script and "innerHTML" not in script
    for name in ("exposures.html", "..%2Fendpoints.py", ".hidden.js", "nope.js"):
        assert board.get(f"/public/exposures/static/{name}").status_code == 404, name

    spec = board.get("/api/openapi.json").json()
    for route in ROUTES:
        assert "get" in spec["paths"][route], route
        assert not spec["paths"][route]["get"].get("security"), f"{route} needs no key"
    assert {"404", "429"} <= set(spec["paths"]["/public/v1/exposures/{public_id}"]["get"]["responses"])


def test_revision_0009_gives_a_public_id_to_every_open_or_exposed_case_taken_in_before_0004(tmp_path):
    """Cases from before public ids (revision 0004) have none: the board would have nothing to show them by."""
    from services.appeals import store as appeals_store

    engine = sa.create_engine(f"sqlite:///{tmp_path}/appeals.db")
    metadata, t = appeals_store.metadata, appeals_store.appeals
    now = clock.now()
    old = {"open": ("accepted", False), "exposed_closed": ("closed", True), "closed": ("closed", False)}
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config("appeals", conn, metadata), "0008")
        for no, (status, exposed) in old.items():
            conn.execute(t.insert().values(appeals_store.blank_row(
                case_no=no, channel="hotline", type="help", urgency="normal", category="road", content="路灯不亮",
                status=status, exposed=exposed, received_at=now, created_at=now, updated_at=now)))
        conn.execute(t.insert().values(appeals_store.blank_row(
            case_no="new", channel="hotline", type="help", urgency="normal", category="road", content="路灯不亮",
            status="accepted", public_id="kept0000000000000000", received_at=now, created_at=now, updated_at=now)))
        command.upgrade(migrate.alembic_config("appeals", conn, metadata), "0009")
        given = dict(conn.execute(sa.select(t.c.case_no, t.c.public_id)).all())
    engine.dispose()
    assert given["closed"] is None and given["new"] == "kept0000000000000000"
    assert all(re.fullmatch(r"[0-9a-f]{20}", given[no]) for no in ("open", "exposed_closed"))
    assert given["open"] != given["exposed_closed"]
