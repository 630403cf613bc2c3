"""The embedded store: messages, inbound messages and consent in one SQLite file.

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

History (DESIGN §3): each message's status changes (``MessageRecord.history``) are in
its row's ``state``, written with the record (``add``, ``flush``: the same row, so the
same transaction); ``get`` and ``unfinished`` read them back. A message an older
version wrote has its history in the ``history`` table, one row per change, read from
there (and into its state at its next change).

Writes (``store.sqlite_rows``): ``add`` writes a message whole; a change rewrites only
its status columns and its ``state`` (route, error, the parts), found by ``seq``, the
row's insert order, which the store keeps for every message it holds in memory. Every
change of one message between two commits is one row write (``save`` keeps the newest
record). The schema's version is checked, and an older file migrated, at open
(``store.sqlite_schema``).

Times: records carry the trio clock (monotonic); the file keeps wall-clock seconds,
converted with ``clock_offset`` (wall - monotonic, fixed at start), so a restarted
process reads them back on its own clock.

Calls are synchronous and short (no network); SQLite connections belong to the
thread that made them, so the store is used from the trio thread only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smppgw.store.base import (
    INBOUND_NOTES,
    InboundPart,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    StoreError,
    owes_work,
)
from smppgw.store.sqlite_consent import SqliteConsent
from smppgw.store.sqlite_conversations import SqliteConversations
from smppgw.store.sqlite_events import SqliteEvents
from smppgw.store.sqlite_flows import SqliteFlows
from smppgw.store.sqlite_keys import SqliteKeys
from smppgw.store.sqlite_records import message_record, message_row, state_row, state_row_open
from smppgw.store.sqlite_rows import (
    HISTORY_COLUMNS,
    INBOUND_COLUMNS,
    INSERT,
    INSERT_INBOUND,
    INSERT_PLAIN,
    RECORD_COLUMNS,
    UPDATE,
    UPDATE_OPEN,
    Transaction,
    inbound_record,
    insert_many,
    listing_sql,
    read_history,
)
from smppgw.store.sqlite_schema import prepare
from smppgw.store.sqlite_threads import SqliteThreads
from smppgw.store.sqlite_vouchers import SqliteVouchers

if TYPE_CHECKING:
    from smppgw.store.base import InboundPartStore, Store, ThreadStore

__all__ = ["SqliteStore"]

_CORRELATE = "INSERT OR REPLACE INTO correlations VALUES (?, ?, ?, ?, ?)"


class SqliteStore(
    SqliteEvents, SqliteKeys, SqliteConsent, SqliteConversations, SqliteVouchers, SqliteFlows, SqliteThreads
):
    """Implements every protocol of ``store.base`` (``Store``)."""

    def __init__(self, path: str | Path, *, clock_offset: float = 0.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock_offset = clock_offset
        # Explicit BEGIN/COMMIT. A short busy timeout: the calls run on the event loop, so
        # another process holding the lock must not stall every bind for long. Room for
        # every statement in the cache (``insert_many``'s INSERTs have up to seven texts
        # each): a statement dropped from it is compiled again at its next use.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=0.5, cached_statements=512)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint copies the WAL into the database file and syncs the disk (the one
        # sync of WAL mode with synchronous=NORMAL): tens to hundreds of milliseconds. Run
        # by a commit, it stalled the event loop, every bind and every API answer with it
        # (the p99 of the intake). So no commit runs one: ``checkpoint`` does, in a worker
        # thread on a connection of its own. Nor is the WAL file cut back after one (the
        # writer that restarts the WAL would truncate it: ~0.3 s for the 950 MB a 10 s burst
        # of 30,000 POSTs leaves, one stall that was the p99 at 1,000 req/s): it keeps the
        # size of the largest burst, reused from its start, until the store is closed.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute("PRAGMA journal_size_limit=-1")
        self._checkpointer: sqlite3.Connection | None = None
        prepare(self._db, self.path)
        self._events_init()  # the outbox (store.sqlite_events)
        self._consent_init()  # the consent history's index (store.sqlite_consent)
        self._conversations_init()  # conversations (store.sqlite_conversations)
        self._vouchers_init()  # voucher pools (store.sqlite_vouchers)
        self._flows_init()  # flows and their runs (store.sqlite_flows)
        self._threads_init()  # threads (store.sqlite_threads)
        # Messages not final yet (and every message changed since the last flush) stay
        # in memory: the gateway holds them anyway, and ``get`` must see the newest state.
        self._live: dict[str, MessageRecord] = {}
        self._dirty: dict[str, MessageRecord] = {}
        self._seq: dict[str, int] = {}  # the row (``seq``) of each message in ``_live``
        self._correlations: dict[tuple[str, str], tuple[str, str, str, int, float]] = {}  # not flushed yet
        self.flushes = 0
        # Staged inbound-part writes (SQL, parameters), in order; written by flush/commit.
        self._part_ops: list[tuple[str, tuple[Any, ...]]] = []

    def close(self) -> None:
        self.flush()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()  # the last connection to close checkpoints the WAL

    # -- messages ---------------------------------------------------------------------------

    def add(self, messages: Sequence[MessageRecord]) -> None:
        opened = self._take_opened()  # their conversations (store.sqlite_conversations)
        with Transaction(self._db):
            written = self._insert(messages)
            self._write_opened(opened)  # same transaction: a failed add drops them too
            self._write_mt_threads(messages)  # their thread entries (store.sqlite_threads)
        self._written(written)

    def _insert(self, messages: Iterable[MessageRecord]) -> list[tuple[int, MessageRecord]]:
        """Insert ``messages`` whole, history included (in a transaction); their seqs follow
        the highest one on disk, read under the write lock."""
        first = self._db.execute("SELECT coalesce(max(seq), 0) + 1 FROM messages").fetchone()[0]
        written = list(enumerate(messages, first))
        offset = self.clock_offset
        if any(m.idempotency_key is not None or m.tenant is not None for _, m in written):  # key, tenant
            insert_many(self._db, INSERT, [message_row(seq, m, offset) for seq, m in written])
        else:  # neither: the columns left out (NULL), not bound as None (store.sqlite_rows)
            rows = [message_row(seq, m, offset, plain=True) for seq, m in written]
            insert_many(self._db, INSERT_PLAIN, rows)
        return written

    def _written(self, written: Iterable[tuple[int, MessageRecord]]) -> None:
        """After the commit: the history entries are saved; the live cache follows."""
        live, seqs = self._live, self._seq
        for seq, m in written:
            m.history_saved = len(m.history)
            if owes_work(m):
                live[m.id] = m
                seqs[m.id] = seq
            else:
                live.pop(m.id, None)
                seqs.pop(m.id, None)

    def save(self, message: MessageRecord) -> None:
        self._dirty[message.id] = message

    def flush(self) -> int:
        """Write every change since the last flush in one transaction; returns how many."""
        if not self._dirty and not self._part_ops and not self._correlations and not self._staged_events:
            return 0
        events = self._take_events()  # written with the changes they tell of
        dirty, self._dirty = self._dirty, {}
        part_ops, self._part_ops = self._part_ops, []
        correlations, self._correlations = self._correlations, {}
        self._collect()  # its deliveries, handed over in memory once committed
        try:
            with Transaction(self._db):
                for sql, params in part_ops:  # (MO parts: rare next to status changes)
                    self._db.execute(sql, params)
                if correlations:
                    insert_many(self._db, _CORRELATE, list(correlations.values()))
                written = self._update(dirty.values())
                self._write_events(events)
        except StoreError:
            self._publish(committed=False)
            self._restore_events(events)
            self._dirty = dirty | self._dirty  # keep them for the next try, nothing lost
            self._part_ops = part_ops + self._part_ops
            self._correlations = correlations | self._correlations
            raise
        self._publish(committed=True)
        self._written(written)
        self.flushes += 1
        return len(written)

    def _update(self, changed: Iterable[MessageRecord]) -> list[tuple[int, MessageRecord]]:
        """Rewrite the changing part of each of ``changed``, its history with it (in a
        transaction); a message not on disk yet is inserted whole."""
        seqs, db, offset = self._seq, self._db, self.clock_offset
        written: list[tuple[int, MessageRecord]] = []
        new: list[MessageRecord] = []
        rows: list[tuple[Any, ...]] = []  # open on disk (held: ``_written``) and still open
        closing: list[tuple[Any, ...]] = []  # the others
        for m in changed:
            seq = seqs.get(m.id)
            if seq is None:  # not in memory (final, read back by ``get``): look its row up
                found = db.execute("SELECT seq FROM messages WHERE id = ?", (m.id,)).fetchone()
                if found is None:
                    new.append(m)
                    continue
                seq = found[0]
                closing.append(state_row(seq, m, offset))
            elif owes_work(m):
                rows.append(state_row_open(seq, m, offset))
            else:
                closing.append(state_row(seq, m, offset))
            written.append((seq, m))
        if rows:
            db.executemany(UPDATE_OPEN, rows)
        if closing:
            db.executemany(UPDATE, closing)
        return written + self._insert(new) if new else written

    def get(self, message_id: str) -> MessageRecord | None:
        found = self._dirty.get(message_id) or self._live.get(message_id)
        if found is not None:
            return found
        row = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            return None
        record = message_record(row, self.clock_offset)
        if not record.history:  # written by an older version: its history has a table
            read_history(
                {row[0]: record},
                self._db.execute(
                    f"SELECT {HISTORY_COLUMNS} FROM history WHERE seq = ? ORDER BY n", (row[0],)
                ),
                self.clock_offset,
            )
        return record

    def find_key(self, idempotency_key: str, tenant: str | None = None) -> MessageRecord | None:
        row = self._db.execute(
            "SELECT id FROM messages WHERE ifnull(tenant, '') = ? AND idempotency_key = ?",
            (tenant or "", idempotency_key),
        ).fetchone()
        return self.get(row[0]) if row else None

    def unfinished(self) -> list[MessageRecord]:
        """Messages to resume after a restart, oldest first."""
        rows = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM messages WHERE open = 1 ORDER BY created_at"
        ).fetchall()
        by_seq = {row[0]: message_record(row, self.clock_offset) for row in rows}
        older = {seq: r for seq, r in by_seq.items() if not r.history}  # history in its table
        if older:
            read_history(
                older,
                self._db.execute(
                    f"SELECT {HISTORY_COLUMNS} FROM history WHERE seq IN "
                    "(SELECT seq FROM messages WHERE open = 1) ORDER BY seq, n"
                ),
                self.clock_offset,
            )
        for seq, r in by_seq.items():
            self._live[r.id] = r
            self._seq[r.id] = seq
        return list(by_seq.values())

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
        tenant: str | None = None,
        **notes: str | None,
    ) -> InboundRecord:
        """Store one inbound message durably (before its deliver_sm_resp, DESIGN §3);
        ``notes``: the 2-way layer's (``INBOUND_NOTES``)."""
        fields: dict[str, Any] = {
            "smsc": smsc, "source": source, "destination": destination, "text": text,
            "data_coding": data_coding, "parts": parts, "complete": bool(complete),
            "received_at": received_at + self.clock_offset, "tenant": tenant,
            **{name: notes.get(name) for name in INBOUND_NOTES},
        }  # fmt: skip
        with Transaction(self._db):
            cursor = self._db.execute(INSERT_INBOUND, fields)
            record = InboundRecord(seq=int(cursor.lastrowid or 0), **fields)
            self._inbound_event(record)  # its message.inbound event, same transaction
            self._write_mo_thread(record)  # its thread entry (store.sqlite_threads)
        return record

    def inbound(self, *, after: int = 0, limit: int = 100, tenant: str | None = None) -> list[InboundRecord]:
        mine = "" if tenant is None else " AND tenant = ?"
        rows = self._db.execute(
            f"SELECT {INBOUND_COLUMNS} FROM inbound WHERE seq > ?{mine} ORDER BY seq LIMIT ?",
            (after, limit) if tenant is None else (after, tenant, limit),
        ).fetchall()
        return [inbound_record(row) for row in rows]

    def wall(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else monotonic + self.clock_offset

    # -- group commit and inbound parts (DESIGN §3: durable before it is acknowledged) -------

    def commit(self) -> None:
        """Write what ``save`` and ``add_inbound_part`` kept back, in one transaction
        (``flush``): one commit per read or dispatch batch, not per PDU. In WAL mode with
        ``synchronous=NORMAL`` a commit is a write to the WAL, no fsync, so it survives a
        process crash (sqlite.org/wal.html)."""
        self.flush()

    def checkpoint(self) -> int:
        """Copy what the WAL holds into the database file; returns the frames copied.
        PASSIVE: it neither waits for nor blocks the writer. Safe from a worker thread (its
        own connection); one caller at a time."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        try:
            row = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"checkpoint failed: {exc}") from exc
        return int(row[2])

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

    def list_messages(self, query: MessageQuery) -> tuple[list[MessageRecord], tuple[float, str] | None]:
        """An indexed query, newest first (changes not flushed yet are flushed first)."""
        self.flush()
        sql, args = listing_sql(query)
        rows = self._db.execute(sql, args).fetchall()
        page = rows[: query.limit]
        records = [self._live.get(row[1]) or message_record(row, self.clock_offset) for row in page]
        after = (page[-1][4], page[-1][1]) if len(rows) > query.limit else None
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
        with Transaction(self._db):
            cursor = self._db.execute(
                "DELETE FROM correlations WHERE (smsc, key) IN (SELECT smsc, key FROM correlations "
                "WHERE submitted_at < ? ORDER BY submitted_at LIMIT ?)",
                (before + self.clock_offset, limit),
            )
        return cursor.rowcount


if TYPE_CHECKING:

    def _implements(store: SqliteStore) -> Store:
        return store  # mypy checks SqliteStore against every protocol

    def _holds_parts(store: SqliteStore) -> InboundPartStore:
        return store

    def _keeps_threads(store: SqliteStore) -> ThreadStore:
        return store
