"""Gateway configuration (DESIGN §4.3): ``[[smsc]]``, ``[[route]]``, ``[retry]``, ``[limits]``.

``[schedule]``: ``horizon``, how far ahead a message's ``send_at`` may be (seconds,
default 30 days); further is refused naming ``send_at``.

Every key is checked; an unknown key or a bad value raises ``ConfigError`` naming it
(``smsc[1].window: must be >= 1``). Passwords come from the file or, better, from the
environment (``password_env = "CARRIER_A_PASSWORD"``); they are never logged.

TLS per ``[[smsc]]`` (``smppgw.net.tls``): ``tls = true`` binds over TLS 1.2+ with the
server's certificate and name verified against the system CAs, or ``tls_ca`` (a PEM
bundle); ``tls_cert`` + ``tls_key`` (both or neither) present a client certificate;
``tls_server_name`` is the name sent (SNI) and verified when ``host`` is an IP address;
``tls_verify = false`` turns verification off and is logged as a WARNING at start. A
``tls_*`` key with ``tls`` false, a missing or unreadable file, or a cert without its key
is a ``ConfigError`` naming the key. A failed handshake is retried, never sent in clear.

``receipt_grace`` (per ``[[smsc]]``, seconds, default 172800 = 48 h): a part still
waiting for its final receipt after its validity plus this grace (or this grace after it
was submitted, when it has no validity) becomes ``unknown``, a final status that only a
late receipt may still change to the real outcome.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from smppgw.core.constants import CommandStatus
from smppgw.core.receipt import IdBase
from smppgw.core.states import BindMode
from smppgw.core.text import ConcatMethod
from smppgw.net.tls import TlsSettings, TlsSetupError, client_context
from smppgw.policy.addressing import AddressError, AddressKind, to_smpp
from smppgw.policy.retry import Backoff, RetryPolicy
from smppgw.policy.routing import Route, RouteTarget
from smppgw.support.config import (
    ConfigError,
    array,
    boolean,
    choice,
    each,
    integer,
    number,
    positive,
    read_toml,
    require,
    string,
    table,
    unknown_keys,
)

__all__ = [
    "DEFAULT_RECEIPT_GRACE",
    "SECTIONS",
    "SERVE_SECTIONS",
    "ConfigError",
    "GatewayConfig",
    "SmscConfig",
    "config_from_dict",
    "load_config",
]


DEFAULT_RECEIPT_GRACE = 172_800.0  # 48 h: validity + this, and a part without a final receipt is unknown


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
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool = True
    tls_server_name: str | None = None
    concat: ConcatMethod = ConcatMethod.UDH8
    receipt_id_base: IdBase = IdBase.AUTO
    receipts: str = "part"  # "part": a receipt per part; "message": one per concatenated message
    registered_delivery: bool = True
    ton_npi: Mapping[AddressKind, tuple[int, int]] = attrs.field(factory=dict)
    interface_version: int = 0x34
    # Seconds a part waits for its final receipt after its validity (or after it was
    # submitted, when it has none) before it becomes ``unknown`` (DESIGN §3).
    receipt_grace: float = DEFAULT_RECEIPT_GRACE
    # deliver_sm/data_sm per bind not yet answered; one beyond is answered ESME_RX_T_APPN
    # at once (the SMSC redelivers it later, SMPP 3.4 §5.1.3): a flood holds no more.
    receive_window: int = 1000
    # Carrier answers meaning "the recipient opted out or blocked this sender": a
    # submit_sm_resp command_status, a receipt's err: (gateway.consent.CarrierOptOuts).
    optout_statuses: tuple[int, ...] = ()
    optout_network_errors: tuple[str, ...] = ()

    @property
    def modes(self) -> tuple[BindMode, ...]:
        """One entry per bind to keep up."""
        if self.bind == "trx":
            return (BindMode.TRX,) * self.binds
        if self.bind == "tx":
            return (BindMode.TX,) * self.binds
        return (BindMode.TX,) * self.binds + (BindMode.RX,) * self.binds

    def tls_settings(self) -> TlsSettings | None:
        """This SMSC's TLS settings; None when it binds in plain TCP."""
        if not self.tls:
            return None
        return TlsSettings(
            ca=self.tls_ca,
            cert=self.tls_cert,
            key=self.tls_key,
            verify=self.tls_verify,
            server_name=self.tls_server_name,
        )


@attrs.frozen(kw_only=True)
class GatewayConfig:
    smscs: tuple[SmscConfig, ...]
    routes: tuple[Route, ...]
    retry: RetryPolicy = RetryPolicy()
    sender_tps: Mapping[str, float] = attrs.field(factory=dict)  # per sender address
    long_code_tps: float | None = None  # default per-sender limit for E.164 senders
    route_tps: Mapping[str, float] = attrs.field(factory=dict)
    route_pools: Mapping[str, str] = attrs.field(factory=dict)  # route name -> [[twoway.pool]] name
    receipt_hold: float = 60.0  # how long an early receipt waits for its submit_sm_resp
    receipt_max_held: int = 100_000  # early receipts held at most; the oldest evicted beyond
    inbound_max_groups: int = 10_000  # MO messages in reassembly per SMSC; the oldest evicted
    inbound_timeout: float = 60.0  # how long the parts of an MO message wait for the rest
    shutdown_timeout: float = 5.0
    send_at_horizon: float = 30 * 86400.0  # how far ahead a send_at may be (seconds)

    def smsc(self, name: str) -> SmscConfig:
        for smsc in self.smscs:
            if smsc.name == name:
                return smsc
        raise KeyError(name)


_SMSC_KEYS: Final = {a.name for a in attrs.fields(SmscConfig)} | {"password_env"}
_KINDS: Final = {k.value: k for k in AddressKind}


def _ton_npi(v: Any, where: str) -> dict[AddressKind, tuple[int, int]]:
    overrides = {}
    for kind, pair in table(v, where).items():
        w = f"{where}.{kind}"
        choice(kind, w, _KINDS)
        if len(array(pair, w)) != 2:
            raise ConfigError(f"{w}: expected [ton, npi], got {pair!r}")
        overrides[_KINDS[kind]] = (integer(pair[0], f"{w}[0]", 0, 255), integer(pair[1], f"{w}[1]", 0, 255))
    return overrides


_SMSC_OPTIONAL: Final[dict[str, Callable[[Any, str], Any]]] = {
    "system_type": lambda v, w: string(v, w, max_len=12),
    "bind": lambda v, w: choice(v, w, ("trx", "tx+rx", "tx")),
    "binds": lambda v, w: integer(v, w, 1, 64),
    "window": lambda v, w: integer(v, w, 1, 10_000),
    "receive_window": lambda v, w: integer(v, w, 1, 100_000),
    **dict.fromkeys(
        ("tps", "bind_tps", "enquire_link_interval", "response_timeout", "connect_timeout"), positive
    ),
    "tls": boolean,
    **dict.fromkeys(("tls_ca", "tls_cert", "tls_key"), lambda v, w: string(v, w, min_len=1)),
    "tls_verify": boolean,
    "tls_server_name": lambda v, w: string(v, w, min_len=1, max_len=253),
    "registered_delivery": boolean,
    "concat": lambda v, w: ConcatMethod(choice(v, w, [m.value for m in ConcatMethod])),
    "receipts": lambda v, w: choice(v, w, ("part", "message")),
    "receipt_id_base": lambda v, w: IdBase(choice(v, w, [b.value for b in IdBase])),
    "interface_version": lambda v, w: integer(v, w, 0, 0xFF),
    "ton_npi": _ton_npi,
    "receipt_grace": positive,
    "optout_statuses": lambda v, w: tuple(each(v, w, _command_status)),
    "optout_network_errors": lambda v, w: tuple(each(v, w, _error_code)),
}


def _command_status(v: Any, where: str) -> int:
    """A command_status by name (``ESME_RX_R_APPN``) or number (SMPP 3.4 §5.1.3)."""
    if isinstance(v, str) and not v.isdigit():
        try:
            return int(CommandStatus[v.upper()])
        except KeyError:
            raise ConfigError(f"{where}: unknown command_status {v!r}") from None
    return integer(int(v) if isinstance(v, str) else v, where, 1, 0xFFFFFFFF)


def _error_code(v: Any, where: str) -> str:
    """A receipt's ``err:`` value, as text (``"0C1"``) or a number (``1``)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(integer(v, where, 0, 0xFFFFFF))
    return string(v, where, min_len=1, max_len=10)


def _smsc(v: Any, where: str) -> SmscConfig:
    t = table(v, where)
    unknown_keys(t, _SMSC_KEYS, where)
    require(t, ("name", "host", "port", "system_id"), where)
    if ("password" in t) == ("password_env" in t):
        raise ConfigError(f"{where}: give exactly one of password or password_env")
    if "password_env" in t:
        env = string(t["password_env"], f"{where}.password_env")
        if env not in os.environ:
            raise ConfigError(f"{where}.password_env: environment variable {env} is not set")
        password = os.environ[env]
    else:
        password = string(t["password"], f"{where}.password")
    if len(password) > 8:  # SMPP 3.4 §4.1.1: password C(9)
        raise ConfigError(f"{where}.password: at most 8 characters (SMPP 3.4 §4.1.1)")
    out: dict[str, Any] = {
        "name": string(t["name"], f"{where}.name"),
        "host": string(t["host"], f"{where}.host"),
        "port": integer(t["port"], f"{where}.port", 1, 65535),
        "system_id": string(t["system_id"], f"{where}.system_id", max_len=15),
        "password": password,
    }
    for key, check in _SMSC_OPTIONAL.items():
        if key in t:
            out[key] = check(t[key], f"{where}.{key}")
    smsc = SmscConfig(**out)
    _check_tls(smsc, where)
    return smsc


def _check_tls(smsc: SmscConfig, where: str) -> None:
    """The ``tls_*`` keys make sense together and their files load (a context is built
    and dropped, so a bad file is a config error at start, not a bind failure later)."""
    given = [
        f"tls_{f}" for f in ("ca", "cert", "key", "server_name") if getattr(smsc, f"tls_{f}") is not None
    ]
    if not smsc.tls_verify:
        given.append("tls_verify")
    if not smsc.tls:
        if given:
            raise ConfigError(f"{where}.{given[0]}: needs tls = true")
        return
    settings = smsc.tls_settings()
    assert settings is not None
    try:
        client_context(settings)
    except TlsSetupError as exc:
        raise ConfigError(f"{where}.tls_{exc.field}: {exc.message}") from None


def _target(v: Any, where: str, names: set[str]) -> RouteTarget:
    """``"name"`` or ``"name:weight"``."""
    text = string(v, where)
    name, sep, weight = text.partition(":")
    if name not in names:
        raise ConfigError(f"{where}: no smsc named {name!r}")
    if not sep:
        return RouteTarget(smsc=name)
    try:
        return RouteTarget(smsc=name, weight=positive(float(weight), where))
    except ValueError:
        raise ConfigError(f"{where}: weight must be a number > 0, got {weight!r}") from None


def _route(v: Any, where: str, names: set[str]) -> Route:
    t = table(v, where)
    unknown_keys(t, {"name", "prefixes", "sender_kinds", "tags", "smscs", "tps", "pool"}, where)
    require(t, ("smscs",), where)
    tiers = []
    for i, tier in enumerate(array(t["smscs"], f"{where}.smscs")):
        w = f"{where}.smscs[{i}]"
        items = tier if isinstance(tier, list) else [tier]
        if not items:
            raise ConfigError(f"{w}: an empty tier")
        tiers.append(tuple(_target(x, w, names) for x in items))
    if not tiers:
        raise ConfigError(f"{where}.smscs: needs at least one smsc")
    prefixes = tuple(p.lstrip("+") for p in each(t.get("prefixes", []), f"{where}.prefixes", string))
    for i, p in enumerate(prefixes):
        if not p.isdigit():
            raise ConfigError(f"{where}.prefixes[{i}]: digits only, got {p!r}")
    kinds = each(t.get("sender_kinds", []), f"{where}.sender_kinds", lambda k, w: choice(k, w, _KINDS))
    return Route(
        name=string(t.get("name", where), f"{where}.name"),
        tiers=tuple(tiers),
        prefixes=prefixes,
        sender_kinds=frozenset(_KINDS[k] for k in kinds),
        tags=frozenset(each(t.get("tags", []), f"{where}.tags", string)),
    )


def _retry(v: Any) -> RetryPolicy:
    t = table(v, "retry")
    unknown_keys(t, {"max_attempts", "max_age", "initial", "factor", "maximum", "jitter"}, "retry")
    backoff: dict[str, float] = {}
    for key in ("initial", "factor", "maximum"):
        if key in t:
            backoff[key] = positive(t[key], f"retry.{key}")
    if "jitter" in t:
        backoff["jitter"] = number(t["jitter"], "retry.jitter", ge=0, lt=1)
    return RetryPolicy(
        max_attempts=integer(t.get("max_attempts", 5), "retry.max_attempts", 1, 1000),
        max_age=positive(t.get("max_age", 3600.0), "retry.max_age"),
        backoff=Backoff(**backoff),
    )


def _sender(v: Any) -> str:
    """A sender address as messages carry it (``+4477...`` -> ``4477...``)."""
    where = f"limits.senders.{v}"
    try:
        return to_smpp(string(v, where)).addr
    except AddressError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _section(data: Mapping[str, Any], name: str, known: set[str]) -> dict[str, Any]:
    t = table(data[name], name)
    unknown_keys(t, known, name)
    return t


SECTIONS: Final = frozenset(
    {"smsc", "route", "retry", "limits", "receipts", "inbound", "gateway", "schedule"}
)
# The sections `smppgw serve` adds to the same file (smppgw.app reads them).
SERVE_SECTIONS: Final = frozenset({"store", "api", "webhooks", "twoway", "streams"})


def config_from_dict(data: Mapping[str, Any]) -> GatewayConfig:
    """Raises ConfigError naming the first bad key."""
    unknown_keys(data, SECTIONS, "")
    smscs = tuple(each(data.get("smsc", []), "smsc", _smsc))
    if not smscs:
        raise ConfigError("smsc: at least one [[smsc]] is needed")
    names = [s.name for s in smscs]
    if len(set(names)) != len(names):
        raise ConfigError("smsc: duplicate name")
    raw_routes = array(data.get("route", [{"name": "default", "smscs": [names[0]]}]), "route")
    routes = tuple(_route(r, f"route[{i}]", set(names)) for i, r in enumerate(raw_routes))
    out: dict[str, Any] = {"smscs": smscs, "routes": routes}
    route_tps = {  # ``[[route]] tps``; ``[limits.routes]`` may set it too
        r.name: positive(raw["tps"], f"route[{i}].tps")
        for i, (raw, r) in enumerate(zip(raw_routes, routes, strict=True))
        if "tps" in raw
    }
    if route_tps:
        out["route_tps"] = route_tps
    route_pools = {  # ``[[route]] pool``: its sender pool ([[twoway.pool]], checked by the app)
        r.name: string(raw["pool"], f"route[{i}].pool")
        for i, (raw, r) in enumerate(zip(raw_routes, routes, strict=True))
        if "pool" in raw
    }
    if route_pools:
        out["route_pools"] = route_pools
    if "retry" in data:
        out["retry"] = _retry(data["retry"])
    if "limits" in data:
        t = _section(data, "limits", {"senders", "long_code_tps", "routes"})
        out["sender_tps"] = {
            _sender(k): positive(v, f"limits.senders.{k}")
            for k, v in table(t.get("senders", {}), "limits.senders").items()
        }
        if "long_code_tps" in t:
            out["long_code_tps"] = positive(t["long_code_tps"], "limits.long_code_tps")
        route_names = {r.name for r in routes}
        for k, v in table(t.get("routes", {}), "limits.routes").items():
            if k not in route_names:
                raise ConfigError(f"limits.routes.{k}: no route named {k!r}")
            route_tps[k] = positive(v, f"limits.routes.{k}")
        out["route_tps"] = route_tps
    if "receipts" in data:
        t = _section(data, "receipts", {"hold", "max_held"})
        if "hold" in t:
            out["receipt_hold"] = positive(t["hold"], "receipts.hold")
        if "max_held" in t:
            out["receipt_max_held"] = integer(t["max_held"], "receipts.max_held", 1, 10_000_000)
    if "inbound" in data:
        t = _section(data, "inbound", {"max_groups", "timeout"})
        if "max_groups" in t:
            out["inbound_max_groups"] = integer(t["max_groups"], "inbound.max_groups", 1, 10_000_000)
        if "timeout" in t:
            out["inbound_timeout"] = positive(t["timeout"], "inbound.timeout")
    if "gateway" in data:
        t = _section(data, "gateway", {"shutdown_timeout"})
        if "shutdown_timeout" in t:
            out["shutdown_timeout"] = positive(t["shutdown_timeout"], "gateway.shutdown_timeout")
    if "schedule" in data:
        t = _section(data, "schedule", {"horizon"})
        if "horizon" in t:
            out["send_at_horizon"] = positive(t["horizon"], "schedule.horizon")
    return GatewayConfig(**out)


def load_config(path: str | Path) -> GatewayConfig:
    """The gateway's sections of a config file (a ``smppgw serve`` config: its own
    sections, ``SERVE_SECTIONS``, are left to ``smppgw.app``).

    Raises ConfigError for a missing, unreadable, non-UTF-8 or bad TOML file, or bad content."""
    return config_from_dict({k: v for k, v in read_toml(path).items() if k not in SERVE_SECTIONS})
