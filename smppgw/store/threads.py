"""Threads in the store: the records, the rule of a thread's status, its events, and the
``ThreadStore`` protocol.

A thread is one (tenant, number, sender) pair: a subscriber's number, one of our
senders, and the tenant that owns them. Threads are lazy: a pair has one from its first
inbound (MO) text, a flow's handoff or an agent's reply on. An MT message to a pair with
no thread costs one look-up in the store's set of pairs with threads and writes nothing
more (a campaign to numbers that never answer makes no threads and no thread events).
When a thread is made, the pair's earlier MT messages (the last ``backfill`` of them,
no older than ``backfill_days``: ``ThreadBackfill``) become its first entries, in the
order accepted, each with its ``thread.message`` event (``"backfill": true``). From then
on the store writes every MT and MO of the pair as an entry, the thread's change and its
events in the same transaction as the message itself (``add``, ``add_inbound``), once
threads are on (``keep_threads``).

Status (who is to answer):

- ``waiting_on_agent``: the customer wrote last, or a flow handed the thread over
  (``handoff``): an agent is to answer. An inbound message to a closed thread reopens it.
- ``waiting_on_customer``: we wrote last. An agent's reply reopens a closed thread;
  an automated message (a campaign, a flow's prompt, a STOP confirmation) leaves a
  closed thread closed, and does not take a handed-over thread from the agents before
  one answered.
- ``open``: reopened by hand, nobody waiting. ``closed``: closed by hand.

Events (subject ``thread:<id>``, one sequence per thread): ``thread.message`` for each
entry (with the thread's status after it; a new thread's first entries are those with
``"created": true``: no ``thread.updated`` tells of its making), ``thread.updated`` whenever the status, assignee,
tags or handoff change. Times here are wall-clock seconds, as the API shows them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, MutableSet, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.store.status import Status
from smppgw.support.isotime import iso

__all__ = [
    "CLOSED",
    "OPEN",
    "STATUSES",
    "WAITING_ON_AGENT",
    "WAITING_ON_CUSTOMER",
    "ThreadBackfill",
    "ThreadKeeping",
    "ThreadEntry",
    "ThreadQuery",
    "ThreadRecord",
    "ThreadStore",
    "ThreadWrites",
    "new_thread_id",
    "thread_updated",
]

OPEN: Final = "open"
WAITING_ON_AGENT: Final = "waiting_on_agent"
WAITING_ON_CUSTOMER: Final = "waiting_on_customer"
CLOSED: Final = "closed"
STATUSES: Final = (OPEN, WAITING_ON_AGENT, WAITING_ON_CUSTOMER, CLOSED)
BACKFILL: Final = 100  # a new thread's earlier MT messages, at most (``[twoway] thread_backfill``)
BACKFILL_DAYS: Final = 30.0  # and no older than this (``[twoway] thread_backfill_days``)

#: A thread's pair: (tenant, number, sender).
Pair = tuple[str | None, str, str]


def new_thread_id() -> str:
    return "thr_" + os.urandom(12).hex()


@attrs.define(eq=False)
class ThreadRecord:
    id: str
    number: str  # the subscriber (SMPP digits)
    sender: str  # our number
    tenant: str | None = None
    status: str = OPEN
    assignee: str | None = None
    tags: list[str] = attrs.field(factory=list)
    queue: str | None = None  # the last handoff's queue
    # The last handoff: {"queue", "note", "transcript": [...], "source": {...}, "at"} (wall)
    handoff: dict[str, Any] | None = None
    pending_handoff: bool = False  # handed over and no agent answered yet
    created_at: float = 0.0  # wall clock
    updated_at: float = 0.0
    last_message_at: float | None = None
    messages: int = 0  # entries: the last one's position
    events: int = 0  # events written: the last one's sequence

    @property
    def active_at(self) -> float:
        """The listing's order (newest first): the last message's time, else creation's."""
        return self.created_at if self.last_message_at is None else self.last_message_at

    def to_dict(self) -> dict[str, Any]:
        """As the API and the events show it: times ISO 8601 UTC."""
        handoff = None
        if self.handoff is not None:
            handoff = {**self.handoff, "at": iso(self.handoff["at"])}
        return {
            "id": self.id, "number": self.number, "sender": self.sender, "tenant": self.tenant,
            "status": self.status, "assignee": self.assignee, "tags": list(self.tags), "queue": self.queue,
            "handoff": handoff, "pending_handoff": self.pending_handoff,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "last_message_at": None if self.last_message_at is None else iso(self.last_message_at),
            "message_count": self.messages,
        }  # fmt: skip

    def copy(self) -> ThreadRecord:
        return attrs.evolve(
            self, tags=list(self.tags), handoff=None if self.handoff is None else dict(self.handoff)
        )


@attrs.frozen(kw_only=True)
class ThreadEntry:
    """One message of a thread: an MT message (``message_id``) or an MO one (``inbound_seq``)."""

    thread_id: str
    n: int  # its position in the thread, from 1
    direction: str  # "mt" | "mo"
    at: float  # wall clock: the MT's acceptance, the MO's arrival
    message_id: str | None = None
    inbound_seq: int | None = None
    author: str | None = None  # an agent's reply: who (None: automated, or the customer)


@attrs.frozen(kw_only=True)
class ThreadQuery:
    """A listing filter (``ThreadStore.list_threads``); None matches anything. ``before``:
    the page cursor, the (active_at, id) of the last thread of the previous page."""

    status: str | None = None
    assignee: str | None = None
    queue: str | None = None
    number: str | None = None
    sender: str | None = None
    tag: str | None = None
    tenant: str | None = None  # only this tenant's (None: every thread)
    before: tuple[float, str] | None = None
    limit: int = 100

    def matches(self, t: ThreadRecord) -> bool:
        return (
            (self.status is None or t.status == self.status)
            and (self.assignee is None or t.assignee == self.assignee)
            and (self.queue is None or t.queue == self.queue)
            and (self.number is None or t.number == self.number)
            and (self.sender is None or t.sender == self.sender)
            and (self.tag is None or self.tag in t.tags)
            and (self.tenant is None or t.tenant == self.tenant)
            and (self.before is None or (t.active_at, t.id) < self.before)
        )


def _event(thread: ThreadRecord, kind: str, data: dict[str, Any], at: float) -> EventRecord:
    thread.events += 1
    subject = f"thread:{thread.id}"
    return EventRecord(
        id=event_id(subject, thread.events), type=kind, subject=subject, sequence=thread.events,
        occurred_at=at, data=data,
    )  # fmt: skip


def thread_updated(
    thread: ThreadRecord, at: float, *, reason: str, changes: Mapping[str, Any], by: str | None = None
) -> EventRecord:
    """``thread``'s ``thread.updated`` event (its sequence taken: ``thread.events`` + 1).
    ``changes``: field -> {"from", "to"}; ``reason``: created, message, handoff, api."""
    data = {**thread.to_dict(), "reason": reason, "changes": dict(changes), "by": by}
    return _event(thread, "thread.updated", data, at)


class ThreadWrites:
    """What a batch of messages does to their threads (both stores use it): ``mts`` and
    ``mo`` take each message in order, ``adopt`` a thread the desk made; ``threads``
    (changed or new, by id), ``entries`` and ``events`` are then written in the
    message's transaction, and ``pairs`` gains the new threads' pairs.

    ``find``: the stored thread of (tenant, number, sender), or None (a copy the caller
    may change); ``tenants``: our number -> its tenant, for MT messages sent without one
    (a keyword's reply, a key without a tenant) so they land in the thread its replies do;
    ``pairs``: the pairs that have a thread (the store's set, kept in step: a pair in it
    may lack one after a rolled-back write, never the other way round); ``earlier``:
    (thread, since) -> the pair's MT records accepted at or after ``since`` (wall), the
    newest ``backfill`` of them, in any order; ``offset``: wall - the records' clock."""

    def __init__(
        self,
        find: Callable[[str | None, str, str], ThreadRecord | None],
        tenants: Mapping[str, str],
        authors: dict[str, str],
        pairs: MutableSet[Pair],
        earlier: Callable[[ThreadRecord, float], Iterable[Any]],
        backfill_days: float = BACKFILL_DAYS,
        offset: float = 0.0,
    ) -> None:
        self._find = find
        self._tenants = tenants
        self._authors = authors
        self._pairs = pairs
        self._earlier = earlier
        self._days = backfill_days
        self._offset = offset  # wall - the records' clock
        self.threads: dict[str, ThreadRecord] = {}
        self.new: set[str] = set()
        self._by_pair: dict[Pair, ThreadRecord] = {}
        self.entries: list[ThreadEntry] = []
        self.events: list[EventRecord] = []

    def _thread(
        self, key: Pair, at: float, *, make: bool, skip: AbstractSet[str] = frozenset()
    ) -> ThreadRecord | None:
        found = self._by_pair.get(key)
        if found is not None:
            return found
        if key in self._pairs:
            found = self._find(*key)
        if found is None:
            if not make:
                return None
            found = ThreadRecord(id=new_thread_id(), number=key[1], sender=key[2], tenant=key[0],
                                 created_at=at, updated_at=at)  # fmt: skip
            self._made(found, at, skip)
        self._by_pair[key] = self.threads[found.id] = found
        return found

    def _made(self, thread: ThreadRecord, at: float, skip: AbstractSet[str]) -> None:
        """A new thread: the pair's earlier MT messages (not ``skip``) become its first entries."""
        self.new.add(thread.id)
        self._pairs.add((thread.tenant, thread.number, thread.sender))
        found = [
            m for m in self._earlier(thread, at - self._days * 86400.0)
            if m.id not in skip and (m.tenant or self._tenants.get(m.source)) == thread.tenant
        ]  # fmt: skip
        found.sort(key=lambda m: m.created_at)  # stable: the store gives equal times in order
        for m in found:
            self._mt(thread, m, m.created_at + self._offset, None, m.status is Status.BLOCKED, backfill=True)

    def mts(self, messages: Sequence[Any]) -> None:
        """An ``add``'s MT ``MessageRecord``s, in order.
        Each is filed only where its pair has a thread (or an agent wrote it: that makes one)."""
        tenants, by_pair, pairs, authors, offset = (
            self._tenants,
            self._by_pair,
            self._pairs,
            self._authors,
            self._offset,
        )
        prime = getattr(pairs, "prime", None)  # a shared store's: one round trip for the batch
        if prime is not None and len(messages) > 1:
            prime([(r.tenant or tenants.get(r.source), r.destination, r.source) for r in messages])
        try:
            for i, record in enumerate(messages):
                author = authors.pop(record.id, None) if authors else None
                key = (record.tenant or tenants.get(record.source), record.destination, record.source)
                if key not in by_pair and key not in pairs and author is None:
                    continue  # no thread: nothing to write
                at = record.created_at + offset
                # A thread made here backfills what is stored before this message, not this batch's rest.
                skip = {m.id for m in messages[i:]} if author is not None else set()
                thread = self._thread(key, at, make=author is not None, skip=skip)
                if thread is not None:
                    self._mt(thread, record, at, author, record.status is Status.BLOCKED)
        finally:
            if prime is not None:
                pairs.unprime()  # type: ignore[attr-defined]

    def _mt(self, thread: ThreadRecord, record: Any, at: float, author: str | None, blocked: bool,
            *, backfill: bool = False) -> None:  # fmt: skip
        status = thread.status
        if author is not None:
            status, thread.pending_handoff = WAITING_ON_CUSTOMER, False
        elif not blocked and status != CLOSED and not thread.pending_handoff:
            status = WAITING_ON_CUSTOMER
        shown = {"from": record.source, "to": record.destination, "text": record.text}
        if backfill:
            shown["backfill"] = True
        self._add(thread, "mt", at, status, {"message_id": record.id, "author": author}, shown)

    def mo(self, record: Any) -> None:
        """A stored ``InboundRecord`` (its times already wall clock): makes the pair's thread."""
        at = record.received_at
        thread = self._thread((record.tenant, record.source, record.destination), at, make=True)
        assert thread is not None  # (make)
        self._add(thread, "mo", at, WAITING_ON_AGENT, {"inbound_seq": record.seq},
                  {"from": record.source, "to": record.destination, "text": record.text})  # fmt: skip

    def adopt(self, record: ThreadRecord, events: Sequence[EventRecord]) -> list[EventRecord]:
        """``save_thread``'s ``record`` (changed in place), if its pair has no thread yet:
        the pair's earlier MT messages become its first entries, and ``events`` (the
        desk's, numbered from 1) are renumbered to follow theirs. Returns every event."""
        key = (record.tenant, record.number, record.sender)
        if record.messages or key in self._by_pair or (key in self._pairs and self._find(*key) is not None):
            self._pairs.add(key)
            return list(events)
        status, updated, events_before = record.status, record.updated_at, record.events - len(events)
        record.events = events_before
        self._by_pair[key] = self.threads[record.id] = record
        self._made(record, record.updated_at, frozenset())
        shift = record.events - events_before
        record.status, record.updated_at = status, max(updated, record.updated_at)
        record.events += len(events)
        shown = record.to_dict()  # (the desk's events showed the thread before its backfill)
        moved = [
            attrs.evolve(e, sequence=e.sequence + shift, id=event_id(e.subject, e.sequence + shift),
                         data={**e.data, **shown} if e.type == "thread.updated" else e.data)
            for e in events
        ]  # fmt: skip
        return self.events + moved

    def _add(
        self,
        thread: ThreadRecord,
        direction: str,
        at: float,
        status: str,
        ref: dict[str, Any],
        shown: dict[str, Any],
    ) -> None:
        before, created = thread.status, thread.id in self.new
        thread.messages += 1
        thread.status, thread.last_message_at, thread.updated_at = status, at, at
        entry = ThreadEntry(thread_id=thread.id, n=thread.messages, direction=direction, at=at, **ref)
        self.entries.append(entry)
        data = {"thread_id": thread.id, "n": entry.n, "direction": direction, **ref, **shown, "at": iso(at),
                "thread_status": status, "tenant": thread.tenant}  # fmt: skip
        if created:
            data["created"] = True
        self.events.append(_event(thread, "thread.message", data, at))
        if not created and before != status:  # (a new thread's first entries say its status)
            changes = {"status": {"from": before, "to": status}}
            self.events.append(thread_updated(thread, at, reason="message", changes=changes))


class ThreadKeeping:
    """What every store's thread half shares: threads turned on (``keep_threads``), the
    staged authors of agents' replies, the backfill's bounds, and the MT and MO steps
    inside ``add``/``add_inbound``; a half gives ``_writes`` (its ``ThreadWrites``) and
    ``_write`` (how it stores them)."""

    def _keeping_init(self) -> None:
        self._thread_tenants: Mapping[str, str] | None = None  # None: threads off
        self._thread_authors: dict[str, str] = {}
        self._backfill = (BACKFILL, BACKFILL_DAYS)

    def thread_backfill(self, count: int, days: float) -> None:
        self._backfill = (count, days)

    def keep_threads(self, tenants: Mapping[str, str] | None = None) -> None:
        self._thread_tenants = dict(tenants or {})

    def stage_thread_author(self, message_id: str, author: str | None) -> None:
        if author is None:
            self._thread_authors.pop(message_id, None)
        else:
            self._thread_authors[message_id] = author

    def _writes(self) -> ThreadWrites:
        raise NotImplementedError

    def _write(self, writes: ThreadWrites) -> None:
        raise NotImplementedError

    def _write_mt_threads(self, messages: Sequence[Any]) -> None:
        """Inside ``add``'s step: each message's entry in its thread (if it has one)."""
        if self._thread_tenants is not None:
            writes = self._writes()
            writes.mts(messages)
            self._write(writes)

    def _write_mo_thread(self, record: Any) -> None:
        """Inside ``add_inbound``'s step: the MO's thread, made where missing."""
        if self._thread_tenants is not None:
            writes = self._writes()
            writes.mo(record)
            self._write(writes)


@runtime_checkable
class ThreadBackfill(Protocol):
    """A store whose threads are lazy (``ThreadWrites``) may take how far back a new thread
    reaches (``[twoway] thread_backfill``, ``thread_backfill_days``); not every
    ``ThreadStore`` does (the desk asks with ``isinstance``)."""

    def thread_backfill(self, count: int, days: float) -> None: ...


@runtime_checkable
class ThreadStore(Protocol):
    def keep_threads(self, tenants: Mapping[str, str] | None = None) -> None:
        """Turn threads on: from now on every ``add_inbound`` makes its pair's thread where
        missing and writes the entry, the thread's change and events in its transaction, and
        every ``add`` does so for its messages whose pair has a thread (lazy: ``ThreadWrites``).
        ``tenants``: our number -> tenant (``ThreadWrites``)."""

    def stage_thread_author(self, message_id: str, author: str | None) -> None:
        """The next ``add`` of ``message_id`` records it as ``author``'s reply (None: unstage)."""

    def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    def find_thread(self, tenant: str | None, number: str, sender: str) -> ThreadRecord | None: ...

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        """Write a thread (new or changed: by id) with its events, now, in one
        transaction; a new pair's thread gets the pair's earlier MT messages first
        (``ThreadWrites.adopt``: ``record`` is changed in place, the events renumbered to
        follow). Raises StoreError (nothing written)."""

    def list_threads(self, query: ThreadQuery) -> tuple[list[ThreadRecord], tuple[float, str] | None]:
        """Up to ``query.limit`` threads, most recently active first (active_at, then
        id, descending), and the cursor of the next page (None: no more)."""

    def thread_entries(self, thread_id: str, *, after: int = 0, limit: int = 100) -> list[ThreadEntry]:
        """The thread's entries with ``n > after``, in order."""
