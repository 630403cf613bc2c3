"""What one load run is: target, workload phases, message mix, limits (validated once).

``RunParams`` is the single value the CLI and the scenario loader build and the runner
consumes. Everything is checked here, where untrusted input enters; a bad value raises
``UsageError`` naming the option or key, which the CLI prints on one line (exit 2).

Rates are submit_sm PDUs per second: a long (concatenated) message takes one slot of the
schedule per part, so an SMSC's TPS limit (which counts segments) and ``--rate`` speak
the same unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from smppgw.support.cli import UsageError  # bad usage; the message names the option or key
from smppgw.support.config import ConfigError, host_port

__all__ = [
    "KINDS",
    "MIX_KINDS",
    "DestRange",
    "Phase",
    "SIM_PROFILE",
    "RunParams",
    "UsageError",
    "parse_destinations",
    "parse_hostport",
    "parse_mix",
    "parse_ramp",
    "parse_steps",
]

KINDS: Final = ("sim", "smsc", "http")
MIX_KINDS: Final = ("gsm", "ucs2", "long", "long_ucs2")
DEFAULT_DESTINATIONS: Final = "447700900000-447700999999"
SIM_PROFILE: Final = "fast"  # --sim without --profile: receipts at once (the profile's file says why)
MAX_RATE: Final = 10_000_000.0


@attrs.frozen(kw_only=True)
class Phase:
    """One open-loop phase: a constant ``rate`` or a linear ``ramp``; ``duration`` None
    means "until --count" (only for a last constant phase)."""

    rate: float | None = None
    ramp: tuple[float, float] | None = None
    duration: float | None = None
    poisson: bool = False

    @property
    def start_rate(self) -> float:
        return self.ramp[0] if self.ramp is not None else float(self.rate or 0.0)


@attrs.frozen(kw_only=True)
class DestRange:
    """Destination numbers ``first..last`` (inclusive, same number of digits)."""

    first: int
    last: int
    width: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def number(self, index: int) -> str:
        return str(self.first + index % self.size).zfill(self.width)

    def describe(self) -> str:
        a, b = str(self.first).zfill(self.width), str(self.last).zfill(self.width)
        return a if a == b else f"{a}-{b}"


@attrs.frozen(kw_only=True)
class RunParams:
    """Everything needed to run (and to rerun) one load test."""

    target: str  # "sim" | "smsc" | "http"
    address: str | None = None  # HOST:PORT (smsc) or URL (http); None for sim
    system_id: str = "smppclient1"
    password: str = attrs.field(default="password", repr=False)
    system_type: str = ""
    bind_mode: str = "trx"
    api_key: str | None = attrs.field(default=None, repr=False)
    callback_listen: str = "127.0.0.1:0"  # --http --wait-dlr: where the gateway's webhooks arrive
    profile: str | None = None
    sim_options: Mapping[str, Any] = attrs.field(factory=dict)
    closed: bool = False
    phases: tuple[Phase, ...] = ()
    duration: float | None = None  # closed loop only; open loop takes it from the phases
    count: int | None = None
    binds: int = 1
    window: int = 64
    mix: tuple[tuple[str, float], ...] = (("gsm", 1.0),)
    destinations: DestRange = attrs.field(factory=lambda: parse_destinations(DEFAULT_DESTINATIONS))
    source: str = "LOADTEST"
    wait_dlr: float = 0.0
    timeout: float = 10.0  # submit_sm_resp timeout
    seed: int | None = None
    max_seconds: float = 3600.0  # hard bound on the load phase whatever else is set
    scenario: str | None = None
    checks: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        _validate(self)

    # -- derived, for the JSON params block --------------------------------------------------

    @property
    def workload(self) -> str:
        if self.closed:
            return "closed"
        if all(p.poisson for p in self.phases):
            return "poisson"
        if len(self.phases) == 1:
            return "ramp" if self.phases[0].ramp is not None else "constant"
        return "steps"

    @property
    def load_seconds(self) -> float | None:
        """Planned length of the load phase, None when only --count ends it."""
        if self.closed:
            return self.duration
        if any(p.duration is None for p in self.phases):
            return None
        return sum(p.duration or 0.0 for p in self.phases)

    def json_params(self) -> dict[str, Any]:
        one = self.phases[0] if len(self.phases) == 1 else None
        rate = one.rate if one is not None and one.ramp is None else None
        steps = (
            [[_num(p.rate or 0.0), _num(p.duration or 0.0)] for p in self.phases]
            if len(self.phases) > 1
            else None
        )
        return {
            "target": self.target,
            "address": self.address,
            "profile": (self.profile or SIM_PROFILE) if self.target == "sim" else self.profile,
            "system_id": self.system_id,
            "workload": self.workload,
            "rate": _num(rate) if rate is not None else None,
            "ramp": [_num(one.ramp[0]), _num(one.ramp[1])] if one is not None and one.ramp else None,
            "steps": steps,
            "duration_s": _num(self.load_seconds) if self.load_seconds is not None else None,
            "count": self.count,
            "binds": self.binds,
            "window": self.window,
            "mix": {kind: weight for kind, weight in self.mix},
            "destinations": self.destinations.describe(),
            "wait_dlr_s": _num(self.wait_dlr),
            "scenario": self.scenario,
        }


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


# -- validation --------------------------------------------------------------------------------


def _validate(p: RunParams) -> None:
    if p.target not in KINDS:
        raise UsageError(f"target: one of {', '.join(KINDS)}, got {p.target!r}")
    if p.target == "smsc":
        if not p.address:
            raise UsageError("--smsc: HOST:PORT is required")
        parse_hostport(p.address)
    if p.target == "http":
        if not p.address or not p.address.startswith(("http://", "https://")):
            raise UsageError(f"--http: expected an http:// or https:// URL, got {p.address!r}")
        if not p.api_key:
            raise UsageError("--api-key: required with --http")
        parse_hostport(p.callback_listen, "--callback-listen", allow_zero=True)
    if p.bind_mode not in ("trx", "tx"):
        raise UsageError(f"--bind: trx or tx, got {p.bind_mode!r}")
    if p.bind_mode == "tx" and p.wait_dlr > 0:
        raise UsageError("--wait-dlr needs --bind trx: a transmitter bind receives no receipts")
    # SMPP 3.4 §4.1.1: system_id C(16), password C(9), system_type C(13).
    if not 1 <= len(p.system_id) <= 15:
        raise UsageError("--system-id: 1..15 characters")
    if len(p.password) > 8:
        raise UsageError("--password: at most 8 characters (SMPP 3.4 §4.1.1)")
    if len(p.system_type) > 12:
        raise UsageError("--system-type: at most 12 characters")
    if not 1 <= p.binds <= 256:
        raise UsageError(f"--binds: 1..256, got {p.binds}")
    if not 1 <= p.window <= 65536:
        raise UsageError(f"--window: 1..65536, got {p.window}")
    if p.count is not None and p.count < 1:
        raise UsageError(f"--count: must be >= 1, got {p.count}")
    for name, value in (("--wait-dlr", p.wait_dlr), ("--timeout", p.timeout), ("max_seconds", p.max_seconds)):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{name}: must be a finite number >= 0, got {value}")
    if p.timeout <= 0:
        raise UsageError("--timeout: must be > 0")
    if not p.source or len(p.source) > 20:
        raise UsageError("--source: 1..20 characters")
    _validate_workload(p)
    if not p.mix:
        raise UsageError("--mix: needs at least one entry")


def _validate_workload(p: RunParams) -> None:
    if p.closed:
        if p.phases:
            raise UsageError("--closed: give no --rate, --ramp or --steps with a closed loop")
        if p.duration is None and p.count is None:
            raise UsageError("--closed: needs --duration or --count")
        if p.duration is not None and not 0 < p.duration <= 86400:
            raise UsageError(f"--duration: must be in (0, 86400], got {p.duration}")
        return
    if p.duration is not None:
        raise UsageError("duration: an open-loop run takes its duration from its phases")
    if not p.phases:
        raise UsageError("no workload: give --rate, --ramp, --steps or --closed")
    for i, ph in enumerate(p.phases):
        where = f"phase[{i}]" if len(p.phases) > 1 else "workload"
        if (ph.rate is None) == (ph.ramp is None):
            raise UsageError(f"{where}: give exactly one of rate or ramp")
        rates = ph.ramp if ph.ramp is not None else (ph.rate or 0.0,)
        for r in rates:
            if not math.isfinite(r) or not 0 <= r <= MAX_RATE:
                raise UsageError(f"{where}: a rate must be within 0..{MAX_RATE:.0f}/s, got {r}")
        if ph.duration is None:
            if ph.ramp is not None or i != len(p.phases) - 1 or p.count is None:
                raise UsageError(
                    f"{where}: needs a duration (only a last constant phase with --count may omit it)"
                )
        elif not 0 < ph.duration <= 86400:
            raise UsageError(f"{where}: duration must be in (0, 86400] seconds, got {ph.duration}")
    if len(p.phases) > 1 and any(ph.ramp is not None for ph in p.phases):
        raise UsageError("phases: a ramp must be the only phase (use constant steps for several phases)")
    if len({ph.poisson for ph in p.phases}) > 1:
        raise UsageError("phases: poisson must be the same for every phase")
    if all(ph.start_rate == 0 and (ph.ramp is None or ph.ramp[1] == 0) for ph in p.phases):
        raise UsageError("workload: every phase has rate 0")


# -- parsers for option strings ----------------------------------------------------------------


def parse_hostport(value: str, option: str = "--smsc", *, allow_zero: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port), the host without brackets."""
    try:
        host, port = host_port(value, option, allow_zero=allow_zero)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if not host.strip("[]"):
        raise UsageError(f"{option}: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), port


def parse_mix(value: str | Mapping[str, Any], where: str = "--mix") -> tuple[tuple[str, float], ...]:
    """``gsm:0.8,ucs2:0.1,long:0.1`` (or a TOML table) -> normalised weights."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, str):
        for item in filter(None, (s.strip() for s in value.split(","))):
            kind, sep, weight = item.partition(":")
            if not sep:
                kind, weight = item, "1"
            pairs.append((kind.strip(), weight.strip()))
    else:
        pairs = list(value.items())
    out: dict[str, float] = {}
    for kind, weight in pairs:
        if kind not in MIX_KINDS:
            raise UsageError(f"{where}: unknown kind {kind!r} (one of {', '.join(MIX_KINDS)})")
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise UsageError(f"{where}.{kind}: not a number: {weight!r}") from None
        if isinstance(weight, bool) or not math.isfinite(w) or w < 0:
            raise UsageError(f"{where}.{kind}: weight must be a number >= 0, got {weight!r}")
        out[kind] = out.get(kind, 0.0) + w
    total = sum(out.values())
    if total <= 0:
        raise UsageError(f"{where}: needs at least one kind with a positive weight")
    return tuple((k, round(w / total, 6)) for k, w in out.items() if w > 0)


def parse_destinations(value: str, where: str = "--destinations") -> DestRange:
    """``447700900000-447700999999`` or a single number."""
    first, sep, last = value.strip().partition("-")
    last = last if sep else first
    if not (first.isdigit() and last.isdigit()) or len(first) != len(last) or len(first) > 20:
        raise UsageError(f"{where}: expected DIGITS or DIGITS-DIGITS of equal length (<= 20), got {value!r}")
    a, b = int(first), int(last)
    if a > b:
        raise UsageError(f"{where}: {first} is above {last}")
    return DestRange(first=a, last=b, width=len(first))


def parse_ramp(value: str) -> tuple[float, float]:
    """``FROM:TO`` in submit_sm/s."""
    a, sep, b = value.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(a), float(b)
    except ValueError:
        raise UsageError(f"--ramp: expected FROM:TO, got {value!r}") from None


def parse_steps(value: str) -> tuple[tuple[float, float], ...]:
    """``RATE:SECONDS,RATE:SECONDS,...``."""
    out = []
    for item in filter(None, (s.strip() for s in value.split(","))):
        rate, sep, seconds = item.partition(":")
        try:
            if not sep:
                raise ValueError
            out.append((float(rate), float(seconds)))
        except ValueError:
            raise UsageError(f"--steps: expected RATE:SECONDS[,RATE:SECONDS...], got {item!r}") from None
    if not out:
        raise UsageError("--steps: needs at least one RATE:SECONDS")
    return tuple(out)
