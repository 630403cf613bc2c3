"""Typed errors: who is at fault, whether the session survives, which status answers it.

Blame follows h11: a ``LocalProtocolError`` is a bug in *our* caller (sending submit_sm
while BOUND_RX); a ``RemoteProtocolError`` is the peer's fault. Recovery follows
cloudhopper: a malformed body is answered with generic_nack and the session goes on;
lost framing (``InvalidCommandLength``) is unrecoverable and the connection must close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smppgw.core.constants import CommandStatus, status_name

if TYPE_CHECKING:
    from smppgw.core.pdu import Request

__all__ = [
    "CommandFailed",
    "ConnectionLost",
    "InvalidCommandId",
    "InvalidCommandLength",
    "LocalProtocolError",
    "MalformedPdu",
    "ProtocolError",
    "RemoteProtocolError",
    "ResponseTimeout",
    "SmppError",
    "TextEncodingError",
    "Throttled",
    "WindowFull",
]


class SmppError(Exception):
    """Base of every error raised by smppgw."""


class ProtocolError(SmppError):
    """Someone violated SMPP. Abstract: raise a subclass.

    ``command_status`` is the status to put in the generic_nack or *_resp that answers it.
    """

    command_status: CommandStatus = CommandStatus.ESME_RSYSERR

    def __init__(self, msg: str, *, command_status: CommandStatus | None = None) -> None:
        if type(self) is ProtocolError:
            raise TypeError("instantiate LocalProtocolError / RemoteProtocolError or a subclass")
        super().__init__(msg)
        if command_status is not None:
            self.command_status = command_status


class LocalProtocolError(ProtocolError):
    """*We* tried something SMPP forbids (e.g. submit_sm while BOUND_RX). A bug in the caller."""


class RemoteProtocolError(ProtocolError):
    """The *peer* sent something SMPP forbids."""


class MalformedPdu(RemoteProtocolError):
    """Header parsed, body did not. Recoverable: reply generic_nack(seq, command_status)."""

    command_status = CommandStatus.ESME_RINVMSGLEN


class InvalidCommandId(RemoteProtocolError):
    """Unknown command_id in a request. Recoverable: generic_nack ESME_RINVCMDID (3.4 §3.3)."""

    command_status = CommandStatus.ESME_RINVCMDID


class InvalidCommandLength(RemoteProtocolError):
    """Framing is lost (length < 16 or > max). Unrecoverable: close the connection."""

    command_status = CommandStatus.ESME_RINVCMDLEN


class TextEncodingError(LocalProtocolError, ValueError):
    """Text cannot be represented in the requested alphabet."""

    command_status = CommandStatus.ESME_RINVDCS


class WindowFull(SmppError):
    """Every window slot is taken; wait for a response (or an expiry) and try again."""


class CommandFailed(SmppError):
    """A response arrived with a non-zero command_status."""

    def __init__(self, request: Request, status: int) -> None:
        super().__init__(f"{type(request).__name__} failed: {status_name(status)}")
        self.request, self.status = request, status


class Throttled(CommandFailed):
    """ESME_RTHROTTLED / ESME_RMSGQFUL: slow down, then resubmit the same PDU."""


class ResponseTimeout(SmppError):
    """No response within the response timer (the window entry expired)."""


class ConnectionLost(SmppError):
    """The transport closed or broke. Raised by ``smppgw.net`` only, never by the core."""
