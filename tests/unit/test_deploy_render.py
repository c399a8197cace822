"""`python -m deploy render` on the example inventory: compose files valid against the Compose specification's
schema, systemd units accepted by `systemd-analyze verify`, configs that load, and no secret anywhere in the
output. (The definitions are proven on the real broker by tests/e2e/test_deploy_federation.py.)"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from deploy import broker
from deploy.__main__ import main as deploy_main
from deploy.inventory import InventoryError, load, parse
from deploy.render import REGISTER_FILE, ROOT, warnings
from services.kernel.config import load_config

EXAMPLE = ROOT / "deploy" / "inventory.example.yaml"
DEMO_REGISTER = ROOT / "services" / "scoring" / "departments.demo.yaml"
SCHEMA = json.loads((Path(__file__).parent / "test_deploy_data" / "compose-spec.json").read_text())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    assert deploy_main(["render", str(EXAMPLE), "--out", str(out), "--install-dir", str(ROOT)]) == 0
    return out


def test_every_node_gets_its_files(rendered):
    inv = load(EXAMPLE)
    for node in inv.nodes:
        d = rendered / node.name
        assert (d / "definitions.json").exists() and (d / "docker-compose.yaml").exists()
        for service in node.services:
            assert (d / "config" / f"{service}.yaml").exists()
            assert (d / "env" / f"{service}.env").exists()
            assert (d / "systemd" / f"xiaoneng-{service}.service").exists()
        assert sorted(p.stem for p in (d / "config").iterdir()) == sorted(node.services)


def test_compose_files_follow_the_compose_specification(rendered):
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    for path in rendered.glob("*/docker-compose.yaml"):
        doc = yaml.safe_load(path.read_text())
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], (path, errors)
        node = load(EXAMPLE).node(path.parent.name)
        for service in node.services:
            spec = doc["services"][service]
            assert "/health" in " ".join(spec["healthcheck"]["test"])
            assert spec["depends_on"]["broker-setup"] == {"condition": "service_completed_successfully"}
            assert spec["command"][:3] == ["python", "-m", "deploy.entrypoint"]
        assert ("postgres" in doc["services"]) == (node.database.kind == "postgresql")


def test_the_schema_catches_a_broken_compose_file():
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    broken = {"services": {"x": {"image": "a", "depends_on": {"y": {"condition": "when_ready"}}}}}
    assert list(validator.iter_errors(broken))


def test_systemd_units_verify(rendered):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    units = sorted(str(p) for p in rendered.glob("*/systemd/*.service"))
    assert units
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_configs_load_and_take_secrets_from_the_environment_only(rendered, monkeypatch):
    monkeypatch.setenv("XIAONENG_MQ_PASSWORD", "s3cr3t")
    monkeypatch.setenv("XIAONENG_DB_PASSWORD", "dbs3cr3t")
    cfg = load_config(rendered / "scjgj" / "config" / "approvals.yaml")
    assert cfg["AMQP_URI"] == "amqp://scjgj.approvals:s3cr3t@mq.scjgj.example.gov.cn:5672/xiaoneng-scjgj"
    assert cfg["DATABASE_URL"] == "postgresql://approvals:dbs3cr3t@db.scjgj.example.gov.cn:5432/approvals"
    assert cfg["DEPARTMENT"] == "SCJGJ" and cfg["WEB_SERVER_ADDRESS"] == "0.0.0.0:8002"
    assert load_config(rendered / "zjj" / "config" / "approvals.yaml")["DATABASE_URL"] == \
        "sqlite:////var/lib/xiaoneng/approvals.db"
    assert load_config(rendered / "city" / "config" / "scoring.yaml")["DEPARTMENT"] is None


def test_nothing_rendered_holds_a_secret(rendered):
    for path in rendered.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "s3cr3t" not in text and "password_hash\": \"" not in text.replace('"password_hash": ""', ""), path
    for path in rendered.glob("*/definitions.json"):
        defs = json.loads(path.read_text())
        assert all(u["password_hash"] == "" for u in defs["users"])
        for p in defs["parameters"]:
            if p["component"] == "federation-upstream":
                assert ":${XIAONENG_MQ_PASSWORD_" in p["value"]["uri"], p
                assert p["value"]["max-hops"] == 1


def test_least_privilege_in_the_definitions():
    inv = load(EXAMPLE)
    defs = broker.definitions(inv, inv.node("scjgj"))
    assert {p["vhost"] for p in defs["permissions"]} == {"xiaoneng-scjgj"}
    approvals = next(p for p in defs["permissions"] if p["user"] == "scjgj.approvals")
    assert re.match(approvals["write"], "approvals.events") and not re.match(approvals["write"], "notify.events")
    assert re.match(approvals["read"], "evt-notify-alert.action_requested--approvals.on_action")
    assert not re.match(approvals["read"], "evt-approvals-monitor.warning--notify.on_warning")
    assert not re.match(approvals["read"], "xiaoneng.parked")
    city = broker.definitions(inv, inv.city)
    fed = next(p for p in city["permissions"] if p["user"] == "scjgj.federation")
    assert re.match(fed["read"], "xiaoneng.down.SCJGJ.approvals")
    assert not re.match(fed["read"], "xiaoneng.down.ZJJ.notify")


def test_secrets_are_filled_at_apply_time_only(tmp_path):
    inv = load(EXAMPLE)
    defs = broker.definitions(inv, inv.node("zjj"))
    with pytest.raises(broker.SecretMissing, match="XIAONENG_MQ_PASSWORD_ZJJ_APPROVALS"):
        broker.fill(defs, None, env={})
    env = {broker.secret_env(u["name"]): f"pw-{u['name']}" for u in defs["users"]}
    filled = broker.fill(defs, None, env=env)
    assert all(u["password_hash"] for u in filled["users"])
    assert "pw-zjj.federation@mq.city.example.gov.cn" in json.dumps(filled)
    assert defs["users"][0]["password_hash"] == ""  # the rendered definitions are left as they were
    code = deploy_main(["apply-broker", "--inventory", str(EXAMPLE), "--node", "zjj", "--write", str(tmp_path / "x")])
    assert code == 2  # no secrets in this environment: a clear error, nothing written
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["nodes"].append(dict(d["nodes"][0], name="city2")), "exactly one node must have role: city"),
    (lambda d: d["nodes"][1].update(services=["approvals", "billing"]), "unknown: billing"),
    (lambda d: d["nodes"][1].update(department="scjgj"), "its code in capitals"),
    (lambda d: d["nodes"][1]["broker"].pop("host"), "`host` is required"),
    (lambda d: d["nodes"][1]["broker"].update(vhsot="x"), "unknown setting"),
    (lambda d: d["nodes"][1].update(relay_process=["appeals"]), "`relay_process` must list some of the node's"),
])
def test_a_bad_inventory_is_refused_with_a_clear_message(change, message):
    data = yaml.safe_load(EXAMPLE.read_text())
    change(data)
    with pytest.raises(InventoryError, match=message):
        parse(data, EXAMPLE)


def test_a_relay_process_is_rendered_where_the_inventory_asks(rendered, monkeypatch):
    """The city's appeals publishes through a relay process of its own: its config turns the relay inside
    off, compose runs `deploy.entrypoint appeals --relay` beside it and systemd has a unit for it; the other
    services keep theirs inside."""
    monkeypatch.setenv("XIAONENG_MQ_PASSWORD", "x")
    monkeypatch.setenv("XIAONENG_DB_PASSWORD", "y")
    city = rendered / "city"
    assert load_config(city / "config" / "appeals.yaml")["OUTBOX"]["RELAY"] is False
    assert load_config(city / "config" / "scoring.yaml")["OUTBOX"].get("RELAY", True) is True
    doc = yaml.safe_load((city / "docker-compose.yaml").read_text())
    relay = doc["services"]["appeals-relay"]
    assert relay["command"] == ["python", "-m", "deploy.entrypoint", "appeals", "--relay",
                                "--config", "/etc/xiaoneng/config/appeals.yaml"]
    assert relay["secrets"] == doc["services"]["appeals"]["secrets"] and "ports" not in relay
    assert not any(name.endswith("-relay") for name in yaml.safe_load(
        (rendered / "scjgj" / "docker-compose.yaml").read_text())["services"])
    unit = (city / "systemd" / "xiaoneng-appeals-relay.service").read_text()
    assert "deploy.entrypoint appeals --relay --config" in unit and "After=" in unit
    assert sorted(p.name for p in (city / "systemd").glob("*-relay.service")) == ["xiaoneng-appeals-relay.service"]


def test_the_entrypoint_starts_the_relay_process(monkeypatch):
    from deploy import entrypoint

    calls = []
    monkeypatch.setattr(entrypoint.os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.setattr(entrypoint, "secrets_from_files", lambda: None)
    entrypoint.main(["appeals", "--relay", "--config", "/etc/xiaoneng/config/appeals.yaml"])
    assert calls[0][1:] == ["-m", "services.kernel.relay", "--config", "/etc/xiaoneng/config/appeals.yaml",
                            "--service", "appeals"]


def test_the_relay_names_the_department_an_event_concerns():
    from services.kernel.outbox import DEPARTMENT_HEADER, department_of

    assert DEPARTMENT_HEADER == broker.DEPARTMENT_HEADER and not DEPARTMENT_HEADER.startswith("x-")
    body = {"payload": {"department": "ZJJ"}, "source": {"service": "approvals", "department": None}}
    assert department_of(json.dumps(body)) == "ZJJ"
    body = {"payload": {"alert_id": "7"}, "source": {"service": "notify", "department": "SCJGJ"}}
    assert department_of(json.dumps(body)) == "SCJGJ"
    assert department_of(json.dumps({"payload": {}, "source": {"department": None}})) == ""
    assert department_of("not json") == ""


# --- the department register (`register:`): one file of names for every node and service ---


def _containers(doc: dict, node) -> list[str]:
    return [name for name in doc["services"] if name.removesuffix("-relay") in node.services]


def test_the_register_is_rendered_on_every_node_and_read_by_every_service(rendered):
    inv = load(EXAMPLE)
    assert yaml.safe_load(EXAMPLE.read_text())["register"] == "../services/scoring/departments.demo.yaml"
    assert inv.register.path.resolve() == DEMO_REGISTER and warnings(inv) == []
    source = yaml.safe_load(DEMO_REGISTER.read_text(encoding="utf-8"))
    for node in inv.nodes:
        d = rendered / node.name
        text = (d / "departments.yaml").read_text(encoding="utf-8")
        assert yaml.safe_load(text) == source  # the same entries, tier and all
        assert text.startswith("# The deployment's department register") and "python -m deploy render" in text
        assert "../services/scoring/departments.demo.yaml" in text.split("\n- ")[0]
        assert "文昌街道" in text  # names stay readable Chinese, and town-streets are organisations too
        doc = yaml.safe_load((d / "docker-compose.yaml").read_text())
        containers = _containers(doc, node)
        assert len(containers) == len(node.services) + len(node.relay_process)
        for name in containers:
            assert f"./departments.yaml:{REGISTER_FILE}:ro" in doc["services"][name]["volumes"], (node.name, name)
        for name in ("rabbitmq", "broker-setup", "postgres"):
            assert not any("departments" in v for v in doc["services"].get(name, {}).get("volumes", []))
        for service in node.services:
            env = (d / "env" / f"{service}.env").read_text().splitlines()
            assert f"DEPARTMENTS_FILE={REGISTER_FILE}" in env, (node.name, service)
            settings = [line.split("=")[0] for line in env if line and not line.startswith("#")]
            assert "NOTIFY_DEPARTMENTS_FILE" not in settings and "SEED_DEPARTMENTS" not in settings
            unit = (d / "systemd" / f"xiaoneng-{service}.service").read_text()
            assert "departments.yaml (the department register, DEPARTMENTS_FILE" in unit
    notify = (rendered / "city" / "env" / "notify.env").read_text()
    assert "# NOTIFY_DEPARTMENTS_FILE (not set) would override DEPARTMENTS_FILE" in notify
    assert "# SEED_DEPARTMENTS (not set) defaults to DEPARTMENTS_FILE" in (rendered / "city" / "env" /
                                                                          "scoring.env").read_text()


def test_the_rendered_register_loads_in_the_services(rendered):
    from services.kernel.departments import DepartmentRegister
    from services.notify.messages import load_department_names
    from services.scoring.schemas import DepartmentIn

    path = rendered / "zjj" / "departments.yaml"
    assert DepartmentRegister.load(str(path)).knows("ZJJ")
    assert load_department_names(str(path))["WCJD"] == "文昌街道"
    DepartmentIn(many=True).load(yaml.safe_load(path.read_text(encoding="utf-8")))  # what scoring seeds from


def _inventory(tmp_path: Path, register, text: str | None = None) -> tuple[dict, Path]:
    """The example inventory placed in tmp_path/deploy/, its register (given as text) beside it."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["register"] = register
    where = tmp_path / "deploy"
    where.mkdir(exist_ok=True)
    if text is not None:
        (where / "register.yaml").write_text(text, encoding="utf-8")
    return data, where / "inventory.yaml"


REGISTER = DEMO_REGISTER.read_text(encoding="utf-8")


@pytest.mark.parametrize("register, text, message", [
    ("register.yaml", None, r"register 'register.yaml' \(.*deploy/register.yaml\): cannot read it"),
    ("", None, "`register` must be the path of the department register file"),
    (["a.yaml"], None, "`register` must be the path of the department register file"),
    ("register.yaml", "ZJJ: 市住房和城乡建设局\n", "must be a non-empty list of {code, name"),
    ("register.yaml", "[]\n", "must be a non-empty list of {code, name"),
    ("register.yaml", "", "must be a non-empty list of {code, name"),
    ("register.yaml", "- [ZJJ, 住建局]\n", "entry 1 must be a mapping"),
    ("register.yaml", "- {code: ZJJ, name: 住建局}\n- {code: SCJGJ}\n", "entry 2 needs `name`, a non-empty string"),
    ("register.yaml", "- {code: ZJJ, name: '  '}\n", "entry 1 needs `name`, a non-empty string"),
    ("register.yaml", "- {code: '', name: 住建局}\n", "entry 1 needs `code`, a non-empty string"),
    ("register.yaml", "- {code: 42, name: 住建局}\n", "entry 1 needs `code`, a non-empty string"),
    ("register.yaml", "- {code: ZJJ, name: [a]}\n", "entry 1 needs `name`, a non-empty string"),
    ("register.yaml", "- {code: ZJJ, name: a\n", "is not valid YAML"),
    ("register.yaml", "- {code: ZJJ, name: a}\n- {code: SCJGJ, name: b}\n- {code: ZJJ, name: c}\n",
     r"duplicate code 'ZJJ' \(entry 3\)"),
    ("register.yaml", "- {code: ZJJ, name: 住建局}\n",
     r"department node\(s\) scjgj \(SCJGJ\): the code is not in the register 'register.yaml'"),
])
def test_a_bad_register_is_refused_at_load(tmp_path, register, text, message):
    data, path = _inventory(tmp_path, register, text)
    with pytest.raises(InventoryError, match=message):
        parse(data, path)


def test_a_department_node_missing_from_the_register_fails_the_command_cleanly(tmp_path, capsys):
    data, path = _inventory(tmp_path, "register.yaml", "- {code: SCJGJ, name: 市场监管局}\n")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert deploy_main(["render", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "zjj (ZJJ): the code is not in the register" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_register_path_is_relative_to_the_inventory_or_absolute(tmp_path, monkeypatch):
    data, path = _inventory(tmp_path, "register.yaml", REGISTER)
    monkeypatch.chdir(tmp_path)  # not the inventory's directory: a relative path must not depend on it
    assert parse(data, path).register.path == tmp_path / "deploy" / "register.yaml"
    data["register"] = str(DEMO_REGISTER)
    inv = parse(data, path)
    assert inv.register.path == DEMO_REGISTER and {"SCJGJ", "ZJJ", "WCJD"} <= inv.register.codes


def test_without_a_register_the_output_is_as_before_and_render_warns(tmp_path, capsys):
    data = yaml.safe_load(EXAMPLE.read_text())
    del data["register"]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    assert deploy_main(["render", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: the inventory has no `register:`" in err and "codes instead of their names" in err
    assert warnings(load(path)) and load(path).register is None
    assert not list(out.rglob("departments.yaml"))
    assert "departments" not in (out / "city" / "docker-compose.yaml").read_text()
    assert "departments.yaml (the department register" not in (out / "city" / "systemd" /
                                                               "xiaoneng-approvals.service").read_text()
    for env in out.glob("*/env/*.env"):
        settings = [line for line in env.read_text().splitlines() if line and not line.startswith("#")]
        expected = {"appeals": ["DEPARTMENTS_FILE="], "notify": ["NOTIFY_DEPARTMENTS_FILE="]}.get(env.stem, [])
        assert [s for s in settings if "DEPARTMENTS" in s] == expected, env
