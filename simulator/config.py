"""Simulator configuration: accounts, session timers and carrier behaviour (TOML).

Layering of behaviour for one account, later wins::

    built-in defaults <- profile (account's `profile`, else the global one)
                      <- top-level [behaviour] <- [account.behaviour]

Every key is checked: an unknown key or a bad value raises ``ConfigError`` naming the
key (``account[1].behaviour.tps: must be > 0``), which the CLI prints on one line with
exit status 2. Behaviour is kept as a raw dict per account as well, so the control API
can patch a few keys at run time and rebuild a validated ``Behaviour``.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

import attrs

from simulator.dist import Dist, parse_dist
from smppgw.core.constants import CommandStatus, MessageState

__all__ = [
    "FINAL_STATES",
    "Account",
    "Behaviour",
    "ConfigError",
    "ForceRule",
    "HandsetRule",
    "SessionSettings",
    "SimConfig",
    "build_behaviour",
    "config_from_dict",
    "load_config",
    "load_profile",
    "profile_names",
]


class ConfigError(ValueError):
    """Bad configuration; the message names the key."""


FINAL_STATES: Final = {
    s.stat: s
    for s in (
        MessageState.DELIVERED,
        MessageState.UNDELIVERABLE,
        MessageState.EXPIRED,
        MessageState.REJECTED,
        MessageState.DELETED,
        MessageState.UNKNOWN,
    )
}
_INTERIM: Final = {"ENROUTE": MessageState.ENROUTE, "ACCEPTD": MessageState.ACCEPTED}
_ID_FORMATS: Final = ("decimal", "hex", "uuid", "padded")
_BIND_TYPES: Final = ("tx", "rx", "trx")


# -- small checkers ------------------------------------------------------------------------


def _num(
    v: Any, where: str, *, lo: float = 0.0, strict: bool = False, allow_none: bool = False
) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}: expected a number, got {v!r}")
    if v < lo or (strict and v == lo):
        raise ConfigError(f"{where}: must be {'>' if strict else '>='} {lo}, got {v!r}")
    return float(v)


def _int(v: Any, where: str, *, lo: int = 0, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: expected an integer, got {v!r}")
    if v < lo or (hi is not None and v > hi):
        raise ConfigError(f"{where}: must be in {lo}..{hi if hi is not None else 'inf'}, got {v}")
    return v


def _prob(v: Any, where: str) -> float:
    p = _num(v, where)
    assert p is not None
    if p > 1:
        raise ConfigError(f"{where}: a probability must be within 0..1, got {v!r}")
    return p


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def _str(v: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{where}: expected a string, got {v!r}")
    if choices is not None and v not in choices:
        raise ConfigError(f"{where}: one of {', '.join(choices)}, got {v!r}")
    return v


def _status(v: Any, where: str) -> int:
    if isinstance(v, str):
        try:
            return int(CommandStatus[v.upper()])
        except KeyError:
            raise ConfigError(f"{where}: unknown command_status {v!r}") from None
    return _int(v, where, lo=1, hi=0xFFFFFFFF)


def _dist(v: Any, where: str) -> Dist:
    try:
        return parse_dist(v, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a table, got {v!r}")
    return v


def _weights(v: Any, where: str, known: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """``{DELIVRD = 0.9, UNDELIV = 0.1}`` or ``"DELIVRD=0.9,UNDELIV=0.1"``."""
    if isinstance(v, str):
        table: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in v.split(","))):
            name, sep, weight = item.partition("=")
            if not sep:
                raise ConfigError(f"{where}: expected NAME=WEIGHT, got {item!r}")
            try:
                table[name.strip()] = float(weight)
            except ValueError:
                raise ConfigError(f"{where}.{name.strip()}: not a number: {weight!r}") from None
        v = table
    pairs = []
    for name, weight in _table(v, where).items():
        key = name.upper()
        if key not in known:
            raise ConfigError(f"{where}: unknown outcome {name!r} (one of {', '.join(known)})")
        w = _num(weight, f"{where}.{name}")
        assert w is not None
        pairs.append((key, w))
    if not pairs or sum(w for _, w in pairs) <= 0:
        raise ConfigError(f"{where}: needs at least one outcome with a positive weight")
    return tuple(pairs)


# -- behaviour -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ForceRule:
    """Make outcomes exact for tests: e.g. numbers ending in 13 are always UNDELIV."""

    destination_prefix: str | None = None
    destination_suffix: str | None = None
    destination: str | None = None
    outcome: str | None = None  # a final stat word
    submit_status: int | None = None  # reject at submit with this status instead

    def matches(self, destination: str) -> bool:
        if self.destination is not None and destination != self.destination:
            return False
        if self.destination_prefix is not None and not destination.startswith(self.destination_prefix):
            return False
        return self.destination_suffix is None or destination.endswith(self.destination_suffix)


@attrs.frozen(kw_only=True)
class HandsetRule:
    """A virtual subscriber answering an MT message whose text contains ``match``."""

    match: str  # case-insensitive substring of the MT text ("" matches everything)
    replies: tuple[tuple[str, float], ...]  # (text, weight); text "score" = a random 0-10
    probability: float = 1.0
    delay: Dist = Dist("const", 1.0)


@attrs.frozen(kw_only=True)
class Behaviour:
    """How one account's carrier behaves. Defaults: a fast, happy carrier."""

    # throughput and queueing
    tps: float | None = None  # per account; excess -> ESME_RTHROTTLED
    bind_tps: float | None = None  # per bind
    queue_size: int | None = None  # submits awaiting their resp; excess -> ESME_RMSGQFUL
    resp_latency: Dist = Dist()
    # message ids and receipts
    message_id: str = "decimal"
    message_id_width: int = 10  # for "padded"
    receipt_id_base: str = "same"  # "same" | "decimal" | "hex": base of the id in receipts
    receipt_text: bool = True
    receipt_tlvs: bool = True
    receipt_date_digits: int = 10
    receipt_upper_case: bool = False
    outcomes: tuple[tuple[str, float], ...] = (("DELIVRD", 1.0),)
    dlr_delay: Dist = Dist("const", 0.0)
    intermediate: tuple[str, ...] = ()  # e.g. ("ENROUTE",) sent before the final receipt
    intermediate_delay: Dist = Dist("const", 0.0)
    dlr_before_resp: float = 0.0  # probability the receipt overtakes the submit_sm_resp
    duplicate_receipts: float = 0.0  # probability a receipt is sent twice
    per_part_receipts: bool = True  # False: one receipt per concatenated message (last part)
    honour_validity: bool = True  # receipt delay past validity_period -> EXPIRED
    force: tuple[ForceRule, ...] = ()
    # deliveries (receipts and MO) to the ESME
    deliver_retry: tuple[float, ...] = (1.0, 5.0, 30.0, 60.0, 300.0)
    mo_concat: str = "udh8"  # udh8 | udh16 | sar
    handsets: tuple[HandsetRule, ...] = ()
    # validation
    strict: bool = False
    # faults
    drop_after_pdus: int | None = None  # close the connection after this many PDUs received
    drop_probability: float = 0.0  # per PDU received
    black_hole: bool = False  # read everything, answer nothing
    response_delay: Dist = Dist()  # extra delay on every response (on top of resp_latency)
    nack_probability: float = 0.0  # answer with generic_nack instead
    error_probability: float = 0.0  # answer submit_sm with error_status instead
    error_status: int = CommandStatus.ESME_RSYSERR
    unbind_after: float | None = None  # SMSC-initiated unbind this long after the bind
    refuse_binds: bool = False  # maintenance: binds get ESME_RBINDFAIL until switched off
    refuse_binds_for: float | None = None  # maintenance window: that many seconds from start / PATCH
    read_delay: float = 0.0  # sleep before each read: backpressure on the ESME
    malformed_probability: float = 0.0  # answer with a malformed PDU instead


_SIMPLE: Final[dict[str, Any]] = {
    "tps": lambda v, w: _num(v, w, strict=True, allow_none=True),
    "bind_tps": lambda v, w: _num(v, w, strict=True, allow_none=True),
    "queue_size": lambda v, w: None if v is None else _int(v, w, lo=1),
    "resp_latency": _dist,
    "message_id": lambda v, w: _str(v, w, _ID_FORMATS),
    "message_id_width": lambda v, w: _int(v, w, lo=1, hi=64),
    "receipt_id_base": lambda v, w: _str(v, w, ("same", "decimal", "hex")),
    "receipt_text": _bool,
    "receipt_tlvs": _bool,
    "receipt_date_digits": lambda v, w: (
        _int(v, w, lo=10, hi=12) if v in (10, 12) else _str(v, w, ("10", "12"))
    ),
    "receipt_upper_case": _bool,
    "outcomes": lambda v, w: _weights(v, w, FINAL_STATES),
    "dlr_delay": _dist,
    "intermediate": lambda v, w: tuple(
        _str(x, f"{w}[{i}]", tuple(_INTERIM)) for i, x in enumerate(_list(v, w))
    ),
    "intermediate_delay": _dist,
    "dlr_before_resp": _prob,
    "duplicate_receipts": _prob,
    "per_part_receipts": _bool,
    "honour_validity": _bool,
    "deliver_retry": lambda v, w: tuple(_num(x, f"{w}[{i}]", strict=True) for i, x in enumerate(_list(v, w))),
    "mo_concat": lambda v, w: _str(v, w, ("udh8", "udh16", "sar")),
    "strict": _bool,
    "drop_after_pdus": lambda v, w: None if v is None else _int(v, w, lo=1),
    "drop_probability": _prob,
    "black_hole": _bool,
    "response_delay": _dist,
    "nack_probability": _prob,
    "error_probability": _prob,
    "error_status": _status,
    "unbind_after": lambda v, w: _num(v, w, strict=True, allow_none=True),
    "refuse_binds": _bool,
    "refuse_binds_for": lambda v, w: _num(v, w, strict=True, allow_none=True),
    "read_delay": _num,
    "malformed_probability": _prob,
}


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list, got {v!r}")
    return v


def _force(v: Any, where: str) -> ForceRule:
    t = _table(v, where)
    unknown = set(t) - {"destination_prefix", "destination_suffix", "destination", "outcome", "submit_status"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("outcome" in t) == ("submit_status" in t):
        raise ConfigError(f"{where}: give exactly one of outcome or submit_status")
    if not {"destination_prefix", "destination_suffix", "destination"} & t.keys():
        raise ConfigError(f"{where}: needs destination, destination_prefix or destination_suffix")
    outcome = None
    if "outcome" in t:
        outcome = _str(t["outcome"], f"{where}.outcome").upper()
        if outcome not in FINAL_STATES:
            raise ConfigError(f"{where}.outcome: one of {', '.join(FINAL_STATES)}, got {t['outcome']!r}")
    return ForceRule(
        destination_prefix=_opt_str(t, "destination_prefix", where),
        destination_suffix=_opt_str(t, "destination_suffix", where),
        destination=_opt_str(t, "destination", where),
        outcome=outcome,
        submit_status=_status(t["submit_status"], f"{where}.submit_status") if "submit_status" in t else None,
    )


def _opt_str(t: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(t[key], f"{where}.{key}") if key in t else None


def _handset(v: Any, where: str) -> HandsetRule:
    t = _table(v, where)
    unknown = set(t) - {"match", "reply", "replies", "weights", "probability", "delay"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("reply" in t) == ("replies" in t):
        raise ConfigError(f"{where}: give exactly one of reply or replies")
    texts = (
        [_str(t["reply"], f"{where}.reply")]
        if "reply" in t
        else [_str(x, f"{where}.replies[{i}]") for i, x in enumerate(_list(t["replies"], f"{where}.replies"))]
    )
    if not texts or any(not x for x in texts):
        raise ConfigError(f"{where}: replies must be non-empty texts")
    weights = [1.0] * len(texts)
    if "weights" in t:
        raw = _list(t["weights"], f"{where}.weights")
        if len(raw) != len(texts):
            raise ConfigError(f"{where}.weights: {len(raw)} weights for {len(texts)} replies")
        weights = [_num(x, f"{where}.weights[{i}]") or 0.0 for i, x in enumerate(raw)]
        if sum(weights) <= 0:
            raise ConfigError(f"{where}.weights: need a positive weight")
    return HandsetRule(
        match=_str(t.get("match", ""), f"{where}.match"),
        replies=tuple(zip(texts, weights, strict=True)),
        probability=_prob(t.get("probability", 1.0), f"{where}.probability"),
        delay=_dist(t.get("delay", 1.0), f"{where}.delay"),
    )


def build_behaviour(raw: Mapping[str, Any], where: str = "behaviour") -> Behaviour:
    """Validate a raw behaviour dict (already merged) into a ``Behaviour``.

    Raises:
        ConfigError: an unknown key or a bad value, named.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        w = f"{where}.{key}"
        if key in _SIMPLE:
            values[key] = _SIMPLE[key](value, w)
        elif key == "force":
            values[key] = tuple(_force(x, f"{w}[{i}]") for i, x in enumerate(_list(value, w)))
        elif key in ("handset", "handsets"):
            values["handsets"] = tuple(_handset(x, f"{w}[{i}]") for i, x in enumerate(_list(value, w)))
        else:
            raise ConfigError(f"{w}: unknown key")
    if "receipt_date_digits" in values:
        values["receipt_date_digits"] = int(values["receipt_date_digits"])
    return Behaviour(**values)


# -- profiles ---------------------------------------------------------------------------------


def profile_names() -> list[str]:
    files = resources.files("simulator.profiles")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def load_profile(name: str) -> dict[str, Any]:
    """The raw behaviour table of a shipped profile (a fresh copy).

    Raises:
        ConfigError: no such profile, or its file is broken.
    """
    return dict(_load_profile(name))


@functools.cache
def _load_profile(name: str) -> dict[str, Any]:
    if name not in profile_names():
        raise ConfigError(f"profile: unknown profile {name!r} (one of {', '.join(profile_names())})")
    text = resources.files("simulator.profiles").joinpath(f"{name}.toml").read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {name}: {exc}") from None
    data.pop("description", None)
    build_behaviour(data, f"profile {name}")  # fail early on a broken shipped profile
    return data


# -- accounts, session, whole config ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class SessionSettings:
    bind_timeout: float = 30.0  # session_init_timer (SMPP-REFERENCE §4.3)
    inactivity_timeout: float | None = 300.0
    enquire_link_interval: float | None = 60.0
    response_timeout: float = 30.0  # for deliver_sm; then redelivery
    window: int = 64  # deliver_sm in flight per bind (carriers use 1-10; a load-test peer needs more)
    max_command_length: int = 64 * 1024


@attrs.frozen(kw_only=True)
class Account:
    system_id: str
    password: str = attrs.field(repr=False)
    max_binds: int = 4
    bind_types: frozenset[str] = frozenset(_BIND_TYPES)
    profile: str | None = None
    behaviour_raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(kw_only=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    http_host: str = "127.0.0.1"
    http_port: int | None = None
    system_id: str = "smppsim"
    seed: int | None = None
    profile: str = "default"
    accounts: tuple[Account, ...] = (Account(system_id="smppclient1", password="password"),)
    behaviour_raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    session: SessionSettings = SessionSettings()

    def behaviour_for(self, account: Account, patch: Mapping[str, Any] | None = None) -> Behaviour:
        """The effective behaviour of ``account`` (see the module docstring)."""
        raw = self.raw_behaviour_for(account)
        if patch:
            raw.update(patch)
        return build_behaviour(raw, f"account {account.system_id} behaviour")

    def raw_global_behaviour(self) -> dict[str, Any]:
        """Behaviour before any account is known (a connection not yet bound)."""
        raw = dict(load_profile(self.profile))
        raw.update(self.behaviour_raw)
        return raw

    def raw_behaviour_for(self, account: Account) -> dict[str, Any]:
        raw = dict(load_profile(account.profile or self.profile))
        raw.update(self.behaviour_raw)
        raw.update(account.behaviour_raw)
        return raw


def _account(v: Any, where: str) -> Account:
    t = _table(v, where)
    unknown = set(t) - {"system_id", "password", "max_binds", "bind_types", "profile", "behaviour"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("system_id", "password"):
        if key not in t:
            raise ConfigError(f"{where}.{key}: missing")
    system_id = _str(t["system_id"], f"{where}.system_id")
    password = _str(t["password"], f"{where}.password")
    # SMPP 3.4 §4.1.1: system_id C(16), password C(9).
    if not 1 <= len(system_id) <= 15:
        raise ConfigError(f"{where}.system_id: 1..15 characters, got {len(system_id)}")
    if len(password) > 8:
        raise ConfigError(f"{where}.password: at most 8 characters (SMPP 3.4 §4.1.1)")
    bind_types = frozenset(
        _str(x, f"{where}.bind_types[{i}]", _BIND_TYPES)
        for i, x in enumerate(_list(t.get("bind_types", list(_BIND_TYPES)), f"{where}.bind_types"))
    )
    if not bind_types:
        raise ConfigError(f"{where}.bind_types: needs at least one of {', '.join(_BIND_TYPES)}")
    profile = _str(t["profile"], f"{where}.profile") if "profile" in t else None
    if profile is not None:
        load_profile(profile)
    behaviour = _table(t.get("behaviour", {}), f"{where}.behaviour")
    build_behaviour(behaviour, f"{where}.behaviour")
    return Account(
        system_id=system_id,
        password=password,
        max_binds=_int(t.get("max_binds", 4), f"{where}.max_binds", lo=1, hi=1000),
        bind_types=bind_types,
        profile=profile,
        behaviour_raw=behaviour,
    )


def _session(v: Any) -> SessionSettings:
    t = _table(v, "session")
    known = {a.name for a in attrs.fields(SessionSettings)}
    unknown = set(t) - known
    if unknown:
        raise ConfigError(f"session: unknown key(s) {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, value in t.items():
        w = f"session.{key}"
        if key in ("window", "max_command_length"):
            out[key] = _int(value, w, lo=1 if key == "window" else 16, hi=16 * 1024 * 1024)
        else:
            out[key] = _num(
                value, w, strict=True, allow_none=key in ("inactivity_timeout", "enquire_link_interval")
            )
    return SessionSettings(**out)


def config_from_dict(data: Mapping[str, Any]) -> SimConfig:
    """Build a ``SimConfig`` from parsed TOML (or the CLI's equivalent dict).

    Raises:
        ConfigError: an unknown key or a bad value, named.
    """
    known = {
        "host",
        "port",
        "http_host",
        "http_port",
        "system_id",
        "seed",
        "profile",
        "account",
        "behaviour",
        "session",
    }
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "host" in data:
        out["host"] = _str(data["host"], "host")
    if "http_host" in data:
        out["http_host"] = _str(data["http_host"], "http_host")
    if "port" in data:
        out["port"] = _int(data["port"], "port", lo=0, hi=65535)
    if data.get("http_port") is not None:
        out["http_port"] = _int(data["http_port"], "http_port", lo=0, hi=65535)
    if "system_id" in data:
        out["system_id"] = _str(data["system_id"], "system_id")
        if not 1 <= len(out["system_id"]) <= 15:
            raise ConfigError("system_id: 1..15 characters")
    if data.get("seed") is not None:
        out["seed"] = _int(data["seed"], "seed", lo=0)
    if "profile" in data:
        out["profile"] = _str(data["profile"], "profile")
        load_profile(out["profile"])
    if "account" in data:
        accounts = tuple(
            _account(a, f"account[{i}]") for i, a in enumerate(_list(data["account"], "account"))
        )
        ids = [a.system_id for a in accounts]
        if len(set(ids)) != len(ids):
            raise ConfigError("account: duplicate system_id")
        if not accounts:
            raise ConfigError("account: needs at least one account")
        out["accounts"] = accounts
    if "behaviour" in data:
        out["behaviour_raw"] = _table(data["behaviour"], "behaviour")
        build_behaviour(out["behaviour_raw"])
    if "session" in data:
        out["session"] = _session(data["session"])
    config = SimConfig(**out)
    for account in config.accounts:  # the merged layers must be valid too
        config.behaviour_for(account)
    return config


def load_config(path: str | Path) -> SimConfig:
    """Raises ConfigError for a missing file, bad TOML or bad content."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    return config_from_dict(data)
