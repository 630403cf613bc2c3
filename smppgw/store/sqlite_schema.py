"""The SQLite store's file: made, checked and upgraded when a store opens it.

The schema's version is the file's ``PRAGMA user_version`` (``sqlite_rows.SCHEMA_VERSION``).
A new file gets the current schema. A file of version 1 (user_version 0: each message a
row whose ``body`` holds every field, the history keyed on the message id; files from
before the listing columns included) is migrated in one transaction when it is opened:
each message row is split into its fixed ``body`` and its changing ``state``, keeps its
rowid as ``seq`` (so the order is kept), and the history is re-keyed on ``seq``; a
failure rolls everything back and leaves the file as it was. A file from a newer
smppgw (a higher version) is refused with ``StoreError``: this code cannot know what
it would lose. A file of version 2 gets the ``tenant`` columns (``_add_tenants``); the
``api_keys`` table is made where missing. A file of version 3 gets the inbound 2-way
notes' columns (``_add_columns``). An ``optouts`` table becomes the consent history
(``store.sqlite_consent``). A file of version 4 needs nothing: its messages' history
stays in the ``history`` table, read from there until a message's next change writes
it into the row (``sqlite_rows.SCHEMA_VERSION``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from smppgw.store.base import INBOUND_NOTES, MessageRecord, PartRecord, Status, StoreError
from smppgw.store.sqlite_consent import prepare_consent
from smppgw.store.sqlite_keys import KEYS_SCHEMA
from smppgw.store.sqlite_records import message_row
from smppgw.store.sqlite_rows import INSERT, LISTING_INDEXES, SCHEMA, SCHEMA_VERSION

__all__ = ["prepare"]

log = logging.getLogger(__name__)

_OLD_INDEXES = (
    "messages_open",
    "messages_created",
    "messages_status",
    "messages_source",
    "messages_destination",
)
_CHUNK = 10_000


def prepare(db: sqlite3.Connection, path: Path) -> None:
    """Make ``db`` hold the current schema: create it, or migrate an older file.

    Raises:
        StoreError: the file is from a newer smppgw, or its migration failed (nothing
            of it was kept).
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {path}: schema version {version} is newer than this smppgw's ({SCHEMA_VERSION}); "
            "run the smppgw that wrote it, or point store.path at another file"
        )
    columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    if columns and "seq" not in columns:
        _migrate_v1(db, path)
    _add_tenants(db, path)
    _add_columns(db, path, "inbound", INBOUND_NOTES)
    db.executescript(SCHEMA)
    db.executescript(KEYS_SCHEMA)
    prepare_consent(db, path)  # the consent history; an older file's optouts moved into it
    db.executescript(LISTING_INDEXES)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _add_tenants(db: sqlite3.Connection, path: Path) -> None:
    """Version 2 -> 3: the ``tenant`` columns (NULL: no tenant, as every older message
    and inbound message was), and idempotency keys unique per tenant."""
    changes = [
        f"ALTER TABLE {table} ADD COLUMN tenant TEXT"
        for table in ("messages", "inbound")
        if (columns := {row[1] for row in db.execute(f"PRAGMA table_info({table})")})
        and "tenant" not in columns
    ]
    if not changes:
        return
    log.warning("store %s: adding tenants (schema version %d)", path, SCHEMA_VERSION)
    try:
        db.execute("BEGIN IMMEDIATE")
        for statement in [*changes, "DROP INDEX IF EXISTS messages_key"]:
            db.execute(statement)
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"store {path}: migrating to schema version {SCHEMA_VERSION} failed: {exc}") from exc


def _add_columns(db: sqlite3.Connection, path: Path, table: str, names: tuple[str, ...]) -> None:
    """Add the TEXT columns ``names`` to ``table`` where missing (NULL in older rows), in
    one transaction (version 3 -> 4: the inbound 2-way notes)."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    missing = [name for name in names if columns and name not in columns]
    if not missing:
        return
    log.warning(
        "store %s: adding %s to %s (schema version %d)", path, ", ".join(missing), table, SCHEMA_VERSION
    )
    try:
        db.execute("BEGIN IMMEDIATE")
        for name in missing:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} TEXT")
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"store {path}: migrating to schema version {SCHEMA_VERSION} failed: {exc}") from exc


def _migrate_v1(db: sqlite3.Connection, path: Path) -> None:
    count = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    log.warning("store %s: migrating %d messages to schema version %d", path, count, SCHEMA_VERSION)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    try:
        db.execute("BEGIN IMMEDIATE")
        for index in _OLD_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
        db.execute("ALTER TABLE messages RENAME TO messages_v1")
        if "history" in tables:
            db.execute("ALTER TABLE history RENAME TO history_v1")
        for statement in SCHEMA.split(";"):  # (executescript would commit first)
            if statement.strip():
                db.execute(statement)
        rows = db.execute("SELECT rowid, body FROM messages_v1 ORDER BY rowid")
        while chunk := rows.fetchmany(_CHUNK):
            # Times stay on the wall clock: read and written with offset 0.
            new = [message_row(seq, _v1_record(json.loads(body)), 0.0) for seq, body in chunk]
            db.executemany(INSERT, new)
        if "history" in tables:
            db.execute(
                "INSERT INTO history SELECT m.seq, h.n, h.status, h.at, h.source, h.detail, h.applied "
                "FROM history_v1 h JOIN messages m ON m.id = h.message_id"
            )
            db.execute("DROP TABLE history_v1")
        db.execute("DROP TABLE messages_v1")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"store {path}: migrating to schema version {SCHEMA_VERSION} failed: {exc}") from exc


def _v1_record(body: dict[str, Any]) -> MessageRecord:
    """The record a version-1 ``body`` held (every field but the history)."""
    parts = []
    for p in body.pop("parts"):
        p["status"] = Status(p["status"])
        parts.append(PartRecord(**p))
    body["status"] = Status(body["status"])
    body["tags"] = tuple(body["tags"])
    return MessageRecord(parts=parts, **body)
