"""Intended send times of an open-loop workload (pure: no clock, no I/O).

Each phase has a cumulative count function Λ(τ) = r0·τ + (r1 - r0)·τ²/(2·D) (a constant
rate is r0 == r1). The k-th deterministic arrival of a phase is at Λ⁻¹(k); Poisson
arrivals are at Λ⁻¹(E1 + ... + Ek) with unit exponentials Ek, which makes a ramp a
non-homogeneous Poisson process for free. The runner sends each message at (or as soon
as it can after) its intended time and measures latency from that time, never from the
moment it actually went out: a stalled target shows up as latency, not as a lower rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from loadtest.params import Phase

__all__ = ["arrivals", "inverse_cumulative"]


def inverse_cumulative(u: float, r0: float, r1: float, duration: float | None) -> float:
    """The τ at which Λ(τ) == u within one phase (see the module docstring)."""
    a = (r1 - r0) / (2.0 * duration) if duration else 0.0
    if a == 0.0:
        return u / r0
    disc = r0 * r0 + 4.0 * a * u
    if disc < 0:  # a ramp down that never reaches u
        return math.inf
    root = math.sqrt(disc)
    if r0 + root == 0.0:
        return 0.0
    return 2.0 * u / (r0 + root)  # the stable form of (-r0 + root) / (2a)


def arrivals(phases: Sequence[Phase], rng: random.Random | None = None) -> Iterator[float]:
    """Yield intended send times in seconds from the start, in order; ends with the last
    phase (runs forever for a last phase without a duration: the caller bounds it)."""
    rng = rng if rng is not None else random.Random()
    start = 0.0
    for phase in phases:
        r0 = phase.start_rate
        r1 = phase.ramp[1] if phase.ramp is not None else r0
        duration = phase.duration
        end = start + duration if duration is not None else math.inf
        if r0 > 0 or r1 > 0:
            u = rng.expovariate(1.0) if phase.poisson else 0.0
            while True:
                t = start + inverse_cumulative(u, r0, r1, duration)
                if t >= end:
                    break
                yield t
                u += rng.expovariate(1.0) if phase.poisson else 1.0
        start = end
