"""The SQLite store's half of ``ThreadStore`` (``store.threads``): a base class of
``SqliteStore``.

Two tables, made where missing (``CREATE TABLE IF NOT EXISTS``, within the schema
version): ``threads`` (one row per (tenant, number, sender); tenant '' for none) and
``thread_messages`` (one row per entry, by (thread, position)). ``add`` and
``add_inbound`` call ``_write_mt_threads`` / ``_write_mo_thread`` inside their
transactions, so an entry is on disk exactly when its message is. Times are wall clock.

Threads are lazy (``store.threads``): the pairs that have one are kept in memory
(``_thread_pairs``, read at open), so an MT to a pair without one costs a set look-up;
a new thread's earlier MT messages come from ``messages`` by its destination index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from smppgw.store.events import EventRecord, EventRouter
from smppgw.store.sqlite_records import message_record
from smppgw.store.sqlite_rows import RECORD_COLUMNS, Transaction
from smppgw.store.threads import (
    Pair,
    ThreadEntry,
    ThreadKeeping,
    ThreadQuery,
    ThreadRecord,
    ThreadWrites,
)

__all__ = ["THREADS_SCHEMA", "SqliteThreads"]

THREADS_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,  -- '': none
    number TEXT NOT NULL,
    sender TEXT NOT NULL,
    status TEXT NOT NULL,  -- open | waiting_on_agent | waiting_on_customer | closed
    assignee TEXT,
    tags TEXT NOT NULL,  -- JSON list
    queue TEXT,
    handoff TEXT,  -- JSON: the last handoff
    pending_handoff INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_message_at REAL,
    active_at REAL NOT NULL,  -- the listing's order
    messages INTEGER NOT NULL,
    events INTEGER NOT NULL
) WITHOUT ROWID;
-- Every message rewrites its thread's row and its place in these: so few indexes, and the
-- status one only for the statuses an inbox asks for (a campaign's threads wait on the customer).
CREATE UNIQUE INDEX IF NOT EXISTS threads_pair ON threads (tenant, number, sender);
CREATE INDEX IF NOT EXISTS threads_active ON threads (active_at, id);
CREATE INDEX IF NOT EXISTS threads_inbox ON threads (status, active_at, id)
    WHERE status IN ('waiting_on_agent', 'open');
CREATE TABLE IF NOT EXISTS thread_messages (
    thread_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    direction TEXT NOT NULL,  -- mt | mo
    at REAL NOT NULL,
    message_id TEXT,
    inbound_seq INTEGER,
    author TEXT,
    PRIMARY KEY (thread_id, n)
) WITHOUT ROWID;
"""
_COLUMNS = (
    "id, tenant, number, sender, status, assignee, tags, queue, handoff, pending_handoff, created_at, "
    "updated_at, last_message_at, active_at, messages, events"
)
_UPSERT = f"INSERT OR REPLACE INTO threads ({_COLUMNS}) VALUES ({', '.join('?' * 16)})"
_ENTRY = "INSERT OR IGNORE INTO thread_messages VALUES (?, ?, ?, ?, ?, ?, ?)"
# A new thread's earlier MT messages, newest first (by messages_destination).
_EARLIER = (
    f"SELECT {RECORD_COLUMNS} FROM messages WHERE destination = ? AND source = ? AND created_at >= ? "
    "ORDER BY created_at DESC, seq DESC LIMIT ?"
)


def _row(t: ThreadRecord) -> tuple[Any, ...]:
    return (
        t.id, t.tenant or "", t.number, t.sender, t.status, t.assignee, orjson.dumps(t.tags).decode(), t.queue,
        None if t.handoff is None else orjson.dumps(t.handoff).decode(), int(t.pending_handoff), t.created_at,
        t.updated_at, t.last_message_at, t.active_at, t.messages, t.events,
    )  # fmt: skip


def _record(r: Sequence[Any]) -> ThreadRecord:
    return ThreadRecord(
        id=r[0], tenant=r[1] or None, number=r[2], sender=r[3], status=r[4], assignee=r[5], tags=orjson.loads(r[6]),
        queue=r[7], handoff=None if r[8] is None else orjson.loads(r[8]), pending_handoff=bool(r[9]),
        created_at=r[10], updated_at=r[11], last_message_at=r[12], messages=r[14], events=r[15],
    )  # fmt: skip


class SqliteThreads(ThreadKeeping):
    _db: sqlite3.Connection
    clock_offset: float
    _router: EventRouter | None

    if TYPE_CHECKING:  # SqliteEvents' (the other base of SqliteStore)

        def _write_events(self, staged: Sequence[tuple[EventRecord, Any]]) -> None: ...

    def _threads_init(self) -> None:
        self._db.executescript(THREADS_SCHEMA)
        self._keeping_init()  # (ThreadKeeping)
        self._thread_pairs: set[Pair] = {
            (tenant or None, number, sender)
            for tenant, number, sender in self._db.execute("SELECT tenant, number, sender FROM threads")
        }

    def _writes(self) -> ThreadWrites:
        assert self._thread_tenants is not None
        return ThreadWrites(self.find_thread, self._thread_tenants, self._thread_authors, self._thread_pairs,
                            self._earlier, self._backfill[1], self.clock_offset)  # fmt: skip

    def _earlier(self, thread: ThreadRecord, since: float) -> list[Any]:
        if self._backfill[0] <= 0:
            return []
        offset = self.clock_offset
        rows = self._db.execute(_EARLIER, (thread.number, thread.sender, since, self._backfill[0])).fetchall()
        return [message_record(r, offset) for r in reversed(rows)]

    def _write(self, writes: ThreadWrites) -> None:
        if not writes.threads:
            return
        db = self._db
        db.executemany(_UPSERT, [_row(t) for t in writes.threads.values()])
        db.executemany(
            _ENTRY,
            [
                (e.thread_id, e.n, e.direction, e.at, e.message_id, e.inbound_seq, e.author)
                for e in writes.entries
            ],
        )
        if self._router is not None:
            router = self._router
            self._write_events([(e, router(e.type, None)) for e in writes.events])

    # -- the desk's writes and the reads ---------------------------------------------------------

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        with Transaction(self._db):
            if self._thread_tenants is None:  # threads off: no backfill
                self._db.execute(_UPSERT, _row(record))
                self._thread_pairs.add((record.tenant, record.number, record.sender))
                written = list(events)
            else:
                writes = self._writes()
                written = writes.adopt(record, events)
                writes.events = []  # (adopt's answer has them, in order)
                self._db.execute(_UPSERT, _row(record))
                self._write(writes)
            if written and self._router is not None:
                router = self._router
                self._write_events([(e, router(e.type, None)) for e in written])

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM threads WHERE id = ?", (thread_id,)).fetchone()
        return None if row is None else _record(row)

    def find_thread(self, tenant: str | None, number: str, sender: str) -> ThreadRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM threads WHERE tenant = ? AND number = ? AND sender = ?",
            (tenant or "", number, sender),
        ).fetchone()
        return None if row is None else _record(row)

    def list_threads(self, query: ThreadQuery) -> tuple[list[ThreadRecord], tuple[float, str] | None]:
        where: list[str] = ["1"]
        args: list[Any] = []
        for column, value in (("status", query.status), ("assignee", query.assignee), ("queue", query.queue),
                              ("number", query.number), ("sender", query.sender)):  # fmt: skip
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.tenant is not None:
            where.append("tenant = ?")
            args.append(query.tenant)
        if query.tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(threads.tags) WHERE value = ?)")
            args.append(query.tag)
        if query.before is not None:
            where.append("(active_at < ? OR (active_at = ? AND id < ?))")
            args += [query.before[0], query.before[0], query.before[1]]
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM threads WHERE {' AND '.join(where)} ORDER BY active_at DESC, id DESC LIMIT ?",
            (*args, query.limit + 1),
        ).fetchall()
        page = [_record(r) for r in rows[: query.limit]]
        after = (page[-1].active_at, page[-1].id) if len(rows) > query.limit else None
        return page, after

    def thread_entries(self, thread_id: str, *, after: int = 0, limit: int = 100) -> list[ThreadEntry]:
        rows = self._db.execute(
            "SELECT thread_id, n, direction, at, message_id, inbound_seq, author FROM thread_messages "
            "WHERE thread_id = ? AND n > ? ORDER BY n LIMIT ?",
            (thread_id, after, limit),
        ).fetchall()
        return [
            ThreadEntry(
                thread_id=r[0],
                n=r[1],
                direction=r[2],
                at=r[3],
                message_id=r[4],
                inbound_seq=r[5],
                author=r[6],
            )
            for r in rows
        ]
