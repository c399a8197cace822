"""The per-department deployment on the real broker: the example inventory rendered and applied as a city vhost
and two department vhosts linked by federation, the services started with the rendered configs and users.

Shown: a department's irregularity reaches the city's scoring and notify; a supervision order issued at the
city reaches only its department; a department's users are refused on another department's vhost and on the
city's exchanges for another department; with the link cut, events wait at the department and arrive once
when it comes back."""

import json
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa
import yaml
from amqp.exceptions import NotAllowed
from kombu import Connection

from deploy import broker
from deploy.__main__ import main as deploy_main
from deploy.inventory import parse
from deploy.render import ROOT
from services.kernel import clock
from services.kernel.config import load_config
from services.kernel.messaging import events_exchange
from tests.conftest import RABBIT_API, free_port, wait_for
from tests.e2e.approvals_client import ApprovalsApi
from tests.support import Tap, TcpProxy

pytestmark = pytest.mark.integration


class Deployment:
    def __init__(self, rabbit_admin, tmp_path, proxy):
        self.admin = rabbit_admin
        self.run = uuid.uuid4().hex[:8]
        data = yaml.safe_load((ROOT / "deploy" / "inventory.example.yaml").read_text(encoding="utf-8"))
        data["user_prefix"] = f"t{self.run}-"
        # the inventory is written to tmp_path below: name the register absolutely, not beside the example
        data["register"] = str(ROOT / "services" / "scoring" / "departments.demo.yaml")
        for node in data["nodes"]:
            node["broker"].update(host="127.0.0.1", port=5672, vhost=f"xiaoneng-test-deploy-{self.run}-{node['name']}",
                                  reconnect_delay=1)
            if node["name"] == "scjgj":  # the city reaches this department through a link we can cut
                node["broker"]["federation_port"] = proxy.port
        self.inventory_path = tmp_path / "inventory.yaml"
        self.inventory_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        self.inv = parse(data)
        self.out = tmp_path / "rendered"
        self.secrets = tmp_path / "secrets"
        self.secrets.mkdir()
        self.passwords = {}
        for node in self.inv.nodes:
            for user in broker.definitions(self.inv, node)["users"]:
                self.passwords[user["name"]] = uuid.uuid4().hex
                (self.secrets / f"mq-{user['name']}").write_text(self.passwords[user["name"]])

    def vhost(self, node: str) -> str:
        return self.inv.node(node).broker.vhost

    def render_and_apply(self):
        assert deploy_main(["render", str(self.inventory_path), "--out", str(self.out)]) == 0
        # departments first: the city's links then find their users at once
        for node in ("scjgj", "zjj", "city"):
            assert deploy_main(["apply-broker", str(self.out / node / "definitions.json"),
                                "--secrets-dir", str(self.secrets)]) == 0
            # the tests' own taps and probes run as the admin user
            self.admin.http.put(f"{RABBIT_API}/permissions/{quote(self.vhost(node), safe='')}/guest",
                                json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()

    def uri(self, node: str, who: str) -> str:
        user = broker.user_name(self.inv, self.inv.node(node), who)
        return f"amqp://{quote(user, safe='')}:{self.passwords[user]}@127.0.0.1:5672/{quote(self.vhost(node), safe='')}"

    def admin_uri(self, node: str) -> str:
        return self.admin.amqp_uri(self.vhost(node))

    def api(self, what: str, node: str) -> list[dict] | None:
        """A management API listing for the node's vhost, or None while the API cannot say: it answers 500
        when it asks a federation link that is just going down (seen in CI right after the proxy cut), and
        the callers poll again."""
        r = self.admin.http.get(f"{RABBIT_API}/{what}/{quote(self.vhost(node), safe='')}")
        return r.json() if r.status_code == 200 else None

    def links(self, node: str) -> list[dict] | None:
        return self.api("federation-links", node)

    def link_states(self, node: str) -> dict[str, list[str]] | None:
        """upstream -> the statuses of its links (one per federated exchange), or None (see links)."""
        links = self.links(node)
        if links is None:
            return None
        states: dict[str, list[str]] = {}
        for x in links:
            states.setdefault(x["upstream"], []).append(x["status"])
        return states

    def cleanup(self):
        for node in self.inv.nodes:
            self.admin.delete_vhost(node.broker.vhost)
        for user in self.passwords:
            self.admin.http.delete(f"{RABBIT_API}/users/{quote(user, safe='')}")


@pytest.fixture
def deployment(rabbit_admin, tmp_path):
    proxy = TcpProxy("127.0.0.1", 5672)
    dep = Deployment(rabbit_admin, tmp_path, proxy)
    dep.proxy = proxy
    try:
        dep.render_and_apply()
        yield dep
    finally:
        dep.cleanup()
        proxy.close()


def _connect(uri):
    with Connection(uri, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
        conn.channel()


def test_every_link_runs_and_users_are_confined_to_their_own_vhost_and_exchanges(deployment):
    dep = deployment
    def all_running(node):
        links = dep.links(node)
        return links is not None and len(links) == 3 and all(x["status"] == "running" for x in links)

    wait_for(lambda: all_running("city"), timeout=20, message="the city's links to the departments running")
    for node in ("scjgj", "zjj"):
        wait_for(lambda node=node: all_running(node), timeout=20, message=f"{node}'s links to the city running")

    # its own vhost: fine, and it may declare what a consumer of a not yet known source declares
    with Connection(dep.uri("scjgj", "approvals")) as conn:
        events_exchange("newcomer")(conn.channel()).declare()
    wrong = dep.uri("scjgj", "approvals").rsplit("/", 1)[0] + "/" + quote(dep.vhost("zjj"), safe="")
    with pytest.raises(NotAllowed, match="access to vhost .* refused"):
        _connect(wrong)
    # The department's federation user at the city may bind to its own down exchange, not to another's.
    fed = dep.uri("city", "approvals").replace(
        quote(broker.user_name(dep.inv, dep.inv.city, "approvals"), safe=""),
        quote(broker.user_name(dep.inv, dep.inv.node("scjgj"), "federation"), safe=""))
    fed = fed.replace(dep.passwords[broker.user_name(dep.inv, dep.inv.city, "approvals")],
                      dep.passwords[broker.user_name(dep.inv, dep.inv.node("scjgj"), "federation")])
    with Connection(fed) as conn:
        channel = conn.channel()
        channel.queue_declare("federation: xiaoneng.down.SCJGJ.approvals -> probe", durable=False, auto_delete=True)
        channel.queue_bind("federation: xiaoneng.down.SCJGJ.approvals -> probe", "xiaoneng.down.SCJGJ.approvals", "#")
        with pytest.raises(Exception, match="ACCESS_REFUSED|access to exchange"):
            conn.channel().queue_bind("federation: xiaoneng.down.SCJGJ.approvals -> probe",
                                      "xiaoneng.down.ZJJ.approvals", "#")
    # A service's user cannot read another service's queues (the parking queue is the operators').
    with Connection(dep.uri("scjgj", "approvals")) as conn, pytest.raises(Exception, match="ACCESS_REFUSED"):
        conn.channel().basic_get("xiaoneng.parked")


def _start(dep, node, service_cls, start_service, tmp_path, keys_file, monkeypatch, **overrides):
    user = broker.user_name(dep.inv, dep.inv.node(node), service_cls.name)
    monkeypatch.setenv("XIAONENG_MQ_PASSWORD", dep.passwords[user])
    monkeypatch.setenv("XIAONENG_MQ_HOST", "127.0.0.1")
    cfg = load_config(dep.out / node / "config" / f"{service_cls.name}.yaml")
    monkeypatch.delenv("XIAONENG_MQ_PASSWORD")
    assert cfg["AMQP_URI"] == dep.uri(node, service_cls.name)  # the rendered config, filled from the environment
    port = free_port()
    cfg.update({"DATABASE_URL": f"sqlite:///{tmp_path}/{node}-{service_cls.name}.db",
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "KEYS_FILE": keys_file, "RETRY_DELAYS_MS": [200, 400],
                "OUTBOX": {"POLL_INTERVAL": 0.2}, **overrides})
    cfg["base_url"] = f"http://127.0.0.1:{port}"
    start_service(service_cls, cfg)
    return cfg


def _inbox(cfg, event_type):
    engine = sa.create_engine(cfg["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("SELECT event_id FROM inbox WHERE event_type = :t"),
                                               {"t": event_type})}
    finally:
        engine.dispose()


def _upstream_binding(dep, node, source, key):
    """Has the federation link bound `key` on its upstream exchange `source` (a binding mirrored from below)?"""
    r = dep.api("bindings", node)
    return r is not None and any(b["source"] == source and b["destination"].startswith("federation: ")
                                 and b["routing_key"] == key for b in r)


def test_events_cross_between_the_city_and_its_departments(deployment, start_service, tmp_path, keys_file, api_keys,
                                                           monkeypatch):
    from services.approvals.service import ApprovalsService
    from services.notify.service import NotifyService
    from services.scoring.service import ScoringService

    dep = deployment
    seed = str(ROOT / "services" / "approvals" / "items.demo.yaml")
    scoring = _start(dep, "city", ScoringService, start_service, tmp_path, keys_file, monkeypatch)
    notify = _start(dep, "city", NotifyService, start_service, tmp_path, keys_file, monkeypatch)
    city = ApprovalsApi(_start(dep, "city", ApprovalsService, start_service, tmp_path, keys_file, monkeypatch,
                               SEED_ITEMS=seed)["base_url"], api_keys)
    scjgj = ApprovalsApi(_start(dep, "scjgj", ApprovalsService, start_service, tmp_path, keys_file, monkeypatch,
                                SEED_ITEMS=seed, DEPARTMENT="SCJGJ")["base_url"], api_keys)
    _start(dep, "zjj", ApprovalsService, start_service, tmp_path, keys_file, monkeypatch, SEED_ITEMS=seed,
           DEPARTMENT="ZJJ")
    city_tap = Tap(dep.admin_uri("city"), "approvals", "monitor.irregularity")
    down = {n: Tap(dep.admin_uri(n), "approvals", "monitor.supervision_ordered") for n in ("scjgj", "zjj")}
    # the department links have bound what the city's consumers and taps listen to
    wait_for(lambda: _upstream_binding(dep, "scjgj", "approvals.events", "monitor.irregularity"),
             message="the city's binding mirrored at the department")
    for n, dept in (("scjgj", "SCJGJ"), ("zjj", "ZJJ")):
        wait_for(lambda n=n, dept=dept: _upstream_binding(dep, "city", f"xiaoneng.down.{dept}.approvals",
                                                         "monitor.supervision_ordered"),
                 message=f"{n}'s binding mirrored at the city")

    # 1. Up: a refusal without reason at the department is an irregularity at once; the city's scoring and
    # notify both consume it.
    a = scjgj.submit("SCJ-001")
    scjgj.act(a["id"], "refuse", {"reason": "  "}, status=409)
    first = wait_for(lambda: _inbox(scoring, "monitor.irregularity"), message="scoring got the irregularity")
    wait_for(lambda: _inbox(notify, "monitor.irregularity") == first, message="notify got the irregularity")
    assert [m["source"]["department"] for m in city_tap.drain()] == ["SCJGJ"]

    # 2. Down: supervision orders issued at the city reach only the department they concern.
    act_by = (clock.now() + timedelta(days=7)).date().isoformat()
    for dept, item in (("SCJGJ", "SCJ-001"), ("ZJJ", "ZJJ-001")):
        application = city.submit(item)
        city.ok("POST", f"/api/v1/applications/{application['id']}/supervise", "monitor",
                {"act_by": act_by, "note": f"请{dept}尽快办结"}, status=201)
        node = dept.lower()
        got = wait_for(lambda node=node: down[node].drain(), message=f"the order reached {node}")
    # the ZJJ order was routed after the SCJGJ one through the same exchange: had the first gone to ZJJ too,
    # it would have arrived there before ZJJ's own
    assert [m["payload"]["department"] for m in down["scjgj"].drain()] == ["SCJGJ"]
    assert [m["payload"]["department"] for m in got] == ["ZJJ"]

    # 3. The link from the city to the department is cut: the department's events wait there, and arrive once.
    dep.proxy.cut()
    def scjgj_link_down():
        states = dep.link_states("city")
        return states is not None and any(s != "running" for s in states.get("dept-scjgj", ["gone"]))

    wait_for(scjgj_link_down, timeout=15, message="the city's link to scjgj down")
    b = scjgj.submit("SCJ-001")
    scjgj.act(b["id"], "refuse", {"reason": ""}, status=409)

    def waiting_at_department():
        queues = dep.api("queues", "scjgj")
        return queues is not None and any(q["name"].startswith("federation: approvals.events")
                                          and q.get("messages", 0) >= 1 for q in queues)

    wait_for(waiting_at_department, timeout=15, message="the irregularity waiting in the department's link queue")
    assert _inbox(scoring, "monitor.irregularity") == first
    dep.proxy.restore()
    both = wait_for(lambda: (ids := _inbox(scoring, "monitor.irregularity")) != first and ids, timeout=20,
                    message="the waiting irregularity delivered after the link came back")
    wait_for(lambda: _inbox(notify, "monitor.irregularity") == both, message="notify got it too")
    second_id = (both - first).pop()
    # once: a third event behind it on the same link arrives, and the second was seen exactly once
    c = scjgj.submit("SCJ-001")
    scjgj.act(c["id"], "refuse", {"reason": ""}, status=409)
    wait_for(lambda: len(_inbox(scoring, "monitor.irregularity")) == 3, message="the third irregularity")
    ids = [m["event_id"] for m in city_tap.drain()]
    assert ids.count(second_id) == 1 and len(ids) == 3, json.dumps(ids)
    # and the city's scoring counted them in its metrics
    metrics = requests.get(f"{scoring['base_url']}/metrics", timeout=10).text
    counted = 'xiaoneng_events_consumed_total{event_type="monitor.irregularity",outcome="processed",service="scoring"}'
    assert f"{counted} 3.0" in metrics, metrics


def test_rabbitmqctl_imports_the_filled_definitions(rabbit_admin):
    """The other way to load a node's definitions: `apply-broker --write` fills them, `rabbitmqctl
    import_definitions` loads them, and the service's user logs in with its password."""
    import os
    import shutil
    import subprocess
    import tempfile

    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    run = uuid.uuid4().hex[:8]
    inv = parse({"user_prefix": f"t{run}-", "nodes": [{"name": "city", "role": "city", "services": ["scoring"],
                 "broker": {"host": "127.0.0.1", "vhost": f"xiaoneng-test-import-{run}"}}]})
    defs = broker.definitions(inv, inv.city)
    env = {broker.secret_env(u["name"]): uuid.uuid4().hex for u in defs["users"]}
    folder = tempfile.mkdtemp(prefix="xiaoneng-import-")  # readable by the broker's own user
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "filled.json")
        with open(path, "w") as fh:
            json.dump(broker.fill(defs, None, env=env), fh)
        os.chmod(path, 0o644)
        result = subprocess.run(["rabbitmqctl", "import_definitions", path], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        user = broker.user_name(inv, inv.city, "scoring")
        uri = f"amqp://{user}:{env[broker.secret_env(user)]}@127.0.0.1:5672/xiaoneng-test-import-{run}"

        def logs_in():
            try:
                _connect(uri)
                return True
            except Exception:  # the import is asynchronous
                return False

        wait_for(logs_in, timeout=15, message="the imported user logging in")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        rabbit_admin.delete_vhost(f"xiaoneng-test-import-{run}")
        for u in defs["users"]:
            rabbit_admin.http.delete(f"{RABBIT_API}/users/{quote(u['name'], safe='')}")
