"""The event outbox (DESIGN §4.2): events, their deliveries, and the ``EventStore`` protocol.

An event is a fact a platform hears about, one JSON object, sent as the webhook body
byte for byte and replayed by ``GET /v1/events``::

    {"id": "evt_...", "type": "message.status", "occurred_at": "2026-01-02T03:04:05.678Z",
     "subject": "<message id>", "sequence": 2, "data": {...}}

``type`` is an open string (``message.status``, ``message.inbound``; more come later);
``sequence`` counts the events of one ``subject`` from 1. The id is made from the subject
and the sequence, so the same change written twice (replayed after a crash) is one event:
a store ignores an id it has.

Events go into the store in the same transaction as the change they tell of: a status
event with its record's save (``append_event``, durable at the next ``commit``), an
inbound event with its inbound record (``add_inbound`` writes it). Each event gets one
delivery per endpoint it is for (``Target``), chosen when it is written by the router
the composition root gives the store (``route_events``); without a router a store writes
no events (a gateway run without the outbox, such as ``smppgw send``).

A delivery is ``pending`` until an attempt succeeds (``delivered``) or the endpoint
refuses it for good or it kept failing for ``retry_for`` (``dead``). Only the store holds
that state: a restart goes on where the last recorded attempt left off (at least once).
Delivered events older than the retention are pruned; pending and dead ones stay.
Times here are wall-clock seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, Protocol, runtime_checkable

import attrs
import orjson

from smppgw.support.isotime import iso

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "Attempt",
    "Delivery",
    "EventRecord",
    "EventRouter",
    "EventStore",
    "Target",
    "event_id",
    "event_id_range",
    "inbound_event",
    "iso",
]

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"


def event_id(subject: str, sequence: int) -> str:
    """Stable: the same change written again is the same event."""
    return f"evt_{subject.replace(':', '_')}_{sequence}"


def event_id_range(subject: str) -> tuple[str, str]:
    """[low, high): every id ``event_id`` makes for ``subject`` sorts in it (and ids of
    other subjects may too: check the subject)."""
    prefix = f"evt_{subject.replace(':', '_')}_"
    return prefix, prefix[:-1] + chr(ord("_") + 1)


@attrs.frozen(kw_only=True)
class Target:
    """Where one event goes: ``endpoint`` names the queue (a configured endpoint's name,
    or ``callback:<host:port>`` for a message's own ``callback_url``; never a full URL,
    which may carry a token); ``url`` is where it is POSTed."""

    endpoint: str
    url: str


#: (event type, the message's callback_url or None) -> the targets of that event.
EventRouter = Callable[[str, str | None], Sequence[Target]]


# EventRecord and Delivery are dict-based (``slots=False``): several are built per message
# (a status event, its delivery per endpoint), and attrs' __init__ of a frozen dict-based
# class writes the instance's __dict__ directly where a slotted one calls
# object.__setattr__ per field (CPython 3.11, callgrind: an EventRecord 13.1k -> 9.6k
# instructions, a Delivery ~21k -> ~14k; two of each per message). Attempt: a named tuple.
# Not kw_only either: a status change makes its events positionally (see Delivery).
@attrs.frozen(slots=False)
class EventRecord:
    """One event. ``seq`` is the log's order (0 until written); ``body`` is the JSON text
    sent and signed. ``id`` is ``event_id(subject, sequence)``: the SQLite store finds a
    subject's events by it (``event_id_range``)."""

    id: str
    type: str
    subject: str
    sequence: int
    occurred_at: float  # wall clock
    data: dict[str, Any] = attrs.field(eq=False, repr=False)
    seq: int = 0
    callback_url: str | None = attrs.field(default=None, repr=False)  # a message.status event's

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": iso(self.occurred_at),
            "subject": self.subject,
            "sequence": self.sequence,
            "data": self.data,
        }

    def body(self) -> str:
        # orjson: compact like json.dumps with (",", ":"), non-ASCII kept as UTF-8 (the
        # bytes sent and signed are this text encoded); several times cheaper per event.
        return orjson.dumps(self.to_dict()).decode()


def inbound_event(record: Any) -> EventRecord:
    """The ``message.inbound`` event of a stored ``InboundRecord``."""
    data = record.to_dict()
    data["received_at"] = iso(record.received_at)
    subject = f"inbound:{record.seq}"
    return EventRecord(
        id=event_id(subject, 1), type="message.inbound", subject=subject, sequence=1,
        occurred_at=record.received_at, data=data,
    )  # fmt: skip


# Not kw_only: the SQLite store makes one per delivery written (handed to the worker in
# memory) and per row read, positionally (a row's columns are the fields in order). A
# class's __init__ called with keywords gets them as a dict made for the call (type
# call -> slot_tp_init): 9 keywords cost ~4.5k instructions more than 14 positional
# arguments (CPython 3.11, callgrind; ~13.5k -> ~9k). Elsewhere it is made by keyword.
@attrs.frozen(slots=False)  # dict-based: see EventRecord
class Delivery:
    """One event for one endpoint, and how its delivery stands."""

    seq: int  # the event's
    event_id: str
    type: str
    subject: str
    endpoint: str
    url: str
    state: str = PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    first_attempt_at: float | None = None
    last_status: int | None = None  # the HTTP status of the last attempt
    last_error: str | None = None
    updated_at: float = 0.0
    body: str = attrs.field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The API's view: no URL (it may carry a token), no body."""

        def when(t: float | None) -> str | None:
            return None if t is None else iso(t)

        return {
            "event_id": self.event_id, "seq": self.seq, "type": self.type, "subject": self.subject,
            "endpoint": self.endpoint, "state": self.state, "attempts": self.attempts,
            "last_status": self.last_status, "last_error": self.last_error,
            "first_attempt_at": when(self.first_attempt_at),
            "next_attempt_at": when(self.next_attempt_at) if self.state == PENDING else None,
            "updated_at": when(self.updated_at),
        }  # fmt: skip


class Attempt(NamedTuple):
    """What one attempt left: the delivery's new state (``pending`` with its next time).

    A named tuple, not attrs: the webhook worker makes one per delivery of every call
    (a batched call's 100 share all but ``seq``), and made positionally it costs ~3.6k
    instructions against ~11.6k for the frozen attrs instance with its seven
    ``object.__setattr__`` calls (callgrind, CPython 3.11). Stores read its fields by name,
    but for the SQLite store's ``record_attempts``: it groups them by the fields after
    ``seq`` (a slice), so keep ``seq`` first."""

    seq: int
    endpoint: str
    state: str
    at: float
    next_attempt_at: float
    status: int | None
    error: str | None


@runtime_checkable
class EventStore(Protocol):
    def wall(self, monotonic: float | None) -> float | None:
        """A record time (trio clock) as wall-clock seconds (``StoreControl.wall``)."""

    def route_events(self, router: EventRouter) -> None:
        """Turn the outbox on: from now on events are written, each with a delivery per
        target ``router`` names."""

    def append_event(self, event: EventRecord) -> None:
        """Write ``event`` (and its deliveries) with the changes saved before it: durable
        at the next ``commit``/``flush``, in the same transaction. An id the store has
        is ignored. Without a router, nothing."""

    def events(self, *, after: int = 0, types: Sequence[str] = (), limit: int = 100) -> list[EventRecord]:
        """The log from ``seq > after`` in order (of ``types`` only, when given)."""

    def due_deliveries(self, now: float, *, limit: int, skip: Sequence[str] = ()) -> list[Delivery]:
        """Pending deliveries due by ``now``, with their bodies; none for an endpoint in
        ``skip`` (its queue is busy). Per endpoint, retries due first (soonest first),
        then first attempts in the order written.

        Each is handed out once: not returned again until its attempt is recorded
        (``record_attempts``) or ``release_deliveries`` is called. The store keeps that
        in memory only: a restart forgets it, and every pending delivery is due again
        (at least once)."""

    def release_deliveries(self) -> None:
        """Forget what ``due_deliveries`` handed out and was not recorded (the worker
        stopped): those are due again."""

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Record the outcome of attempts, in one transaction.

        Raises:
            StoreError: nothing was recorded (the deliveries stay as they were).
        """

    def deliveries(
        self, *, subject: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries of one subject's events, or in one state (newest first), without bodies."""

    def retry_dead(self, event_id: str | None, now: float) -> int:
        """Make dead deliveries (of ``event_id``, or all) pending again, due ``now``, with a
        fresh ``retry_for``; returns how many."""

    def backlog(self) -> dict[str, int]:
        """Pending deliveries per endpoint."""

    def prune_events(self, before: float, limit: int = 10_000) -> int:
        """Forget up to ``limit`` events that occurred before ``before`` and whose every
        delivery is delivered; returns how many."""
