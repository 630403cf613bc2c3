"""Threads in the store: the records, the rule of a thread's status, its events, and the
``ThreadStore`` protocol.

A thread is one (tenant, number, sender) pair: a subscriber's number, one of our
senders, and the tenant that owns them. Every MT message of the pair and every MO
message of it is a thread entry, in the order written. The store writes the entry, the
thread's change and its events in the same transaction as the message itself (``add``,
``add_inbound``), once threads are on (``keep_threads``): nothing stored is missing from
its thread, and nothing is in a thread that was not stored.

Status (who is to answer):

- ``waiting_on_agent``: the customer wrote last, or a flow handed the thread over
  (``handoff``): an agent is to answer. An inbound message to a closed thread reopens it.
- ``waiting_on_customer``: we wrote last. An agent's reply reopens a closed thread;
  an automated message (a campaign, a flow's prompt, a STOP confirmation) leaves a
  closed thread closed, and does not take a handed-over thread from the agents before
  one answered.
- ``open``: reopened by hand, nobody waiting. ``closed``: closed by hand.

Events (subject ``thread:<id>``, one sequence per thread): ``thread.message`` for each
entry (with the thread's status after it; a new thread's first message is the one with
``n`` 1: no other event tells of it), ``thread.updated`` whenever the status, assignee,
tags or handoff change. Times here are wall-clock seconds, as the API shows them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.support.isotime import iso

__all__ = [
    "CLOSED",
    "OPEN",
    "STATUSES",
    "WAITING_ON_AGENT",
    "WAITING_ON_CUSTOMER",
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
    """What a batch of messages does to their threads (both stores use it): ``mt`` and
    ``mo`` take each message in order; ``threads`` (changed or new, by id), ``entries``
    and ``events`` are then written in the message's transaction.

    ``find``: the stored thread of (tenant, number, sender), or None (a copy the caller
    may change); ``tenants``: our number -> its tenant, for MT messages sent without one
    (a keyword's reply, a key without a tenant) so they land in the thread its replies do."""

    def __init__(
        self,
        find: Callable[[str | None, str, str], ThreadRecord | None],
        tenants: Mapping[str, str],
        authors: dict[str, str],
    ) -> None:
        self._find = find
        self._tenants = tenants
        self._authors = authors
        self.threads: dict[str, ThreadRecord] = {}
        self.new: set[str] = set()
        self._by_pair: dict[tuple[str | None, str, str], ThreadRecord] = {}
        self.entries: list[ThreadEntry] = []
        self.events: list[EventRecord] = []

    def _thread(self, tenant: str | None, number: str, sender: str, at: float) -> ThreadRecord:
        key = (tenant, number, sender)
        found = self._by_pair.get(key)
        if found is None:
            found = self._find(*key)
            if found is None:
                found = ThreadRecord(
                    id=new_thread_id(),
                    number=number,
                    sender=sender,
                    tenant=tenant,
                    created_at=at,
                    updated_at=at,
                )
                self.new.add(found.id)
            self._by_pair[key] = self.threads[found.id] = found
        return found

    def mt(self, record: Any, at: float, blocked: bool) -> None:
        """An MT ``MessageRecord`` accepted at ``at`` (wall); ``blocked``: stored unsent."""
        tenant = record.tenant or self._tenants.get(record.source)
        thread = self._thread(tenant, record.destination, record.source, at)
        author = self._authors.pop(record.id, None)
        status = thread.status
        if author is not None:
            status, thread.pending_handoff = WAITING_ON_CUSTOMER, False
        elif not blocked and status != CLOSED and not thread.pending_handoff:
            status = WAITING_ON_CUSTOMER
        self._add(thread, "mt", at, status, {"message_id": record.id, "author": author},
                  {"from": record.source, "to": record.destination, "text": record.text})  # fmt: skip

    def mo(self, record: Any) -> None:
        """A stored ``InboundRecord`` (its times already wall clock)."""
        at = record.received_at
        thread = self._thread(record.tenant, record.source, record.destination, at)
        self._add(thread, "mo", at, WAITING_ON_AGENT, {"inbound_seq": record.seq},
                  {"from": record.source, "to": record.destination, "text": record.text})  # fmt: skip

    def _add(
        self,
        thread: ThreadRecord,
        direction: str,
        at: float,
        status: str,
        ref: dict[str, Any],
        shown: dict[str, Any],
    ) -> None:
        before, created = thread.status, thread.id in self.new and thread.messages == 0
        thread.messages += 1
        thread.status, thread.last_message_at, thread.updated_at = status, at, at
        entry = ThreadEntry(thread_id=thread.id, n=thread.messages, direction=direction, at=at, **ref)
        self.entries.append(entry)
        data = {"thread_id": thread.id, "n": entry.n, "direction": direction, **ref, **shown, "at": iso(at),
                "thread_status": status, "tenant": thread.tenant}  # fmt: skip
        self.events.append(_event(thread, "thread.message", data, at))
        if not created and before != status:  # (a new thread's first message says its status)
            changes = {"status": {"from": before, "to": status}}
            self.events.append(thread_updated(thread, at, reason="message", changes=changes))


@runtime_checkable
class ThreadStore(Protocol):
    def keep_threads(self, tenants: Mapping[str, str] | None = None) -> None:
        """Turn threads on: from now on every ``add`` and ``add_inbound`` writes its
        messages' thread entries, thread changes and events in its transaction.
        ``tenants``: our number -> tenant (``ThreadWrites``)."""

    def stage_thread_author(self, message_id: str, author: str | None) -> None:
        """The next ``add`` of ``message_id`` records it as ``author``'s reply (None: unstage)."""

    def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    def find_thread(self, tenant: str | None, number: str, sender: str) -> ThreadRecord | None: ...

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        """Write a thread (new or changed: by id) with its events, now, in one
        transaction. Raises StoreError (nothing written)."""

    def list_threads(self, query: ThreadQuery) -> tuple[list[ThreadRecord], tuple[float, str] | None]:
        """Up to ``query.limit`` threads, most recently active first (active_at, then
        id, descending), and the cursor of the next page (None: no more)."""

    def thread_entries(self, thread_id: str, *, after: int = 0, limit: int = 100) -> list[ThreadEntry]:
        """The thread's entries with ``n > after``, in order."""
