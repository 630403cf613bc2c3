"""The SQLite store's half of ``ConversationStore`` (``store.conversations``): a base
class of ``SqliteStore``.

One table, made where missing (``CREATE TABLE IF NOT EXISTS``, within schema version
4). New conversations are staged and written by ``add`` inside its transaction
(``_write_opened``); a change is its own transaction with its event. Times are kept as
wall-clock seconds (``clock_offset``), and the replies' times inside their JSON too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from smppgw.store.conversations import ConversationRecord
from smppgw.store.events import EventRecord, EventRouter
from smppgw.store.sqlite_rows import Transaction

__all__ = ["CONVERSATIONS_SCHEMA", "SqliteConversations"]

CONVERSATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    expect TEXT NOT NULL,  -- JSON: the checked spec
    state TEXT NOT NULL,  -- open | answered | invalid | expired
    opened_at REAL NOT NULL,
    deadline REAL NOT NULL,
    answer TEXT,
    replies TEXT NOT NULL,  -- JSON: [{inbound_seq, answer, at}]
    reprompts INTEGER NOT NULL,
    closed_at REAL,
    tenant TEXT,
    pool TEXT
);
CREATE INDEX IF NOT EXISTS conversations_message ON conversations (message_id);
CREATE INDEX IF NOT EXISTS conversations_open ON conversations (opened_at) WHERE state = 'open';
"""
_COLUMNS = (
    "id, message_id, sender, recipient, expect, state, opened_at, deadline, answer, replies, reprompts, "
    "closed_at, tenant, pool"
)
_INSERT = f"INSERT OR IGNORE INTO conversations ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_UPDATE = (
    "UPDATE conversations SET state = ?, deadline = ?, answer = ?, replies = ?, reprompts = ?, closed_at = ? "
    "WHERE id = ?"
)


class SqliteConversations:
    _db: sqlite3.Connection
    clock_offset: float
    _router: EventRouter | None

    def _conversations_init(self) -> None:
        self._db.executescript(CONVERSATIONS_SCHEMA)
        self._opened: list[ConversationRecord] = []

    if TYPE_CHECKING:  # SqliteEvents' (the other base of SqliteStore)

        def _write_events(self, staged: Sequence[tuple[EventRecord, Any]]) -> None: ...

    def _wall(self, t: float | None) -> float | None:
        return None if t is None else t + self.clock_offset

    def _replies(self, record: ConversationRecord) -> str:
        wall = self._wall
        return orjson.dumps([{**r, "at": wall(r["at"])} for r in record.replies]).decode()

    def open_conversations(self, records: Sequence[ConversationRecord]) -> None:
        self._opened.extend(records)

    def _take_opened(self) -> list[ConversationRecord]:
        """What ``add`` writes with its messages (taken first: a failed add drops them)."""
        opened, self._opened = self._opened, []
        return opened

    def _write_opened(self, opened: list[ConversationRecord]) -> None:
        """Inside ``add``'s transaction: the conversations staged for its messages."""
        if not opened:
            return
        wall = self._wall
        self._db.executemany(
            _INSERT,
            [
                (
                    r.id, r.message_id, r.sender, r.recipient, orjson.dumps(r.expect).decode(), r.state,
                    wall(r.opened_at), wall(r.deadline), r.answer, self._replies(r), r.reprompts,
                    wall(r.closed_at), r.tenant, r.pool,
                )
                for r in opened
            ],
        )  # fmt: skip

    def save_conversation(self, record: ConversationRecord, event: EventRecord | None = None) -> None:
        r, wall = record, self._wall
        with Transaction(self._db):
            self._db.execute(
                _UPDATE,
                (r.state, wall(r.deadline), r.answer, self._replies(r), r.reprompts, wall(r.closed_at), r.id),
            )
            if event is not None and self._router is not None:
                self._write_events([(event, self._router(event.type, None))])

    def _record(self, row: Sequence[Any]) -> ConversationRecord:
        off = self.clock_offset
        replies = [{**r, "at": r["at"] - off} for r in orjson.loads(row[9])]
        return ConversationRecord(
            id=row[0], message_id=row[1], sender=row[2], recipient=row[3], expect=orjson.loads(row[4]),
            state=row[5], opened_at=row[6] - off, deadline=row[7] - off, answer=row[8], replies=replies,
            reprompts=row[10], closed_at=None if row[11] is None else row[11] - off, tenant=row[12],
            pool=row[13],
        )  # fmt: skip

    def _one(self, where: str, value: str) -> ConversationRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM conversations WHERE {where} = ? ORDER BY opened_at DESC LIMIT 1",
            (value,),
        ).fetchone()
        return None if row is None else self._record(row)

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        return self._one("id", conversation_id)

    def conversation_of(self, message_id: str) -> ConversationRecord | None:
        return self._one("message_id", message_id)

    def open_conversation_records(self) -> list[ConversationRecord]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM conversations WHERE state = 'open' ORDER BY opened_at"
        ).fetchall()
        return [self._record(row) for row in rows]
