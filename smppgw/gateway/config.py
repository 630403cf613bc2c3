"""Gateway configuration (DESIGN §4.3): ``[[smsc]]``, ``[[route]]``, ``[retry]``, ``[limits]``.

Every key is checked; an unknown key or a bad value raises ``ConfigError`` naming it
(``smsc[1].window: must be >= 1``). Passwords come from the file or, better, from the
environment (``password_env = "CARRIER_A_PASSWORD"``); they are never logged.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from smppgw.core.receipt import IdBase
from smppgw.core.states import BindMode
from smppgw.core.text import ConcatMethod
from smppgw.policy.addressing import AddressError, AddressKind, to_smpp
from smppgw.policy.retry import Backoff, RetryPolicy
from smppgw.policy.routing import Route, RouteTarget

__all__ = ["ConfigError", "GatewayConfig", "SmscConfig", "config_from_dict", "load_config"]


class ConfigError(ValueError):
    """Bad gateway configuration; the message names the key."""


@attrs.frozen(kw_only=True)
class SmscConfig:
    name: str
    host: str
    port: int
    system_id: str
    password: str = attrs.field(repr=False)
    system_type: str = ""
    bind: str = "trx"  # "trx": transceivers; "tx+rx": transmitter + receiver pairs; "tx": no receipts
    binds: int = 1
    window: int = 10
    tps: float | None = None  # the account's limit (all binds together)
    bind_tps: float | None = None
    enquire_link_interval: float = 30.0
    response_timeout: float = 30.0
    connect_timeout: float = 10.0
    tls: bool = False
    concat: ConcatMethod = ConcatMethod.UDH8
    receipt_id_base: IdBase = IdBase.AUTO
    receipts: str = "part"  # "part": a receipt per part; "message": one per concatenated message
    registered_delivery: bool = True
    ton_npi: Mapping[AddressKind, tuple[int, int]] = attrs.field(factory=dict)
    interface_version: int = 0x34

    @property
    def modes(self) -> tuple[BindMode, ...]:
        """One entry per bind to keep up."""
        if self.bind == "trx":
            return (BindMode.TRX,) * self.binds
        if self.bind == "tx":
            return (BindMode.TX,) * self.binds
        return (BindMode.TX,) * self.binds + (BindMode.RX,) * self.binds


@attrs.frozen(kw_only=True)
class GatewayConfig:
    smscs: tuple[SmscConfig, ...]
    routes: tuple[Route, ...]
    retry: RetryPolicy = RetryPolicy()
    sender_tps: Mapping[str, float] = attrs.field(factory=dict)  # per sender address
    long_code_tps: float | None = None  # default per-sender limit for E.164 senders
    route_tps: Mapping[str, float] = attrs.field(factory=dict)
    receipt_hold: float = 60.0  # how long an early receipt waits for its submit_sm_resp
    shutdown_timeout: float = 5.0

    def smsc(self, name: str) -> SmscConfig:
        for smsc in self.smscs:
            if smsc.name == name:
                return smsc
        raise KeyError(name)


# -- checkers ------------------------------------------------------------------------------


def _unknown(t: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = set(t) - known
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a table")
    return v


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list")
    return v


def _str(v: Any, where: str, *, max_len: int | None = None, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{where}: expected a string")
    if max_len is not None and len(v) > max_len:
        raise ConfigError(f"{where}: at most {max_len} characters")
    if choices is not None and v not in choices:
        raise ConfigError(f"{where}: one of {', '.join(choices)}, got {v!r}")
    return v


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(f"{where}: an integer in {lo}..{hi}, got {v!r}")
    return v


def _pos(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{where}: must be a number > 0, got {v!r}")
    return float(v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false")
    return v


_SMSC_KEYS: Final = {a.name for a in attrs.fields(SmscConfig)} | {"password_env"}
_KINDS: Final = {k.value: k for k in AddressKind}


def _smsc(v: Any, where: str) -> SmscConfig:
    t = _table(v, where)
    _unknown(t, _SMSC_KEYS, where)
    for key in ("name", "host", "port", "system_id"):
        if key not in t:
            raise ConfigError(f"{where}.{key}: missing")
    if ("password" in t) == ("password_env" in t):
        raise ConfigError(f"{where}: give exactly one of password or password_env")
    if "password_env" in t:
        env = _str(t["password_env"], f"{where}.password_env")
        if env not in os.environ:
            raise ConfigError(f"{where}.password_env: environment variable {env} is not set")
        password = os.environ[env]
    else:
        password = _str(t["password"], f"{where}.password")
    if len(password) > 8:  # SMPP 3.4 §4.1.1: password C(9)
        raise ConfigError(f"{where}.password: at most 8 characters (SMPP 3.4 §4.1.1)")
    out: dict[str, Any] = {
        "name": _str(t["name"], f"{where}.name"),
        "host": _str(t["host"], f"{where}.host"),
        "port": _int(t["port"], f"{where}.port", 1, 65535),
        "system_id": _str(t["system_id"], f"{where}.system_id", max_len=15),
        "password": password,
    }
    if "system_type" in t:
        out["system_type"] = _str(t["system_type"], f"{where}.system_type", max_len=12)
    if "bind" in t:
        out["bind"] = _str(t["bind"], f"{where}.bind", choices=("trx", "tx+rx", "tx"))
    if "binds" in t:
        out["binds"] = _int(t["binds"], f"{where}.binds", 1, 64)
    if "window" in t:
        out["window"] = _int(t["window"], f"{where}.window", 1, 10_000)
    for key in ("tps", "bind_tps", "enquire_link_interval", "response_timeout", "connect_timeout"):
        if key in t:
            out[key] = _pos(t[key], f"{where}.{key}")
    for key in ("tls", "registered_delivery"):
        if key in t:
            out[key] = _bool(t[key], f"{where}.{key}")
    if "concat" in t:
        out["concat"] = ConcatMethod(
            _str(t["concat"], f"{where}.concat", choices=tuple(m.value for m in ConcatMethod))
        )
    if "receipts" in t:
        out["receipts"] = _str(t["receipts"], f"{where}.receipts", choices=("part", "message"))
    if "receipt_id_base" in t:
        out["receipt_id_base"] = IdBase(
            _str(t["receipt_id_base"], f"{where}.receipt_id_base", choices=tuple(b.value for b in IdBase))
        )
    if "interface_version" in t:
        out["interface_version"] = _int(t["interface_version"], f"{where}.interface_version", 0, 0xFF)
    if "ton_npi" in t:
        overrides = {}
        for kind, pair in _table(t["ton_npi"], f"{where}.ton_npi").items():
            w = f"{where}.ton_npi.{kind}"
            if kind not in _KINDS:
                raise ConfigError(f"{w}: one of {', '.join(_KINDS)}")
            pair = _list(pair, w)
            if len(pair) != 2:
                raise ConfigError(f"{w}: expected [ton, npi]")
            overrides[_KINDS[kind]] = (_int(pair[0], f"{w}[0]", 0, 255), _int(pair[1], f"{w}[1]", 0, 255))
        out["ton_npi"] = overrides
    return SmscConfig(**out)


def _target(v: Any, where: str, names: set[str]) -> RouteTarget:
    """``"name"`` or ``"name:weight"``."""
    text = _str(v, where)
    name, sep, weight = text.partition(":")
    if name not in names:
        raise ConfigError(f"{where}: no smsc named {name!r}")
    if not sep:
        return RouteTarget(smsc=name)
    try:
        return RouteTarget(smsc=name, weight=_pos(float(weight), where))
    except ValueError:
        raise ConfigError(f"{where}: weight must be a number > 0, got {weight!r}") from None


def _route(v: Any, where: str, names: set[str]) -> Route:
    t = _table(v, where)
    _unknown(t, {"name", "prefixes", "sender_kinds", "tags", "smscs", "tps"}, where)
    if "smscs" not in t:
        raise ConfigError(f"{where}.smscs: missing")
    tiers = []
    for i, tier in enumerate(_list(t["smscs"], f"{where}.smscs")):
        w = f"{where}.smscs[{i}]"
        items = tier if isinstance(tier, list) else [tier]
        if not items:
            raise ConfigError(f"{w}: an empty tier")
        tiers.append(tuple(_target(x, f"{w}", names) for x in items))
    if not tiers:
        raise ConfigError(f"{where}.smscs: needs at least one smsc")
    prefixes = tuple(
        _str(p, f"{where}.prefixes[{i}]").lstrip("+")
        for i, p in enumerate(_list(t.get("prefixes", []), f"{where}.prefixes"))
    )
    for i, p in enumerate(prefixes):
        if not p.isdigit():
            raise ConfigError(f"{where}.prefixes[{i}]: digits only, got {p!r}")
    kinds = frozenset(
        _KINDS[_str(k, f"{where}.sender_kinds[{i}]", choices=tuple(_KINDS))]
        for i, k in enumerate(_list(t.get("sender_kinds", []), f"{where}.sender_kinds"))
    )
    tags = frozenset(
        _str(x, f"{where}.tags[{i}]") for i, x in enumerate(_list(t.get("tags", []), f"{where}.tags"))
    )
    return Route(
        name=_str(t.get("name", where), f"{where}.name"),
        tiers=tuple(tiers),
        prefixes=prefixes,
        sender_kinds=kinds,
        tags=tags,
    )


def _retry(v: Any) -> RetryPolicy:
    t = _table(v, "retry")
    _unknown(t, {"max_attempts", "max_age", "initial", "factor", "maximum", "jitter"}, "retry")
    backoff: dict[str, float] = {}
    for key in ("initial", "factor", "maximum"):
        if key in t:
            backoff[key] = _pos(t[key], f"retry.{key}")
    if "jitter" in t:
        j = t["jitter"]
        if isinstance(j, bool) or not isinstance(j, int | float) or not 0 <= j < 1:
            raise ConfigError("retry.jitter: a fraction in 0..1")
        backoff["jitter"] = float(j)
    return RetryPolicy(
        max_attempts=_int(t.get("max_attempts", 5), "retry.max_attempts", 1, 1000),
        max_age=_pos(t.get("max_age", 3600.0), "retry.max_age"),
        backoff=Backoff(**backoff),
    )


def _sender(v: Any) -> str:
    """A sender address as messages carry it (``+4477...`` -> ``4477...``)."""
    where = f"limits.senders.{v}"
    try:
        return to_smpp(_str(v, where)).addr
    except AddressError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_from_dict(data: Mapping[str, Any]) -> GatewayConfig:
    """Raises ConfigError naming the first bad key."""
    _unknown(data, {"smsc", "route", "retry", "limits", "receipts", "gateway"}, "config")
    smscs = tuple(_smsc(s, f"smsc[{i}]") for i, s in enumerate(_list(data.get("smsc", []), "smsc")))
    if not smscs:
        raise ConfigError("smsc: at least one [[smsc]] is needed")
    names = [s.name for s in smscs]
    if len(set(names)) != len(names):
        raise ConfigError("smsc: duplicate name")
    raw_routes = _list(data.get("route", [{"name": "default", "smscs": [names[0]]}]), "route")
    routes = tuple(_route(r, f"route[{i}]", set(names)) for i, r in enumerate(raw_routes))
    out: dict[str, Any] = {"smscs": smscs, "routes": routes}
    route_tps = {  # ``[[route]] tps``; ``[limits.routes]`` may set it too
        r.name: _pos(raw["tps"], f"route[{i}].tps")
        for i, (raw, r) in enumerate(zip(raw_routes, routes, strict=True))
        if "tps" in raw
    }
    if route_tps:
        out["route_tps"] = route_tps
    if "retry" in data:
        out["retry"] = _retry(data["retry"])
    if "limits" in data:
        t = _table(data["limits"], "limits")
        _unknown(t, {"senders", "long_code_tps", "routes"}, "limits")
        out["sender_tps"] = {
            _sender(k): _pos(v, f"limits.senders.{k}")
            for k, v in _table(t.get("senders", {}), "limits.senders").items()
        }
        if "long_code_tps" in t:
            out["long_code_tps"] = _pos(t["long_code_tps"], "limits.long_code_tps")
        route_names = {r.name for r in routes}
        for k, v in _table(t.get("routes", {}), "limits.routes").items():
            if k not in route_names:
                raise ConfigError(f"limits.routes.{k}: no route named {k!r}")
            route_tps[k] = _pos(v, f"limits.routes.{k}")
        out["route_tps"] = route_tps
    if "receipts" in data:
        t = _table(data["receipts"], "receipts")
        _unknown(t, {"hold"}, "receipts")
        if "hold" in t:
            out["receipt_hold"] = _pos(t["hold"], "receipts.hold")
    if "gateway" in data:
        t = _table(data["gateway"], "gateway")
        _unknown(t, {"shutdown_timeout"}, "gateway")
        if "shutdown_timeout" in t:
            out["shutdown_timeout"] = _pos(t["shutdown_timeout"], "gateway.shutdown_timeout")
    return GatewayConfig(**out)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Raises ConfigError (one line: the path and what is wrong)."""
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: {exc}") from None


def load_config(path: str | Path) -> GatewayConfig:
    return config_from_dict(read_toml(path))
