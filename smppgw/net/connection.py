"""``SmppConnection``: a sans-IO ``Session`` driven over any ``trio.abc.Stream``.

Theory of operation
-------------------
Three tasks per connection, all inside ``run()``:
- the *reader* feeds received bytes to the session and routes the events: responses, expiries and
  aborts go to whoever started the request (a callback, or the task awaiting ``request()``);
  everything else goes to the application: to ``on_event`` when it is set (a synchronous callback
  run by the reader: the fast path, no task switch per PDU, so every answer to one read leaves in
  one write; ``on_batch_end()`` after each batch, before any checkpoint), else to ``incoming``;
- the *writer* is the only task that writes: it drains ``session.data_to_send()`` whenever
  something was queued, so a burst of requests leaves in one ``send_all``;
- the *timer* sleeps until ``session.next_deadline()`` and calls ``tick``.

Sending is synchronous bookkeeping plus a kick to the writer, so a caller never awaits the
socket. ``start_request`` takes a callback (the high-throughput path: no task per message);
``request`` is the awaitable convenience on top of it. A request waits for a window slot
(``wait_for_room``); timeouts belong to the caller (``trio.fail_after``), and the session's
response timer bounds every request anyway.

When the session reaches CLOSED (unbind exchanged: ``close_reason`` is ``UNBOUND_CLEANLY``; framing
lost, bind timer) the writer flushes what is queued and the connection closes the stream. Every
request in flight then fails with ``ConnectionLost``. A ``tracer`` (net.trace) traces every PDU.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import trio

from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import ConnectionLost, SmppError
from smppgw.core.events import (
    ConnectionClosed,
    EnquireLinkReceived,
    EnquireLinkSent,
    Event,
    NotificationReceived,
    RequestReceived,
)
from smppgw.core.pdu import Request, Response, Unbind
from smppgw.core.session import Session, SessionStatistics
from smppgw.core.states import SessionState
from smppgw.net.behaviour import PLAIN, ConnectionBehaviour
from smppgw.net.errors import OUTCOME_TYPES, UNBOUND_CLEANLY, Outcome, map_trio_errors, outcome_result
from smppgw.net.trace import PduTracer

__all__ = ["ConnectionBehaviour", "Outcome", "SmppConnection", "map_trio_errors", "outcome_result"]

log = logging.getLogger(__name__)

Callback = Callable[[Outcome], Any]
_MAX_PENDING_OUTPUT = 4 * 1024 * 1024
# One read's worth of PDUs is handled before the writer runs, so ``read_size`` bounds the batch
# that crosses to the peer in one turn. The gateway reads 4 KiB so that it and its SMSC work at
# once (gateway/bindpool.py); the simulator, loadtest and conformance keep 64 KiB (cheapest).
_READ_SIZE = 64 * 1024
# Events routed between checkpoints (see _route): about a 4 KiB read's worth of answers.
_ROUTE_SLICE = 32
# Events the application never needs: the session handled them.
_QUIET = (EnquireLinkReceived, EnquireLinkSent, ConnectionClosed)
_SUBMIT_SM = int(CommandId.SUBMIT_SM)


class SmppConnection:
    """One SMPP session over one stream. Create, then ``await nursery.start(conn.run)``."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        session: Session,
        *,
        incoming_buffer: int = 1024,
        on_event: Callable[[Event], object] | None = None,
        read_size: int = _READ_SIZE,
        behaviour: ConnectionBehaviour | None = None,
        tracer: PduTracer | None = None,
    ) -> None:
        self.stream = stream
        self._io: trio.abc.Stream = stream if tracer is None else tracer.wrap(stream)
        #: Read, never written, by the connection (see ``ConnectionBehaviour``).
        self.behaviour: ConnectionBehaviour = behaviour if behaviour is not None else PLAIN
        self.read_size = read_size
        self.session = session
        #: Synchronous handler for application events; None routes them to ``incoming``.
        self.on_event = on_event
        self.on_batch_end: Callable[[], object] = lambda: None  # see the module docstring
        self._callbacks: dict[int, Callback] = {}
        # trio.current_time() is three frames, the run's clock method one (per PDU); ``run`` sets it.
        self._now: Callable[[], float] = trio.current_time
        send, receive = trio.open_memory_channel[Event](incoming_buffer)
        self._incoming_send = send
        self.incoming: trio.MemoryReceiveChannel[Event] = receive
        self._room = trio.lowlevel.ParkingLot()
        self._write_wanted = trio.Event()
        # True from the first wake until the writer takes the output: later wakes skip Event.set.
        self._write_pending = False
        self._timer_wake = trio.Event()
        self._timer_deadline = math.inf  # what the timer task sleeps until
        self._timer_state: SessionState | None = None  # the state it computed that in
        self._send_lock = trio.Lock()  # the writer and the final flush never interleave
        self._writing = False
        self._written = trio.Event()
        self._closed = trio.Event()
        #: True once closed (read-only: a plain attribute, read per PDU by senders).
        self.closed = False
        #: trio time the routed events arrived (per read, tick, close): callbacks read it, not the clock.
        self.event_time = 0.0
        self._cancel: trio.CancelScope | None = None
        self.close_reason: str | None = None
        self._raw: list[bytes] = []  # octets that bypass the session (send_raw)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[SmppConnection] = trio.TASK_STATUS_IGNORED) -> None:
        """Drive the connection until it closes. Never raises for network trouble."""
        self._now = trio.lowlevel.current_clock().current_time
        try:
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope
                nursery.start_soon(self._reader)
                nursery.start_soon(self._writer)
                nursery.start_soon(self._timer)
                task_status.started(self)
        finally:
            self._finish(self.close_reason or "stopped")
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                with contextlib.suppress(Exception):
                    await self._io.aclose()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def close(self, reason: str = "closed locally") -> None:
        """Stop the connection now (no unbind). ``run`` returns soon after."""
        self.close_reason = self.close_reason or reason
        if self._cancel is not None:
            self._cancel.cancel()
        else:
            self._finish(reason)

    async def aclose(self) -> None:
        self.close()
        with trio.CancelScope(shield=True), trio.move_on_after(1), contextlib.suppress(Exception):
            await self._io.aclose()

    async def unbind(self, timeout: float = 5.0) -> None:
        """Unbind cleanly (3.4 §4.2) and close; bounded by ``timeout``. Never raises."""
        if self.session.state.is_bound:
            with trio.move_on_after(timeout), contextlib.suppress(SmppError):
                await self.request(Unbind(), wait_for_room=False)
        self.close("unbound")

    def _finish(self, reason: str) -> None:
        if self._closed.is_set():
            return
        # After an unbind and its unbind_resp, either side (3.4 §4.2): not a loss.
        self.close_reason = UNBOUND_CLEANLY if self.session.unbound else self.close_reason or reason
        with contextlib.suppress(RuntimeError):  # no trio run (a test tearing down)
            self.event_time = self._now()
        self._dispatch(self.session.close())
        self._incoming_send.close()
        self.closed = True
        self._closed.set()
        log.debug("connection closed reason=%r", self.close_reason)  # repr: escaped, one line

    # -- sending ---------------------------------------------------------------------------

    def start_request(self, pdu: Request, callback: Callback, now: float | None = None) -> int:
        """Queue ``pdu`` now; ``callback(outcome)`` runs in the reader or timer task.
        ``now``: the caller's reading of the trio clock, if it has one.

        Raises:
            WindowFull: no window slot (see ``wait_for_room``).
            LocalProtocolError: not allowed in the current state.
            ConnectionLost: the connection is closed.
        """
        if self.closed:
            raise ConnectionLost(f"connection closed: {self.close_reason}")
        session = self.session
        if now is None:
            now = self._now()
        seq = session.send_request(pdu, now)
        if pdu.response_type is not None:
            self._callbacks[seq] = callback
        if not self._write_pending:
            self._write_pending = True
            self._write_wanted.set()
        # The new request's response timer is the only deadline this can add (unless the state
        # moved: a bind). Comparing it with the timer's is O(1); next_deadline() per PDU cost ~3 us.
        if (
            now + session.window.response_timeout < self._timer_deadline
            or session.state is not self._timer_state
        ):
            self._timer_wake.set()  # it recomputes its deadline (and notes the state)
        return seq

    def can_submit(self) -> bool:
        """Whether a pool may hand this connection a submit_sm now: open, bound to send,
        a window slot free."""
        session = self.session
        return not self.closed and session.window.available > 0 and session.can_send(_SUBMIT_SM)

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self.session.window)

    async def wait_for_room(self) -> None:
        """Return when the window has a free slot (or the connection closed).

        Not a checkpoint when a slot is free: a sender filling its window runs without a
        task switch per PDU, and the writer sends the whole burst in one write.
        """
        while not self.session.window.available and not self._closed.is_set():
            await self._room.park()
        if self._closed.is_set():
            raise ConnectionLost(f"connection closed: {self.close_reason}")

    async def request(self, pdu: Request, *, wait_for_room: bool = True) -> Response:
        """Send ``pdu`` and return its response. Bound the wait with ``trio.fail_after``.

        Raises: see ``outcome_result``; also LocalProtocolError in the wrong state.
        """
        if wait_for_room:
            await self.wait_for_room()
        done = trio.Event()
        box: list[Outcome] = []

        def finished(outcome: Outcome) -> None:
            box.append(outcome)
            done.set()

        seq = self.start_request(pdu, finished)
        try:
            await done.wait()
        finally:
            self._callbacks.pop(seq, None)  # a cancelled caller leaves no residue
        return outcome_result(box[0])

    def send_response(
        self, sequence_number: int, pdu: Response, status: int = CommandStatus.ESME_ROK
    ) -> None:
        """Answer a request from ``incoming``. Silently dropped once the connection or its session closed."""
        if self.closed or self.session.state is SessionState.CLOSED:  # (EOF closes the session first)
            return
        self.session.send_response(sequence_number, pdu, status)
        self._kick()

    def send_nack(self, sequence_number: int, status: int) -> None:
        if self._closed.is_set() or self.session.state is SessionState.CLOSED:
            return
        self.session.send_nack(sequence_number, status)
        self._kick()

    def send_raw(self, data: bytes) -> None:
        """Write octets that bypass the session (fault injection, negative tests only),
        after everything queued before them."""
        queued = self.session.data_to_send()
        if queued:
            self._raw.append(queued)
        self._raw.append(data)
        self._kick()

    def _kick(self) -> None:
        """Wake the writer; wake the timer if the state moved since it last looked (a
        bind, an unbind: its deadlines change). The reader checks the timer after every
        read, so a deadline added by received PDUs is never missed either."""
        if not self._write_pending:
            self._write_pending = True
            self._write_wanted.set()
        if self.session.state is not self._timer_state:
            self._timer_wake.set()  # it recomputes its deadline (and notes the state)

    # -- the three tasks -------------------------------------------------------------------

    async def _reader(self) -> None:
        session, stream, read_size, behaviour = self.session, self._io, self.read_size, self.behaviour
        while True:
            if behaviour.read_delay:
                await trio.sleep(behaviour.read_delay)
            try:
                with map_trio_errors():
                    data = await stream.receive_some(read_size)
            except ConnectionLost as exc:
                self.close(str(exc))
                return
            self.event_time = now = self._now()
            events = session.receive_data(data, now)
            if events:
                await self._route(events)
            if not self._write_pending:
                self._write_pending = True
                self._write_wanted.set()
            deadline = session.next_deadline()  # once per read, not per PDU: wake the timer
            if deadline is not None and deadline < self._timer_deadline:  # if it moved earlier
                self._timer_wake.set()
            if not data:
                # Answers already queued still go out if the peer only half-closed.
                await self._close_after_flush("peer closed the connection")
                return
            if session.state is SessionState.CLOSED:
                await self._close_after_flush("session closed")
                return
            if self._writing and session.pending_output() > _MAX_PENDING_OUTPUT:
                # Backpressure: a peer that does not read our answers stops being read,
                # so queued output stays bounded. (Only past a threshold: two peers that
                # both wait for the other to read would deadlock at any size.)
                await self._written.wait()

    async def _writer(self) -> None:
        stream = self._io
        while True:
            await self._write_wanted.wait()
            self._write_wanted = trio.Event()
            self._write_pending = False  # before the output is taken: later data wakes again
            try:
                async with self._send_lock:
                    data = self._take_output()
                    if not data:
                        continue
                    self._writing = True
                    try:
                        with map_trio_errors():
                            await stream.send_all(data)
                    finally:
                        self._writing = False
                        self._written.set()
                        self._written = trio.Event()
            except ConnectionLost as exc:
                self.close(str(exc))
                return
            if self.session.state is SessionState.CLOSED and not self.session.pending_output():
                # e.g. a deferred unbind_resp just went out after the last owed answer.
                self.close("session closed")
                return

    async def _timer(self) -> None:
        session = self.session
        while True:
            self._timer_state = session.state
            deadline = session.next_deadline()
            self._timer_deadline = math.inf if deadline is None else deadline
            if deadline is None or deadline > trio.current_time():
                with trio.move_on_at(self._timer_deadline):
                    await self._timer_wake.wait()
                self._timer_wake = trio.Event()
                continue
            self.event_time = now = trio.current_time()
            events = session.tick(now)
            if events:
                await self._route(events)
                self._kick()
            if session.state is SessionState.CLOSED:
                await self._close_after_flush("session closed by a timer")
                return

    async def _close_after_flush(self, reason: str) -> None:
        with contextlib.suppress(ConnectionLost), trio.move_on_after(1):
            async with self._send_lock:
                data = self._take_output()
                if data:
                    with map_trio_errors():
                        await self._io.send_all(data)
        self.close(reason)

    def _take_output(self) -> bytes:
        data = self.session.data_to_send()
        if self._raw:
            data = b"".join(self._raw) + data
            self._raw.clear()
        return data

    # -- event routing ---------------------------------------------------------------------

    def _outcome(self, event: Outcome) -> None:
        """Run the callback of the request that ``event`` ends."""
        callback = self._callbacks.pop(event.sequence_number, None)
        if callback is not None:
            callback(event)
        # else: the caller gave up (cancelled): nothing to tell anyone

    def _dispatch(self, events: list[Event]) -> None:
        """Synchronous routing (for the close path): outcomes to callbacks, the rest to
        ``on_event`` if set; ``incoming`` is being closed, so nothing goes there."""
        handler = self.on_event
        for event in events:
            if isinstance(event, OUTCOME_TYPES):
                self._outcome(event)
            elif handler is not None and not isinstance(event, _QUIET):
                handler(event)
        self.on_batch_end()
        self._room.unpark_all()

    async def _route(self, events: list[Event]) -> None:
        """Route events *in the order they happened*: a receipt that overtook its
        submit_sm_resp in the same read reaches the application first."""
        send = self._incoming_send
        freed = False
        budget = _ROUTE_SLICE
        try:
            for index, event in enumerate(events):  # noqa: B007 (the except reads it)
                budget -= 1
                if not budget:
                    # A large read is routed in slices with a checkpoint between them, when
                    # there is something to send or room in the window: the writer sends the
                    # answers so far (a peer whose window is full waits for them) and the
                    # senders refill the window, while the rest of the read is still ahead.
                    budget = _ROUTE_SLICE
                    self.on_batch_end()  # before the checkpoint: the answers go out with it
                    if freed and self._room:
                        self._room.unpark(count=self.session.window.available)
                    if freed or self._write_pending:
                        freed = False
                        await trio.lowlevel.checkpoint()
                if isinstance(event, OUTCOME_TYPES):
                    self._outcome(event)
                    freed = True
                    continue
                if isinstance(event, _QUIET):
                    continue
                handler = self.on_event  # read per event: it may be set while we await below
                if handler is not None:
                    handler(event)
                    continue
                # Nobody reading incoming any more is not an error of this connection.
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    if isinstance(event, RequestReceived | NotificationReceived):
                        await send.send(event)  # must be answered: backpressure, never drop
                    else:
                        try:
                            send.send_nowait(event)
                        except trio.WouldBlock:  # informational; a busy reader must not stall us
                            log.debug("incoming full; dropped %s", type(event).__name__)
        except trio.Cancelled:  # closing (close() from a callback, a lost stream) mid-read: the
            for event in events[index:]:  # session forgot these requests; report them now,
                if isinstance(event, OUTCOME_TYPES):  # or nobody ever will
                    self._outcome(event)
            raise
        self.on_batch_end()
        if freed and self._room:
            self._room.unpark(count=self.session.window.available)

    def statistics(self) -> SessionStatistics:
        return self.session.statistics()
