"""The memory store's half of ``ThreadStore`` (``store.threads``), with the SQLite
store's answers and nothing durable. ``MemoryStore`` takes this class as a base; its
``add`` and ``add_inbound`` call ``_write_mt_threads`` / ``_write_mo_thread``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from smppgw.store.events import EventRecord
from smppgw.store.status import Status
from smppgw.store.threads import ThreadEntry, ThreadQuery, ThreadRecord, ThreadWrites

__all__ = ["MemoryThreads"]


class MemoryThreads:
    clock_offset: float

    if TYPE_CHECKING:  # MemoryEvents' (the other base of MemoryStore), for the type checker

        def append_event(self, event: EventRecord) -> None: ...

    def _threads_init(self) -> None:
        self._threads: dict[str, ThreadRecord] = {}
        self._thread_pairs: dict[tuple[str | None, str, str], str] = {}
        self._thread_entries: dict[str, list[ThreadEntry]] = {}
        self._thread_tenants: Mapping[str, str] | None = None  # None: threads off
        self._thread_authors: dict[str, str] = {}

    def keep_threads(self, tenants: Mapping[str, str] | None = None) -> None:
        self._thread_tenants = dict(tenants or {})

    def stage_thread_author(self, message_id: str, author: str | None) -> None:
        if author is None:
            self._thread_authors.pop(message_id, None)
        else:
            self._thread_authors[message_id] = author

    def _write_mt_threads(self, messages: Sequence[Any]) -> None:
        if self._thread_tenants is None:
            return
        writes = ThreadWrites(self.find_thread, self._thread_tenants, self._thread_authors)
        for m in messages:
            writes.mt(m, m.created_at + self.clock_offset, m.status is Status.BLOCKED)
        self._write(writes)

    def _write_mo_thread(self, record: Any) -> None:
        if self._thread_tenants is None:
            return
        writes = ThreadWrites(self.find_thread, self._thread_tenants, self._thread_authors)
        writes.mo(record)
        self._write(writes)

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

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        self._keep(record)
        for event in events:
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
