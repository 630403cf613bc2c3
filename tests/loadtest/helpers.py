"""Shared helpers for the load tester's tests: short runs against real peers over loopback.

Every run is bounded in count and time (``max_seconds``) and every wait by a timeout.
"""

from __future__ import annotations

from typing import Any

import trio

from loadtest.params import Phase, RunParams
from loadtest.runner import run_load
from loadtest.schema import validate
from simulator import run_simulator
from simulator.config import config_from_dict
from simulator.smsc import Simulator

__all__ = ["constant", "run_checked", "start_sim"]


def constant(rate: float, duration: float, **kw: Any) -> RunParams:
    """An open-loop constant-rate run against an in-process simulator (override any field)."""
    kw.setdefault("target", "sim")
    kw.setdefault("seed", 1)
    kw.setdefault("max_seconds", 30.0)
    return RunParams(phases=(Phase(rate=rate, duration=duration),), **kw)


async def run_checked(params: RunParams, *, timeout: float = 30.0, **kw: Any) -> dict[str, Any]:
    """Run; fail if it takes longer than ``timeout`` or the result breaks the schema."""
    with trio.fail_after(timeout):
        result = await run_load(params, **kw)
    problems = validate(result, strict=True)
    assert not problems, problems
    return result


async def start_sim(nursery: trio.Nursery, **config: Any) -> Simulator:
    """A simulator on an ephemeral loopback port; ``config`` keys as in its TOML."""
    data: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "seed": 1, "profile": "fast"}
    data.update(config)
    sim = await nursery.start(run_simulator, config_from_dict(data))
    assert isinstance(sim, Simulator)
    return sim
