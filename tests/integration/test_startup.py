"""A service refuses to start without its required settings, and says which ones."""

import os
import subprocess
import sys

import pytest

from services.approvals.service import ApprovalsService
from services.kernel.config import ConfigError

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
