"""The deployment's register of organisations as a file (`DEPARTMENTS_FILE`, the same file on every node and for
every service, rendered by deploy): which department and town-street codes exist, so that a case or a rule is
never sent to a department that does not (where its clock would run for nobody), and the Chinese name each is
shown by in answers, messages and reports (道路设施 is the catalogue's; 市住房和城乡建设局 and 文昌街道 are the
register's)."""

from __future__ import annotations

import logging

import yaml

from .errors import BadRequest

log = logging.getLogger(__name__)


def _entries(data, setting: str, path: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """(code, name, tier, superior) of each entry: scoring's register shape `- {code, name, tier, superior, ...}`
    or a mapping `code: name`. `superior`: a unit stationed in the city under a superior authority (驻莱单位) names
    it (国家税务总局烟台市税务局); optional."""
    if isinstance(data, dict):
        entries = [(c, n, None, None) for c, n in data.items()]
        if not all(isinstance(n, str) and n.strip() for _, n, _, _ in entries):
            raise ValueError(f"{setting} {path}: every code and name must be a non-empty string")
    elif isinstance(data, list) and all(isinstance(d, dict) and "code" in d and "name" in d for d in data):
        entries = [(d["code"], d["name"], d.get("tier"), d.get("superior")) for d in data]
        if not all(isinstance(n, str) and n.strip() for _, n, _, _ in entries):
            raise ValueError(f"{setting} {path}: every code and name must be a non-empty string")
        if not all(s is None or isinstance(s, str) for _, _, _, s in entries):
            raise ValueError(f"{setting} {path}: a superior is the superior authority's name (a string)")
    else:
        raise ValueError(f"{setting} {path}: a list of {{code, name, ...}} or a mapping code: name")
    if not entries or not all(isinstance(c, str) and c.strip() for c, _, _, _ in entries):
        raise ValueError(f"{setting} {path}: every department code must be a non-empty string")
    return entries


class DepartmentRegister:
    """The organisations of the register: codes, names, tiers (city / town_street) and, for a unit stationed in the
    city under a superior authority (驻莱单位), that superior's name. Without a file every code is accepted and shown
    as itself, as before the register existed, and the start says so."""

    def __init__(self, codes: frozenset[str] | None, source: str | None = None,
                 names: dict[str, str] | None = None, tiers: dict[str, str] | None = None,
                 superiors: dict[str, str] | None = None):
        self.codes = codes
        self.source = source
        self.names = dict(names or {})
        self.tiers = dict(tiers or {})
        self.superiors = dict(superiors or {})

    @classmethod
    def load(cls, path: str | None, *, setting: str = "DEPARTMENTS_FILE", service: str = "",
             quiet: bool = False) -> DepartmentRegister:
        if not path or not str(path).strip():
            if not quiet:
                log.warning("%s is not set: %s accepts any department code and shows codes instead of names; "
                            "set it to the deployment's register of organisations", setting,
                            service or "the service")
            return cls(None)
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or []
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{setting} {path}: {exc}") from exc
        entries = _entries(data, setting, str(path))
        return cls(frozenset(c for c, _, _, _ in entries), str(path),
                   names={c: n.strip() for c, n, _, _ in entries}, tiers={c: t for c, _, t, _ in entries if t},
                   superiors={c: s.strip() for c, _, _, s in entries if s and s.strip()})

    def knows(self, code: str | None) -> bool:
        return self.codes is None or code in self.codes

    def require(self, code: str | None, field: str) -> None:
        """400 on `field` for a code the register does not list."""
        if code is not None and not self.knows(code):
            raise BadRequest({field: [f"unknown department {code}; not in the department register / "
                                      f"部门 {code} 不在部门名录中"]})

    def superior(self, code: str | None) -> str | None:
        """The superior authority of a unit stationed in the city (驻莱单位); None for the city's own."""
        return None if code is None else self.superiors.get(code)

    def name(self, code: str | None) -> str | None:
        """The organisation as people read it: its name where the register has one, else its code (None: None)."""
        if code is None:
            return None
        return self.names.get(code, code)
