"""The SQLite store's event outbox (``store.events.EventStore``): two tables and their SQL.

``events`` is the log (``seq`` the replay cursor, never reused: AUTOINCREMENT, since the
newest rows may be pruned); ``deliveries`` holds one row per event and endpoint with
its state. ``SqliteStore`` takes this class as a base: events appended with a status
change are staged and written by ``flush`` inside the transaction that saves the
change; an inbound event is written inside ``add_inbound``'s transaction. The delivery
worker's outcomes (``record_attempts``) are a transaction of their own. The first attempts
a flush commits are also handed to the worker in memory (``_publish``), once it has caught
up with the file: the file stays the truth (a restart, or ``release_deliveries``, reads
it again), memory only spares reading each body back.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from smppgw.store.events import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    EventRecord,
    EventRouter,
    Target,
    event_id_range,
    inbound_event,
)
from smppgw.store.sqlite_rows import Transaction, insert_many

__all__ = ["EVENTS_SCHEMA", "SqliteEvents"]

EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    occurred_at REAL NOT NULL,
    body TEXT NOT NULL  -- the JSON sent and signed, byte for byte
);
-- No index on subject: an event's id is made from its subject (store.events.event_id), so
-- one subject's events are a range of the id's index. A second index cost a write per event.
DROP INDEX IF EXISTS events_subject;
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER NOT NULL,  -- the event's
    endpoint TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL,  -- pending | delivered | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    first_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (seq, endpoint)
) WITHOUT ROWID;
-- First attempts by the order written (the worker reads on from a cursor), retries by due time:
-- a backlog of new deliveries never sits in the range a retry query walks.
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX IF NOT EXISTS deliveries_fresh ON deliveries (endpoint, seq) WHERE state = 'pending' AND attempts = 0;
CREATE INDEX IF NOT EXISTS deliveries_retry ON deliveries (endpoint, next_attempt_at)
    WHERE state = 'pending' AND attempts > 0;
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (updated_at) WHERE state = 'dead';
"""

# Pending deliveries, read through the two partial indexes (a pending delivery is in one of
# them): ``state = 'pending'`` alone walks the whole table from its oldest, long delivered,
# rows; asked at every poll of an idle endpoint, that scan was ~6% of the gateway's CPU
# end to end, and grows with the table.
_PENDING = "state = 'pending' AND attempts = 0", "state = 'pending' AND attempts > 0"
_PENDING_ENDPOINTS = " UNION ".join(f"SELECT DISTINCT endpoint FROM deliveries WHERE {w}" for w in _PENDING)
_ANY_PENDING = "SELECT " + " OR ".join(
    f"EXISTS (SELECT 1 FROM deliveries WHERE endpoint = :endpoint AND {w})" for w in _PENDING
)
_BACKLOG = " UNION ALL ".join(
    f"SELECT endpoint, count(*) FROM deliveries WHERE {w} GROUP BY endpoint" for w in _PENDING
)

_HELD_MAX = 20_000  # first attempts handed over in memory per endpoint, at most
# A pending delivery to one endpoint (endpoint, url) for each event of a range of seqs.
_DELIVERIES_OF_EVENTS = (
    "INSERT OR IGNORE INTO deliveries (seq, endpoint, url, state, next_attempt_at, updated_at) "
    f"SELECT seq, ?, ?, '{PENDING}', occurred_at, occurred_at FROM events WHERE seq BETWEEN ? AND ?"
)
_ENDPOINT = itemgetter(1)  # of a deliveries row (map with it: no generator frame resumed per row)

# A Delivery's fields in order (``Delivery(*row)``; with ``e.body`` after them, its body).
_DELIVERY = (
    "d.seq, e.id, e.type, e.subject, d.endpoint, d.url, d.state, d.attempts, d.next_attempt_at, "
    "d.first_attempt_at, d.last_status, d.last_error, d.updated_at"
)


class SqliteEvents:
    """The outbox half of ``SqliteStore`` (which provides ``_db`` and ``flush``)."""

    _db: sqlite3.Connection

    def _events_init(self) -> None:
        self._db.executescript(EVENTS_SCHEMA)
        self._router: EventRouter | None = None
        self._staged_events: list[tuple[EventRecord, Sequence[Target]]] = []
        self._staged_ids: set[str] = set()
        # Endpoints that may have pending deliveries: due_deliveries asks each apart (an
        # index range per endpoint), so a busy endpoint's backlog is never scanned.
        self._pending_endpoints: set[str] = {r[0] for r in self._db.execute(_PENDING_ENDPOINTS)}
        # Handed out by due_deliveries and not recorded yet (so not handed out again), and
        # per endpoint the last first attempt handed out: new ones have higher seqs
        # (AUTOINCREMENT, one writer), so first attempts are read on from there, never
        # read twice. In memory only: after a restart every pending one is due again.
        self._taken: set[tuple[int, str]] = set()
        self._fresh_after: dict[str, int] = {}
        # First attempts handed over in memory (``_publish``): per endpoint in ``_held_all``,
        # every pending first attempt past its ``_fresh_after``, in seq order, as committed
        # by ``flush``; due_deliveries takes them from here instead of reading each event's
        # body back from the file it was just written to. An endpoint joins when a read of
        # the file finds it caught up; it leaves (back to reading the file, which has them
        # all) when its queue would pass ``_HELD_MAX`` or a delivery for it is written by
        # another transaction than flush's. During a flush ``_collected`` has a list per
        # endpoint in ``_held_all`` (no Delivery is made for the others); None outside.
        self._held: dict[str, deque[Delivery]] = {}
        self._held_all: set[str] = set()
        self._collected: dict[str, list[Delivery]] | None = None

    def _flush_first(self) -> None:
        flush = getattr(self, "flush", None)
        if flush is not None:
            flush()

    # -- writing (inside the store's transactions) -------------------------------------------

    def route_events(self, router: EventRouter) -> None:
        self._router = router

    def append_event(self, event: EventRecord) -> None:
        if self._router is None or event.id in self._staged_ids:
            return
        self._staged_ids.add(event.id)
        self._staged_events.append((event, self._router(event.type, event.callback_url)))

    def _take_events(self) -> list[tuple[EventRecord, Sequence[Target]]]:
        staged, self._staged_events = self._staged_events, []
        self._staged_ids = set()
        return staged

    def _restore_events(self, staged: list[tuple[EventRecord, Sequence[Target]]]) -> None:
        """The transaction failed: keep them for the next try."""
        self._staged_events = staged + self._staged_events
        self._staged_ids |= {e.id for e, _ in staged}

    def _write_events(self, staged: Sequence[tuple[EventRecord, Sequence[Target]]]) -> None:
        """Inside the caller's transaction. The events in few INSERTs (``insert_many``),
        their seqs given (the next ones of the AUTOINCREMENT, read under the write lock:
        one writer), not one INSERT per event for its rowid."""
        if not staged:
            return
        db = self._db
        found = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        first = (found[0] if found else 0) + 1  # above every seq ever used (pruned ones too)
        before = db.total_changes
        events = [
            (first + i, e.id, e.type, e.subject, e.sequence, e.occurred_at, e.body())
            for i, (e, _) in enumerate(staged)
        ]
        insert_many(
            db,
            "INSERT OR IGNORE INTO events (seq, id, type, subject, sequence, occurred_at, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        if db.total_changes - before == len(staged):
            new: Sequence[int] = range(len(staged))
        else:  # some were replayed (their ids are in the log, with their deliveries): not those
            last = first + len(staged) - 1
            kept = {
                r[0] for r in db.execute("SELECT seq FROM events WHERE seq BETWEEN ? AND ?", (first, last))
            }
            new = [i for i in range(len(staged)) if first + i in kept]
        self._write_deliveries(staged, events, new)
        collected = self._collected
        if collected is None or collected:  # (else no endpoint is handed over in memory)
            for i in new:
                # (the event's fields off its row: a tuple's items cost less than its attributes)
                seq, event_id, event_type, subject, _, at, body = events[i]
                for t in staged[i][1]:
                    if collected is None:  # not handed over in memory: read from the file
                        self._unhold(t.endpoint)
                    elif (held := collected.get(t.endpoint)) is not None:  # positional: see Delivery
                        held.append(
                            Delivery(seq, event_id, event_type, subject, t.endpoint, t.url,
                                     PENDING, 0, at, None, None, None, at, body)
                        )  # fmt: skip

    def _write_deliveries(
        self,
        staged: Sequence[tuple[EventRecord, Sequence[Target]]],
        events: Sequence[tuple[Any, ...]],
        new: Sequence[int],
    ) -> None:
        """The pending deliveries of the ``new`` events of ``staged`` (written as ``events``)."""
        targets = staged[0][1]
        if len(new) == len(staged) and all(t is targets for _, t in staged):
            # All new, all to the same targets (the router's tuple for their type, shared):
            # a statement per target that reads the seqs and times off the events just
            # written. A row per delivery, its five parameters bound (two of them text: see
            # below), cost ~4.5k instructions more per delivery (callgrind, flushes of 100).
            last = events[-1][0]
            for t in targets:
                self._pending_endpoints.add(t.endpoint)
                self._db.execute(_DELIVERIES_OF_EVENTS, (t.endpoint, t.url, events[0][0], last))
            return
        rows = [
            (events[i][0], t.endpoint, t.url, events[i][5], events[i][5]) for i in new for t in staged[i][1]
        ]
        if rows:
            self._pending_endpoints.update(map(_ENDPOINT, rows))
            # The state written in the text, not bound: a text parameter costs ~800
            # instructions (sqlite3_bind_text copies it: a malloc under SQLite's mutex).
            insert_many(
                self._db,
                "INSERT OR IGNORE INTO deliveries (seq, endpoint, url, state, next_attempt_at, updated_at) "
                f"VALUES (?, ?, ?, '{PENDING}', ?, ?)",
                rows,
            )

    def _collect(self) -> None:
        """Before flush's transaction: collect the deliveries it writes for the endpoints
        handed over in memory (``_publish``)."""
        self._collected = {endpoint: [] for endpoint in self._held_all}

    def _publish(self, committed: bool) -> None:
        """After flush's transaction: hand its deliveries over in memory if it committed."""
        collected, self._collected = self._collected, None
        if not committed or not collected:
            return
        for endpoint, deliveries in collected.items():
            queue = self._held.get(endpoint)
            if queue is None or not deliveries:
                continue
            if len(queue) + len(deliveries) <= _HELD_MAX:
                queue.extend(deliveries)
            else:  # too many in memory: back to reading the file, which has them all
                self._unhold(endpoint)

    def _unhold(self, endpoint: str) -> None:
        self._held_all.discard(endpoint)
        self._held.pop(endpoint, None)

    def _inbound_event(self, record: Any) -> None:
        """``add_inbound``'s event, inside its transaction."""
        if self._router is not None:
            event = inbound_event(record)
            self._write_events([(event, self._router(event.type, None))])

    # -- reading and the worker's bookkeeping ----------------------------------------------------

    def events(self, *, after: int = 0, types: Sequence[str] = (), limit: int = 100) -> list[EventRecord]:
        self._flush_first()
        where = "seq > ?"
        args: list[Any] = [after]
        if types:
            where += f" AND type IN ({', '.join('?' * len(types))})"
            args += list(types)
        rows = self._db.execute(
            f"SELECT seq, id, type, subject, sequence, occurred_at, body FROM events WHERE {where} "
            "ORDER BY seq LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            EventRecord(
                seq=r[0], id=r[1], type=r[2], subject=r[3], sequence=r[4], occurred_at=r[5],
                data=json.loads(r[6])["data"],
            )
            for r in rows
        ]  # fmt: skip

    def due_deliveries(self, now: float, *, limit: int, skip: Sequence[str] = ()) -> list[Delivery]:
        db, taken = self._db, self._taken
        out: list[Delivery] = []
        for endpoint in sorted(self._pending_endpoints.difference(skip)):
            room = limit - len(out)
            if room <= 0:
                break
            retries = [
                r
                for r in db.execute(
                    f"SELECT {_DELIVERY}, e.body FROM deliveries d JOIN events e ON e.seq = d.seq "
                    "WHERE d.endpoint = ? AND d.state = 'pending' AND d.attempts > 0 AND d.next_attempt_at <= ? "
                    "ORDER BY d.next_attempt_at LIMIT ?",
                    (endpoint, now, room + len(taken)),
                )
                if (r[0], endpoint) not in taken
            ][:room]
            want = room - len(retries)
            held = self._held.get(endpoint)
            if held is not None:  # every first attempt due is in memory (``_publish``)
                fresh = [held.popleft() for _ in range(min(want, len(held)))]
            else:
                rows = db.execute(
                    f"SELECT {_DELIVERY}, e.body FROM deliveries d JOIN events e ON e.seq = d.seq "
                    "WHERE d.endpoint = ? AND d.state = 'pending' AND d.attempts = 0 AND d.seq > ? "
                    "ORDER BY d.seq LIMIT ?",
                    (endpoint, self._fresh_after.get(endpoint, 0), want),
                ).fetchall()
                fresh = [Delivery(*r) for r in rows]
                if want > len(fresh):  # caught up: later ones are handed over in memory
                    self._held_all.add(endpoint)
                    self._held[endpoint] = deque()
            retries_out = [Delivery(*r) for r in retries]
            if fresh:
                self._fresh_after[endpoint] = fresh[-1].seq
            elif not retries and not db.execute(_ANY_PENDING, {"endpoint": endpoint}).fetchone()[0]:
                self._pending_endpoints.discard(endpoint)
            # Only retries are marked taken: a first attempt is not read again before its
            # outcome is recorded (the cursor is past it, and until then it has no attempt,
            # so the retries query does not find it).
            taken.update([(d.seq, endpoint) for d in retries_out])
            out += retries_out
            out += fresh
        return out

    def release_deliveries(self) -> None:
        self._taken.clear()
        self._fresh_after.clear()
        self._held.clear()  # all due again: read from the file
        self._held_all.clear()

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        # One UPDATE per outcome shared by several deliveries (a batched call's), not one
        # per delivery: ~40% less. A call of its own (its own time) keeps the plain UPDATE.
        # An outcome is an Attempt's fields after its seq, (endpoint, state, at,
        # next_attempt_at, status, error): one slice, not a tuple of seven attributes.
        alike: dict[tuple[Any, ...], list[int]] = {}
        for a in attempts:
            seqs = alike.get(outcome := a[1:])
            if seqs is None:
                alike[outcome] = [a.seq]
            else:
                seqs.append(a.seq)
        sets = (
            "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, "
            "first_attempt_at = coalesce(first_attempt_at, ?), last_status = ?, last_error = ?, updated_at = ? "
        )
        params = [
            ((state, next_at, at, status, error, at, endpoint), seqs)
            for (endpoint, state, at, next_at, status, error), seqs in alike.items()
        ]
        with Transaction(self._db):
            self._db.executemany(
                sets + "WHERE endpoint = ? AND seq = ?",
                [(*p, seqs[0]) for p, seqs in params if len(seqs) == 1],
            )
            self._db.executemany(
                sets + "WHERE endpoint = ? AND seq IN (SELECT value FROM json_each(?))",
                [(*p, json.dumps(seqs)) for p, seqs in params if len(seqs) > 1],
            )
        if self._taken:  # (retries handed out: see due_deliveries)
            self._taken.difference_update((a.seq, a.endpoint) for a in attempts)

    def deliveries(
        self, *, subject: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        where: list[str] = []
        args: list[Any] = []
        if subject is not None:  # a range of the id's index (EVENTS_SCHEMA), then exact
            low, high = event_id_range(subject)
            where.append("e.id >= ? AND e.id < ? AND e.subject = ?")
            args += [low, high, subject]
        if state is not None:
            where.append("d.state = ?")
            args.append(state)
        order = "d.seq, d.endpoint" if subject is not None else "d.updated_at DESC"
        rows = self._db.execute(
            f"SELECT {_DELIVERY} FROM deliveries d JOIN events e ON e.seq = d.seq "
            f"WHERE {' AND '.join(where) or '1'} ORDER BY {order} LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [Delivery(*r) for r in rows]

    def retry_dead(self, event_id: str | None, now: float) -> int:
        which = "" if event_id is None else " AND seq = (SELECT seq FROM events WHERE id = ?)"
        with Transaction(self._db):
            cursor = self._db.execute(
                "UPDATE deliveries SET state = ?, next_attempt_at = ?, first_attempt_at = NULL, "
                f"updated_at = ? WHERE state = ?{which}",
                (PENDING, now, now, DEAD, *(() if event_id is None else (event_id,))),
            )
        self._pending_endpoints.update(r[0] for r in self._db.execute(_PENDING_ENDPOINTS))
        return cursor.rowcount

    def backlog(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for endpoint, n in self._db.execute(_BACKLOG):
            out[endpoint] = out.get(endpoint, 0) + n
        return out

    def prune_events(self, before: float, limit: int = 10_000) -> int:
        seqs = self._db.execute(
            "SELECT seq FROM events e WHERE occurred_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d "
            f"WHERE d.seq = e.seq AND d.state != '{DELIVERED}') ORDER BY seq LIMIT ?",
            (before, limit),
        ).fetchall()
        if seqs:
            with Transaction(self._db):
                self._db.executemany("DELETE FROM deliveries WHERE seq = ?", seqs)
                self._db.executemany("DELETE FROM events WHERE seq = ?", seqs)
        return len(seqs)
