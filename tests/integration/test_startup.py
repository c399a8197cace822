"""A service refuses to start without its required settings, and says which ones."""

import os
import signal
import subprocess
import sys

import pytest
import requests

from services.approvals.service import ApprovalsService
from services.kernel.config import ConfigError
from tests.conftest import free_port, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_missing_setting_stops_the_container_with_its_name(container_factory, service_config):
    cfg = service_config("approvals", DATABASE_URL=None, KEYS_FILE="")
    container = container_factory(ApprovalsService, cfg)
    with pytest.raises(ConfigError) as err:
        container.start()
    assert "DATABASE_URL" in str(err.value) and "KEYS_FILE" in str(err.value)
    assert "AMQP_URI" not in str(err.value)


def test_nameko_run_exits_naming_the_missing_setting(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("AMQP_URI: ${XN_TEST_UNSET_AMQP}\nDATABASE_URL: sqlite:///x.db\n"
                      "WEB_SERVER_ADDRESS: 127.0.0.1:0\nKEYS_FILE: k.yaml\n")
    env = {k: v for k, v in os.environ.items() if k != "XN_TEST_UNSET_AMQP"}
    proc = subprocess.run(
        [sys.executable, "-m", "nameko", "run", "--config", str(config), "services.approvals.service"],
        cwd=tmp_path, env={**env, "PYTHONPATH": ROOT}, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "missing required settings: AMQP_URI" in proc.stderr


@pytest.mark.parametrize("service, cls", [("approvals", "ApprovalsService"), ("notify", "NotifyService")])
def test_nameko_run_waits_for_a_missing_broker_and_stops_on_sigterm(tmp_path, service, cls):
    # A consuming service started before its broker neither dies nor hangs: /health answers 503 while it
    # waits, and SIGTERM (systemd, docker, make run's Ctrl-C) ends it — also with many consumers (notify's
    # dozens each leave on their own; nameko's one-shot "last one left" must be sent once).
    port = free_port()
    prefix = service.upper()
    env = {**os.environ, "PYTHONPATH": ROOT, "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
           f"{prefix}_DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "KEYS_FILE": str(tmp_path / "keys.yaml"),
           f"{prefix}_HTTP": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", os.path.join(ROOT, f"services/{service}/config.yaml"),
         f"services.{service}.service:{cls}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        def health():
            assert proc.poll() is None, f"the service died without its broker: {(tmp_path / 'log').read_text()[-2000:]}"
            try:
                return requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting
                return None

        # a list, since a 503 response is falsy
        [r] = wait_for(lambda: [r] if (r := health()) is not None else None, timeout=30,
                       message="/health while the broker is missing")
        assert r.status_code == 503 and r.json()["broker"]["ok"] is False, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
