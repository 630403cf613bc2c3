"""The sans-IO SMPP session: bytes and ``now`` in, events and bytes out (h11 shape).

Theory of operation
-------------------
One ``Session`` is one side of one SMPP connection, in either role. The adapter feeds it
received bytes with ``receive_data(data, now)`` and gets back ``Event``s; it writes out
whatever ``data_to_send()`` returns; it calls ``tick(now)`` when ``next_deadline()``
passes. The session never reads a clock and never touches a socket.

What the session does by itself, because no application could want otherwise:
- answers enquire_link (3.4 §4.11; unless ``answer_enquire_link`` is off) and unbind
  (3.4 §4.2), still emitting an event;
- answers a request it cannot accept: unknown command_id -> generic_nack ESME_RINVCMDID
  (3.4 §3.3); a request not allowed in the current state -> its *_resp with
  ESME_RINVBNDSTS, or ESME_RALYBND for a bind on a bound session (3.4 §5.1.3); a body
  that does not decode -> its *_resp with the status the decoder chose;
- on lost framing (command_length < 16 or > max) queues generic_nack ESME_RINVCMDLEN
  with sequence 0 and goes CLOSED: the stream cannot be trusted again;
- sends enquire_link when nothing was received for ``enquire_link_interval``, expires
  requests after ``response_timeout``, closes a session not bound within
  ``bind_timeout`` (session_init_timer) and unbinds one silent for
  ``inactivity_timeout`` (SMPP-REFERENCE §4.3); declares the link dead (CLOSED) when
  its own enquire_link gets no response within ``response_timeout`` (checklist 31).
  The timers live in ``smppgw.core.timers``.

Business PDUs (submit_sm, deliver_sm, data_sm, query/cancel/replace_sm, and binds on
the SMSC side, which need credentials) are never answered automatically: they arrive as
``RequestReceived`` and the application calls ``send_response``.

Sequence numbers run 1..0x7FFFFFFF and wrap to 1 (3.4 §5.1.4), skipping any number
still in flight. Requests, responses and the two directions are independent.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import attrs

from smppgw.core._construct import build
from smppgw.core.codec import HEADER_SIZE, body_decoders, decode_as, encode_pdu, pdu_encoders
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import InvalidCommandId, LocalProtocolError, MalformedPdu, RemoteProtocolError
from smppgw.core.events import (
    ConnectionClosed,
    EnquireLinkReceived,
    Event,
    NotificationReceived,
    RequestAborted,
    RequestReceived,
    UnbindReceived,
)
from smppgw.core.framing import DEFAULT_MAX_COMMAND_LENGTH, FrameBuffer
from smppgw.core.pdu import (
    PDU_TYPES,
    EnquireLinkResp,
    GenericNack,
    Request,
    Response,
    UnbindResp,
    _Bind,
)
from smppgw.core.replies import framing_lost, generic_nack, reject, response_received
from smppgw.core.states import (
    BindMode,
    Direction,
    Input,
    Role,
    SessionState,
    allowed,
    bind_ok_input,
    transition,
)
from smppgw.core.timers import SessionTimers
from smppgw.core.window import Window

__all__ = ["MAX_SEQUENCE_NUMBER", "Session", "SessionConfig", "SessionStatistics"]

MAX_SEQUENCE_NUMBER: Final = 0x7FFF_FFFF
_CMD: Final = struct.Struct(">III")  # command_id, command_status, sequence_number
# The compiled body decoders by command_id (decode_as minus a call: two PDUs per message).
_DECODERS: Final = body_decoders()
_ENCODERS: Final = pdu_encoders()  # likewise: encode_pdu minus a call
_FORCED: Final = frozenset({CommandId.ENQUIRE_LINK, CommandId.UNBIND})
_ENQUIRE_LINK, _UNBIND = int(CommandId.ENQUIRE_LINK), int(CommandId.UNBIND)
_BIND_IDS: Final = frozenset(
    {CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER}
)
_ENQUIRE_LINK_RESP: Final = EnquireLinkResp()
_UNBIND_RESP: Final = UnbindResp()


def _positive_or_none(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attr.name} must be > 0 or None, got {value}")


@attrs.frozen(kw_only=True)
class SessionConfig:
    """Per-session settings; timers in seconds, None disables a timer."""

    window: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    response_timeout: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    enquire_link_interval: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    bind_timeout: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    inactivity_timeout: float | None = attrs.field(default=None, validator=_positive_or_none)
    max_command_length: int = attrs.field(
        default=DEFAULT_MAX_COMMAND_LENGTH, validator=attrs.validators.ge(16)
    )
    first_sequence_number: int = attrs.field(
        default=1,
        validator=[attrs.validators.ge(1), attrs.validators.le(MAX_SEQUENCE_NUMBER)],
    )
    #: False: enquire_link is not answered by the session but passed on as a
    #: ``RequestReceived`` for the application to answer, or to drop (a simulator that
    #: plays dead on purpose: its black hole leaves even the keep-alive unanswered).
    answer_enquire_link: bool = True
    #: The receiving window: requests owed a response at once (binds, enquire_link and
    #: unbind aside). One beyond it is answered at once with ``over_window_status`` and
    #: never reaches the application: a peer that ignores the window cannot make us hold
    #: unbounded work. None: no limit.
    max_owed: int | None = attrs.field(default=None, validator=_positive_or_none)
    over_window_status: int = CommandStatus.ESME_RTHROTTLED


@attrs.frozen(kw_only=True)
class SessionStatistics:
    role: Role
    state: SessionState
    bind_mode: BindMode | None
    requests_in_flight: int
    window_size: int
    responses_owed: int
    pdus_sent: int
    pdus_received: int
    requests_expired: int
    protocol_violations: int
    buffered_octets: int


class Session:
    """One side of one SMPP connection. See the module docstring."""

    __slots__ = (
        "_bind_mode",
        "_closed",
        "_frames",
        "_next_seq",
        "_out",
        "_owed",
        "_recv_allowed",
        "_send_allowed",
        "_stats",
        "_timers",
        "_unbind_pending",
        "config",
        "role",
        "state",
        "unbound",
        "window",
    )

    #: Where the session is (3.4 §2.3). Read-only outside: events move it. A plain
    #: attribute, not a property: the connection reads it per PDU sent.
    state: SessionState

    def __init__(self, role: Role, config: SessionConfig | None = None, *, now: float = 0.0) -> None:
        self.role = role
        self.config = config = config if config is not None else SessionConfig()
        self.window = Window(config.window, config.response_timeout)
        self._frames = FrameBuffer(config.max_command_length)
        self._out: list[bytes] = []
        self._owed: dict[int, Request] = {}  # requests received, awaiting our response
        self._next_seq = config.first_sequence_number
        self._timers = SessionTimers(now)
        self._bind_mode: BindMode | None = None
        self._closed = False
        self._unbind_pending: tuple[int, float] | None = None  # (seq, answer-by) of a deferred unbind
        #: True once an unbind and its unbind_resp were exchanged, either side (3.4 §4.2):
        #: the session ended cleanly, not by a loss.
        self.unbound = False
        # [sent, received, expired, violations]
        self._stats = [0, 0, 0, 0]
        self._set_state(SessionState.OPEN)

    # -- state ----------------------------------------------------------------------------

    @property
    def bind_mode(self) -> BindMode | None:
        return self._bind_mode

    def _set_state(self, state: SessionState) -> None:
        self.state = state
        self._send_allowed = allowed(self.role, Direction.SEND, state)
        self._recv_allowed = allowed(self.role, Direction.RECEIVE, state)

    def _apply(self, event: Input) -> None:
        self._set_state(transition(self.state, event))

    def can_send(self, command_id: int) -> bool:
        return command_id in self._send_allowed

    # -- sending ---------------------------------------------------------------------------

    def send_request(self, pdu: Request, now: float) -> int:
        """Queue ``pdu`` and return its sequence number.

        Raises:
            LocalProtocolError: ``pdu`` may not be sent in this state (ESME_RINVBNDSTS).
            WindowFull: no window slot free (enquire_link and unbind are always admitted).
        """
        cid = pdu.command_id
        if cid not in self._send_allowed:
            raise LocalProtocolError(
                f"cannot send {type(pdu).__name__} as {self.role.value} in state {self.state.value}",
                command_status=CommandStatus.ESME_RINVBNDSTS,
            )
        # The next sequence number, never one still in flight (3.4 §5.1.4).
        seq = self._next_seq
        entries = self.window.entries
        while seq in entries:
            seq = seq + 1 if seq < MAX_SEQUENCE_NUMBER else 1
        self._next_seq = seq + 1 if seq < MAX_SEQUENCE_NUMBER else 1
        if pdu.response_type is not None:
            # WindowFull propagates before anything changed but the (unused) counter.
            self.window.offer(seq, pdu, now, force=cid in _FORCED)
        if cid in _BIND_IDS:
            self._apply(Input.SEND_BIND)
        elif cid == _UNBIND:
            self._apply(Input.SEND_UNBIND)
        self._out.append(_ENCODERS[type(pdu)](pdu, seq, 0))  # encode_pdu
        self._stats[0] += 1
        return seq

    def send_response(
        self, sequence_number: int, pdu: Response, status: int = CommandStatus.ESME_ROK
    ) -> None:
        """Answer the request ``sequence_number`` received earlier.

        A generic_nack may answer any request. Answering a bind (SMSC role) binds the
        session when ``status`` is ESME_ROK and leaves it OPEN otherwise.

        Raises:
            LocalProtocolError: no such request awaits a response, or ``pdu`` is the
                wrong response type for it.
        """
        request = self._owed.pop(sequence_number, None)
        if request is None:
            raise LocalProtocolError(f"no request with sequence number {sequence_number} awaits a response")
        expected = request.response_type
        if type(pdu) is not expected and type(pdu) is not GenericNack:
            self._owed[sequence_number] = request
            raise LocalProtocolError(
                f"{type(pdu).__name__} cannot answer {type(request).__name__} (expected {expected})"
            )
        if isinstance(request, _Bind) and self.state is SessionState.BINDING:
            # (A bind answered after the bind timer closed the session changes nothing.)
            if status == CommandStatus.ESME_ROK and type(pdu) is not GenericNack:
                mode = BindMode.from_command_id(request.command_id)
                assert mode is not None
                self._apply(bind_ok_input(mode))
                self._bind_mode = mode
            else:
                self._apply(Input.BIND_FAILED)
        self._out.append(_ENCODERS[type(pdu)](pdu, sequence_number, status))  # encode_pdu
        self._stats[0] += 1
        self._owed_answered()

    def send_nack(self, sequence_number: int, status: int) -> None:
        """generic_nack ``sequence_number`` (for a request we owe, or any raw problem)."""
        self._owed.pop(sequence_number, None)
        self._out.append(generic_nack(sequence_number, status))
        self._stats[0] += 1
        self._owed_answered()

    def _answer_unbind(self, seq: int) -> None:
        self._unbind_pending = None
        self._out.append(encode_pdu(_UNBIND_RESP, seq))
        self._stats[0] += 1
        if self.state.is_bound or self.state is SessionState.UNBINDING:
            self._apply(Input.RECV_UNBIND)
            self.unbound = True

    def _owed_answered(self) -> None:
        if self._unbind_pending is not None and not self._owed:
            self._answer_unbind(self._unbind_pending[0])

    def drop_request(self, sequence_number: int) -> None:
        """Forget a received request without ever answering it.

        For a peer that misbehaves on purpose (a simulator's black hole): the request
        stops counting as owed, and nothing is sent.
        """
        self._owed.pop(sequence_number, None)
        self._owed_answered()

    def pending_output(self) -> int:
        """Octets queued by the session and not yet taken by ``data_to_send``."""
        return sum(map(len, self._out))

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, including automatic replies."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # -- receiving -------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray, now: float) -> list[Event]:
        """Feed received octets; ``b""`` means the peer closed the connection."""
        if not data:
            return self.close()
        if self._closed or self._frames.broken:
            return []
        frames = self._frames
        frames.feed(data)
        events: list[Event] = []
        whole, lost = frames.drain()
        if whole:
            self._timers.last_rx = now
            self._stats[1] += len(whole)
            unpack = _CMD.unpack_from
            for frame in whole:
                cid, status, seq = unpack(frame, 4)
                if cid & 0x8000_0000:
                    response_received(self, cid, status, seq, frame, now, events)  # core.replies
                else:
                    self._handle_request(cid, status, seq, frame, events, now)
        if lost is not None:
            framing_lost(self, lost, events)
        return events

    def _handle_request(
        self, cid: int, status: int, seq: int, frame: bytes, events: list[Event], now: float
    ) -> None:
        cls = PDU_TYPES.get(cid)
        if cls is None:
            reject(self, seq, None, InvalidCommandId(f"unknown command_id 0x{cid:08X}"), events)
            return
        if cid not in self._recv_allowed:
            if cid in _BIND_IDS and self.state.is_bound:
                code = CommandStatus.ESME_RALYBND
            else:
                code = CommandStatus.ESME_RINVBNDSTS
            error = RemoteProtocolError(
                f"{cls.__name__} not allowed from the peer in state {self.state.value}", command_status=code
            )
            # outbind / alert_notification have no *_resp (3.4 §4.12): reject falls back
            # to a generic_nack, which is how a wrong-state request without one is answered.
            reject(self, seq, cls, error, events)
            return
        decode = _DECODERS.get(cid)
        try:
            pdu = decode(frame, HEADER_SIZE, len(frame)) if decode is not None else decode_as(cls, frame)
        except MalformedPdu as exc:
            reject(self, seq, cls, exc, events)
            return
        assert isinstance(pdu, Request)
        if cid == _ENQUIRE_LINK and self.config.answer_enquire_link:  # else: owed, as below
            self._out.append(encode_pdu(_ENQUIRE_LINK_RESP, seq))
            self._stats[0] += 1
            events.append(EnquireLinkReceived(sequence_number=seq))
        elif cid == _UNBIND:
            events.append(UnbindReceived(sequence_number=seq))
            if self._owed:
                # 3.4 §4.2: answer what we owe first (a submit accepted just before the
                # unbind must still get its message_id); unbind_resp follows the last
                # answer, or the response timer, whichever comes first.
                self._unbind_pending = (seq, now + self.config.response_timeout)
            else:
                self._answer_unbind(seq)
        elif pdu.response_type is None:
            events.append(NotificationReceived(pdu=pdu))
        else:
            if cid in _BIND_IDS:
                self._apply(Input.RECV_BIND)
            elif (
                self.config.max_owed is not None
                and len(self._owed) >= self.config.max_owed
                and cid != _ENQUIRE_LINK  # (owed here only when the application answers it)
            ):
                status = CommandStatus(self.config.over_window_status)
                error = RemoteProtocolError(
                    f"{cls.__name__} beyond the receiving window ({self.config.max_owed} owed)",
                    command_status=status,
                )
                reject(self, seq, cls, error, events)
                return
            self._owed[seq] = pdu
            # One per PDU received: built as one dict (_construct); the attrs __init__ of
            # a frozen class (a setattr per field) costs twice as much. No validators.
            events.append(build(RequestReceived, {"sequence_number": seq, "pdu": pdu}))

    # -- timers (smppgw.core.timers) -------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest ``now`` at which ``tick`` has something to do, or None."""
        return self._timers.next_deadline(self)

    def tick(self, now: float) -> list[Event]:
        """Run every timer due at ``now``."""
        return self._timers.tick(self, now)

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> list[Event]:
        """The transport is gone: abort everything in flight. Idempotent."""
        if self._closed:
            return []
        self._closed = True
        events: list[Event] = [
            RequestAborted(sequence_number=e.sequence_number, request=e.request) for e in self.window.drain()
        ]
        self._owed.clear()
        self._timers.enquire_seq = None
        if self.state is not SessionState.CLOSED:
            self._apply(Input.CONNECTION_LOST)
        events.append(ConnectionClosed())
        return events

    def statistics(self) -> SessionStatistics:
        sent, received, expired, violations = self._stats
        return SessionStatistics(
            role=self.role,
            state=self.state,
            bind_mode=self._bind_mode,
            requests_in_flight=len(self.window),
            window_size=self.window.size,
            responses_owed=len(self._owed),
            pdus_sent=sent,
            pdus_received=received,
            requests_expired=expired,
            protocol_violations=violations,
            buffered_octets=self._frames.pending,
        )
