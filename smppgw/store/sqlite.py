"""The embedded store: messages, inbound messages and opt-outs in one SQLite file.

Durability follows DESIGN §3. ``add`` (new messages) and ``add_inbound`` commit before
they return, so a caller is told "accepted" (HTTP 202, deliver_sm_resp) only for what is
on disk. Status changes (``save``) and MO parts held for reassembly
(``add_inbound_part``) are kept in memory and written in one transaction by ``commit``
(= ``flush``): the gateway commits once per read batch before that batch's
deliver_sm_resp go out, and once per dispatch batch before its submit_sm are written
(group commit); the application also flushes every few tens of milliseconds and at
shutdown. A crash loses only changes nothing was told about yet; ``unfinished`` then
returns those messages in an earlier state and the gateway resumes them (a part found
``submitting`` is sent again, counted in ``resent_unknown``: at least once, never lost).

The file uses WAL with ``synchronous=NORMAL``: a commit survives a process crash; a
power cut may lose the last transactions, never corrupt the file (sqlite.org/wal.html).

History (DESIGN §3): each message's status changes (``MessageRecord.history``) go to
the ``history`` table, one row per change, written in the same transaction as the
record (``add``, ``flush``); ``get`` and ``unfinished`` read them back.

Times: records carry the trio clock (monotonic); the file keeps wall-clock seconds,
converted with ``clock_offset`` (wall - monotonic, fixed at start), so a restarted
process reads them back on its own clock.

Calls are synchronous and short (no network); SQLite connections belong to the
thread that made them, so the store is used from the trio thread only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from smppgw.store.base import (
    InboundPart,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    OptOutRecord,
    PartRecord,
    Status,
    StoreError,
    owes_work,
)

if TYPE_CHECKING:
    from smppgw.store.base import InboundPartStore, Store

__all__ = ["SqliteStore"]

_SCHEMA = """
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
_LISTING_COLUMNS = ("source", "destination")
_LISTING_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at, id);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status, created_at, id);
CREATE INDEX IF NOT EXISTS messages_source ON messages (source, created_at, id);
CREATE INDEX IF NOT EXISTS messages_destination ON messages (destination, created_at, id);
"""
_INSERT = (
    "INSERT INTO messages (id, idempotency_key, status, open, created_at, updated_at, body, source, "
    "destination) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PART_TIMES = ("submitted_at", "receipt_at")
_MESSAGE_TIMES = ("created_at", "updated_at")
_NO_HISTORY: list[Any] = []  # (never appended to: only lent to a record in ``_row``)
_VALUE = {status: status.value for status in Status}  # ``.value`` is a property: two frames
_HISTORY_INSERT = "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?, ?)"
_HISTORY_COLUMNS = "message_id, status, at, source, detail, applied"


class SqliteStore:
    """Implements every protocol of ``store.base`` (``Store``)."""

    def __init__(self, path: str | Path, *, clock_offset: float = 0.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock_offset = clock_offset
        # Explicit BEGIN/COMMIT. A short busy timeout: the calls run on the event loop, so
        # another process holding the lock must not stall every bind for long.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=0.5)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._listing_schema()
        # Messages not final yet (and every message changed since the last flush) stay
        # in memory: the gateway holds them anyway, and ``get`` must see the newest state.
        self._live: dict[str, MessageRecord] = {}
        self._dirty: dict[str, MessageRecord] = {}
        self._correlations: dict[tuple[str, str], tuple[str, str, str, int, float]] = {}  # not flushed yet
        self.flushes = 0
        # Staged inbound-part writes (SQL, parameters), in order; written by flush/commit.
        self._part_ops: list[tuple[str, tuple[Any, ...]]] = []

    def close(self) -> None:
        self.flush()
        self._db.close()

    # -- messages ---------------------------------------------------------------------------

    def add(self, messages: Sequence[MessageRecord]) -> None:
        rows = [self._row(m) for m in messages]
        history = self._history_rows(messages)
        with self._transaction():
            self._db.executemany(_INSERT, rows)
            if history:
                self._db.executemany(_HISTORY_INSERT, history)
        for m in messages:
            m.history_saved = len(m.history)
            if owes_work(m):
                self._live[m.id] = m

    def save(self, message: MessageRecord) -> None:
        self._dirty[message.id] = message

    def flush(self) -> int:
        """Write every change since the last flush in one transaction; returns how many."""
        if not self._dirty and not self._part_ops and not self._correlations:
            return 0
        dirty, self._dirty = self._dirty, {}
        part_ops, self._part_ops = self._part_ops, []
        correlations, self._correlations = self._correlations, {}
        rows = [self._row(m) for m in dirty.values()]
        history = self._history_rows(dirty.values())
        try:
            with self._transaction():
                for sql, params in part_ops:  # (MO parts: rare next to status changes)
                    self._db.execute(sql, params)
                if correlations:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO correlations VALUES (?, ?, ?, ?, ?)", correlations.values()
                    )
                self._db.executemany(
                    _INSERT + " ON CONFLICT (id) DO UPDATE SET "
                    "status = excluded.status, open = excluded.open, updated_at = excluded.updated_at, "
                    "body = excluded.body",
                    rows,
                )
                if history:
                    self._db.executemany(_HISTORY_INSERT, history)
        except StoreError:
            self._dirty = dirty | self._dirty  # keep them for the next try, nothing lost
            self._part_ops = part_ops + self._part_ops
            self._correlations = correlations | self._correlations
            raise
        for m in dirty.values():
            m.history_saved = len(m.history)
            if owes_work(m):
                self._live[m.id] = m
            else:
                self._live.pop(m.id, None)
        self.flushes += 1
        return len(rows)

    def get(self, message_id: str) -> MessageRecord | None:
        found = self._dirty.get(message_id) or self._live.get(message_id)
        if found is not None:
            return found
        row = self._db.execute("SELECT body FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        record = self._record(json.loads(row[0]))
        self._read_history(
            {message_id: record},
            self._db.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM history WHERE message_id = ? ORDER BY n", (message_id,)
            ),
        )
        return record

    def find_key(self, idempotency_key: str) -> MessageRecord | None:
        row = self._db.execute(
            "SELECT id FROM messages WHERE idempotency_key = ?", (idempotency_key,)
        ).fetchone()
        return self.get(row[0]) if row else None

    def unfinished(self) -> list[MessageRecord]:
        """Messages to resume after a restart, oldest first."""
        rows = self._db.execute("SELECT body FROM messages WHERE open = 1 ORDER BY created_at").fetchall()
        records = [self._record(json.loads(r[0])) for r in rows]
        self._read_history(
            {r.id: r for r in records},
            self._db.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM history WHERE message_id IN "
                "(SELECT id FROM messages WHERE open = 1) ORDER BY message_id, n"
            ),
        )
        for r in records:
            self._live[r.id] = r
        return records

    def counts(self) -> dict[str, int]:
        self.flush()
        return dict(self._db.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall())

    # -- inbound ----------------------------------------------------------------------------

    def add_inbound(
        self,
        *,
        smsc: str,
        source: str,
        destination: str,
        text: str,
        data_coding: int,
        parts: int,
        complete: bool,
        received_at: float,
    ) -> InboundRecord:
        """Store one inbound message durably (before its deliver_sm_resp, DESIGN §3)."""
        fields: dict[str, Any] = {
            "smsc": smsc, "source": source, "destination": destination, "text": text,
            "data_coding": data_coding, "parts": parts, "complete": bool(complete),
            "received_at": received_at + self.clock_offset,
        }  # fmt: skip
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO inbound (smsc, source, destination, text, data_coding, parts, complete, "
                "received_at) VALUES (:smsc, :source, :destination, :text, :data_coding, :parts, "
                ":complete, :received_at)",
                fields,
            )
        return InboundRecord(seq=int(cursor.lastrowid or 0), **fields)

    def inbound(self, *, after: int = 0, limit: int = 100) -> list[InboundRecord]:
        rows = self._db.execute(
            "SELECT seq, smsc, source, destination, text, data_coding, parts, complete, received_at "
            "FROM inbound WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        return [
            InboundRecord(
                seq=seq,
                smsc=smsc,
                source=source,
                destination=destination,
                text=text,
                data_coding=data_coding,
                parts=parts,
                complete=bool(complete),
                received_at=received_at,
            )
            for seq, smsc, source, destination, text, data_coding, parts, complete, received_at in rows
        ]

    # -- opt-outs ---------------------------------------------------------------------------

    def opt_out(self, number: str, *, now: float, reason: str = "api") -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO optouts VALUES (?, ?, ?) ON CONFLICT (number) DO NOTHING",
                (number, now + self.clock_offset, reason),
            )

    def opt_in(self, number: str) -> bool:
        with self._transaction():
            cursor = self._db.execute("DELETE FROM optouts WHERE number = ?", (number,))
        return cursor.rowcount > 0

    def get_opt_out(self, number: str) -> OptOutRecord | None:
        row = self._db.execute(
            "SELECT number, created_at, reason FROM optouts WHERE number = ?", (number,)
        ).fetchone()
        return OptOutRecord(number=row[0], created_at=row[1], reason=row[2]) if row else None

    def is_opted_out(self, number: str) -> bool:
        return self._db.execute("SELECT 1 FROM optouts WHERE number = ?", (number,)).fetchone() is not None

    # -- rows -------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _history_rows(self, records: Iterable[MessageRecord]) -> list[tuple[Any, ...]]:
        """The history entries of ``records`` not written yet, as ``history`` rows."""
        offset, value = self.clock_offset, _VALUE
        rows = []
        for m in records:
            history = m.history
            for n in range(m.history_saved, len(history)):
                status, at, source, detail, applied = history[n]
                rows.append((m.id, n, value[status], at + offset, source, detail, applied))
        return rows

    def _read_history(self, records: dict[str, MessageRecord], rows: Iterable[tuple[Any, ...]]) -> None:
        """Give each record its history from ``rows`` (``_HISTORY_COLUMNS``, in order)."""
        offset = self.clock_offset
        for message_id, status, at, source, detail, applied in rows:
            record = records.get(message_id)
            if record is not None:
                record.history.append((Status(status), at - offset, source, detail, bool(applied)))
        for record in records.values():
            record.history_saved = len(record.history)

    def _row(self, m: MessageRecord) -> tuple[Any, ...]:
        # The history has its own table. Not an asdict filter (a call per field, twice the
        # cost): the record lends an empty list while it is copied.
        history, m.history = m.history, _NO_HISTORY
        try:
            body = attrs.asdict(m, value_serializer=_serialize)
        finally:
            m.history = history
        del body["history"], body["history_saved"]
        for key in _MESSAGE_TIMES:
            body[key] += self.clock_offset
        if body["send_at"] is not None:
            body["send_at"] += self.clock_offset
        for part in body["parts"]:
            for key in _PART_TIMES:
                if part[key] is not None:
                    part[key] += self.clock_offset
        return (
            m.id,
            m.idempotency_key,
            m.status.value,
            int(owes_work(m)),
            body["created_at"],
            body["updated_at"],
            json.dumps(body),
            m.source,
            m.destination,
        )

    def _record(self, body: dict[str, Any]) -> MessageRecord:
        parts = []
        for p in body.pop("parts"):
            for key in _PART_TIMES:
                if p[key] is not None:
                    p[key] -= self.clock_offset
            p["status"] = Status(p["status"])
            parts.append(PartRecord(**p))
        for key in _MESSAGE_TIMES:
            body[key] -= self.clock_offset
        if body.get("send_at") is not None:
            body["send_at"] -= self.clock_offset
        body["status"] = Status(body["status"])
        body["tags"] = tuple(body["tags"])
        return MessageRecord(parts=parts, **body)

    def wall(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else monotonic + self.clock_offset

    # -- group commit and inbound parts (DESIGN §3: durable before it is acknowledged) -------

    def commit(self) -> None:
        """Write what ``save`` and ``add_inbound_part`` kept back, in one transaction
        (``flush``): one commit per read or dispatch batch, not per PDU. In WAL mode with
        ``synchronous=NORMAL`` a commit is a write to the WAL, no fsync, so it survives a
        process crash (sqlite.org/wal.html)."""
        self.flush()

    def add_inbound_part(self, part: InboundPart) -> None:
        self._part_ops.append(
            (
                "INSERT OR IGNORE INTO inbound_parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    part.smsc, part.source, part.destination, part.reference, part.total, part.seqnum,
                    part.data_coding, part.payload, part.received_at + self.clock_offset,
                ),
            )
        )  # fmt: skip

    def drop_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> None:
        self._part_ops.append(
            (
                "DELETE FROM inbound_parts WHERE smsc = ? AND source = ? AND destination = ? "
                "AND reference = ? AND total = ?",
                (smsc, source, destination, reference, total),
            )
        )

    def inbound_parts(self, smsc: str) -> list[InboundPart]:
        self.flush()
        rows = self._db.execute(
            "SELECT smsc, source, destination, reference, total, seqnum, data_coding, payload, received_at "
            "FROM inbound_parts WHERE smsc = ? ORDER BY received_at, seqnum",
            (smsc,),
        ).fetchall()
        return [
            InboundPart(
                smsc=r[0], source=r[1], destination=r[2], reference=r[3], total=r[4], seqnum=r[5],
                data_coding=r[6], payload=bytes(r[7]), received_at=r[8] - self.clock_offset,
            )
            for r in rows
        ]  # fmt: skip

    # -- listing ----------------------------------------------------------------------------

    def _listing_schema(self) -> None:
        """The listing columns and indexes (added to a file made before them, backfilled)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
        missing = [c for c in _LISTING_COLUMNS if c not in have]
        if missing:
            with self._transaction():
                for column in missing:
                    self._db.execute(f"ALTER TABLE messages ADD COLUMN {column} TEXT")
                    self._db.execute(f"UPDATE messages SET {column} = json_extract(body, '$.{column}')")
        self._db.executescript(_LISTING_INDEXES)

    def list_messages(self, query: MessageQuery) -> tuple[list[MessageRecord], tuple[float, str] | None]:
        """An indexed query, newest first (changes not flushed yet are flushed first)."""
        self.flush()
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("status", query.status.value if query.status is not None else None),
            ("source", query.source),
            ("destination", query.destination),
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
        sql = "SELECT id, created_at, body FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._db.execute(sql, (*args, query.limit + 1)).fetchall()
        page = rows[: query.limit]
        records = [self._live.get(i) or self._record(json.loads(body)) for i, _, body in page]
        after = (page[-1][1], page[-1][0]) if len(rows) > query.limit else None
        return records, after

    # -- correlations (base.CorrelationStore) -----------------------------------------------

    def put_correlation(self, smsc: str, key: str, message_id: str, part: int, submitted_at: float) -> None:
        """Kept with the write-behind changes; written by the next ``flush`` (one transaction)."""
        self._correlations[smsc, key] = (smsc, key, message_id, part, submitted_at + self.clock_offset)

    def get_correlation(self, smsc: str, key: str) -> tuple[str, int] | None:
        row = self._correlations.get((smsc, key))
        if row is not None:
            return row[2], row[3]
        found = self._db.execute(
            "SELECT message_id, part FROM correlations WHERE smsc = ? AND key = ?", (smsc, key)
        ).fetchone()
        return None if found is None else (found[0], found[1])

    def expire_correlations(self, before: float, limit: int = 10_000) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM correlations WHERE (smsc, key) IN (SELECT smsc, key FROM correlations "
                "WHERE submitted_at < ? ORDER BY submitted_at LIMIT ?)",
                (before + self.clock_offset, limit),
            )
        return cursor.rowcount


class _Transaction:
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


def _serialize(instance: object, field: attrs.Attribute[Any] | None, value: Any) -> Any:
    return value.value if isinstance(value, Status) else value


if TYPE_CHECKING:

    def _implements(store: SqliteStore) -> Store:
        return store  # mypy checks SqliteStore against every protocol

    def _holds_parts(store: SqliteStore) -> InboundPartStore:
        return store
