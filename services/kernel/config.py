"""Load a service's YAML config with nameko-compatible `${VAR:default}` substitution,
and check at start-up that every required setting is actually present."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigError", "load_config", "validate"]

# Same patterns as nameko 2.14.1 (nameko/cli/main.py without the optional `regex` module), so a file
# behaves identically under `nameko run --config` and under load_config.
_ENV_VAR = re.compile(r"\$\{([^}:\s]+):?([^}]+)?\}")
_IMPLICIT_ENV_VAR = re.compile(r".*\$\{.*\}.*")
_NESTED_ENV_VAR = re.compile(r"\$\{([^}]+)?\}([^$}]+)?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""

    def __init__(self, message: str, missing: list[str] | None = None):
        super().__init__(message)
        self.missing = missing or []


def _replace_env_var(match: re.Match) -> str:
    name, default = match.groups()
    value = os.environ.get(name)
    if value is None:
        # nameko turns `${VAR}` with neither value nor default into "" and then YAML null;
        # validate() is where that gets caught.
        value = default or ""
    return value


def _env_var_constructor(loader: yaml.SafeLoader, node: yaml.ScalarNode, raw: bool = False) -> Any:
    raw_value = loader.construct_scalar(node)
    if _NESTED_ENV_VAR.match(raw_value):
        raise ConfigError(f"nested environment variable references are not supported: {raw_value!r}")
    value = _ENV_VAR.sub(_replace_env_var, raw_value)
    if value == raw_value:
        return value
    # Re-parsing as YAML is what makes `${PORT:8001}` an int, as in nameko.
    return value if raw else yaml.safe_load(value)


class _Loader(yaml.SafeLoader):
    """SafeLoader with nameko's env tags; a subclass so yaml.SafeLoader itself stays untouched."""


_Loader.add_constructor("!env_var", _env_var_constructor)
_Loader.add_constructor("!raw_env_var", partial(_env_var_constructor, raw=True))
_Loader.add_implicit_resolver("!env_var", _IMPLICIT_ENV_VAR, None)


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML config file, substituting `${VAR}` / `${VAR:default}` from the environment."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_Loader)  # _Loader is a SafeLoader subclass
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must contain a mapping at the top level")
    return data


_ABSENT = object()


def _lookup(config: dict, key_path: str) -> Any:
    node: Any = config
    for part in key_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _is_missing(value: Any) -> bool:
    return value is _ABSENT or value is None or (isinstance(value, str) and not value.strip())


def validate(config: dict, required: dict[str, str]) -> None:
    """Raise one ConfigError naming every required key (dotted path) that is absent, None or empty."""
    missing = [key for key in required if _is_missing(_lookup(config, key))]
    if missing:
        listed = ", ".join(f"{key} ({required[key]})" for key in missing)
        raise ConfigError(
            f"missing required settings: {listed} — "
            "set them in the config file or the environment variables it references",
            missing=missing,
        )
