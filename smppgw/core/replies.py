"""Replies in the session: responses received to its requests, and error replies it
queues by itself.

Theory of operation
-------------------
``Session.receive_data`` hands every response here (``response_received``): it is
matched to the request in flight under its sequence number (3.4 §2.7), must be that
request's *_resp or a generic_nack, and completes the request as ``ResponseReceived``. A
response matching nothing is ``UnexpectedResponse`` (log and discard, never nack); one
whose body does not decode is a ``ProtocolViolation`` and its request is left to expire,
because we cannot tell what the peer did (3.4 §4.3). A bind_resp binds the session or
fails the bind; an unbind_resp closes it; an enquire_link_resp ends the keep-alive.

The error replies the session queues without asking the application: a request it cannot
accept gets its *_resp with the error's status, or generic_nack when it has none
(``reject``: 3.4 §3.3, §5.1.3); a header that cannot be framed gets generic_nack with
sequence 0 and the session goes CLOSED (``framing_lost``).

These functions are the part of ``Session`` kept in its own module: they work on the
session's private state as its methods would.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from smppgw.core._construct import build
from smppgw.core.codec import HEADER_SIZE, Header, body_decoders, decode_as, decode_body, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import InvalidCommandId, InvalidCommandLength, MalformedPdu, RemoteProtocolError
from smppgw.core.events import (
    BindRejected,
    Bound,
    Event,
    ProtocolViolation,
    ResponseReceived,
    Unbound,
    UnexpectedResponse,
)
from smppgw.core.pdu import PDU_TYPES, Pdu, Request, Response, _BindResp
from smppgw.core.states import BindMode, Input, SessionState, bind_ok_input

if TYPE_CHECKING:
    from smppgw.core.session import Session

__all__ = ["framing_lost", "generic_nack", "reject", "response_received"]

_NACK: Final = struct.Struct(">IIII")
_DECODERS: Final = body_decoders()  # by command_id: decode_as minus a call
_GENERIC_NACK: Final = int(CommandId.GENERIC_NACK)
_UNBIND: Final = int(CommandId.UNBIND)
_BIND_IDS: Final = frozenset(
    {CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER}
)


def generic_nack(sequence_number: int, status: int) -> bytes:
    """A whole generic_nack PDU (3.4 §4.3): a header and no body."""
    return _NACK.pack(16, _GENERIC_NACK, status, sequence_number)


# -- responses to our requests ------------------------------------------------------------


def response_received(
    session: Session, cid: int, status: int, seq: int, frame: bytes, now: float, events: list[Event]
) -> None:
    """Handle one response ``frame`` (header fields already unpacked)."""
    entries = session.window.entries  # (get and complete without the method calls)
    entry = entries.get(seq)
    if entry is None or (
        cid != _GENERIC_NACK and cid != entry.request.response_type.command_id  # type: ignore[union-attr]
    ):
        header = Header(len(frame), cid, status, seq)
        try:
            stray: Pdu | None = decode_body(header, frame)
        except (MalformedPdu, InvalidCommandId):
            stray = None
        events.append(UnexpectedResponse(header=header, pdu=stray))
        return
    try:
        decode = _DECODERS.get(cid)  # cid is a known response: checked above
        response = (
            decode(frame, HEADER_SIZE, len(frame)) if decode is not None else decode_as(PDU_TYPES[cid], frame)
        )
    except MalformedPdu as exc:
        # We cannot tell what the peer did: leave the request to expire (unknown
        # outcome) rather than guess; never nack a response (3.4 §4.3).
        session._stats[3] += 1
        events.append(ProtocolViolation(error=exc, nack_queued=False, sequence_number=seq))
        return
    del entries[seq]  # complete
    request = entry.request
    assert isinstance(response, Response)
    # One per PDU received: built as one dict (_construct); the attrs __init__ of a frozen
    # class (a setattr per field) costs twice as much. No validators to skip.
    events.append(build(ResponseReceived, {
        "sequence_number": seq, "request": request, "response": response, "status": status,
        "round_trip": now - entry.sent_at,
    }))  # fmt: skip
    rcid = request.command_id
    if rcid in _BIND_IDS:
        _bind_answered(session, request, response, status, events)
    elif rcid == _UNBIND:
        if session.state is SessionState.UNBINDING:
            session._apply(Input.UNBIND_DONE)
            session.unbound = True
            events.append(Unbound(status=status))
    elif seq == session._timers.enquire_seq:
        session._timers.enquire_seq = None


def _bind_answered(
    session: Session, request: Request, response: Response, status: int, events: list[Event]
) -> None:
    if session.state is not SessionState.BINDING:
        return  # e.g. the bind timer already closed the session
    mode = BindMode.from_command_id(request.command_id)
    assert mode is not None
    if status == CommandStatus.ESME_ROK and isinstance(response, _BindResp):
        session._apply(bind_ok_input(mode))
        session._bind_mode = mode
        events.append(
            Bound(mode=mode, system_id=response.system_id, interface_version=response.sc_interface_version)
        )
    else:
        session._apply(Input.BIND_FAILED)
        events.append(BindRejected(status=status or CommandStatus.ESME_RBINDFAIL))


# -- error replies the session queues by itself ---------------------------------------------


def reject(
    session: Session, seq: int, cls: type[Pdu] | None, error: RemoteProtocolError, events: list[Event]
) -> None:
    """Answer a request we cannot accept: its *_resp with the status, else generic_nack."""
    status = error.command_status
    response = getattr(cls, "response_type", None) if cls is not None else None
    if response is None:
        session._out.append(generic_nack(seq, status))
        reply = _GENERIC_NACK
    else:
        session._out.append(encode_pdu(response(), seq, status))
        reply = int(response.command_id)
    session._stats[0] += 1
    session._stats[3] += 1
    events.append(
        ProtocolViolation(
            error=error,
            nack_queued=True,
            sequence_number=seq,
            request_command_id=None if cls is None else int(cls.command_id),
            reply_command_id=reply,
        )
    )


def framing_lost(session: Session, exc: InvalidCommandLength, events: list[Event]) -> None:
    """The stream cannot be framed again: generic_nack with sequence 0, then CLOSED."""
    # Kannel answers an unusable header with generic_nack seq 0, then closes.
    session._out.append(generic_nack(0, exc.command_status))
    session._stats[0] += 1
    session._stats[3] += 1
    events.append(ProtocolViolation(error=exc, nack_queued=True))
    if session.state is not SessionState.CLOSED:
        session._apply(Input.CONNECTION_LOST)
