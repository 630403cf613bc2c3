"""Carrier behaviour for the simulator's config: the ``Behaviour`` record, its checks and
the shipped profiles (the records of accounts and the whole config are in
``simulator.config``, which re-exports everything here).

A behaviour is kept raw (a dict as TOML gives it) until it is needed, so profiles,
``[behaviour]``, ``[account.behaviour]`` and run-time patches from the control API can
be layered first and checked once: ``build_behaviour`` names the bad key
(``account[1].behaviour.tps: must be a number > 0, got 0``).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

import attrs

from simulator.dist import Dist, parse_dist
from simulator.personas import PersonaConfig, personas_from_dict
from smppgw.core.constants import CommandStatus, MessageState
from smppgw.support.config import (
    ConfigError,
    boolean,
    choice,
    each,
    integer,
    number,
    positive,
    string,
    table,
    unknown_keys,
)

__all__ = [
    "FINAL_STATES",
    "Behaviour",
    "ForceRule",
    "HandsetRule",
    "build_behaviour",
    "load_profile",
    "profile_names",
]

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
    personas: PersonaConfig | None = None  # people behind the numbers (simulator.personas)
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


# -- checks ----------------------------------------------------------------------------------


def _probability(v: Any, where: str) -> float:
    return number(v, where, ge=0, le=1)


def _non_negative(v: Any, where: str) -> float:
    return number(v, where, ge=0)


def _or_none(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """``check``, letting ``None`` (an explicit "off" from the CLI or a patch) through."""
    return lambda v, w: None if v is None else check(v, w)


def _status(v: Any, where: str) -> int:
    """A command_status by name (``ESME_RSYSERR``) or number."""
    if isinstance(v, str):
        try:
            return int(CommandStatus[v.upper()])
        except KeyError:
            raise ConfigError(f"{where}: unknown command_status {v!r}") from None
    return integer(v, where, 1, 0xFFFFFFFF)


def _dist(v: Any, where: str) -> Dist:
    try:
        return parse_dist(v, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _date_digits(v: Any, where: str) -> int:
    """10 (YYMMDDhhmm, SMPP 3.4 Appendix B) or 12 (with seconds), as a number or a string."""
    if isinstance(v, bool) or v not in (10, 12, "10", "12"):
        raise ConfigError(f"{where}: one of 10, 12, got {v!r}")
    return int(v)


def _weights(v: Any, where: str, known: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """``{DELIVRD = 0.9, UNDELIV = 0.1}`` or ``"DELIVRD=0.9,UNDELIV=0.1"``."""
    if isinstance(v, str):
        parsed: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in v.split(","))):
            name, sep, weight = item.partition("=")
            if not sep:
                raise ConfigError(f"{where}: expected NAME=WEIGHT, got {item!r}")
            try:
                parsed[name.strip()] = float(weight)
            except ValueError:
                raise ConfigError(f"{where}.{name.strip()}: not a number: {weight!r}") from None
        v = parsed
    pairs = []
    for name, weight in table(v, where).items():
        key = name.upper()
        if key not in known:
            raise ConfigError(f"{where}: unknown outcome {name!r} (one of {', '.join(known)})")
        pairs.append((key, _non_negative(weight, f"{where}.{name}")))
    if not pairs or sum(w for _, w in pairs) <= 0:
        raise ConfigError(f"{where}: needs at least one outcome with a positive weight")
    return tuple(pairs)


_SIMPLE: Final[dict[str, Callable[[Any, str], Any]]] = {
    "tps": _or_none(positive),
    "bind_tps": _or_none(positive),
    "queue_size": _or_none(lambda v, w: integer(v, w, 1)),
    "resp_latency": _dist,
    "message_id": lambda v, w: choice(v, w, _ID_FORMATS),
    "message_id_width": lambda v, w: integer(v, w, 1, 64),
    "receipt_id_base": lambda v, w: choice(v, w, ("same", "decimal", "hex")),
    "receipt_text": boolean,
    "receipt_tlvs": boolean,
    "receipt_date_digits": _date_digits,
    "receipt_upper_case": boolean,
    "outcomes": lambda v, w: _weights(v, w, FINAL_STATES),
    "dlr_delay": _dist,
    "intermediate": lambda v, w: tuple(each(v, w, lambda x, wx: choice(x, wx, tuple(_INTERIM)))),
    "intermediate_delay": _dist,
    "dlr_before_resp": _probability,
    "duplicate_receipts": _probability,
    "per_part_receipts": boolean,
    "honour_validity": boolean,
    "deliver_retry": lambda v, w: tuple(each(v, w, positive)),
    "mo_concat": lambda v, w: choice(v, w, ("udh8", "udh16", "sar")),
    "strict": boolean,
    "drop_after_pdus": _or_none(lambda v, w: integer(v, w, 1)),
    "drop_probability": _probability,
    "black_hole": boolean,
    "response_delay": _dist,
    "nack_probability": _probability,
    "error_probability": _probability,
    "error_status": _status,
    "unbind_after": _or_none(positive),
    "refuse_binds": boolean,
    "refuse_binds_for": _or_none(positive),
    "read_delay": _non_negative,
    "malformed_probability": _probability,
    "personas": _or_none(personas_from_dict),
}
_BEHAVIOUR_KEYS: Final = {*_SIMPLE, "force", "handset", "handsets"}
_FORCE_KEYS: Final = {"destination_prefix", "destination_suffix", "destination", "outcome", "submit_status"}


def _force(v: Any, where: str) -> ForceRule:
    t = table(v, where)
    unknown_keys(t, _FORCE_KEYS, where)
    if ("outcome" in t) == ("submit_status" in t):
        raise ConfigError(f"{where}: give exactly one of outcome or submit_status")
    if not {"destination_prefix", "destination_suffix", "destination"} & t.keys():
        raise ConfigError(f"{where}: needs destination, destination_prefix or destination_suffix")
    outcome = None
    if "outcome" in t:
        outcome = string(t["outcome"], f"{where}.outcome").upper()
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
    return string(t[key], f"{where}.{key}") if key in t else None


def _handset(v: Any, where: str) -> HandsetRule:
    t = table(v, where)
    unknown_keys(t, {"match", "reply", "replies", "weights", "probability", "delay"}, where)
    if ("reply" in t) == ("replies" in t):
        raise ConfigError(f"{where}: give exactly one of reply or replies")
    if "reply" in t:
        texts = [string(t["reply"], f"{where}.reply")]
    else:
        texts = each(t["replies"], f"{where}.replies", string)
    if not texts or any(not x for x in texts):
        raise ConfigError(f"{where}: replies must be non-empty texts")
    weights = [1.0] * len(texts)
    if "weights" in t:
        weights = each(t["weights"], f"{where}.weights", _non_negative)
        if len(weights) != len(texts):
            raise ConfigError(f"{where}.weights: {len(weights)} weights for {len(texts)} replies")
        if sum(weights) <= 0:
            raise ConfigError(f"{where}.weights: need a positive weight")
    return HandsetRule(
        match=string(t.get("match", ""), f"{where}.match"),
        replies=tuple(zip(texts, weights, strict=True)),
        probability=_probability(t.get("probability", 1.0), f"{where}.probability"),
        delay=_dist(t.get("delay", 1.0), f"{where}.delay"),
    )


def build_behaviour(raw: Mapping[str, Any], where: str = "behaviour") -> Behaviour:
    """Validate a raw behaviour dict (already merged) into a ``Behaviour``.

    Raises:
        ConfigError: an unknown key or a bad value, named.
    """
    unknown_keys(raw, _BEHAVIOUR_KEYS, where)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        w = f"{where}.{key}"
        if key in _SIMPLE:
            values[key] = _SIMPLE[key](value, w)
        elif key == "force":
            values[key] = tuple(each(value, w, _force))
        else:  # "handset" or "handsets"
            values["handsets"] = tuple(each(value, w, _handset))
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
    text = resources.files("simulator.profiles").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {name}: {exc}") from None
    data.pop("description", None)
    build_behaviour(data, f"profile {name}")  # fail early on a broken shipped profile
    return data
