"""Message records and the store protocol (DESIGN §3: the message lifecycle).

    accepted -> queued -> submitting -> submitted -> delivered | undeliverable | expired
                                                   | rejected | failed | blocked

A message is split into parts at dispatch; each part carries its own SMSC message_id
and receipt. Records are mutable bookkeeping owned by the gateway; the store persists
them (``save``) and answers queries.

The store is a set of protocols, one per concern, each with the questions its callers
ask: ``MessageStore`` (the queue: add, save, get, idempotency lookup, what a restart
resumes), ``InboundStore`` (MO messages), ``OptOutStore`` (the opt-out registry) and
``StoreControl`` (write-behind flush, close, wall-clock times), ``CorrelationStore`` (which
part an SMSC id named, for a horizon). ``Store`` combines them;
the API and the composition root take it, the engine takes ``MessageStore`` only.
``store.sqlite`` (embedded, durable) and ``store.memory`` (tests, one-shot tools)
implement all of them, and another backend (Redis) implements the same.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "FINAL",
    "CorrelationStore",
    "InboundRecord",
    "InboundStore",
    "MessageRecord",
    "MessageStore",
    "OptOutRecord",
    "OptOutStore",
    "RANK",
    "PartRecord",
    "Status",
    "Store",
    "StoreControl",
    "StoreError",
    "owes_work",
    "rollup",
]


class Status(enum.Enum):
    # Members are singletons: identity hashing is exact and cheaper than Enum's
    # name hash (these are dict/set keys on the per-message path).
    __hash__ = object.__hash__

    ACCEPTED = "accepted"  # durably stored, id returned
    SCHEDULED = "scheduled"  # waits for its send_at (or a quiet-hours opening)
    QUEUED = "queued"
    SUBMITTING = "submitting"  # durable before the submit_sm is written
    SUBMITTED = "submitted"  # the SMSC answered with a message_id
    EN_ROUTE = "en_route"  # an interim receipt (ENROUTE, ACCEPTD)
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECTED = "rejected"  # a permanent SMSC error
    FAILED = "failed"  # retries or age exhausted
    BLOCKED = "blocked"  # opt-out or validation
    CANCELED = "canceled"  # canceled before it was submitted
    UNKNOWN = "unknown"  # no final receipt within validity + receipt_grace


FINAL = frozenset(
    {
        Status.DELIVERED,
        Status.UNDELIVERABLE,
        Status.EXPIRED,
        Status.REJECTED,
        Status.FAILED,
        Status.BLOCKED,
        Status.CANCELED,
        Status.UNKNOWN,
    }
)
# A status never goes backwards (DESIGN §3): a change to a lower rank goes into the
# history only. Every final status shares the top rank; ``unknown`` is the one final
# status a late receipt may still replace with the real outcome.
RANK: dict[Status, int] = {
    Status.ACCEPTED: 0,
    Status.SCHEDULED: 1,
    Status.QUEUED: 2,
    Status.SUBMITTING: 3,
    Status.SUBMITTED: 4,
    Status.EN_ROUTE: 5,
    **dict.fromkeys(FINAL, 6),
}


@attrs.define(eq=False)
class PartRecord:
    index: int  # 1-based
    total: int
    status: Status = Status.QUEUED
    smsc_message_id: str | None = None
    attempts: int = 0
    resent_unknown: int = 0  # resubmitted after a timeout or lost bind: may duplicate
    submitted_at: float | None = None
    resp_latency: float | None = None
    receipt_stat: str | None = None
    receipt_final: bool = False
    receipt_at: float | None = None
    receipt_error: str | None = None
    receipt_latency: float | None = None
    receipts: int = 0  # receipts seen, duplicates included
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "smsc_message_id": self.smsc_message_id,
            "attempts": self.attempts,
            "resent_unknown": self.resent_unknown,
            "receipt_stat": self.receipt_stat,
            "receipt_error": self.receipt_error,
            "error": self.error,
        }


@attrs.define(eq=False)
class MessageRecord:
    id: str
    source: str
    destination: str
    text: str
    encoding: str = "auto"
    dlr: bool = True
    validity: float | None = None  # seconds
    priority: int = 0
    tags: tuple[str, ...] = ()
    status: Status = Status.ACCEPTED
    route: str | None = None
    smsc: str | None = None
    parts: list[PartRecord] = attrs.field(factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    error: str | None = None
    attempts: int = 0
    idempotency_key: str | None = None
    callback_url: str | None = None
    reference: int | None = None  # concatenation reference, kept so a restart resends the same

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.source,
            "to": self.destination,
            "status": self.status.value,
            "route": self.route,
            "smsc": self.smsc,
            "error": self.error,
            "parts": [p.to_dict() for p in self.parts],
        }


# How bad a part's final status is for its message: the worst part wins (DESIGN §3).
_RANK = {Status.DELIVERED: 0, Status.EXPIRED: 1, Status.UNDELIVERABLE: 2, Status.REJECTED: 3}
_DELIVERED = Status.DELIVERED


def rollup(parts: Sequence[PartRecord]) -> tuple[Status, str | None] | None:
    """The status a message takes from its parts' final receipts, and its error.

    None while any part still waits for its final receipt. Else ``delivered`` if every
    part was delivered; otherwise the worst part's status, rejected > undeliverable >
    expired, with that part's receipt stat as the error (the first such part's). A
    part with a final receipt has one of those four statuses (``ReceiptBook``).
    """
    status: Status = _DELIVERED
    error = None
    for part in parts:  # (one part, the common case: one pass, no set)
        if not part.receipt_final:
            return None
        if part.status is not _DELIVERED and _RANK[part.status] > _RANK[status]:
            status, error = part.status, part.receipt_stat
    return status, error


class MessageStore(Protocol):
    def add(self, messages: Sequence[MessageRecord]) -> None:
        """Store new messages durably, all or none, before anyone is told they are accepted."""

    def save(self, message: MessageRecord) -> None:
        """Record a change (a durable store may batch these; see ``flush``)."""

    def get(self, message_id: str) -> MessageRecord | None:
        """The newest state of a message (a change not flushed yet included), or None."""

    def counts(self) -> dict[str, int]:
        """Messages per status value (every message ever added, final ones included)."""

    def find_key(self, idempotency_key: str) -> MessageRecord | None:
        """The message added with this idempotency key, or None (the API answers it again)."""

    def unfinished(self) -> list[MessageRecord]:
        """Messages the gateway still owes work (``owes_work``), oldest first: what a
        restart resumes."""


def owes_work(message: MessageRecord) -> bool:
    """Still owed work: not final, and not a message sent without a receipt request
    (``submitted`` is where those end, DESIGN §3)."""
    return message.status not in FINAL and not (message.status is Status.SUBMITTED and not message.dlr)


class StoreError(RuntimeError):
    """The store refused a write (disk full, locked, corrupt, a duplicate id or
    idempotency key); nothing of it was accepted."""


@attrs.frozen(kw_only=True)
class InboundRecord:
    """One stored inbound (MO) message; ``seq`` counts from 1 in arrival order."""

    seq: int
    smsc: str
    source: str
    destination: str
    text: str
    data_coding: int
    parts: int
    complete: bool
    received_at: float  # wall clock

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class InboundStore(Protocol):
    def add_inbound(
        self,
        *,
        smsc: str,
        source: str,
        destination: str,
        text: str,
        data_coding: int,
        parts: int,
        complete: bool,
        received_at: float,
    ) -> InboundRecord:
        """Store one inbound message durably, before its deliver_sm_resp (DESIGN §3).
        ``received_at`` is on the trio clock; the record carries wall-clock seconds."""

    def inbound(self, *, after: int = 0, limit: int = 100) -> list[InboundRecord]:
        """Up to ``limit`` messages with ``seq > after``, in ``seq`` order."""


@attrs.frozen(kw_only=True)
class OptOutRecord:
    number: str
    created_at: float  # wall clock
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class OptOutStore(Protocol):
    def opt_out(self, number: str, *, now: float, reason: str = "api") -> None:
        """Add ``number`` to the registry (``now`` on the trio clock); an entry already
        there keeps its first time and reason."""

    def opt_in(self, number: str) -> bool:
        """Remove ``number``; False if it was not opted out."""

    def get_opt_out(self, number: str) -> OptOutRecord | None: ...

    def is_opted_out(self, number: str) -> bool:
        """Asked before every send (DESIGN §1): keep it cheap."""


class StoreControl(Protocol):
    def wall(self, monotonic: float | None) -> float | None:
        """A record time (trio clock) as wall-clock seconds, for views and webhooks."""

    def flush(self) -> int:
        """Write the changes ``save`` kept back, in one go; returns how many. On
        ``StoreError`` they are kept for the next try."""

    def close(self) -> None:
        """Flush, then release the store."""


@runtime_checkable
class CorrelationStore(Protocol):
    """Which part an SMSC message id named, kept for a horizon after the part is final.

    SMSC ids are unique per SMSC only within a time horizon (a restarted SMSC numbers
    from 1 again), so a row is keyed by (smsc, key) — ``key`` the id as the correlator
    compares it — a newer row replaces an older one, and rows older than the horizon are
    dropped (``expire_correlations``). The gateway keeps only open parts in memory; this
    answers the rare lookups that miss there: duplicates and late receipts.
    """

    def put_correlation(self, smsc: str, key: str, message_id: str, part: int, submitted_at: float) -> None:
        """Remember that ``key`` at ``smsc`` named part ``part`` (1-based) of ``message_id``
        (``submitted_at`` on the trio clock); a durable store may write it at ``flush``."""

    def get_correlation(self, smsc: str, key: str) -> tuple[str, int] | None:
        """(message id, part index) last remembered under ``key`` at ``smsc``, or None."""

    def expire_correlations(self, before: float, limit: int = 10_000) -> int:
        """Forget up to ``limit`` rows submitted before ``before`` (trio clock), oldest
        first; returns how many (called often, so no call stalls the event loop)."""


@runtime_checkable
class Store(MessageStore, InboundStore, OptOutStore, StoreControl, CorrelationStore, Protocol):
    """Everything the API and the composition root use of a store."""
