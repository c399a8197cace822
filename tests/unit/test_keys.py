import os
import stat

import pytest
import yaml

from services.kernel import keys
from services.kernel.keys import ROLES, ApiKey, KeyStore


@pytest.fixture
def path(tmp_path):
    return tmp_path / "etc" / "xiaoneng" / "keys.yaml"


def test_missing_file_is_empty_store(path):
    store = KeyStore(path)
    assert store.list() == []
    assert store.verify("xn_0123abcd_" + "a" * 43) is None


def test_add_then_verify_round_trip(path):
    store = KeyStore(path)
    plain = store.add("window-1", "window_system")
    prefix, key_id, secret = plain.split("_", 2)
    assert prefix == "xn" and len(key_id) == 8 and int(key_id, 16) >= 0 and len(secret) >= 43
    expected = ApiKey(name="window-1", role="window_system", department=None, key_id=key_id)
    assert store.verify(plain) == expected


def test_department_kept(path):
    store = KeyStore(path)
    plain = store.add("tax-desk", "department_handler", department="税务局")
    assert store.verify(plain).department == "税务局"
    assert KeyStore(path).verify(plain).department == "税务局"


def test_wrong_key_is_rejected(path):
    store = KeyStore(path)
    plain = store.add("op", "operator")
    tampered = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    assert store.verify(tampered) is None
    other_id = "xn_" + ("0" * 8 if plain[3:11] != "0" * 8 else "1" * 8) + plain[11:]
    assert store.verify(other_id) is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "xn_",
        "xn_zzzzzzzz_" + "a" * 43,
        "yy_0123abcd_" + "a" * 43,
        "xn_0123abcd_short",
        "xn_0123abcd",
        None,
        42,
    ],
)
def test_malformed_key_is_none(path, bad):
    store = KeyStore(path)
    store.add("op", "operator")
    assert store.verify(bad) is None


def test_file_holds_hash_not_key_and_is_private(path):
    store = KeyStore(path)
    plain = store.add("monitor-county", "monitor", department="某县")
    text = path.read_text(encoding="utf-8")
    assert plain not in text
    assert plain.split("_", 2)[2] not in text
    (record,) = yaml.safe_load(text)["keys"]
    assert record["sha256"] == keys._digest(plain)
    assert {"name", "role", "department", "key_id", "sha256", "created_at"} <= record.keys()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_department_handler_needs_department(path):
    store = KeyStore(path)
    with pytest.raises(ValueError, match="department"):
        store.add("desk", "department_handler")
    with pytest.raises(ValueError, match="department"):
        store.add("desk", "department_handler", department="  ")
    assert not path.exists()


def test_unknown_role_rejected(path):
    with pytest.raises(ValueError, match="unknown role"):
        KeyStore(path).add("x", "superuser")


def test_empty_name_rejected(path):
    with pytest.raises(ValueError, match="name"):
        KeyStore(path).add(" ", "admin")


def test_duplicate_name_rejected(path):
    store = KeyStore(path)
    first = store.add("ops", "operator")
    with pytest.raises(ValueError, match="already exists"):
        store.add("ops", "admin")
    assert [k.name for k in store.list()] == ["ops"]
    assert store.verify(first).role == "operator"


def test_every_role_accepted(path):
    store = KeyStore(path)
    for role in ROLES:
        store.add(role, role, department="d" if role == "department_handler" else None)
    assert [k.role for k in store.list()] == list(ROLES)


def test_revoke(path):
    store = KeyStore(path, check_interval=0)
    plain = store.add("gone", "assessor")
    kept = store.add("kept", "assessor")
    assert store.revoke("gone") is True
    assert store.revoke("gone") is False
    assert store.verify(plain) is None
    assert store.verify(kept) is not None
    assert [k.name for k in store.list()] == ["kept"]


def test_running_store_sees_key_added_elsewhere(path):
    service = KeyStore(path, check_interval=0)
    assert service.verify("xn_0123abcd_" + "a" * 43) is None  # loads the (absent) file
    plain = KeyStore(path).add("late", "operator")  # e.g. the CLI in another process
    assert service.verify(plain).name == "late"
    KeyStore(path).revoke("late")
    assert service.verify(plain) is None


def test_reload_is_throttled_to_check_interval(path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: clock[0])
    service = KeyStore(path)
    service.verify("xn_0123abcd_" + "a" * 43)
    plain = KeyStore(path).add("late", "operator")
    clock[0] += 0.5
    assert service.verify(plain) is None  # not looked at the file yet
    clock[0] += 0.6
    assert service.verify(plain).name == "late"


def test_stale_instance_does_not_overwrite_others_keys(path):
    a, b = KeyStore(path), KeyStore(path)
    a.list()
    b.add("from-b", "operator")
    a.add("from-a", "operator")
    assert [k.name for k in KeyStore(path).list()] == ["from-b", "from-a"]


def test_corrupt_file_fails_closed(path):
    path.parent.mkdir(parents=True)
    path.write_text("keys: [oops", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        KeyStore(path).verify("xn_0123abcd_" + "a" * 43)
