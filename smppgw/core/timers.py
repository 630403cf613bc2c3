"""The session's timers: when ``Session.tick`` has something to do, and what it does.

Theory of operation
-------------------
The session never reads a clock: the adapter asks ``Session.next_deadline()`` when to
wake and calls ``Session.tick(now)`` then. Both land here, in ``SessionTimers``, which
keeps the clock-related state of one session (when it was created, when it last received
anything, which keep-alive is in flight) and acts on the session when a deadline passes
(SMPP-REFERENCE §4.3):

- *response timer* (``response_timeout``): a request unanswered in time leaves the window
  as ``RequestExpired``. An unanswered bind fails the bind; an unanswered unbind closes
  the session anyway (5.0 §2.7); an unanswered keep-alive means the link is dead
  (checklist 31): CLOSED and ``SessionTimedOut(Timer.ENQUIRE_LINK)``. An unbind_resp we
  deferred (3.4 §4.2: owed responses first) goes out when its time is up;
- *session_init timer* (``bind_timeout``): not bound in time -> CLOSED,
  ``SessionTimedOut(Timer.BIND)``;
- *inactivity timer* (``inactivity_timeout``): nothing received while bound -> an unbind
  is sent, ``SessionTimedOut(Timer.INACTIVITY)``;
- *enquire_link timer* (``enquire_link_interval``): nothing received while bound -> an
  enquire_link is sent (3.4 §4.11), ``EnquireLinkSent``; one keep-alive at a time.

None in the config disables a timer. ``SessionTimers`` belongs to the session: it reaches
into the session's private state (its transitions, its queue, its deferred unbind), as
the session's own methods would: it is the part of ``Session`` kept in its own module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smppgw.core.constants import CommandId
from smppgw.core.events import EnquireLinkSent, Event, RequestExpired, SessionTimedOut, Timer, Unbound
from smppgw.core.pdu import EnquireLink, Unbind
from smppgw.core.states import Input, SessionState

if TYPE_CHECKING:
    from smppgw.core.session import Session

__all__ = ["SessionTimers"]

_OPEN, _BINDING, _CLOSED = SessionState.OPEN, SessionState.BINDING, SessionState.CLOSED
_UNBIND: int = CommandId.UNBIND
_BIND_IDS = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})


class SessionTimers:
    """The clock-related state of one session and its deadlines. See the module docstring."""

    __slots__ = ("created", "enquire_seq", "last_rx")

    def __init__(self, now: float) -> None:
        self.created = now  # the session_init timer runs from here
        self.last_rx = now  # the inactivity and enquire_link timers run from here
        self.enquire_seq: int | None = None  # our keep-alive in flight

    def next_deadline(self, session: Session) -> float | None:
        """The earliest ``now`` at which ``tick`` has something to do, or None."""
        config, state = session.config, session.state
        deadlines = []
        expiry = session.window.next_expiry()
        if expiry is not None:
            deadlines.append(expiry)
        unbind = session._unbind_pending
        if unbind is not None:
            deadlines.append(unbind[1])
        if state is _OPEN or state is _BINDING:
            if config.bind_timeout is not None:
                deadlines.append(self.created + config.bind_timeout)
        elif state.is_bound:
            if config.inactivity_timeout is not None:
                deadlines.append(self.last_rx + config.inactivity_timeout)
            if config.enquire_link_interval is not None and self.enquire_seq is None:
                deadlines.append(self.last_rx + config.enquire_link_interval)
        return min(deadlines) if deadlines else None

    def tick(self, session: Session, now: float) -> list[Event]:
        """Run every timer of ``session`` due at ``now``."""
        events: list[Event] = []
        for entry in session.window.expire(now):
            session._stats[2] += 1
            events.append(RequestExpired(sequence_number=entry.sequence_number, request=entry.request))
            cid = entry.request.command_id
            if entry.sequence_number == self.enquire_seq:
                # 5.0 §2.7 / checklist 31: no enquire_link_resp in time -> the link is dead.
                self.enquire_seq = None
                if session.state is not _CLOSED:
                    session._apply(Input.CONNECTION_LOST)
                    events.append(SessionTimedOut(timer=Timer.ENQUIRE_LINK))
            elif cid == _UNBIND and session.state is SessionState.UNBINDING:
                # 5.0 §2.7: no unbind_resp in time -> close anyway.
                session._apply(Input.UNBIND_DONE)
                events.append(Unbound(status=None))
            elif cid in _BIND_IDS and session.state is _BINDING:
                session._apply(Input.BIND_FAILED)
        unbind = session._unbind_pending
        if unbind is not None and now >= unbind[1]:
            session._answer_unbind(unbind[0])  # the application never answered
        config, state = session.config, session.state
        if state is _OPEN or state is _BINDING:
            if config.bind_timeout is not None and now >= self.created + config.bind_timeout:
                session._apply(Input.TIMEOUT)
                events.append(SessionTimedOut(timer=Timer.BIND))
        elif state.is_bound:
            if config.inactivity_timeout is not None and now >= self.last_rx + config.inactivity_timeout:
                events.append(SessionTimedOut(timer=Timer.INACTIVITY))
                session.send_request(Unbind(), now)
            elif (
                config.enquire_link_interval is not None
                and self.enquire_seq is None
                and now >= self.last_rx + config.enquire_link_interval
            ):
                self.enquire_seq = seq = session.send_request(EnquireLink(), now)
                events.append(EnquireLinkSent(sequence_number=seq))
        return events
