"""Helpers for gateway tests: a real simulator and a real gateway over loopback TCP.

Real sockets need real time, so rates are small and every wait is bounded::

    async with simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim)) as gw:
        record = gw.submit(source="12345", destination="447700900001", text="Hi")
        await gw.wait_final(record.id, 5)
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Final

import trio
from prometheus_client.parser import text_string_to_metric_families

from simulator import run_simulator
from simulator.config import config_from_dict as sim_config
from simulator.smsc import Simulator
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.store.base import MessageRecord
from smppgw.store.memory import MemoryStore

__all__ = [
    "ACCOUNT",
    "HOST",
    "PASSWORD",
    "dest",
    "gateway",
    "metric",
    "sim_parts",
    "simulator",
    "smsc",
    "store_of",
    "wait_all",
    "wait_until",
]

HOST: Final = "127.0.0.1"
ACCOUNT: Final = "smppclient1"
PASSWORD: Final = "password"


def dest(i: int) -> str:
    """A distinct E.164 destination per message, so simulator records map back."""
    return f"4477009{i:05d}"


@contextlib.asynccontextmanager
async def simulator(**config: Any) -> AsyncIterator[Simulator]:
    """A simulator on a free loopback port (seed 1); keys as in its TOML config."""
    data = {"host": HOST, "port": 0, "seed": 1, **config}
    async with trio.open_nursery() as nursery:
        sim: Simulator = await nursery.start(run_simulator, sim_config(data))
        try:
            yield sim
        finally:
            nursery.cancel_scope.cancel()


def smsc(sim: Simulator, name: str = "a", **overrides: Any) -> dict[str, Any]:
    """An ``[[smsc]]`` table for ``sim`` (2 binds, window 32, no TPS limit)."""
    table: dict[str, Any] = {
        "name": name,
        "host": HOST,
        "port": sim.port,
        "system_id": ACCOUNT,
        "password": PASSWORD,
        "binds": 2,
        "window": 32,
        "enquire_link_interval": 30.0,
        "response_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    table.update(overrides)
    return table


@contextlib.asynccontextmanager
async def gateway(
    *smscs: dict[str, Any], seed: int = 1, up: bool = True, **kwargs: Any
) -> AsyncIterator[Gateway]:
    """A running gateway; ``kwargs`` are top-level config tables (``route``, ``retry``...)
    or ``Gateway`` keyword arguments (``inbound_handler``, ``failover_after``, ``store``).
    With ``up``, waits until every SMSC has a bind up. Closed (unbound) on exit."""
    tables = {k: kwargs.pop(k) for k in ("route", "retry", "limits", "receipts", "gateway") if k in kwargs}
    config = config_from_dict({"smsc": list(smscs), **tables})
    gw = Gateway(config, rng=random.Random(seed), **kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(gw.run)
        if up:
            ok = await wait_until(
                lambda: all(len(s.pool.senders) == s.config.binds for s in gw.smscs.values()), 5
            )
            assert ok, "the gateway never bound"
        try:
            yield gw
        finally:
            with trio.CancelScope(shield=True):
                await gw.aclose()
            nursery.cancel_scope.cancel()


async def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns its last value."""
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(interval)
        return True
    return predicate()


async def wait_all(gw: Gateway, records: Iterable[MessageRecord], timeout: float) -> list[MessageRecord]:
    """Wait until every record is final (all within one ``timeout``)."""
    records = list(records)
    with trio.fail_after(timeout):
        for record in records:
            await gw.wait_final(record.id, timeout)
    return records


def store_of(gw: Gateway) -> MemoryStore:
    assert isinstance(gw.store, MemoryStore)
    return gw.store


def sim_parts(sim: Simulator) -> dict[str, list[Any]]:
    """Simulator message records by destination, oldest first."""
    out: dict[str, list[Any]] = {}
    for m in reversed(sim.store.select(limit=1_000_000)):
        out.setdefault(m.destination_addr, []).append(m)
    return out


def metric(gw: Gateway, sample_name: str, /, **labels: str) -> float:
    """One sample of the gateway's /metrics text, found by sample name and labels."""
    text = gw.metrics.render().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise KeyError(f"{sample_name}{labels}")
