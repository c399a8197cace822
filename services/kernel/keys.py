"""API keys of a deployment, stored hashed in one YAML file that all its services read;
keys added or revoked by the CLI take effect in running services without a restart."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

__all__ = ["ROLES", "ApiKey", "KeyStore"]

# open311_client: an Open311 client (a city app, a web portal) that files requests and opens nothing else
# legal_office: the government's legal office (法制机构), which approves enforcement inspections (#17);
# enterprise_desk: the enterprise-service desk (企业服务台), through which enterprises report inspections they received
ROLES = ("operator", "department_handler", "window_system", "monitor", "assessor", "admin", "open311_client",
         "legal_office", "enterprise_desk")

_PREFIX = "xn"
_KEY_ID = re.compile(r"[0-9a-f]{8}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{32,}")


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    department: str | None
    key_id: str


def _digest(plain_key: str) -> str:
    # A plain sha256 suffices: keys carry 256 random bits, so there is nothing to brute-force and a
    # slow password hash (bcrypt, scrypt) would only cost time on every request.
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


def _parse(plain_key: object) -> str | None:
    """The key_id of a well-formed key, else None."""
    if not isinstance(plain_key, str):
        return None
    parts = plain_key.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != _PREFIX:
        return None
    _, key_id, secret = parts
    if not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return key_id


class KeyStore:
    """The keys file at `path`; a missing file is an empty store."""

    def __init__(self, path: str | os.PathLike, check_interval: float = 1.0):
        self.path = Path(path)
        # Stat the file at most this often (seconds) when verifying, to keep verify() cheap.
        self.check_interval = check_interval
        self._by_id: dict[str, dict] = {}
        self._signature: tuple | None = None
        self._checked_at: float | None = None
        self._reload_lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------------

    def _stat_signature(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        # os.replace gives a new inode, so a rewrite within the mtime granularity is still seen.
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> list[dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"keys file {self.path} is not valid YAML / 密钥文件格式错误: {exc}") from exc
        records = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(records, list) or not all(
            isinstance(r, dict) and {"name", "role", "key_id", "sha256"} <= r.keys() for r in records
        ):
            raise ValueError(f"keys file {self.path} has an unexpected layout / 密钥文件结构错误")
        return records

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._checked_at is not None and now - self._checked_at < self.check_interval:
            return
        with self._reload_lock:
            signature = self._stat_signature()
            if force or signature != self._signature or self._checked_at is None:
                records = self._read()
                # Swap in a whole new index so concurrent readers never see a half-built one.
                self._by_id = {r["key_id"]: r for r in records}
                self._signature = signature
            self._checked_at = now

    @staticmethod
    def _to_key(record: dict) -> ApiKey:
        return ApiKey(
            name=record["name"],
            role=record["role"],
            department=record.get("department"),
            key_id=record["key_id"],
        )

    def verify(self, plain_key: str) -> ApiKey | None:
        """The key's identity, or None if the key is malformed, unknown or revoked.

        Raises ValueError if the keys file is corrupt: failing closed beats trusting stale keys.
        """
        key_id = _parse(plain_key)
        if key_id is None:
            return None
        self._refresh()
        record = self._by_id.get(key_id)
        if record is None or not hmac.compare_digest(_digest(plain_key), str(record["sha256"])):
            return None
        return self._to_key(record)

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict]]:
        """Read-modify-write under an exclusive lock so two CLI runs cannot lose each other's keys."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()  # always the file on disk, never a possibly stale cache
        finally:
            os.close(fd)  # closing releases the flock

    def _write(self, records: list[dict]) -> None:
        text = yaml.safe_dump({"keys": records}, allow_unicode=True, sort_keys=False)
        # mkstemp creates the file 0600, so the hashes are never readable by others, not even briefly.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._refresh(force=True)

    def add(self, name: str, role: str, department: str | None = None) -> str:
        """Create a key and return it in plain text; this is the only time it is ever visible."""
        name = (name or "").strip()
        department = (department or "").strip() or None
        if not name:
            raise ValueError("a key needs a name / 密钥名称不能为空")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} / 未知角色; expected one of: {', '.join(ROLES)}")
        if role == "department_handler" and department is None:
            raise ValueError("a department_handler key needs a department / 部门经办人密钥必须指定部门")
        with self._locked() as records:
            if any(r["name"] == name for r in records):
                raise ValueError(f"a key named {name!r} already exists / 密钥名称已存在")
            used_ids = {r["key_id"] for r in records}
            key_id = secrets.token_hex(4)
            while key_id in used_ids:
                key_id = secrets.token_hex(4)
            plain_key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            records.append(
                {
                    "name": name,
                    "role": role,
                    "department": department,
                    "key_id": key_id,
                    "sha256": _digest(plain_key),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
            self._write(records)
        return plain_key

    def revoke(self, name: str) -> bool:
        """Delete the key called `name`; False if there was none."""
        with self._locked() as records:
            kept = [r for r in records if r["name"] != name]
            if len(kept) == len(records):
                return False
            self._write(kept)
        return True

    def list(self) -> list[ApiKey]:
        """All keys, in the order they were added (secrets are never recoverable)."""
        self._refresh(force=True)
        return [self._to_key(r) for r in self._by_id.values()]
