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

Every key is checked: an unknown key or a bad value raises ``UsageError`` naming the file
and the key (``scenario x.toml: phase[1].rate: expected a number``); the command line
reports it in one line with exit status 2.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from loadtest.checks import parse_check
from loadtest.params import KINDS, Phase, UsageError, parse_destinations, parse_mix

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
        UsageError: missing file, bad TOML, unknown key or bad value (named).
    """
    where = f"scenario {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: {exc}") from None
    try:
        return scenario_from_dict(data)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise UsageError(f"{where}: expected a table, got {v!r}")
    return v


def _unknown(t: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(t) - known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise UsageError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _number(v: Any, where: str, *, integer: bool = False) -> Any:
    ok = isinstance(v, int) if integer else isinstance(v, int | float)
    if isinstance(v, bool) or not ok or (isinstance(v, float) and not math.isfinite(v)):
        raise UsageError(f"{where}: expected {'an integer' if integer else 'a number'}, got {v!r}")
    return v


def _string(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise UsageError(f"{where}: expected a string, got {v!r}")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise UsageError(f"{where}: expected true or false, got {v!r}")
    return v


_TARGET_CONV: Final[dict[str, tuple[str, Callable[[Any, str], Any]]]] = {
    "system_id": ("system_id", _string),
    "password": ("password", _string),
    "system_type": ("system_type", _string),
    "bind": ("bind_mode", _string),
    "api_key": ("api_key", _string),
    "binds": ("binds", lambda v, w: _number(v, w, integer=True)),
    "window": ("window", lambda v, w: _number(v, w, integer=True)),
    "profile": ("profile", _string),
    "sim_options": ("sim_options", _table),
}
_RUN_CONV: Final[dict[str, Callable[[Any, str], Any]]] = {
    "count": lambda v, w: _number(v, w, integer=True),
    "wait_dlr": lambda v, w: float(_number(v, w)),
    "timeout": lambda v, w: float(_number(v, w)),
    "seed": lambda v, w: _number(v, w, integer=True),
    "destinations": lambda v, w: parse_destinations(_string(v, w), w),
    "source": _string,
    "max_seconds": lambda v, w: float(_number(v, w)),
    "closed": _bool,
    "duration": lambda v, w: float(_number(v, w)),
}


def scenario_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Parsed TOML -> ``RunParams`` keyword arguments (see the module docstring)."""
    _unknown(data, _SECTIONS, "")
    out: dict[str, Any] = {}
    target = _table(data.get("target", {}), "target")
    _unknown(target, _TARGET_KEYS, "target")
    if "kind" in target:
        kind = _string(target["kind"], "target.kind")
        if kind not in KINDS:
            raise UsageError(f"target.kind: one of {', '.join(KINDS)}, got {kind!r}")
        out["target"] = kind
        if kind != "sim":
            if "address" not in target:
                raise UsageError(f"target.address: required for kind {kind!r}")
            out["address"] = _string(target["address"], "target.address")
    elif target:
        raise UsageError("target.kind: missing (sim, smsc or http)")
    for key, (field, conv) in _TARGET_CONV.items():
        if key in target:
            out[field] = conv(target[key], f"target.{key}")
    run = _table(data.get("run", {}), "run")
    _unknown(run, _RUN_KEYS, "run")
    for key, conv in _RUN_CONV.items():
        if key in run:
            out[key] = conv(run[key], f"run.{key}")
    if "phase" in data:
        out["phases"] = _phases(data["phase"])
    if "mix" in data:
        out["mix"] = parse_mix(_table(data["mix"], "mix"), "mix")
    if "thresholds" in data:
        out["checks"] = _thresholds(_table(data["thresholds"], "thresholds"))
    return out


def _phases(v: Any) -> tuple[Phase, ...]:
    if not isinstance(v, list) or not v:
        raise UsageError("phase: expected one or more [[phase]] tables")
    phases = []
    for i, raw in enumerate(v):
        where = f"phase[{i}]"
        t = _table(raw, where)
        _unknown(t, _PHASE_KEYS, where)
        ramp = None
        if "ramp" in t:
            r = t["ramp"]
            if not isinstance(r, list) or len(r) != 2:
                raise UsageError(f"{where}.ramp: expected [FROM, TO], got {r!r}")
            ramp = (float(_number(r[0], f"{where}.ramp[0]")), float(_number(r[1], f"{where}.ramp[1]")))
        phases.append(
            Phase(
                rate=float(_number(t["rate"], f"{where}.rate")) if "rate" in t else None,
                ramp=ramp,
                duration=float(_number(t["duration"], f"{where}.duration")) if "duration" in t else None,
                poisson=_bool(t.get("poisson", False), f"{where}.poisson"),
            )
        )
    return tuple(phases)


def _thresholds(t: dict[str, Any]) -> tuple[str, ...]:
    checks: list[str] = []
    for key, value in t.items():
        where = f"thresholds.{key}"
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = _string(item, where)
            checks.append(text if key == "checks" else f"{key} {text}")
            parse_check(checks[-1], where)
    return tuple(checks)
