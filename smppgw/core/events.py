"""Events: what the session tells the application (one frozen class per fact).

Events are values: they compare by fields, so tests assert on whole lists of them.
"""

from __future__ import annotations

import enum

import attrs

from smppgw.core.codec import Header
from smppgw.core.errors import ProtocolError
from smppgw.core.pdu import Pdu, Request, Response
from smppgw.core.states import BindMode

__all__ = [
    "BindRejected",
    "Bound",
    "ConnectionClosed",
    "EnquireLinkReceived",
    "EnquireLinkSent",
    "Event",
    "NotificationReceived",
    "ProtocolViolation",
    "RequestAborted",
    "RequestExpired",
    "RequestReceived",
    "ResponseReceived",
    "SessionTimedOut",
    "Timer",
    "UnbindReceived",
    "Unbound",
    "UnexpectedResponse",
]


class Event:
    """Base class. Events are values: compare by fields, never mutate."""

    __slots__ = ()


@attrs.frozen(kw_only=True, slots=False)  # dict-based: the session builds one per PDU (_construct)
class RequestReceived(Event):
    """The peer sent a request the application must answer with ``send_response``
    (bind on the SMSC side, submit_sm, deliver_sm, data_sm, query/cancel/replace_sm)."""

    sequence_number: int
    pdu: Request


@attrs.frozen(kw_only=True)
class NotificationReceived(Event):
    """outbind or alert_notification: requests that have no response (3.4 §4.1.7, §4.12)."""

    pdu: Request


@attrs.frozen(kw_only=True, slots=False)  # dict-based: the session builds one per PDU (_construct)
class ResponseReceived(Event):
    """A response (or a generic_nack) matched one of our in-flight requests."""

    sequence_number: int
    request: Request
    response: Response
    status: int
    round_trip: float


@attrs.frozen(kw_only=True)
class RequestExpired(Event):
    """No response within the response timer; the window slot is free again."""

    sequence_number: int
    request: Request


@attrs.frozen(kw_only=True)
class RequestAborted(Event):
    """The connection closed with this request still in flight: its fate is unknown."""

    sequence_number: int
    request: Request


@attrs.frozen(kw_only=True)
class Bound(Event):
    mode: BindMode
    system_id: str  # the peer's system_id (the SMSC's, as seen by the ESME; the ESME's, as seen by the SMSC)
    interface_version: int | None = None


@attrs.frozen(kw_only=True)
class BindRejected(Event):
    status: int


@attrs.frozen(kw_only=True)
class EnquireLinkReceived(Event):
    """Answered automatically with enquire_link_resp (3.4 §4.11)."""

    sequence_number: int


@attrs.frozen(kw_only=True)
class EnquireLinkSent(Event):
    """The session sent a keep-alive because the link was idle for the configured interval."""

    sequence_number: int


@attrs.frozen(kw_only=True)
class UnbindReceived(Event):
    """The peer unbound (3.4 §4.2). unbind_resp is queued, and the session CLOSED, at once
    when nothing is owed; otherwise right after the last owed response (or when the
    response timer runs out)."""

    sequence_number: int


@attrs.frozen(kw_only=True)
class Unbound(Event):
    """Our unbind was answered (or its response timer ran out): the session is CLOSED."""

    status: int | None


@attrs.frozen(kw_only=True)
class UnexpectedResponse(Event):
    """A response matching no in-flight request (3.4 §2.7: log and discard, never nack)."""

    header: Header
    pdu: Pdu | None


@attrs.frozen(kw_only=True, eq=False)
class ProtocolViolation(Event):
    """The peer misbehaved. ``nack_queued``: an error reply (generic_nack or the matching
    *_resp with ``error.command_status``) is already queued."""

    error: ProtocolError
    nack_queued: bool
    sequence_number: int | None = None
    request_command_id: int | None = None  # the offending request's command_id, if known
    reply_command_id: int | None = None  # what answered it: generic_nack or the *_resp

    def __eq__(self, other: object) -> bool:
        # Exceptions compare by identity; compare by type, message and status instead.
        if not isinstance(other, ProtocolViolation):
            return NotImplemented
        return (
            type(self.error),
            str(self.error),
            self.error.command_status,
            self.nack_queued,
            self.sequence_number,
            self.reply_command_id,
        ) == (
            type(other.error),
            str(other.error),
            other.error.command_status,
            other.nack_queued,
            other.sequence_number,
            other.reply_command_id,
        )

    __hash__ = None  # type: ignore[assignment]


class Timer(enum.Enum):
    """The session timers whose expiry is a ``SessionTimedOut`` (SMPP-REFERENCE §4.3).

    (The response timer is per request: its expiry is a ``RequestExpired``.)
    """

    BIND = "bind"  # session_init_timer: not bound within bind_timeout; the session is CLOSED
    INACTIVITY = "inactivity"  # nothing received within inactivity_timeout; an unbind is queued
    ENQUIRE_LINK = "enquire_link"  # our keep-alive went unanswered: the link is dead, CLOSED


@attrs.frozen(kw_only=True)
class SessionTimedOut(Event):
    """A session timer fired (see ``Timer`` for which, and what the session did)."""

    timer: Timer


@attrs.frozen(kw_only=True)
class ConnectionClosed(Event):
    """The transport is gone (peer closed, or the adapter closed it)."""
