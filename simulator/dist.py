"""Delay distributions for the simulator, sampled with an injected ``random.Random``.

In TOML a distribution is a number of seconds (constant) or a table::

    dlr_delay = 0.5                                   # constant
    dlr_delay = { kind = "uniform", low = 0.1, high = 2.0 }
    dlr_delay = { kind = "lognormal", p50 = 0.05, p99 = 0.8 }
    dlr_delay = { kind = "exponential", mean = 1.5 }
    dlr_delay = { kind = "lognormal", p50 = 1.5, p99 = 10.0, min = 0.2, max = 20.0 }

``min`` and ``max`` (any kind but a constant) clamp a sample: a lognormal's tails are
unbounded, and a receipt that takes hours, or arrives within microseconds of the submit,
is not what a carrier-like default should produce now and then.
"""

from __future__ import annotations

import math
import random
from typing import Any

import attrs

__all__ = ["Dist", "parse_dist"]

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


@attrs.frozen
class Dist:
    kind: str = "const"
    a: float = 0.0  # const: value; uniform: low; lognormal: p50; exponential: mean
    b: float = 0.0  # uniform: high; lognormal: p99
    floor: float = 0.0  # ``min``: every sample is clamped to [floor, cap]
    cap: float = math.inf  # ``max``

    def sample(self, rng: random.Random) -> float:
        if self.kind == "const":
            return self.a
        if self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "exponential":
            value = rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        else:  # lognormal from its median and 99th percentile
            mu = math.log(self.a)
            sigma = (math.log(self.b) - mu) / _Z99
            value = rng.lognormvariate(mu, sigma)
        return min(max(value, self.floor), self.cap)

    @property
    def is_zero(self) -> bool:
        return self.kind == "const" and self.a == 0.0

    def describe(self) -> Any:
        if self.kind == "const":
            return self.a
        names = {"uniform": ("low", "high"), "lognormal": ("p50", "p99"), "exponential": ("mean", None)}[
            self.kind
        ]
        out: dict[str, Any] = {"kind": self.kind, names[0]: self.a}
        if names[1]:
            out[names[1]] = self.b
        if self.floor > 0:
            out["min"] = self.floor
        if self.cap != math.inf:
            out["max"] = self.cap
        return out


def parse_dist(value: Any, where: str) -> Dist:
    """Raises ValueError naming ``where`` for anything that is not a valid distribution."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected seconds or a distribution table, got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{where}: must be a finite number >= 0, got {value!r}")
        return Dist("const", float(value))
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected seconds or a distribution table, got {value!r}")
    kind = value.get("kind")
    keys = {
        "const": ("value",),
        "uniform": ("low", "high"),
        "lognormal": ("p50", "p99"),
        "exponential": ("mean",),
    }
    if kind not in keys:
        raise ValueError(f"{where}.kind: one of {', '.join(keys)}, got {kind!r}")
    clamps = ("min", "max") if kind != "const" else ()
    unknown = set(value) - {"kind", *keys[kind], *clamps}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for kind {kind!r}")
    nums = []
    for key in keys[kind]:
        if key not in value:
            raise ValueError(f"{where}.{key}: missing")
        nums.append(_seconds(value[key], f"{where}.{key}"))
    floor = _seconds(value["min"], f"{where}.min") if "min" in value else 0.0
    cap = _seconds(value["max"], f"{where}.max") if "max" in value else math.inf
    if floor > cap:
        raise ValueError(f"{where}: min {floor} > max {cap}")
    if kind == "uniform" and nums[0] > nums[1]:
        raise ValueError(f"{where}: low {nums[0]} > high {nums[1]}")
    if kind == "lognormal" and not 0 < nums[0] <= nums[1]:
        raise ValueError(f"{where}: need 0 < p50 <= p99, got p50={nums[0]} p99={nums[1]}")
    return Dist(kind, nums[0], nums[1] if len(nums) > 1 else 0.0, floor, cap)


def _seconds(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or not math.isfinite(v):
        raise ValueError(f"{where}: must be a finite number >= 0, got {v!r}")
    return float(v)
