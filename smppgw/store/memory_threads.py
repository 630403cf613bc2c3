"""The memory store's half of ``ThreadStore`` (``store.threads``), with the SQLite
store's answers and nothing durable. ``MemoryStore`` takes this class as a base; its
``add`` and ``add_inbound`` call ``_write_mt_threads`` / ``_write_mo_thread``. Lazy like
the SQLite half: a new thread's earlier MT messages are found by scanning the messages
(a memory store is for tests and small gateways)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smppgw.store.events import EventRecord
from smppgw.store.threads import (
    Pair,
    ThreadEntry,
    ThreadKeeping,
    ThreadQuery,
    ThreadRecord,
    ThreadWrites,
)

__all__ = ["MemoryThreads"]


class MemoryThreads(ThreadKeeping):
    clock_offset: float

    if TYPE_CHECKING:  # MemoryEvents' (the other base of MemoryStore), for the type checker

        def append_event(self, event: EventRecord) -> None: ...

        _messages: dict[str, Any]  # MemoryStore's: id -> MessageRecord, in insert order

    def _threads_init(self) -> None:
        self._threads: dict[str, ThreadRecord] = {}
        self._thread_pairs: dict[tuple[str | None, str, str], str] = {}
        self._thread_entries: dict[str, list[ThreadEntry]] = {}
        self._keeping_init()  # (ThreadKeeping)
        self._pairs_with_threads: set[Pair] = set()

    def _writes(self) -> ThreadWrites:
        assert self._thread_tenants is not None
        return ThreadWrites(self.find_thread, self._thread_tenants, self._thread_authors,
                            self._pairs_with_threads, self._earlier, self._backfill[1], self.clock_offset)  # fmt: skip

    def _earlier(self, thread: ThreadRecord, since: float) -> list[Any]:
        count, offset = self._backfill[0], self.clock_offset
        if count <= 0:
            return []
        found = [
            m for m in self._messages.values()
            if m.destination == thread.number and m.source == thread.sender and m.created_at + offset >= since
        ]  # fmt: skip
        found.sort(key=lambda m: m.created_at)  # stable: insert order among equal times
        return found[-count:]

    def _write(self, writes: ThreadWrites) -> None:
        for t in writes.threads.values():
            self._keep(t)
        for e in writes.entries:
            self._thread_entries.setdefault(e.thread_id, []).append(e)
        for event in writes.events:
            self.append_event(event)

    def _keep(self, record: ThreadRecord) -> None:
        self._threads[record.id] = record.copy()
        self._thread_pairs[record.tenant, record.number, record.sender] = record.id
        self._pairs_with_threads.add((record.tenant, record.number, record.sender))

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        written = list(events)
        if self._thread_tenants is not None:  # a new pair's thread: its earlier MTs first
            writes = self._writes()
            written = writes.adopt(record, events)
            writes.events = []  # (adopt's answer has them, in order)
            self._write(writes)
        self._keep(record)
        for event in written:
            self.append_event(event)

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        found = self._threads.get(thread_id)
        return None if found is None else found.copy()

    def find_thread(self, tenant: str | None, number: str, sender: str) -> ThreadRecord | None:
        found = self._thread_pairs.get((tenant, number, sender))
        return None if found is None else self.get_thread(found)

    def list_threads(self, query: ThreadQuery) -> tuple[list[ThreadRecord], tuple[float, str] | None]:
        found = sorted(
            (t for t in self._threads.values() if query.matches(t)),
            key=lambda t: (t.active_at, t.id),
            reverse=True,
        )
        page = [t.copy() for t in found[: query.limit]]
        after = (page[-1].active_at, page[-1].id) if len(found) > query.limit else None
        return page, after

    def thread_entries(self, thread_id: str, *, after: int = 0, limit: int = 100) -> list[ThreadEntry]:
        return self._thread_entries.get(thread_id, [])[after : after + limit]  # n sits at index n - 1
