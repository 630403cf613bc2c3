"""Load-test scenarios as TOML files: target, phases, mix, thresholds.

    [target]
    kind = "smsc"                 # "sim" | "smsc" | "http"
    address = "10.0.0.5:2775"     # smsc: HOST:PORT; http: URL; sim: none
    system_id = "acme"
    password = "secret"
    binds = 4
    window = 128
    # bind = "trx" | "tx"; system_type; api_key (http); profile and [target.sim_options] (sim)

    [run]                         # all optional
    count = 100000                # stop after this many submit_sm
    wait_dlr = 10                 # ask for receipts, wait up to 10 s after the load
    timeout = 10                  # submit_sm_resp timeout
    seed = 1
    destinations = "447700900000-447700999999"
    source = "ACME"
    max_seconds = 3600
    # closed = true and duration = 60 for a closed loop instead of phases

    [[phase]]                     # open loop: one or more
    rate = 500                    # or ramp = [100, 2000] (a ramp must be the only phase)
    duration = 60
    poisson = false

    [mix]
    gsm = 0.8
    ucs2 = 0.1
    long = 0.1                    # also long_ucs2

    [thresholds]                  # each becomes a check (see loadtest.checks)
    p99 = "< 200ms"
    error_rate = "< 0.1%"
    checks = ["receipt_ratio >= 99%"]

Every key is checked (with ``smppgw.support.config``, as the gateway's and the simulator's
configs are): an unknown key or a bad value raises ``ConfigError`` naming the file and the
key (``scenario x.toml: phase[1].rate: expected a number``); the command line reports it
in one line with exit status 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from loadtest.checks import parse_check
from loadtest.params import KINDS, Phase, UsageError, parse_destinations, parse_mix
from smppgw.support.config import (
    ConfigError,
    boolean,
    choice,
    integer,
    number,
    read_toml,
    string,
    table,
    unknown_keys,
)

__all__ = ["load_scenario", "scenario_from_dict"]

_SECTIONS: Final = {"target", "run", "phase", "mix", "thresholds"}
_TARGET_KEYS: Final = {
    "kind",
    "address",
    "system_id",
    "password",
    "system_type",
    "bind",
    "api_key",
    "binds",
    "window",
    "profile",
    "sim_options",
}
_RUN_KEYS: Final = {
    "count",
    "wait_dlr",
    "timeout",
    "seed",
    "destinations",
    "source",
    "max_seconds",
    "closed",
    "duration",
}
_PHASE_KEYS: Final = {"rate", "ramp", "duration", "poisson"}


def load_scenario(path: str | Path) -> dict[str, Any]:
    """Read a scenario file into ``RunParams`` keyword arguments.

    Raises:
        ConfigError: ``scenario <path>: ...`` for a missing or non-UTF-8 file, bad TOML, an
            unknown key or a bad value (named).
    """
    data = read_toml(path, "scenario")
    try:
        return scenario_from_dict(data)
    except (ConfigError, UsageError) as exc:
        raise ConfigError(f"scenario {path}: {exc}") from None


def _count(v: Any, where: str) -> int:
    return integer(v, where)


def _seconds(v: Any, where: str) -> float:
    return number(v, where)


_TARGET_CONV: Final[dict[str, tuple[str, Callable[[Any, str], Any]]]] = {
    "system_id": ("system_id", string),
    "password": ("password", string),
    "system_type": ("system_type", string),
    "bind": ("bind_mode", string),
    "api_key": ("api_key", string),
    "binds": ("binds", _count),
    "window": ("window", _count),
    "profile": ("profile", string),
    "sim_options": ("sim_options", table),
}
_RUN_CONV: Final[dict[str, Callable[[Any, str], Any]]] = {
    "count": _count,
    "wait_dlr": _seconds,
    "timeout": _seconds,
    "seed": _count,
    "destinations": lambda v, w: parse_destinations(string(v, w), w),
    "source": string,
    "max_seconds": _seconds,
    "closed": boolean,
    "duration": _seconds,
}


def scenario_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Parsed TOML -> ``RunParams`` keyword arguments (see the module docstring)."""
    unknown_keys(data, _SECTIONS, "")
    out: dict[str, Any] = {}
    target = table(data.get("target", {}), "target")
    unknown_keys(target, _TARGET_KEYS, "target")
    if "kind" in target:
        kind = choice(target["kind"], "target.kind", KINDS)
        out["target"] = kind
        if kind != "sim":
            if "address" not in target:
                raise ConfigError(f"target.address: required for kind {kind!r}")
            out["address"] = string(target["address"], "target.address")
    elif target:
        raise ConfigError("target.kind: missing (sim, smsc or http)")
    for key, (field, conv) in _TARGET_CONV.items():
        if key in target:
            out[field] = conv(target[key], f"target.{key}")
    run = table(data.get("run", {}), "run")
    unknown_keys(run, _RUN_KEYS, "run")
    for key, conv in _RUN_CONV.items():
        if key in run:
            out[key] = conv(run[key], f"run.{key}")
    if "phase" in data:
        out["phases"] = _phases(data["phase"])
    if "mix" in data:
        out["mix"] = parse_mix(table(data["mix"], "mix"), "mix")
    if "thresholds" in data:
        out["checks"] = _thresholds(table(data["thresholds"], "thresholds"))
    return out


def _phases(v: Any) -> tuple[Phase, ...]:
    if not isinstance(v, list) or not v:
        raise ConfigError("phase: expected one or more [[phase]] tables")
    phases = []
    for i, raw in enumerate(v):
        where = f"phase[{i}]"
        t = table(raw, where)
        unknown_keys(t, _PHASE_KEYS, where)
        ramp = None
        if "ramp" in t:
            r = t["ramp"]
            if not isinstance(r, list) or len(r) != 2:
                raise ConfigError(f"{where}.ramp: expected [FROM, TO], got {r!r}")
            ramp = (_seconds(r[0], f"{where}.ramp[0]"), _seconds(r[1], f"{where}.ramp[1]"))
        phases.append(
            Phase(
                rate=_seconds(t["rate"], f"{where}.rate") if "rate" in t else None,
                ramp=ramp,
                duration=_seconds(t["duration"], f"{where}.duration") if "duration" in t else None,
                poisson=boolean(t.get("poisson", False), f"{where}.poisson"),
            )
        )
    return tuple(phases)


def _thresholds(t: dict[str, Any]) -> tuple[str, ...]:
    checks: list[str] = []
    for key, value in t.items():
        where = f"thresholds.{key}"
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = string(item, where)
            checks.append(text if key == "checks" else f"{key} {text}")
            parse_check(checks[-1], where)
    return tuple(checks)
