"""The SQLite store's schema and rows: SQL text, and records to rows and back.

Kept apart from ``smppgw.store.sqlite`` (the store's operations) so each stays small.
Times: a row holds wall-clock seconds, a record the trio clock; ``offset`` is the
store's ``clock_offset`` (wall - monotonic).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import attrs
import orjson

from smppgw.store.base import (
    INBOUND_NOTES,
    STATUS_LABEL,
    HistoryEntry,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    PartRecord,
    Status,
    StoreError,
    owes_work,
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
    "message_record",
    "message_row",
    "read_history",
    "state_row",
    "state_row_open",
    "clock_history",
    "wall_history",
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
_PART_TIMES = ("submitted_at", "receipt_at")
_VALUE = STATUS_LABEL
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


# The record's fields, read by generated code, one attribute read each (``attrs.asdict``
# walks every field through Python calls: about four times the cost). The body holds what
# ``new_record`` fixed at acceptance; the columns are queried; the state is everything
# else (a field added to ``MessageRecord`` lands there: rewritten at each change, so
# never stale), and the history with it (``_state``).
_BODY_FIELDS = ("text", "encoding", "dlr", "validity", "priority", "tags", "callback_url")
_COLUMN_FIELDS = (
    "id", "idempotency_key", "status", "created_at", "updated_at", "source", "destination", "tenant"
)  # fmt: skip
_STATE_FIELDS = tuple(
    f.name
    for f in attrs.fields(MessageRecord)
    if f.name not in (*_BODY_FIELDS, *_COLUMN_FIELDS, "parts", "history", "history_saved")
)
_PART_FIELDS = tuple(f.name for f in attrs.fields(PartRecord))


# A field whose value is None is left out of the state: the row is rewritten at each
# change, and the nulls were a third of it. Every field that may be None has the default
# None (tests/store/test_sqlite.py checks), so a missing key reads back as it was; SQLite's
# JSON functions give NULL for it, as for a null. Older rows, with their nulls, read the same.


def part_json(part: PartRecord, offset: float) -> str:
    """One part as the state JSON has it (``part_record`` reads it back)."""
    return orjson.dumps(_part_state(part, offset)).decode()


def part_record(text: str | bytes, offset: float) -> PartRecord:
    """The part of ``part_json``, times on this process's clock."""
    p = orjson.loads(text)
    for name in _PART_TIMES:
        if p.get(name) is not None:
            p[name] -= offset
    p["status"] = Status(p["status"])
    return PartRecord(**p)


def _fields_source(d: str, r: str, fields: Sequence[str], times: Sequence[str], indent: str) -> list[str]:
    """Python source that puts into the dict ``d`` each of ``fields`` of ``r`` whose value is
    not None, in that order, a status as its value, ``times`` on the wall clock (+ offset).

    One attribute read and one test per field: the same dict as a comprehension over
    ``zip(fields, attrgetter(*fields)(record))``, at half the cost (no tuple, no zip, no
    frame for the comprehension), and it runs for every change of every message."""
    lines = []
    for name in fields:
        value = "_VALUE[v]" if name == "status" else "v + offset" if name in times else "v"
        lines += [f"{indent}v = {r}.{name}", f"{indent}if v is not None: {d}[{name!r}] = {value}"]
    return lines


def _compiled(name: str, lines: list[str], **names: Any) -> Any:
    """The function ``name`` that ``lines`` define (the field names of our own classes),
    ``names`` its globals with ``_VALUE`` and ``_dumps``."""
    namespace: dict[str, Any] = {"_VALUE": _VALUE, "_dumps": orjson.dumps, **names}
    exec("\n".join(lines), namespace)
    return namespace[name]


def _state_of(fields: Sequence[str], times: Sequence[str]) -> Callable[[Any, float], dict[str, Any]]:
    """A function (record, offset) -> the dict of ``fields`` whose value is not None
    (``_fields_source``)."""
    lines = [
        "def state(r, offset):",
        "    d = {}",
        *_fields_source("d", "r", fields, times, "    "),
        "    return d",
    ]
    return cast(Callable[[Any, float], dict[str, Any]], _compiled("state", lines))


_part_state = _state_of(_PART_FIELDS, _PART_TIMES)


def _state_writer(name: str, arguments: str, result: str, history: str = "m.history") -> Any:
    """A function ``name`` of ``arguments`` that makes the state JSON of the message ``m``
    (``text``) and returns ``result``; its history in it if ``history`` (an expression) holds.

    Written out as Python source, the one function a change calls for what were five
    calls, ~500 instructions each (the row, the state, the message's fields, its part's,
    its history): the message's fields, then its parts (one, most often: written out too;
    more: ``_part_state`` each), then its history (as ``wall_history``, in a loop: a
    comprehension has a frame of its own in 3.11)."""
    lines = [
        f"def {name}({arguments}):",
        "    d = {}",
        *_fields_source("d", "m", _STATE_FIELDS, ("send_at",), "    "),
        "    parts = m.parts",
        "    if len(parts) == 1:",
        "        r = parts[0]",
        "        p = {}",
        *_fields_source("p", "r", _PART_FIELDS, _PART_TIMES, "        "),
        "        d['parts'] = [p]",
        "    else:",
        "        d['parts'] = [_part_state(r, offset) for r in parts]",
        f"    if {history}:",
        "        d['history'] = wall = []",
        "        for s, at, source, detail, applied in m.history:",
        "            wall.append((_VALUE[s], at + offset, source, detail, applied))",
        "    text = _dumps(d).decode()",
        f"    return {result}",
    ]
    return _compiled(name, lines, _part_state=_part_state, _owes_work=owes_work)


def _dict_of(fields: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
    """A function record -> the dict of ``fields``, in that order, None kept: one dict
    display, a third of the cost of ``dict(zip(fields, attrgetter(*fields)(record)))``
    (each message's body, ``message_row``)."""
    display = ", ".join(f"{name!r}: r.{name}" for name in fields)
    return cast(
        Callable[[Any], dict[str, Any]], _compiled("values", ["def values(r):", f"    return {{{display}}}"])
    )


_body = _dict_of(_BODY_FIELDS)


def wall_history(history: Iterable[HistoryEntry], offset: float) -> list[tuple[Any, ...]]:
    """History entries as stored, [status, wall-clock time, source, detail, applied] each:
    in a row's state here, one JSON text each in Redis's list (``store.redis``)."""
    value = _VALUE
    wall: list[tuple[Any, ...]] = []
    for s, at, source, detail, applied in history:  # (a loop: a comprehension has a frame)
        wall.append((value[s], at + offset, source, detail, applied))
    return wall


def clock_history(stored: Iterable[Sequence[Any]], offset: float) -> list[HistoryEntry]:
    """``wall_history``'s entries read back, times on this process's clock."""
    return [
        (Status(s), at - offset, source, detail, bool(applied)) for s, at, source, detail, applied in stored
    ]


# The state column of a message: (record, offset, with its history?) -> the JSON of its
# fields not None (``_STATE_FIELDS``), its parts, and its history (if any, and asked for),
# [status, at, source, detail, applied] per entry (as the Redis store keeps it,
# ``wall_history``), times on the wall clock. The whole history is rewritten with the row,
# which SQLite rewrites whole at each change anyway. A row per entry in a table of its own
# (a b-tree insert, its bindings, its tuple) cost more than the bigger state: in a store
# workload of four changes a message, ~616,000 instructions per message before, ~600,000
# after. orjson: ~10x json.dumps; a TEXT column (JSON functions read it).
_state: Callable[[MessageRecord, float, bool], str] = _state_writer(
    "state", "m, offset, history", "text", "history and m.history"
)
# What a change rewrites: (seq, record, offset) -> ``UPDATE``'s parameters (status, open,
# updated_at, state), times on the wall clock; ``state_row_open``: ``UPDATE_OPEN``'s,
# without open, for a message open on disk that stays so.
state_row: Callable[[int, MessageRecord, float], tuple[Any, ...]] = _state_writer(
    "state_row", "seq, m, offset", "(_VALUE[m.status], int(_owes_work(m)), m.updated_at + offset, text, seq)"
)
state_row_open: Callable[[int, MessageRecord, float], tuple[Any, ...]] = _state_writer(
    "state_row_open", "seq, m, offset", "(_VALUE[m.status], m.updated_at + offset, text, seq)"
)


def message_row(
    seq: int, m: MessageRecord, offset: float, *, history: bool = True, plain: bool = False
) -> tuple[Any, ...]:
    """The ``messages`` row of ``m`` (``INSERT``'s columns), times on the wall clock; its
    state without the history if not ``history`` (the Redis store keeps it apart);
    ``INSERT_PLAIN``'s columns if ``plain`` (its idempotency key and tenant are None)."""
    if plain:
        return (
            seq,
            m.id,
            _VALUE[m.status],
            int(owes_work(m)),
            m.created_at + offset,
            m.updated_at + offset,
            m.source,
            m.destination,
            orjson.dumps(_body(m)).decode(),
            _state(m, offset, history),
        )
    return (
        seq,
        m.id,
        m.idempotency_key,
        _VALUE[m.status],
        int(owes_work(m)),
        m.created_at + offset,
        m.updated_at + offset,
        m.source,
        m.destination,
        orjson.dumps(_body(m)).decode(),
        _state(m, offset, history),
        m.tenant,
    )


def message_record(row: tuple[Any, ...], offset: float) -> MessageRecord:
    """The record of a ``messages`` row (``RECORD_COLUMNS``), times on this process's clock.
    Its history is the state's; a row an older version wrote has none there (its history
    is in the ``history`` table: ``read_history``)."""
    _, id_, key, status, created_at, updated_at, source, destination, body, state, tenant = row
    fields = orjson.loads(body)
    fields.update(orjson.loads(state))
    history = fields.pop("history", None)
    if history is not None:
        fields["history"] = clock_history(history, offset)
        fields["history_saved"] = len(history)
    parts = []
    for p in fields.pop("parts"):
        for name in _PART_TIMES:
            if p.get(name) is not None:
                p[name] -= offset
        p["status"] = Status(p["status"])
        parts.append(PartRecord(**p))
    if fields.get("send_at") is not None:
        fields["send_at"] -= offset
    fields["tags"] = tuple(fields["tags"])
    return MessageRecord(
        id=id_,
        idempotency_key=key,
        status=Status(status),
        created_at=created_at - offset,
        updated_at=updated_at - offset,
        source=source,
        destination=destination,
        parts=parts,
        tenant=tenant,
        **fields,
    )


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
