"""The SQLite store's half of ``ConsentStore`` (``store.consent``): a base class of
``SqliteStore``.

The ``consent`` table is append-only (no UPDATE or DELETE runs on it). ``optouts``,
the opt-out registry of older files, is a view of it: a number whose latest event of
scope ``all`` is an opt-out. An older file's ``optouts`` table is moved into the history
when the store opens it (each row an API opt-out of scope ``all`` at its time and with
its reason), in one transaction (``prepare_consent``). The schema version stays 4: the
table and the view are made where missing.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from smppgw.store.consent import OptOutView, consent_changed
from smppgw.store.events import EventRecord, EventRouter, Target
from smppgw.store.sqlite_rows import Transaction
from smppgw.twoway.consent import ConsentEvent, NumberConsent, Scope

__all__ = ["SqliteConsent", "prepare_consent"]

log = logging.getLogger(__name__)

_TABLE = """
CREATE TABLE IF NOT EXISTS consent (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- write order, never reused
    number TEXT NOT NULL,
    scope TEXT NOT NULL,  -- all | programme | sender
    target TEXT NOT NULL,  -- the programme or the sender; '' for all
    state TEXT NOT NULL,  -- opted_out | opted_in
    source TEXT NOT NULL,  -- keyword | api | import | carrier
    at REAL NOT NULL,  -- wall clock
    reason TEXT NOT NULL,
    keyword TEXT,
    inbound_seq INTEGER,  -- the inbound message it came from, and its exact text
    text TEXT
);
CREATE INDEX IF NOT EXISTS consent_number ON consent (number, seq);
"""
_VIEW = """
CREATE VIEW IF NOT EXISTS optouts AS
SELECT c.number AS number, c.at AS created_at, c.reason AS reason FROM consent c
WHERE c.scope = 'all' AND c.state = 'opted_out' AND c.seq = (
    SELECT d.seq FROM consent d WHERE d.number = c.number AND d.scope = 'all'
    ORDER BY d.at DESC, d.seq DESC LIMIT 1
);
"""
_COLUMNS = "seq, number, scope, target, state, source, at, reason, keyword, inbound_seq, text"


def prepare_consent(db: sqlite3.Connection, path: Path) -> None:
    """Make the ``consent`` table and the ``optouts`` view, moving an older file's
    ``optouts`` rows into the history first (one transaction).

    Raises:
        StoreError: the move failed (the file is left as it was).
    """
    db.executescript(_TABLE)
    kind = db.execute("SELECT type FROM sqlite_master WHERE name = 'optouts'").fetchone()
    if kind is not None and kind[0] == "table":
        count = db.execute("SELECT count(*) FROM optouts").fetchone()[0]
        log.warning("store %s: moving %d opt-outs into the consent history", path, count)
        with Transaction(db):
            db.execute(
                "INSERT INTO consent (number, scope, target, state, source, at, reason) "
                "SELECT number, 'all', '', 'opted_out', 'api', created_at, reason FROM optouts "
                "ORDER BY created_at, number"
            )
            db.execute("DROP TABLE optouts")
    db.executescript(_VIEW)


def _event(row: Sequence[Any]) -> ConsentEvent:
    seq, number, scope, target, state, source, at, reason, keyword, inbound_seq, text = row
    return ConsentEvent(
        seq=seq, number=number, scope=Scope(kind=scope, name=target), state=state, source=source, at=at,
        reason=reason, keyword=keyword, inbound_seq=inbound_seq, text=text,
    )  # fmt: skip


class SqliteConsent(OptOutView):
    """The consent half of ``SqliteStore`` (which provides ``_db`` and the outbox's
    ``_router`` and ``_write_events``)."""

    _db: sqlite3.Connection
    _router: EventRouter | None
    if TYPE_CHECKING:

        def _write_events(self, staged: Sequence[tuple[EventRecord, Sequence[Target]]]) -> None: ...

    def _consent_init(self) -> None:
        # The index (store.consent): every number's history read once, at open.
        self._consent: dict[str, NumberConsent] = {}
        for row in self._db.execute(f"SELECT {_COLUMNS} FROM consent ORDER BY seq"):
            event = _event(row)
            self._consent.setdefault(event.number, NumberConsent()).add(event)

    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        counts: dict[str, int] = {}
        written: list[ConsentEvent] = []
        with Transaction(self._db):
            for e in events:
                cursor = self._db.execute(
                    f"INSERT INTO consent ({_COLUMNS.removeprefix('seq, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (e.number, e.scope.kind, e.scope.name, e.state, e.source, e.at, e.reason, e.keyword,
                     e.inbound_seq, e.text),
                )  # fmt: skip
                written.append(attrs.evolve(e, seq=int(cursor.lastrowid or 0)))
            if self._router is not None:
                staged = []
                for e in written:
                    index = self._consent.get(e.number)
                    counts[e.number] = counts.get(e.number, index.count if index else 0) + 1
                    event = consent_changed(e, counts[e.number])
                    staged.append((event, self._router(event.type, None)))
                self._write_events(staged)
        for e in written:  # on disk: the index follows
            self._consent.setdefault(e.number, NumberConsent()).add(e)
        return written

    def consent(self, number: str) -> NumberConsent | None:
        return self._consent.get(number)

    def consent_history(self, number: str, *, limit: int = 1000) -> list[ConsentEvent]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM consent WHERE number = ? ORDER BY seq DESC LIMIT ?", (number, limit)
        ).fetchall()
        return [_event(row) for row in reversed(rows)]

    def consent_events(self, *, after: int = 0, limit: int = 1000) -> list[ConsentEvent]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM consent WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [_event(row) for row in rows]
