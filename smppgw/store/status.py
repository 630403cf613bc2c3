"""The status model (DESIGN §3): the statuses, their ranks, and the rules every change obeys.

    accepted -> scheduled -> queued -> submitting -> submitted -> en_route
        -> delivered | undeliverable | expired | rejected | failed | blocked | canceled | unknown

``advance`` is the one rule every status change of a message goes through: a status
never goes backwards, and each change is kept in the record's ``history`` with its time
and source (a move the rule refuses, in the history only). ``rollup`` is the one rule
for a multi-part message: the worst part wins. Pure functions over the records of
``smppgw.store.base``, which re-exports every name here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smppgw.store.base import MessageRecord, PartRecord

__all__ = ["FINAL", "OUTCOMES", "RANK", "HistoryEntry", "Status", "advance", "may_move", "rollup"]


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
# What a final receipt can say of a part: the real outcome that may replace ``unknown``.
OUTCOMES = frozenset({Status.DELIVERED, Status.UNDELIVERABLE, Status.EXPIRED, Status.REJECTED})
_SUBMITTING, _QUEUED, _UNKNOWN = Status.SUBMITTING, Status.QUEUED, Status.UNKNOWN
_DELIVERED = Status.DELIVERED

# One status change: (status, at (trio clock), source, detail, applied). ``source`` says
# who: "smpp" (a submit_sm_resp; detail its command_status name), "receipt" (detail the
# stat and err), "api"/"operator" (cancel, opt-out), "gateway" (accept, failover,
# expiry, restore). ``applied`` is False for a move the rank rule refused (history only).
HistoryEntry = tuple[Status, float, str, str | None, bool]


def may_move(old: Status, new: Status) -> bool:
    """The rank rule (DESIGN §3), for messages and parts alike.

    A status never goes to a lower rank, with one exception before the SMSC took the
    part: ``submitting`` -> ``queued`` (a transient error or a lost bind requeues it,
    same message id). Nothing leaves a final status except ``unknown``, which a late
    receipt replaces with the real outcome (``OUTCOMES``).
    """
    if old in FINAL:
        return old is _UNKNOWN and new in OUTCOMES
    return RANK[new] >= RANK[old] or (old is _SUBMITTING and new is _QUEUED)


# Every (old, new) pair ``may_move`` allows, computed once from it: ``advance`` runs a few
# times per message, and a set lookup is a frame and three comparisons less.
_ALLOWED = frozenset((old, new) for old in Status for new in Status if may_move(old, new))


def advance(
    record: MessageRecord, status: Status, source: str, now: float, detail: str | None = None
) -> bool:
    """Move ``record`` to ``status`` if the rank rule allows it (``may_move``); either way
    the change goes into its history. True if the status changed (``updated_at`` too).

    The one place a message's status is set after it was made; a store saves the new
    history entries with the record (``history_saved`` counts those already written).
    """
    if (record.status, status) in _ALLOWED:  # may_move, as one set lookup (per change)
        record.status = status
        record.updated_at = now
        record.history.append((status, now, source, detail, True))
        return True
    record.history.append((status, now, source, detail, False))
    return False


# How bad a part's final status is for its message: the worst part wins (DESIGN §3).
# ``unknown`` (a part's receipt never came) is the worst: the message's outcome is not
# known while any part's is not, so a late receipt moves it out of ``unknown`` only
# once every part has its outcome, and the result never depends on their order.
_RANK = {
    Status.DELIVERED: 0,
    Status.EXPIRED: 1,
    Status.UNDELIVERABLE: 2,
    Status.REJECTED: 3,
    Status.UNKNOWN: 4,
}


def rollup(parts: Sequence[PartRecord]) -> tuple[Status, str | None] | None:
    """The status a message takes from its parts' final receipts, and its error.

    None while any part still waits for its final receipt. Else ``delivered`` if every
    part was delivered; otherwise the worst part's status, unknown > rejected >
    undeliverable > expired, with that part's receipt stat as the error (the first
    such part's). A part with a final receipt has one of the four ``OUTCOMES``
    (``ReceiptBook``); a part whose receipt never came is ``unknown`` (its deadline).
    """
    status: Status = _DELIVERED
    error = None
    for part in parts:  # (one part, the common case: one pass, no set)
        if not part.receipt_final and part.status is not _UNKNOWN:
            return None
        if part.status is not _DELIVERED and _RANK[part.status] > _RANK[status]:
            status, error = part.status, part.receipt_stat
    return status, error
