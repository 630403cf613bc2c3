"""Helpers for simulator tests over loopback TCP: a running simulator, bound ESMEs, HTTP.

Real sockets need real time, so every delay in these tests is tens of milliseconds and
every wait is bounded (``trio.fail_after``)::

    async with running(behaviour={"dlr_delay": 0.05}) as sim, bound(sim) as esme:
        resp = await esme.ok(sms())
        [receipt] = await esme.wait_for(1)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Final

import attrs
import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from simulator import run_simulator
from simulator.config import config_from_dict
from simulator.smsc import Simulator
from smppgw.core.codec import Header, decode_pdu, encode_pdu
from smppgw.core.constants import CommandStatus, Npi, RegisteredDelivery, Ton
from smppgw.core.events import Event, RequestReceived, ResponseReceived
from smppgw.core.framing import FrameBuffer
from smppgw.core.pdu import DeliverSm, DeliverSmResp, Pdu, Request, Response, SubmitSm
from smppgw.core.receipt import Receipt, parse_receipt
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode
from smppgw.net.connection import Outcome, SmppConnection, outcome_result
from smppgw.net.esme import EsmeSettings, open_esme

__all__ = [
    "ACCOUNT",
    "DEST",
    "PASSWORD",
    "SOURCE",
    "Arrival",
    "Esme",
    "RawClient",
    "bound",
    "control",
    "metric",
    "receipt_of",
    "running",
    "sms",
    "status_of",
]

ACCOUNT: Final = "smppclient1"
PASSWORD: Final = "password"
SOURCE: Final = "447700900000"
DEST: Final = "447700900001"

Answer = Callable[[DeliverSm, int], int | None]


@contextlib.asynccontextmanager
async def running(**config: Any) -> AsyncIterator[Simulator]:
    """A simulator on a free loopback port (seed 1, the ``fast`` profile: receipts at once;
    a test that wants the default profile's carrier-like delay asks for it); keys as in
    the TOML config."""
    data = {"port": 0, "seed": 1, "profile": "fast", **config}
    async with trio.open_nursery() as nursery:
        sim: Simulator = await nursery.start(run_simulator, config_from_dict(data))
        try:
            yield sim
        finally:
            nursery.cancel_scope.cancel()


def _always_ok(_pdu: DeliverSm, _attempt: int) -> int | None:
    return CommandStatus.ESME_ROK


@attrs.frozen
class Arrival:
    pdu: DeliverSm
    at: float  # trio clock
    answered: int | None  # the status we answered with, None = left unanswered


@attrs.define(eq=False)
class Esme:
    """A bound ESME that answers deliver_sm by ``answer(pdu, n)`` (n = arrivals so far, 0-based)
    inline, in wire order, and logs every event it sees."""

    conn: SmppConnection
    answer: Answer = _always_ok
    arrivals: list[Arrival] = attrs.field(factory=list)
    # Wire order of deliver_sm ("deliver", pdu), our submits' responses ("resp", pdu) and
    # any other application event ("event", event).
    log: list[tuple[str, Any]] = attrs.field(factory=list)
    _changed: trio.Event = attrs.field(factory=trio.Event)

    def attach(self) -> None:
        # Anything routed before the handler was set (a delivery flushed on bind) is in incoming.
        while True:
            try:
                event = self.conn.incoming.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            self._on_event(event)
        self.conn.on_event = self._on_event

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm):
            status = self.answer(event.pdu, len(self.arrivals))
            self.arrivals.append(Arrival(event.pdu, trio.current_time(), status))
            self.log.append(("deliver", event.pdu))
            if status is not None:
                self.conn.send_response(event.sequence_number, DeliverSmResp(), status)
        else:
            self.log.append(("event", event))
        self._notify()

    @property
    def received(self) -> list[DeliverSm]:
        return [a.pdu for a in self.arrivals]

    @property
    def events(self) -> list[Event]:
        return [e for kind, e in self.log if kind == "event"]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        """Wait for ``predicate``; it is checked on every event and every 10 ms (for
        predicates on the simulator's state)."""
        with trio.fail_after(timeout):
            while not predicate():
                with trio.move_on_after(0.01):
                    await self._changed.wait()

    async def wait_for(self, count: int, timeout: float = 3.0) -> list[DeliverSm]:
        """The first ``count`` deliver_sm received (waits for them)."""
        await self.wait_until(lambda: len(self.arrivals) >= count, timeout)
        return self.received[:count]

    async def wait_closed(self, timeout: float = 3.0) -> None:
        with trio.fail_after(timeout):
            await self.conn.wait_closed()

    async def call(self, pdu: Request, timeout: float = 3.0) -> Outcome:
        """Send ``pdu``; return the raw outcome (response, expiry or abort), never raise."""
        done = trio.Event()
        box: list[Outcome] = []

        def finished(outcome: Outcome) -> None:
            if isinstance(outcome, ResponseReceived):
                self.log.append(("resp", outcome.response))
            box.append(outcome)
            done.set()

        with trio.fail_after(timeout):
            await self.conn.wait_for_room()
            self.conn.start_request(pdu, finished)
            await done.wait()
        return box[0]

    async def status(self, pdu: Request, timeout: float = 3.0) -> int:
        return status_of(await self.call(pdu, timeout))

    async def ok(self, pdu: Request, timeout: float = 3.0) -> Any:
        """The response to ``pdu``; fails the test on any error."""
        outcome = await self.call(pdu, timeout)
        response: Response = outcome_result(outcome)
        return response

    def send_all(self, pdus: Iterable[Request]) -> list[Outcome]:
        """Queue every PDU at once (one write); the list fills in as responses arrive."""
        outcomes: list[Outcome] = []

        def finished(outcome: Outcome) -> None:
            if isinstance(outcome, ResponseReceived):
                self.log.append(("resp", outcome.response))
            outcomes.append(outcome)
            self._notify()

        for pdu in pdus:
            self.conn.start_request(pdu, finished)
        return outcomes


def status_of(outcome: Outcome) -> int:
    assert isinstance(outcome, ResponseReceived), outcome
    return outcome.status


@contextlib.asynccontextmanager
async def bound(
    sim: Simulator,
    mode: BindMode = BindMode.TRX,
    *,
    system_id: str = ACCOUNT,
    password: str = PASSWORD,
    answer: Answer = _always_ok,
    interface_version: int = 0x34,
    timeout: float = 2.0,
    **session: Any,
) -> AsyncIterator[Esme]:
    """An ESME bound to ``sim``; ``session`` overrides ``SessionConfig`` (no keep-alive by
    default); ``timeout`` bounds the connect and the bind (more under a fast MockClock)."""
    settings = EsmeSettings(
        system_id=system_id,
        password=password,
        mode=mode,
        interface_version=interface_version,
        session=SessionConfig(**{"enquire_link_interval": None, "window": 50, **session}),
        connect_timeout=timeout,
        bind_timeout=timeout,
        unbind_timeout=1.0,
    )
    async with open_esme(
        "127.0.0.1", sim.port, system_id=system_id, password=password, settings=settings
    ) as conn:
        esme = Esme(conn, answer)
        esme.attach()
        yield esme


def sms(
    destination_addr: str = DEST,
    text: bytes = b"hello world",
    *,
    registered_delivery: int = RegisteredDelivery.RECEIPT_ALWAYS,
    **fields: Any,
) -> SubmitSm:
    """A valid submit_sm from SOURCE (international) asking for a receipt."""
    values: dict[str, Any] = {
        "source_addr_ton": Ton.INTERNATIONAL,
        "source_addr_npi": Npi.ISDN,
        "source_addr": SOURCE,
        "destination_addr": destination_addr,
        "short_message": text,
        "registered_delivery": registered_delivery,
    }
    values.update(fields)
    return SubmitSm(**values)


def receipt_of(pdu: DeliverSm) -> Receipt:
    receipt = parse_receipt(short_message=pdu.short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
    assert receipt is not None, pdu
    return receipt


@contextlib.asynccontextmanager
async def control(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the simulator's control API (httpx runs on trio through anyio),
    with the simulator's token."""
    assert sim.http_port is not None, "start the simulator with http_port=0"
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{sim.http_port}",
        headers={"Authorization": f"Bearer {sim.http_token}"},
        timeout=5.0,
    ) as client:
        yield client


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly these labels in Prometheus text, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


@attrs.define(eq=False)
class RawClient:
    """Bytes on a socket, for what our ESME session refuses to send (a second bind, a submit
    on an RX bind) or to watch the SMSC close an idle connection."""

    stream: trio.SocketStream
    frames: FrameBuffer = attrs.field(factory=FrameBuffer)
    seq: int = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, sim: Simulator) -> AsyncIterator[RawClient]:
        stream = await trio.open_tcp_stream("127.0.0.1", sim.port)
        async with stream:
            yield cls(stream)

    async def send(self, pdu: Pdu) -> int:
        self.seq += 1
        await self.stream.send_all(encode_pdu(pdu, self.seq))
        return self.seq

    async def receive(self, timeout: float = 2.0) -> tuple[Header, Pdu]:
        """The next PDU from the SMSC. Raises EOFError if it closed the connection."""
        with trio.fail_after(timeout):
            while (frame := self.frames.next_frame()) is None:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError("closed by the SMSC")
                self.frames.feed(data)
        return decode_pdu(frame)

    async def exchange(self, pdu: Pdu, timeout: float = 2.0) -> tuple[Header, Pdu]:
        seq = await self.send(pdu)
        header, response = await self.receive(timeout)
        assert header.sequence_number == seq, (header, response)
        return header, response
