import pytest

from services.kernel.config import ConfigError, load_config, validate


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_is_reparsed_as_yaml_scalar(tmp_path, monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    config = load_config(write(tmp_path, "PORT: ${PORT:8001}\nDEBUG: ${DEBUG:false}\n"))
    assert config == {"PORT": 8001, "DEBUG": False}


def test_environment_value_wins_and_is_coerced(tmp_path, monkeypatch):
    monkeypatch.setenv("PORT", "9000")
    assert load_config(write(tmp_path, "PORT: ${PORT:8001}\n")) == {"PORT": 9000}


def test_several_substitutions_in_one_scalar(tmp_path, monkeypatch):
    monkeypatch.setenv("U", "svc")
    monkeypatch.delenv("P", raising=False)
    config = load_config(write(tmp_path, "AMQP_URI: amqp://${U:guest}:${P:guest}@rabbit:5672/\n"))
    assert config["AMQP_URI"] == "amqp://svc:guest@rabbit:5672/"


def test_nested_and_list_values(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_HOST", "db.internal")
    text = "DATABASE:\n  URL: postgresql://${DB_HOST}/approvals\n  POOL: ${POOL:5}\nHOSTS:\n  - ${DB_HOST}\n"
    config = load_config(write(tmp_path, text))
    assert config["DATABASE"] == {"URL": "postgresql://db.internal/approvals", "POOL": 5}
    assert config["HOSTS"] == ["db.internal"]


def test_unset_variable_without_default_becomes_none_like_nameko(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    assert load_config(write(tmp_path, "SECRET: ${NOT_SET_ANYWHERE}\n")) == {"SECRET": None}


def test_raw_env_var_tag_keeps_a_string(tmp_path, monkeypatch):
    monkeypatch.setenv("PIN", "0123")
    assert load_config(write(tmp_path, "PIN: !raw_env_var ${PIN}\n")) == {"PIN": "0123"}


def test_plain_values_and_chinese_text_untouched(tmp_path):
    config = load_config(write(tmp_path, "NAME: 效能\nRATE: 1.5\n"))
    assert config == {"NAME": "效能", "RATE": 1.5}


def test_nested_reference_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="nested"):
        load_config(write(tmp_path, "X: ${A:${B:1}}\n"))


def test_empty_file_is_empty_config(tmp_path):
    assert load_config(write(tmp_path, "")) == {}


def test_missing_file_and_bad_yaml_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [1, 2\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_validate_passes_when_all_present():
    config = {"AMQP_URI": "amqp://x", "DATABASE": {"URL": "sqlite://"}}
    validate(config, {"AMQP_URI": "a", "DATABASE.URL": "b"})


def test_validate_lists_every_missing_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    text = "DATABASE_URL: ${DATABASE_URL}\nAMQP_URI: ''\nWEB_SERVER_ADDRESS: x\n"
    config = load_config(write(tmp_path, text))
    required = {
        "DATABASE_URL": "SQLAlchemy URL of this service's database",
        "AMQP_URI": "RabbitMQ URI",
        "WEB_SERVER_ADDRESS": "host:port",
        "CALENDAR.REGION": "holiday calendar region",
    }
    with pytest.raises(ConfigError) as info:
        validate(config, required)
    message = str(info.value)
    assert message.startswith("missing required settings: ")
    assert "DATABASE_URL (SQLAlchemy URL of this service's database)" in message
    assert "AMQP_URI (RabbitMQ URI)" in message
    assert "CALENDAR.REGION (holiday calendar region)" in message
    assert "WEB_SERVER_ADDRESS" not in message
    assert "environment variables" in message
    assert info.value.missing == ["DATABASE_URL", "AMQP_URI", "CALENDAR.REGION"]


def test_validate_nested_paths():
    required = {"DATABASE.URL": "db url"}
    validate({"DATABASE": {"URL": "postgresql://x"}}, required)
    for config in ({"DATABASE": {"URL": None}}, {"DATABASE": {}}, {"DATABASE": "flat"}, {}):
        with pytest.raises(ConfigError, match=r"DATABASE\.URL \(db url\)"):
            validate(config, required)


def test_validate_accepts_falsy_but_real_values():
    validate({"RETRIES": 0, "ENABLED": False}, {"RETRIES": "n", "ENABLED": "flag"})
