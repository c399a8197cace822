"""Each service's shipped config parses, substitutes and carries every required setting by default."""

import logging.config
from pathlib import Path

import pytest

from services.kernel.config import load_config, validate
from services.kernel.registry import PORTS
from services.kernel.service import REQUIRED_SETTINGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", sorted(PORTS))
def test_shipped_config_is_complete(service, monkeypatch):
    for var in ("AMQP_URI", "KEYS_FILE", "DEPARTMENT", "LOG_LEVEL", f"{service.upper()}_HTTP",
                f"{service.upper()}_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    config = load_config(ROOT / "services" / service / "config.yaml")
    validate(config, REQUIRED_SETTINGS)
    assert config["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{PORTS[service]}"
    assert config["DATABASE_URL"] == f"sqlite:///var/{service}.db"
    assert config["LOGGING"]["disable_existing_loggers"] is False
    assert config["LOGGING"]["formatters"]["json"]["service"] == service
    logging.config.dictConfig(config["LOGGING"])  # what `nameko run` does with it


def test_environment_overrides_the_defaults(monkeypatch):
    monkeypatch.setenv("APPEALS_HTTP", "127.0.0.1:9999")
    monkeypatch.setenv("APPEALS_DATABASE_URL", "postgresql://x@db/appeals")
    config = load_config(ROOT / "services" / "appeals" / "config.yaml")
    assert config["WEB_SERVER_ADDRESS"] == "127.0.0.1:9999"
    assert config["DATABASE_URL"] == "postgresql://x@db/appeals"
