"""The SQLite store's schema and rows: SQL text, and records to rows and back.

Kept apart from ``smppgw.store.sqlite`` (the store's operations) so each stays small.
Times: a row holds wall-clock seconds, a record the trio clock; ``offset`` is the
store's ``clock_offset`` (wall - monotonic).
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Iterable
from typing import Any

import attrs

from smppgw.store.base import MessageRecord, PartRecord, Status, StoreError, owes_work

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_INSERT",
    "INSERT",
    "LISTING_COLUMNS",
    "LISTING_INDEXES",
    "SCHEMA",
    "Transaction",
    "history_rows",
    "message_record",
    "message_row",
    "read_history",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    status TEXT NOT NULL,
    open INTEGER NOT NULL,  -- 1 while the gateway still owes it work (base.owes_work)
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_open ON messages (open) WHERE open = 1;
CREATE TABLE IF NOT EXISTS inbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    smsc TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    text TEXT NOT NULL,
    data_coding INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    message_id TEXT NOT NULL,
    n INTEGER NOT NULL,  -- the change's place in its message's history, from 0
    status TEXT NOT NULL,
    at REAL NOT NULL,
    source TEXT NOT NULL,
    detail TEXT,
    applied INTEGER NOT NULL,  -- 0: a move the rank rule refused (store.base.advance)
    PRIMARY KEY (message_id, n)
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
CREATE TABLE IF NOT EXISTS optouts (
    number TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    reason TEXT NOT NULL
);
"""
# Listing (``list_messages``): source and destination as columns, written once by the
# INSERT and never by the status UPSERT, so their indexes cost nothing per status change;
# only ``messages_status`` follows each change. A file from before gets them here.
LISTING_COLUMNS = ("source", "destination")
LISTING_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at, id);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status, created_at, id);
CREATE INDEX IF NOT EXISTS messages_source ON messages (source, created_at, id);
CREATE INDEX IF NOT EXISTS messages_destination ON messages (destination, created_at, id);
"""
INSERT = (
    "INSERT INTO messages (id, idempotency_key, status, open, created_at, updated_at, body, source, "
    "destination) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PART_TIMES = ("submitted_at", "receipt_at")
_MESSAGE_TIMES = ("created_at", "updated_at")
_VALUE = {status: status.value for status in Status}  # ``.value`` is a property: two frames
HISTORY_INSERT = "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?, ?)"
HISTORY_COLUMNS = "message_id, status, at, source, detail, applied"


def history_rows(records: Iterable[MessageRecord], offset: float) -> list[tuple[Any, ...]]:
    """The history entries of ``records`` not written yet, as ``history`` rows."""
    value = _VALUE
    rows = []
    for m in records:
        history = m.history
        for n in range(m.history_saved, len(history)):
            status, at, source, detail, applied = history[n]
            rows.append((m.id, n, value[status], at + offset, source, detail, applied))
    return rows


def read_history(records: dict[str, MessageRecord], rows: Iterable[tuple[Any, ...]], offset: float) -> None:
    """Give each record its history from ``rows`` (``HISTORY_COLUMNS``, in order)."""
    for message_id, status, at, source, detail, applied in rows:
        record = records.get(message_id)
        if record is not None:
            record.history.append((Status(status), at - offset, source, detail, bool(applied)))
    for record in records.values():
        record.history_saved = len(record.history)


# The body's fields, read with one C-level getter each (``attrs.asdict`` walks every
# field through Python calls: about four times the cost, and a body is written at each
# durable status change). The history has its own table.
_MESSAGE_FIELDS = tuple(
    f.name for f in attrs.fields(MessageRecord) if f.name not in ("parts", "history", "history_saved")
)
_PART_FIELDS = tuple(f.name for f in attrs.fields(PartRecord))
_message_values = operator.attrgetter(*_MESSAGE_FIELDS)
_part_values = operator.attrgetter(*_PART_FIELDS)


def _part_body(part: PartRecord, offset: float) -> dict[str, Any]:
    body = dict(zip(_PART_FIELDS, _part_values(part), strict=True))
    body["status"] = _VALUE[part.status]
    for key in _PART_TIMES:
        if body[key] is not None:
            body[key] += offset
    return body


def message_row(m: MessageRecord, offset: float) -> tuple[Any, ...]:
    """The ``messages`` row of ``m`` (``INSERT``'s columns), times on the wall clock."""
    body = dict(zip(_MESSAGE_FIELDS, _message_values(m), strict=True))
    body["status"] = status = _VALUE[m.status]
    body["tags"] = list(m.tags)
    for key in _MESSAGE_TIMES:
        body[key] += offset
    if body["send_at"] is not None:
        body["send_at"] += offset
    body["parts"] = [_part_body(p, offset) for p in m.parts]
    return (
        m.id,
        m.idempotency_key,
        status,
        int(owes_work(m)),
        body["created_at"],
        body["updated_at"],
        json.dumps(body),
        m.source,
        m.destination,
    )


def message_record(body: dict[str, Any], offset: float) -> MessageRecord:
    """The record a ``messages`` row's body holds, times back on this process's clock."""
    parts = []
    for p in body.pop("parts"):
        for key in _PART_TIMES:
            if p[key] is not None:
                p[key] -= offset
        p["status"] = Status(p["status"])
        parts.append(PartRecord(**p))
    for key in _MESSAGE_TIMES:
        body[key] -= offset
    if body.get("send_at") is not None:
        body["send_at"] -= offset
    body["status"] = Status(body["status"])
    body["tags"] = tuple(body["tags"])
    return MessageRecord(parts=parts, **body)


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
