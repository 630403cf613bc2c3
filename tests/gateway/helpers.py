"""Helpers for gateway tests: a real simulator and a real gateway, over memory streams in
virtual time (most tests) or over loopback TCP in real time (the end-to-end ones).

Over memory, the gateway's bind pools get ``MemoryNet.connect`` (the ``connect`` seam of
``Gateway``/``BindPool``) and each connection is a ``trio.testing.memory_stream_pair``
whose other end the simulator's own per-connection handler serves. With pytest-trio's
``autojump_clock`` every timer (enquire_link, retries, failover, receipt hold, TPS) runs
in virtual time::

    async def test_x(autojump_clock: MockClock) -> None:
        async with memory_simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination="447700900001", text="Hi")
            await gw.wait_final(record.id, 5)

``simulator()`` is the same simulator on a free loopback port (real sockets, real time,
so rates are small and every wait is bounded); ``gateway()`` then connects over TCP.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Final

import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from simulator import run_simulator, session_config
from simulator.config import config_from_dict as sim_config
from simulator.smsc import Simulator
from smppgw.core.constants import CommandStatus
from smppgw.core.errors import ConnectionLost
from smppgw.core.events import Event, RequestReceived
from smppgw.core.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    Request,
    Response,
)
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.net.connection import SmppConnection
from smppgw.net.server import Handler, handle_stream
from smppgw.store.base import MessageRecord
from smppgw.store.memory import MemoryStore

__all__ = [
    "ACCOUNT",
    "HOST",
    "MEMORY_HOST",
    "PASSWORD",
    "MemoryNet",
    "answer_binds",
    "dest",
    "gateway",
    "memory_net",
    "memory_simulator",
    "metric",
    "sim_parts",
    "simulator",
    "smsc",
    "store_of",
    "wait_all",
    "wait_until",
]

HOST: Final = "127.0.0.1"
#: The host name of SMSCs on the ``MemoryNet`` (ports are the net's own numbers).
MEMORY_HOST: Final = "smsc.memory"
ACCOUNT: Final = "smppclient1"
PASSWORD: Final = "password"


def dest(i: int) -> str:
    """A distinct E.164 destination per message, so simulator records map back."""
    return f"4477009{i:05d}"


Serve = Callable[[trio.abc.Stream], Awaitable[None]]


class MemoryNet:
    """In-process SMSCs by port, reached over ``trio.testing.memory_stream_pair``.

    ``connect`` is a ``net.esme.Connect``: for ``MEMORY_HOST`` and a listening port it
    returns one end of a fresh pair and starts the SMSC's ``serve`` on the other end (in
    the SMSC's nursery, so stopping the SMSC closes its connections as a dying process
    would); any other address is refused, as a closed port is.
    """

    def __init__(self) -> None:
        self._listening: dict[int, tuple[Serve, trio.Nursery]] = {}
        self._ports = itertools.count(20_000)

    def listen(self, serve: Serve, nursery: trio.Nursery) -> int:
        """Accept connections on a new port, each served by ``serve`` in ``nursery``."""
        port = next(self._ports)
        self._listening[port] = (serve, nursery)
        return port

    def stop(self, port: int) -> None:
        """Refuse new connections to ``port`` and cancel its nursery (its open ones)."""
        entry = self._listening.pop(port, None)
        if entry is not None:
            entry[1].cancel_scope.cancel()

    async def connect(
        self, host: str, port: int, *, timeout: float, ssl_context: ssl.SSLContext | None
    ) -> trio.abc.Stream:
        await trio.lowlevel.checkpoint()
        entry = self._listening.get(port) if host == MEMORY_HOST else None
        if entry is None:
            raise ConnectionLost(f"connection refused: {host}:{port}")
        serve, nursery = entry
        ours, theirs = trio.testing.memory_stream_pair()
        nursery.start_soon(serve, theirs)
        return ours


_NET: trio.lowlevel.RunVar[MemoryNet] = trio.lowlevel.RunVar("tests.gateway.memory_net")


def memory_net() -> MemoryNet:
    """This test's ``MemoryNet`` (one per trio run, so tests never share one)."""
    try:
        return _NET.get()
    except LookupError:
        net = MemoryNet()
        _NET.set(net)
        return net


def answer_binds(status: int = CommandStatus.ESME_ROK) -> Handler:
    """A minimal SMSC handler that answers every bind with ``status`` and nothing else."""
    responses: dict[type[Request], type[Response]] = {
        BindTransmitter: BindTransmitterResp,
        BindReceiver: BindReceiverResp,
        BindTransceiver: BindTransceiverResp,
    }

    async def handle(conn: SmppConnection) -> None:
        def on_event(event: Event) -> None:
            if isinstance(event, RequestReceived) and type(event.pdu) in responses:
                conn.send_response(event.sequence_number, responses[type(event.pdu)](), status)

        conn.on_event = on_event
        await conn.wait_closed()

    return handle


@contextlib.asynccontextmanager
async def memory_simulator(**config: Any) -> AsyncIterator[Simulator]:
    """A simulator on the test's ``MemoryNet`` (seed 1); keys as in its TOML config; the
    ``fast`` profile (receipts at once) unless ``config`` names another.
    ``memory_net().stop(sim.port)`` stops it early, as killing its process would."""
    cfg = sim_config({"host": MEMORY_HOST, "port": 0, "seed": 1, "profile": "fast", **config})
    sim = Simulator(cfg)
    net = memory_net()
    serve = functools.partial(handle_stream, handler=sim.handle, config=session_config(cfg))

    async def run(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sim.scheduler.run)
            task_status.started(net.listen(serve, nursery))

    async with trio.open_nursery() as outer:
        sim.port = await outer.start(run)
        try:
            yield sim
        finally:
            net.stop(sim.port)


@contextlib.asynccontextmanager
async def simulator(**config: Any) -> AsyncIterator[Simulator]:
    """A simulator on a free loopback port (seed 1, the ``fast`` profile unless ``config``
    names another); keys as in its TOML config."""
    data = {"host": HOST, "port": 0, "seed": 1, "profile": "fast", **config}
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
        "host": sim.config.host,
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
    With ``up``, waits until every SMSC has a bind up. Closed (unbound) on exit. SMSCs on
    ``MEMORY_HOST`` are reached through the test's ``MemoryNet``, others over TCP."""
    tables: dict[str, Any] = {
        k: kwargs.pop(k)
        for k in ("route", "retry", "limits", "receipts", "inbound", "gateway", "schedule")
        if k in kwargs
    }
    if any(table["host"] == MEMORY_HOST for table in smscs):
        kwargs.setdefault("connect", memory_net().connect)
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
