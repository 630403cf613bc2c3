"""``ClientSession``: one TCP connection from the ESME under test, seen from our fake SMSC.

A session runs one reader task that feeds a ``Probe`` (the raw connection with its
transcript); the harness answers each request the client sends (``on_request``) and
the session keeps the books the cases judge afterwards:

* every request the client sent, with its arrival time (``requests``);
* the client's requests we have not answered yet (``outstanding``), the most of them at
  once (``max_outstanding``, enquire_link and unbind excluded: they ride outside any
  window), and every sequence number the client reused while it was still in flight;
* every response the client sent, matched to our request or listed as stray;
* when it unbound, when we answered that, and when the connection closed.

Our own requests (enquire_link, deliver_sm, unbind) go through ``request``, which waits
for the matching response with a bound.
"""

from __future__ import annotations

import itertools
import math
from typing import Final

import attrs
import trio

from conformance.probe import Closed, Probe, Transcript
from conformance.wire import Frame, encode, raw_header
from smppgw.core.constants import CommandId
from smppgw.core.pdu import Pdu, Response
from smppgw.core.states import BindMode

__all__ = ["ClientSession", "Received"]

#: Requests that ride outside an ESME's window (our core forces them through, as most do).
UNWINDOWED: Final = frozenset({CommandId.ENQUIRE_LINK, CommandId.UNBIND, CommandId.GENERIC_NACK})
_ids = itertools.count(1)


@attrs.frozen
class Received:
    """One PDU from the client, when it arrived (trio clock) and its place in the stream."""

    at: float
    frame: Frame
    order: int = 0


class ClientSession:
    """See the module docstring."""

    def __init__(self, stream: trio.abc.Stream, transcript: Transcript) -> None:
        """The owner sets ``probe.on_request`` to answer the client's requests."""
        self.id = next(_ids)
        self.name = f"s{self.id}"
        self.probe = Probe(stream, transcript, name=self.name, keep_requests=False)
        self.sent: dict[int, int] = {}  # our requests: sequence number -> command_id
        self.received = 0  # PDUs received so far (Received.order)
        self.opened_at = trio.current_time()
        self.bind_mode: BindMode | None = None
        self.bound_at: float | None = None
        self.system_id = ""
        self.requests: list[Received] = []
        self.outstanding: dict[int, Frame] = {}
        self.max_outstanding = 0
        self.reused: list[str] = []
        self.responses: list[Received] = []
        self.stray_responses: list[Frame] = []
        self.unbind_at: float | None = None  # the client's unbind arrived
        self.unbind_order = 0  # its place among the PDUs received (Received.order)
        self.unbind_resp_at: float | None = None  # we answered it
        self.smsc_unbind_at: float | None = None  # we sent unbind
        self.closed_at: float | None = None
        self.closed = trio.Event()
        self.bound = trio.Event()
        self._waiters: dict[int, tuple[trio.Event, list[Frame]]] = {}

    @property
    def is_receiver(self) -> bool:
        return self.bind_mode in (BindMode.RX, BindMode.TRX)

    @property
    def is_transmitter(self) -> bool:
        return self.bind_mode in (BindMode.TX, BindMode.TRX)

    # -- the client's requests ---------------------------------------------------------

    def arrived(self, frame: Frame) -> None:
        """Book a request from the client (called by the harness before it answers)."""
        now = trio.current_time()
        self.received += 1
        self.requests.append(Received(now, frame, self.received))
        if frame.seq in self.outstanding:
            first = self.outstanding[frame.seq]
            self.reused.append(
                f"{frame.describe()} reuses sequence number {frame.seq} while {first.describe()} is unanswered"
            )
        self.outstanding[frame.seq] = frame
        windowed = sum(1 for f in self.outstanding.values() if f.command_id not in UNWINDOWED)
        self.max_outstanding = max(self.max_outstanding, windowed)
        if frame.command_id == CommandId.UNBIND and self.unbind_at is None:
            self.unbind_at, self.unbind_order = now, self.received

    def windowed_outstanding(self) -> int:
        return sum(1 for f in self.outstanding.values() if f.command_id not in UNWINDOWED)

    async def respond(self, request: Frame, pdu: Response, status: int = 0) -> None:
        """Answer the client's ``request`` (never raises if the connection is gone)."""
        self.outstanding.pop(request.seq, None)
        try:
            await self.probe.send(encode(pdu, request.seq, status))
        except Closed:
            return
        if request.command_id == CommandId.UNBIND:
            self.unbind_resp_at = trio.current_time()

    async def nack(self, request: Frame, status: int) -> None:
        self.outstanding.pop(request.seq, None)
        try:
            await self.probe.send(raw_header(CommandId.GENERIC_NACK, request.seq, status=status))
        except Closed:
            return

    # -- our requests ------------------------------------------------------------------

    async def request(self, pdu: Pdu, timeout: float) -> Frame | None:
        """Send ``pdu`` and return the client's response; None when none came in time.

        Raises:
            Closed: the connection closed before the response.
        """
        seq = self.probe.next_seq()
        self.sent[seq] = pdu.command_id
        event, box = self._waiters[seq] = (trio.Event(), [])
        try:
            if pdu.command_id == CommandId.UNBIND:
                self.smsc_unbind_at = trio.current_time()
            await self.probe.send(encode(pdu, seq))
            with trio.move_on_after(timeout):
                while not event.is_set():
                    if self.probe.closed:
                        raise Closed(self.probe.close_reason)
                    with trio.move_on_after(0.05):
                        await event.wait()
            return box[0] if box else None
        finally:
            self._waiters.pop(seq, None)

    # -- the reader --------------------------------------------------------------------

    async def serve(self) -> None:
        """Read until the connection closes, routing the client's responses."""
        probe = self.probe
        try:
            while not probe.closed:
                await probe.pump(math.inf)
                self._route_responses()
        finally:
            self.closed_at = trio.current_time()
            self.closed.set()
            await probe.aclose()

    def _route_responses(self) -> None:
        inbox = self.probe.inbox
        while inbox:
            frame = inbox.pop(0)
            self.received += 1
            self.responses.append(Received(trio.current_time(), frame, self.received))
            waiter = self._waiters.get(frame.seq)
            if waiter is None:
                self.stray_responses.append(frame)
                continue
            event, box = waiter
            box.append(frame)
            event.set()
