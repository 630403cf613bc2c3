"""Config keys set from the environment: ``SMPPGW_<SECTION>__<KEY>=value`` (README,
"Environment overrides").

The name after the prefix is the key's dotted path with ``__`` for each dot, in any case:
``SMPPGW_API__LISTEN=0.0.0.0:8080`` is ``[api] listen``, ``SMPPGW_STORE__FLUSH_INTERVAL=0.1``
is ``[store] flush_interval``. A single ``_`` belongs to a key's name, so variables such
as ``SMPPGW_API_KEY`` (no ``__``) are not overrides. The value is read as a TOML value
when it is one (``5000``, ``0.5``, ``true``, ``"0123"``, ``["a", "b"]``) and as a string
otherwise (``0.0.0.0:8080``, ``GB``). An override wins over the file and is checked by the
same code, so a bad one gets the same error, naming the key, plus the variable's name.
Only keys of tables can be set: ``[[smsc]]`` entries are a list and stay in the file.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from typing import Any

from smppgw.support.config import ConfigError

__all__ = ["ENV_PREFIX", "EnvOverrides", "apply_env", "blame_env", "env_overrides"]

ENV_PREFIX = "SMPPGW_"  # smppgw serve's and smppgw keys' config

EnvOverrides = dict[str, str]  # dotted key path -> the variable that set it


def _value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(prefix: str, environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    """``{dotted path: (variable, value)}`` for every ``<prefix><A>__<B>...`` in ``environ``.

    Raises:
        ConfigError: a name with an empty part (``SMPPGW_API____LISTEN``).
    """
    found: dict[str, tuple[str, Any]] = {}
    for name in sorted(environ):
        if not name.upper().startswith(prefix) or "__" not in name[len(prefix) :]:
            continue
        parts = name[len(prefix) :].lower().split("__")
        if not all(parts):
            raise ConfigError(f"{name}: expected {prefix}<SECTION>__<KEY> (an empty part)")
        found[".".join(parts)] = (name, _value(environ[name]))
    return found


def apply_env(
    data: dict[str, Any], prefix: str, environ: Mapping[str, str]
) -> tuple[dict[str, Any], EnvOverrides]:
    """``data`` (a parsed config file, left as it is) with the overrides set in a copy.

    Raises:
        ConfigError: the override's path goes through a value that is not a table.
    """
    out = copy.deepcopy(data)
    origins: EnvOverrides = {}
    for path, (name, value) in env_overrides(prefix, environ).items():
        *tables, key = path.split(".")
        node = out
        for i, part in enumerate(tables):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(tables[: i + 1])
                raise ConfigError(f"{where}: not a table, so {name} cannot set a key in it")
            node = child
        node[key] = value
        origins[path] = name
    return out, origins


def blame_env(exc: ConfigError, origins: EnvOverrides) -> ConfigError:
    """``exc`` with `` (from environment variable X)`` added when its key came from X."""
    message = str(exc)
    key = message.split(":", 1)[0]
    for path, name in origins.items():
        # the key itself, a key inside it, or the table it is in (an unknown section)
        if key == path or key.startswith((f"{path}.", f"{path}[")) or path.startswith(f"{key}."):
            return ConfigError(f"{message} (from environment variable {name})")
    return exc
