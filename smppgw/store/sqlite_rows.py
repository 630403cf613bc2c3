"""The SQLite store's schema and rows: SQL text (records to rows and back:
``store.sqlite_records``).

Kept apart from ``smppgw.store.sqlite`` (the store's operations) so each stays small.
Times: a row holds wall-clock seconds, a record the trio clock; ``offset`` is the
store's ``clock_offset`` (wall - monotonic).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from smppgw.store.base import (
    INBOUND_NOTES,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    Status,
    StoreError,
)

__all__ = [
    "INBOUND_COLUMNS",
    "INSERT_INBOUND",
    "HISTORY_COLUMNS",
    "INSERT",
    "INSERT_PLAIN",
    "LISTING_INDEXES",
    "RECORD_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "UPDATE",
    "UPDATE_OPEN",
    "Transaction",
    "inbound_record",
    "insert_many",
    "listing_sql",
    "read_history",
]

# Version 2 (``PRAGMA user_version``): a message is written whole once, by ``add``, and
# each later change rewrites only what changes (``state``, ``UPDATE``); the history
# keys on ``seq``, the insert order, so the rows of the messages in flight are
# neighbours and a group commit writes few pages. (Version 1, user_version 0, wrote
# the whole record at every change and keyed the history on the random message id:
# ~30 KB of WAL per message; ``store.sqlite_schema`` migrates such a file.)
# Version 3: a ``tenant`` column on messages (idempotency keys unique per tenant) and
# on inbound, and the ``api_keys`` table (``store.sqlite_keys``).
# Version 4: the 2-way notes on inbound (keyword, in_reply_to, conversation_id, answer,
# linked_by: store.base.INBOUND_NOTES); the consent history (``store.sqlite_consent``),
# of which ``optouts`` became a view.
# Version 5: a message's history is in its ``state`` (its key ``history``), rewritten
# with the row at each change, no longer a row per entry in ``history`` (kept: the
# messages an older version wrote are read from it). An older smppgw would read a
# version 5 file's messages without their history, so it refuses the file.
SCHEMA_VERSION = 5
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,  -- insert order (the rowid): updates and the history key on it
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT,  -- unique where given: messages_key
    status TEXT NOT NULL,
    open INTEGER NOT NULL,  -- 1 while the gateway still owes it work (base.owes_work)
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    body TEXT NOT NULL,  -- JSON: what acceptance fixed (text, options, tags), written once
    state TEXT NOT NULL,  -- JSON: what changes (route, error, attempts, the parts)
    tenant TEXT  -- the sending key's tenant (version 3)
);
CREATE INDEX IF NOT EXISTS messages_open ON messages (open) WHERE open = 1;
-- Partial: most messages have no key, and an index entry per message costs every add.
-- Each tenant (and no tenant, '') has its own idempotency keys.
CREATE UNIQUE INDEX IF NOT EXISTS messages_tenant_key ON messages (ifnull(tenant, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS inbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    smsc TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    data_coding INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    received_at REAL NOT NULL,
    tenant TEXT,  -- version 3
    keyword TEXT,  -- version 4: the 2-way notes (store.base.INBOUND_NOTES)
    in_reply_to TEXT,
    conversation_id TEXT,
    answer TEXT,
    linked_by TEXT
);
CREATE TABLE IF NOT EXISTS history (  -- written by versions 2 to 4 only (SCHEMA_VERSION)
    seq INTEGER NOT NULL,  -- messages.seq
    n INTEGER NOT NULL,  -- the change's place in its message's history, from 0
    status TEXT NOT NULL,
    at REAL NOT NULL,
    source TEXT NOT NULL,
    detail TEXT,
    applied INTEGER NOT NULL,  -- 0: a move the rank rule refused (store.base.advance)
    PRIMARY KEY (seq, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbound_parts (  -- MO parts held for reassembly (InboundPartStore)
    smsc TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seqnum INTEGER NOT NULL,
    data_coding INTEGER NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (smsc, source, destination, reference, total, seqnum)
);
CREATE TABLE IF NOT EXISTS correlations (  -- which part an SMSC id named (base.CorrelationStore)
    smsc TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    PRIMARY KEY (smsc, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS correlations_age ON correlations (submitted_at);
"""
# Listing (``list_messages``): source and destination are columns written once by the
# INSERT, so their indexes cost nothing per status change; only ``messages_status``
# follows each change.
LISTING_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at, id);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status, created_at, id);
CREATE INDEX IF NOT EXISTS messages_source ON messages (source, created_at, id);
CREATE INDEX IF NOT EXISTS messages_destination ON messages (destination, created_at, id);
CREATE INDEX IF NOT EXISTS messages_tenant ON messages (tenant, created_at, id) WHERE tenant IS NOT NULL;
"""
INSERT = (
    "INSERT INTO messages (seq, id, idempotency_key, status, open, created_at, updated_at, source, "
    "destination, body, state, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# A message without an idempotency key or a tenant (most): those columns left out (NULL).
INSERT_PLAIN = (
    "INSERT INTO messages (seq, id, status, open, created_at, updated_at, source, destination, body, state) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE = "UPDATE messages SET status = ?, open = ?, updated_at = ?, state = ? WHERE seq = ?"
# A change of a message that stays open (``state_row_open``): setting
# ``open`` again to 1 would delete and insert its ``messages_open`` entry all the same.
UPDATE_OPEN = "UPDATE messages SET status = ?, updated_at = ?, state = ? WHERE seq = ?"
RECORD_COLUMNS = (
    "seq, id, idempotency_key, status, created_at, updated_at, source, destination, body, state, tenant"
)
_INBOUND_FIELDS = (
    "smsc", "source", "destination", "text", "data_coding", "parts", "complete", "received_at", "tenant",
    *INBOUND_NOTES,
)  # fmt: skip
INBOUND_COLUMNS = "seq, " + ", ".join(_INBOUND_FIELDS)
INSERT_INBOUND = f"INSERT INTO inbound ({', '.join(_INBOUND_FIELDS)}) VALUES ({', '.join(':' + f for f in _INBOUND_FIELDS)})"


def inbound_record(row: tuple[Any, ...]) -> InboundRecord:
    """An ``inbound`` row (``INBOUND_COLUMNS``) as its record."""
    fields = dict(zip(_INBOUND_FIELDS, row[1:], strict=True))
    fields["complete"] = bool(fields["complete"])
    return InboundRecord(seq=row[0], **fields)


HISTORY_COLUMNS = "seq, status, at, source, detail, applied"


def read_history(records: dict[int, MessageRecord], rows: Iterable[tuple[Any, ...]], offset: float) -> None:
    """Give each record (by seq) its history from ``rows`` (``HISTORY_COLUMNS``, in order):
    the ``history`` table of a message an older version wrote (its state has none)."""
    for seq, status, at, source, detail, applied in rows:
        record = records.get(seq)
        if record is not None:
            record.history.append((Status(status), at - offset, source, detail, bool(applied)))
    for record in records.values():
        record.history_saved = len(record.history)


def listing_sql(query: MessageQuery) -> tuple[str, list[object]]:
    """The listing's SELECT (``RECORD_COLUMNS``, newest first, one row past the page to
    tell whether there is a next one) and its parameters."""
    where: list[str] = []
    args: list[object] = []
    for column, value in (
        ("status", query.status.value if query.status is not None else None),
        ("source", query.source),
        ("destination", query.destination),
        ("tenant", query.tenant),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if query.since is not None:
        where.append("created_at >= ?")
        args.append(query.since)
    if query.until is not None:
        where.append("created_at < ?")
        args.append(query.until)
    if query.before is not None:  # row values: (created_at, id) < cursor, on the index
        where.append("(created_at, id) < (?, ?)")
        args.extend(query.before)
    if query.tag is not None:  # tags are a JSON array in the body: exact element match
        where.append("EXISTS (SELECT 1 FROM json_each(body, '$.tags') WHERE value = ?)")
        args.append(query.tag)
    sql = f"SELECT {RECORD_COLUMNS} FROM messages"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY created_at DESC, id DESC LIMIT ?", [*args, query.limit + 1]


# Rows per INSERT statement at most (``insert_many``); the sizes used are powers of two
# up to it, so each INSERT has at most seven texts in the connection's statement cache
# (128), and 64 rows of 12 columns stay below SQLite's oldest variable limit (999).
_WIDEST = 64
_MANY: dict[tuple[str, int], str] = {}


def insert_many(db: sqlite3.Connection, insert: str, rows: Sequence[Sequence[Any]]) -> None:
    """``insert`` (one INSERT ending in ``VALUES (?, ...)``) for each of ``rows`` in
    order, up to ``_WIDEST`` rows per statement (``VALUES (...), (...), ...``).

    What it writes is what ``executemany`` writes; it costs a third as much per row.
    ``executemany`` steps the statement once per row, and a step (cursors opened,
    the row bound and inserted, cursors closed) cost ~2.8 us a row here, ~1 us in a
    64-row statement: the store's writes are many small rows (history, events,
    deliveries), so that per-row cost was most of a commit's."""
    at, n = 0, len(rows)
    while at < n:
        width = _WIDEST if n - at >= _WIDEST else 1 << ((n - at).bit_length() - 1)
        sql = _MANY.get((insert, width))
        if sql is None:
            head, _, group = insert.rpartition(" VALUES ")
            sql = _MANY[insert, width] = f"{head} VALUES {', '.join([group] * width)}"
        db.execute(sql, list(itertools.chain.from_iterable(rows[at : at + width])))
        at += width


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK and ``StoreError`` naming the cause."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"store {type(exc).__name__}: {exc}") from exc

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if kind is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as error:
                exc = error
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.IntegrityError):
            raise StoreError(f"store: {exc}") from exc
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"store {type(exc).__name__}: {exc}") from exc
