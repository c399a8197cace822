"""A small HTTP client of the approvals service for the end-to-end tests (one place, not one per file)."""

import requests

from tests.conftest import wait_for

ID_NUMBER = "330102199001011234"
APPLICANT = "杭州某餐饮有限公司"


class ApprovalsApi:
    def __init__(self, base_url, keys):
        self.base = base_url
        self.keys = keys
        self.refs = 0

    def call(self, method, path, who, body=None, **params):
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return requests.request(method, f"{self.base}{path}", json=body, headers=headers, params=params, timeout=10)

    def ok(self, method, path, who, body=None, status=200, **params):
        r = self.call(method, path, who, body, **params)
        assert r.status_code == status, (method, path, who, r.status_code, r.text)
        return r.json()

    def submit(self, item_code="SCJ-001", materials=("M1", "M2", "M3"), **fields):
        self.refs += 1
        body = {"external_ref": f"W-{self.refs}", "item_code": item_code,
                "applicant": {"name": APPLICANT, "kind": "enterprise", "id_number": ID_NUMBER},
                "materials": list(materials), "service_point": "city_center", **fields}
        return self.ok("POST", "/api/v1/applications", "window_system", body, status=201)

    def act(self, application_id, action, body=None, status=200, who="window_system"):
        r = self.call("POST", f"/api/v1/applications/{application_id}/{action}", who, body or {})
        assert r.status_code == status, (action, who, r.status_code, r.text)
        return r.json()

    def get(self, application_id, who="monitor"):
        return self.ok("GET", f"/api/v1/applications/{application_id}", who)

    def alerts(self, **params):
        return self.ok("GET", "/api/v1/alerts", "monitor", **params)["items"]

    def drained(self):
        wait_for(lambda: self.ok("GET", "/health", "monitor")["outbox"]["pending"] == 0, message="outbox drained")


def start_approvals(service_config, start_service, api_keys, keys_file, amqp_uri, departments=("SCJGJ", "ZJJ"),
                    client=ApprovalsApi):
    """Start the approvals service on `amqp_uri` with a handler key per department; (client, tap on its events)."""
    from services.approvals.service import ApprovalsService
    from services.kernel.keys import KeyStore
    from tests.support import Tap

    store = KeyStore(keys_file)
    keys = dict(api_keys)
    for dept in departments:
        keys[dept] = store.add(f"handler-{dept}", "department_handler", dept)
    cfg = service_config("approvals", AMQP_URI=amqp_uri)
    tap = Tap(amqp_uri, "approvals")
    start_service(ApprovalsService, cfg)
    return client(cfg["base_url"], keys), tap
