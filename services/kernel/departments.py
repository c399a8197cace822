"""The deployment's department register as a file (`DEPARTMENTS_FILE`): which department codes exist, so that a
case or a rule is never sent to a department that does not, where its clock would run for nobody."""

from __future__ import annotations

import logging

import yaml

from .errors import BadRequest

log = logging.getLogger(__name__)


class DepartmentRegister:
    """The codes of the register (scoring's `departments.demo.yaml` shape, `- {code, name, ...}`, or a mapping
    `code: name`). Without a file every code is accepted, as before the register existed, and the start says so."""

    def __init__(self, codes: frozenset[str] | None, source: str | None = None):
        self.codes = codes
        self.source = source

    @classmethod
    def load(cls, path: str | None, *, setting: str = "DEPARTMENTS_FILE", service: str = "") -> DepartmentRegister:
        if not path or not str(path).strip():
            log.warning("%s is not set: %s accepts any department code (dispatch, catalogue); set it to the "
                        "deployment's department register", setting, service or "the service")
            return cls(None)
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or []
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{setting} {path}: {exc}") from exc
        if isinstance(data, dict):
            codes = list(data)
        elif isinstance(data, list) and all(isinstance(d, dict) and "code" in d for d in data):
            codes = [d["code"] for d in data]
        else:
            raise ValueError(f"{setting} {path}: a list of {{code, name, ...}} or a mapping code: name")
        if not codes or not all(isinstance(c, str) and c.strip() for c in codes):
            raise ValueError(f"{setting} {path}: every department code must be a non-empty string")
        return cls(frozenset(codes), str(path))

    def knows(self, code: str | None) -> bool:
        return self.codes is None or code in self.codes

    def require(self, code: str | None, field: str) -> None:
        """400 on `field` for a code the register does not list."""
        if code is not None and not self.knows(code):
            raise BadRequest({field: [f"unknown department {code}; not in the department register / "
                                      f"部门 {code} 不在部门名录中"]})
