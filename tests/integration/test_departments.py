"""Appeals knows the deployment's department register (DEPARTMENTS_FILE): a dispatch, a dispatch rule or an
efficiency complaint naming a department that does not exist is a 400, since the clock would then run for nobody;
without a register every code is accepted, as before, and the start says so."""

import logging
import os

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from services.appeals.service import AppealsService
from services.kernel.departments import DepartmentRegister
from services.kernel.errors import BadRequest
from tests.conftest import ROOT

REGISTER = os.path.join(ROOT, "services", "scoring", "departments.demo.yaml")
CODES = DepartmentRegister.load(REGISTER).codes
VALID = {"channel": "hotline", "type": "complaint", "category": "road", "content": "路灯不亮"}
CODE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)


def start(service_config, start_service, api_keys, **overrides):
    cfg = service_config("appeals", **overrides)
    start_service(AppealsService, cfg)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {api_keys['operator']}"
    return cfg["base_url"], http


def rule(department, category="road"):
    return {"category": category, "department": department, "category_name": "道路设施"}


@settings(max_examples=200, deadline=None)
@given(CODE)
def test_the_register_refuses_exactly_the_codes_it_does_not_list(code):
    register = DepartmentRegister.load(REGISTER)
    if code in CODES:
        register.require(code, "department")
    else:
        with pytest.raises(BadRequest) as exc:
            register.require(code, "department")
        assert list(exc.value.errors) == ["department"]
    DepartmentRegister(None).require(code, "department")  # no register: any code, as before


def test_a_register_file_that_is_not_one_stops_the_start(tmp_path):
    for text in ("[1, 2]", "- {name: 没有编号}", "[]", "x: [", "- {code: ''}"):
        path = tmp_path / "departments.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="DEPARTMENTS_FILE"):
            DepartmentRegister.load(str(path))
    assert DepartmentRegister.load(REGISTER).codes >= {"ZJJ", "SCJGJ", "JW"}


def test_dispatch_and_the_catalogue_refuse_an_unknown_department(service_config, start_service, api_keys):
    base, http = start(service_config, start_service, api_keys, DEPARTMENTS_FILE=REGISTER)
    case = http.post(f"{base}/api/v1/appeals", json=VALID, timeout=10).json()
    for unknown in ("NOPE", "zjj", "ZJJ2"):
        r = http.post(f"{base}/api/v1/appeals/{case['id']}/dispatch", json={"department": unknown}, timeout=10)
        assert r.status_code == 400 and list(r.json()["errors"]) == ["department"], r.text
        r = http.put(f"{base}/api/v1/catalogue", json=rule(unknown), timeout=10)
        assert r.status_code == 400 and list(r.json()["errors"]) == ["department"], r.text
    assert all(x["department"] in CODES for x in http.get(f"{base}/api/v1/catalogue", timeout=10).json())
    complaint = {**VALID, "type": "efficiency_complaint", "subject_department": "NOPE"}
    r = http.post(f"{base}/api/v1/appeals", json=complaint, timeout=10)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["subject_department"], r.text
    r = http.post(f"{base}/api/v1/appeals", json={**complaint, "subject_department": "ZJJ"}, timeout=10)
    assert r.status_code == 201 and r.json()["subject_department"] == "ZJJ", r.text
    r = http.post(f"{base}/api/v1/appeals/{case['id']}/dispatch", json={"department": "SWJ"}, timeout=10)
    assert r.status_code == 200 and r.json()["department"] == "SWJ", r.text
    r = http.put(f"{base}/api/v1/catalogue", json=rule("SWJ"), timeout=10)
    assert r.status_code == 200 and r.json()["department"] == "SWJ", r.text


def test_without_a_register_any_code_is_taken_and_the_start_warns(service_config, start_service, api_keys, caplog):
    caplog.set_level(logging.WARNING)
    base, http = start(service_config, start_service, api_keys)
    assert any("DEPARTMENTS_FILE is not set" in r.getMessage() for r in caplog.records)
    case = http.post(f"{base}/api/v1/appeals", json=VALID, timeout=10).json()
    r = http.post(f"{base}/api/v1/appeals/{case['id']}/dispatch", json={"department": "NOPE"}, timeout=10)
    assert r.status_code == 200, r.text
