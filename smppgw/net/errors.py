"""What callers of ``smppgw.net`` see when something fails: a request's ``Outcome``
becomes its response or a typed error from ``core.errors``, and trio's transport errors
become ``ConnectionLost``. Only this package knows trio's error types."""

from __future__ import annotations

import trio

from smppgw.core.constants import CommandStatus
from smppgw.core.errors import CommandFailed, ConnectionLost, ResponseTimeout, Throttled
from smppgw.core.events import RequestAborted, RequestExpired, ResponseReceived
from smppgw.core.pdu import Response

__all__ = ["OUTCOME_TYPES", "UNBOUND_CLEANLY", "Outcome", "map_trio_errors", "outcome_result"]

#: A connection's ``close_reason`` once an unbind and its unbind_resp were exchanged,
#: whichever side unbound (3.4 §4.2): not a loss.
UNBOUND_CLEANLY = "unbound cleanly"

#: How a request ends: answered, expired (no response within the timer), or aborted
#: (the connection closed with it in flight).
Outcome = ResponseReceived | RequestExpired | RequestAborted
#: The same for ``isinstance`` (a tuple: ``A | B | C`` in the call builds a union per event).
OUTCOME_TYPES = (ResponseReceived, RequestExpired, RequestAborted)

_THROTTLE = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
_LOST = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class _MapTrioErrors:
    """A class, not @contextmanager: it is entered once per read and per write, and a
    generator-based manager cost a generator and four calls each time."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if kind is not None and issubclass(kind, _LOST):
            # trio wraps the ssl error (a TLS alert, an EOF) in BrokenResourceError: name it
            cause = exc.__cause__ if exc is not None else None
            raise ConnectionLost(f"connection lost: {exc!r}" + (f" from {cause!r}" if cause else "")) from exc


_MAP_TRIO_ERRORS = _MapTrioErrors()


def map_trio_errors() -> _MapTrioErrors:
    """Only ``smppgw.net`` knows trio's error types; callers see ``ConnectionLost``."""
    return _MAP_TRIO_ERRORS


def outcome_result(outcome: Outcome) -> Response:
    """The response for a successful outcome; raise the matching typed error otherwise.

    Raises:
        Throttled: ESME_RTHROTTLED or ESME_RMSGQFUL.
        CommandFailed: any other non-zero command_status (generic_nack included).
        ResponseTimeout: no response within the response timer.
        ConnectionLost: the connection closed while the request was in flight.
    """
    if isinstance(outcome, ResponseReceived):
        if outcome.status == CommandStatus.ESME_ROK:
            return outcome.response
        if outcome.status in _THROTTLE:
            raise Throttled(outcome.request, outcome.status)
        raise CommandFailed(outcome.request, outcome.status)
    if isinstance(outcome, RequestExpired):
        raise ResponseTimeout(f"no response to {type(outcome.request).__name__} #{outcome.sequence_number}")
    raise ConnectionLost(f"connection closed with {type(outcome.request).__name__} in flight")
