"""Message records and the store protocol (DESIGN §3: the message lifecycle).

    accepted -> scheduled -> queued -> submitting -> submitted -> en_route
        -> delivered | undeliverable | expired | rejected | failed | blocked | canceled | unknown

The status model (``Status``, ``RANK``, ``advance``, ``rollup``) lives in
``smppgw.store.status`` and is re-exported here: a status never goes backwards, and
each change is kept in the record's ``history`` with its time and source.

A message is split into parts at dispatch; each part carries its own SMSC message_id
and receipt. Records are mutable bookkeeping owned by the gateway; the store persists
them (``save``) and answers queries.

The store is a set of protocols, one per concern, each with the questions its callers
ask: ``MessageStore`` (the queue: add, save, get, idempotency lookup, what a restart
resumes), ``InboundStore`` (MO messages), ``OptOutStore`` (the opt-out registry),
``StoreControl`` (write-behind flush, group commit, close, wall-clock times),
``CorrelationStore`` (which part an SMSC id named, for a horizon) and
``InboundPartStore`` (MO parts held for reassembly); ``ConsentStore`` (the consent
history, ``store.consent``; ``OptOutStore`` is a view of it), ``VoucherStore``
(``store.vouchers``); ``FlowStore`` and ``ThreadStore`` (``store.flows``,
``store.threads``; not in ``Store``: the composition root wires them for a store that
has them; every bundled store does). ``Store`` combines the first five; the API
and the composition root take it, the engine takes ``MessageStore`` only.
``store.sqlite`` and ``store.memory`` implement all of them (Redis: the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from smppgw.store.consent import ConsentStore, OptOutRecord, consent_changed
from smppgw.store.conversations import (  # (store.conversations)
    CONVERSATION_EVENTS,
    ConversationRecord,
    ConversationStore,
    conversation_event,
)  # fmt: skip
from smppgw.store.events import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    EventRecord,
    EventRouter,
    EventStore,
    Target,
    event_id,
    inbound_event,
    iso,
)
from smppgw.store.flows import ActiveRunExists, FlowDefinition, FlowRunRecord, FlowStore  # (store.flows)
from smppgw.store.keys import SCOPES, ApiKeyRecord, KeyStore, key_hash
from smppgw.store.status import FINAL, OUTCOMES, RANK, HistoryEntry, Status, advance, may_move, rollup
from smppgw.store.threads import STATUSES as THREAD_STATUSES  # (store.threads)
from smppgw.store.threads import ThreadEntry, ThreadQuery, ThreadRecord, ThreadStore
from smppgw.store.vouchers import VoucherStore  # (store.vouchers: its records too)

__all__ = [
    "CONVERSATION_EVENTS",
    "ConversationRecord",
    "ConversationStore",
    "conversation_event",
    "ActiveRunExists",
    "FlowDefinition",
    "FlowRunRecord",
    "FlowStore",
    "THREAD_STATUSES",
    "ThreadEntry",
    "ThreadQuery",
    "ThreadRecord",
    "ThreadStore",
    "VoucherStore",
    "INBOUND_NOTES",
    "ConsentStore",
    "consent_changed",
    "SCOPES",
    "ApiKeyRecord",
    "KeyStore",
    "key_hash",
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
    "inbound_event",
    "iso",
    "FINAL",
    "OUTCOMES",
    "HistoryEntry",
    "CorrelationStore",
    "InboundRecord",
    "InboundStore",
    "MessageQuery",
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
    "advance",
    "may_move",
    "InboundPart",
    "InboundPartStore",
    "owes_work",
    "rollup",
    "STATUS_LABEL",
]

STATUS_LABEL = {status: status.value for status in Status}  # ``.value``: a property, two frames


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
            "status": STATUS_LABEL[self.status],
            "final": self.status in FINAL,
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
    # Every status change, oldest first (``advance``); a store keeps it beside the record.
    history: list[HistoryEntry] = attrs.field(factory=list, repr=False)
    history_saved: int = 0  # entries a durable store has written already
    send_at: float | None = None  # when a ``scheduled`` message is queued (trio clock, like created_at)
    tenant: str | None = None  # the tenant of the API key that sent it (store.keys)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        parts = self.parts
        return {
            "id": self.id,
            "from": self.source,
            "to": self.destination,
            "status": STATUS_LABEL[self.status],
            "final": self.status in FINAL,
            "route": self.route,
            "smsc": self.smsc,
            "error": self.error,
            "parts_delivered": sum(p.status is Status.DELIVERED for p in parts),
            "parts_total": len(parts),
            "parts": [p.to_dict() for p in parts],
        }


class MessageStore(Protocol):
    def add(self, messages: Sequence[MessageRecord]) -> None:
        """Store new messages durably, all or none, before anyone is told they are accepted."""

    def save(self, message: MessageRecord) -> None:
        """Record a change (a durable store may batch these; see ``flush``)."""

    def get(self, message_id: str) -> MessageRecord | None:
        """The newest state of a message (a change not flushed yet included), or None."""

    def counts(self) -> dict[str, int]:
        """Messages per status value (every message ever added, final ones included)."""

    def find_key(self, idempotency_key: str, tenant: str | None = None) -> MessageRecord | None:
        """The message added with this idempotency key by ``tenant`` (each tenant, and
        None, has its own keys), or None (the API answers it again)."""

    def unfinished(self) -> list[MessageRecord]:
        """Messages the gateway still owes work (``owes_work``), oldest first: what a
        restart resumes."""

    def list_messages(self, query: MessageQuery) -> tuple[list[MessageRecord], tuple[float, str] | None]:
        """Up to ``query.limit`` messages matching ``query``, newest first (created_at,
        then id, descending), with the key to pass as ``query.before`` for the next page
        (None when there is no more). The newest state of each (unflushed changes too)."""


@attrs.frozen(kw_only=True)
class MessageQuery:
    """A listing filter (``MessageStore.list_messages``); None matches anything.

    ``since`` (inclusive) and ``until`` (exclusive) bound ``created_at`` in wall-clock
    seconds; ``before`` is a page cursor: the (wall created_at, id) of the last message
    of the previous page.
    """

    status: Status | None = None
    source: str | None = None
    destination: str | None = None
    tag: str | None = None
    since: float | None = None
    until: float | None = None
    before: tuple[float, str] | None = None
    limit: int = 100
    tenant: str | None = None  # only this tenant's messages (None: every message)

    def matches(self, message: MessageRecord, created: float) -> bool:
        """Whether ``message`` (created at wall-clock ``created``) passes the filter."""
        if self.status is not None and message.status is not self.status:
            return False
        if self.source is not None and message.source != self.source:
            return False
        if self.destination is not None and message.destination != self.destination:
            return False
        if self.tag is not None and self.tag not in message.tags:
            return False
        if self.tenant is not None and message.tenant != self.tenant:
            return False
        if self.since is not None and created < self.since:
            return False
        if self.until is not None and created >= self.until:
            return False
        return self.before is None or (created, message.id) < self.before


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
    tenant: str | None = None  # the tenant that owns its destination number ([api.tenants])
    # What the 2-way layer made of it (gateway/twoway.py): the keyword it is ("STOP"),
    # the message it answers, its conversation, the parsed answer, and how it was linked.
    keyword: str | None = None
    in_reply_to: str | None = None
    conversation_id: str | None = None
    answer: str | None = None
    linked_by: str | None = None  # "exact" | "latest" | None (not linked)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


INBOUND_NOTES = ("keyword", "in_reply_to", "conversation_id", "answer", "linked_by")


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
        tenant: str | None = None,
        keyword: str | None = None,
        in_reply_to: str | None = None,
        conversation_id: str | None = None,
        answer: str | None = None,
        linked_by: str | None = None,
    ) -> InboundRecord:
        """Store one inbound message durably, before its deliver_sm_resp (DESIGN §3).
        ``received_at`` is on the trio clock; the record carries wall-clock seconds.
        ``keyword`` ... ``linked_by``: the 2-way layer's notes (``INBOUND_NOTES``)."""

    def inbound(self, *, after: int = 0, limit: int = 100, tenant: str | None = None) -> list[InboundRecord]:
        """Up to ``limit`` messages with ``seq > after``, in ``seq`` order; only
        ``tenant``'s if given."""


class OptOutStore(Protocol):
    def opt_out(self, number: str, *, now: float, reason: str = "api") -> None:
        """Add ``number`` to the registry (``now`` on the trio clock); an entry already
        there keeps its first time and reason."""

    def opt_in(self, number: str, *, now: float | None = None, reason: str = "api") -> bool:
        """Record an API opt-in of ``number`` (``now`` on the trio clock); False if it was
        not opted out (nothing recorded). Nothing is erased (``store.consent``)."""

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

    def checkpoint(self) -> int:
        """Move what is durable into its final place off the event loop (SQLite: the WAL
        into the database file); called from a worker thread, once at a time. Returns
        how much it moved (0: nothing to do). Raises StoreError."""

    def commit(self) -> None:
        """Group commit (DESIGN §3): make every change kept back so far durable, in one
        transaction, now: the changes ``save`` kept and the staged inbound parts. The
        gateway calls it once per read batch before that batch's deliver_sm_resp go out,
        and once per dispatch batch before its submit_sm are written.

        Raises:
            StoreError: nothing of it is durable; the changes are kept for the next try.
        """


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
class Store(
    MessageStore, InboundStore, OptOutStore, StoreControl, CorrelationStore, EventStore, KeyStore,
    ConsentStore, ConversationStore, VoucherStore, Protocol,
):  # fmt: skip
    """Everything the API and the composition root use of a store (the event outbox of
    ``store.events`` and the voucher pools included). Flows and threads are protocols of
    their own (``FlowStore``, ``ThreadStore``), wired where a store has them."""


# -- inbound parts held for reassembly --------------------------------------------------------


@attrs.frozen(kw_only=True)
class InboundPart:
    """One part of a concatenated MO message, acknowledged to the SMSC and waiting for
    its siblings (``gateway.inbound``). ``received_at`` is on the trio clock."""

    smsc: str
    source: str
    destination: str
    reference: int
    total: int
    seqnum: int
    data_coding: int
    payload: bytes
    received_at: float


@runtime_checkable
class InboundPartStore(Protocol):
    """MO parts held for reassembly: a part acknowledged to the SMSC survives a crash
    (DESIGN §3). Writes are staged and made durable by ``StoreControl.commit``. Both
    bundled stores implement it (the engine checks, so a backend without it still runs,
    with parts held in memory only)."""

    def add_inbound_part(self, part: InboundPart) -> None:
        """Keep ``part`` (durable at the next commit)."""

    def drop_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> None:
        """Forget the parts of one group: its whole message was stored or handed over."""

    def inbound_parts(self, smsc: str) -> list[InboundPart]:
        """The parts held for ``smsc``, oldest first: what a restart reloads."""
