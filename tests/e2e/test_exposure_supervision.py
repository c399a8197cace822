"""Approvals' supervision orders (督办) on the exposure board (曝光台) through HTTP, approvals and appeals on one
real broker with a frozen clock: an order the monitor exposes — when it is given, or later — appears on the
appeals service's board beside the exposed appeals (newest exposure first), desensitised (the applicant's name,
phones and id number planted in the note and in the rectification report appear in no answer), and turns 已整改
once the department acted: the application decided in time, or, once the order went overdue, the department's
rectification report accepted. An order not exposed never shows; exposing is retry-safe, for monitors only."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.appeals.service import AppealsService
from services.kernel import clock
from tests.conftest import wait_for
from tests.e2e.approvals_client import start_approvals
from tests.e2e.test_exposure_board import Board, personal_data_in, phone_of, said

TZ = clock.TZ
PERSON = "欧阳明月"  # the applicant, a person: never on the board (personal_data_in looks for this name)
ID_NO = "33010619900101123X"


@pytest.fixture
def both(service_config, start_service, api_keys, keys_file, fresh_amqp_uri, frozen):
    """(approvals client, appeals board) on one broker of their own, the clock frozen on a working day."""
    frozen(datetime(2026, 11, 2, 10, 0, tzinfo=TZ))
    approvals, _tap = start_approvals(service_config, start_service, api_keys, keys_file, fresh_amqp_uri)
    cfg = service_config("appeals", AMQP_URI=fresh_amqp_uri)
    start_service(AppealsService, cfg)
    keys = dict(approvals.keys)
    return approvals, Board(cfg["base_url"], keys)


def submit_for_person(api):
    return api.submit(applicant={"name": PERSON, "kind": "person", "id_number": ID_NO})


def on_board(board: Board, public_id: str, state: str | None = None) -> dict:
    """The board's entry of `public_id` once it is there (and in `state`, if given): the events travel."""
    found = {}

    def there():
        r = board.get(f"/public/v1/exposures/{public_id}")
        if r.status_code == 200 and (state is None or r.json()["state"] == state):
            found.update(r.json())
            return True
        return False

    wait_for(there, timeout=15, message=f"{public_id} on the board" + (f" as {state}" if state else ""))
    return found


def test_an_exposed_order_is_on_the_board_desensitised_and_rectified_once_decided(both, frozen):
    api, board = both
    a = submit_for_person(api)
    api.act(a["id"], "accept")
    note = f"申请人{PERSON}（电话 {phone_of(1)}，身份证 {ID_NO}）反映久拖不办，请于11月6日前办结"
    order = api.ok("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor",
                   {"act_by": "2026-11-06", "note": note, "exposed": True}, status=201)
    assert order["exposed"] is True and len(order["public_id"]) == 20 and order["exposed_at"].startswith("2026-11-02")
    hidden = api.ok("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor",
                    {"act_by": "2026-11-09", "note": "不曝光的督办"}, status=201)
    assert hidden["exposed"] is False and hidden["public_id"] is None

    item = on_board(board, order["public_id"])
    assert (item["kind"], item["kind_zh"], item["item_name"], item["department_name"]) == (
        "approval_supervision", "审批督办", "食品经营许可", "SCJGJ")
    assert (item["state"], item["rectified"], item["rectification"], item["closed_at"]) == ("整改中", False, None, None)
    assert (item["exposed_at"], item["act_by"]) == ("2026-11-02", "2026-11-06")
    assert item["problem"] == "申请人[姓名]（电话 [电话]，身份证 [身份证号]）反映久拖不办，请于11月6日前办结"
    page = board.get("/public/v1/exposures")
    assert page.status_code == 200 and [i["public_id"] for i in page.json()["items"]] == [order["public_id"]]
    for text in (page.text, board.get(f"/public/v1/exposures/{order['public_id']}").text):
        assert personal_data_in(text) == [] and a["application_no"] not in text and "test-monitor" not in text

    frozen(datetime(2026, 11, 4, 15, 0, tzinfo=TZ))
    api.act(a["id"], "decide", body={"approved": True})
    done = on_board(board, order["public_id"], "已整改")
    assert done["rectified"] is True and done["closed_at"] == "2026-11-04"
    assert done["rectification"] == "已于2026-11-04作出审批决定，督办事项已办结"
    # the order that was not exposed is nowhere; the board counts one
    assert board.get("/public/v1/exposures").json()["total"] == 1
    api.drained()
    assert board.get("/public/v1/exposures").json()["total"] == 1


def test_an_order_exposed_later_waits_for_the_overdue_cards_rectification(both, frozen):
    api, board = both
    a = submit_for_person(api)
    api.act(a["id"], "accept")
    order = api.ok("POST", f"/api/v1/applications/{a['id']}/supervise", "monitor",
                   {"act_by": "2026-11-03", "note": "请于11月3日前办结"}, status=201)
    # an exposed appeal first: the board is one list, newest exposure first
    case = board.intake(1, content=said(1))
    board.supervise(case, True)

    frozen(datetime(2026, 11, 4, 9, 0, tzinfo=TZ))  # act_by passed with the application open: a red card
    wait_for(lambda: api.alerts(application_id=a["id"], level="red"), message="the overdue red card")
    for who in ("SCJGJ", "window_system", "operator"):
        assert api.call("POST", f"/api/v1/supervision-orders/{order['id']}/expose", who).status_code == 403
    assert api.call("POST", "/api/v1/supervision-orders/999999/expose", "monitor").status_code == 404
    exposed = api.ok("POST", f"/api/v1/supervision-orders/{order['id']}/expose", "monitor", status=201)
    again = api.ok("POST", f"/api/v1/supervision-orders/{order['id']}/expose", "monitor", status=200)
    assert exposed == again and exposed["exposed_at"].startswith("2026-11-04") and exposed["state"] == "overdue"
    item = on_board(board, exposed["public_id"])
    assert item["state"] == "整改中"
    assert [i["kind"] for i in board.items()] == ["approval_supervision", "appeal"]

    # decided late: still 整改中 until the red card's rectification is accepted
    api.act(a["id"], "decide", body={"approved": True})
    red = api.alerts(application_id=a["id"], level="red")[0]
    report = {"corrected": f"已办结并约谈窗口负责人，已电话 {phone_of(2)} 告知{PERSON}",
              "corrected_by": "李建国"}
    api.ok("POST", f"/api/v1/alerts/{red['id']}/rectification", "SCJGJ", report, status=201)
    api.drained()
    assert board.get(f"/public/v1/exposures/{exposed['public_id']}").json()["state"] == "整改中"
    frozen(datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    api.ok("POST", f"/api/v1/alerts/{red['id']}/rectification/accept", "monitor", {"note": "整改到位"})
    done = on_board(board, exposed["public_id"], "已整改")
    assert done["rectification"] == "已办结并约谈窗口负责人，已电话 [电话] 告知[姓名]"
    assert done["closed_at"] == "2026-11-05"
    text = board.get("/public/v1/exposures").text
    assert personal_data_in(text) == [] and "李建国" not in text and a["application_no"] not in text

