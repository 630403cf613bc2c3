"""The SQLite store's half of ``FlowStore`` (``store.flows``): a base class of
``SqliteStore``.

Two tables, made where missing (``CREATE TABLE IF NOT EXISTS``, within the schema
version): the definitions put through the API, and the runs. A partial unique index
keeps one active run per (number, sender); another finds the due runs. Every write is
its own transaction with its events. Times are wall-clock seconds, as the records have
them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from smppgw.store.events import EventRecord, EventRouter, Target
from smppgw.store.flows import ActiveRunExists, FlowDefinition, FlowRunRecord
from smppgw.store.sqlite_rows import Transaction

__all__ = ["FLOWS_SCHEMA", "SqliteFlows"]

FLOWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,  -- JSON: the flow as given
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_runs (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    number TEXT NOT NULL,
    sender TEXT NOT NULL,
    tenant TEXT,
    status TEXT NOT NULL,  -- active | completed | expired | invalid | handoff | stopped | cancelled
    state TEXT NOT NULL,  -- JSON: RunState.to_dict()
    transcript TEXT NOT NULL,  -- JSON: [{at, direction, text, step, ...}]
    next_due REAL,
    events INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS flow_runs_active ON flow_runs (number, sender) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS flow_runs_due ON flow_runs (next_due) WHERE status = 'active' AND next_due IS NOT NULL;
"""
_COLUMNS = "id, flow, number, sender, tenant, status, state, transcript, next_due, events, source, created_at, updated_at"
_INSERT = f"INSERT INTO flow_runs ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_UPDATE = (
    "UPDATE flow_runs SET status = ?, state = ?, transcript = ?, next_due = ?, events = ?, updated_at = ? "
    "WHERE id = ?"
)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqliteFlows:
    _db: sqlite3.Connection
    _router: EventRouter | None

    def _flows_init(self) -> None:
        self._db.executescript(FLOWS_SCHEMA)

    if TYPE_CHECKING:  # SqliteEvents' (the other base of SqliteStore)

        def _write_events(self, staged: Sequence[tuple[EventRecord, Sequence[Target]]]) -> None: ...

    def _routed(self, events: Sequence[EventRecord]) -> None:
        """Inside the caller's transaction: ``events`` with their deliveries."""
        if events and self._router is not None:
            router = self._router
            self._write_events([(e, router(e.type, None)) for e in events])

    # -- definitions -----------------------------------------------------------------------------

    def put_flow(self, definition: FlowDefinition) -> None:
        d = definition
        with Transaction(self._db):
            self._db.execute(
                "INSERT INTO flows (name, definition, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                (d.name, _json(d.definition), d.created_at, d.updated_at),
            )

    def get_flow(self, name: str) -> FlowDefinition | None:
        row = self._db.execute(
            "SELECT name, definition, created_at, updated_at FROM flows WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else FlowDefinition(name=row[0], definition=orjson.loads(row[1]),
                                                       created_at=row[2], updated_at=row[3])  # fmt: skip

    def delete_flow(self, name: str) -> bool:
        with Transaction(self._db):
            gone = self._db.execute("DELETE FROM flows WHERE name = ?", (name,)).rowcount
        return bool(gone)

    def flow_definitions(self) -> list[FlowDefinition]:
        rows = self._db.execute("SELECT name, definition, created_at, updated_at FROM flows ORDER BY name")
        return [
            FlowDefinition(name=r[0], definition=orjson.loads(r[1]), created_at=r[2], updated_at=r[3])
            for r in rows.fetchall()
        ]

    # -- runs ------------------------------------------------------------------------------------

    def add_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        r = record
        with Transaction(self._db):
            if r.active:  # under the write lock: two starts at once cannot both pass
                found = self._db.execute(
                    "SELECT id FROM flow_runs WHERE number = ? AND sender = ? AND status = 'active'",
                    (r.number, r.sender),
                ).fetchone()
                if found is not None:
                    raise ActiveRunExists(found[0])
            self._db.execute(
                _INSERT,
                (
                    r.id, r.flow, r.number, r.sender, r.tenant, r.status, _json(r.state), _json(r.transcript),
                    r.next_due, r.events, r.source, r.created_at, r.updated_at,
                ),
            )  # fmt: skip
            self._routed(events)

    def save_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        r = record
        with Transaction(self._db):
            self._db.execute(
                _UPDATE,
                (r.status, _json(r.state), _json(r.transcript), r.next_due, r.events, r.updated_at, r.id),
            )
            self._routed(events)

    def _run(self, row: Sequence[Any]) -> FlowRunRecord:
        return FlowRunRecord(
            id=row[0], flow=row[1], number=row[2], sender=row[3], tenant=row[4], status=row[5],
            state=orjson.loads(row[6]), transcript=orjson.loads(row[7]), next_due=row[8], events=row[9],
            source=row[10], created_at=row[11], updated_at=row[12],
        )  # fmt: skip

    def get_flow_run(self, run_id: str) -> FlowRunRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM flow_runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._run(row)

    def active_flow_run(self, number: str, sender: str) -> FlowRunRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM flow_runs WHERE number = ? AND sender = ? AND status = 'active'",
            (number, sender),
        ).fetchone()
        return None if row is None else self._run(row)

    def due_flow_runs(self, before: float, limit: int = 100) -> list[FlowRunRecord]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM flow_runs WHERE status = 'active' AND next_due IS NOT NULL "
            "AND next_due <= ? ORDER BY next_due LIMIT ?",
            (before, limit),
        ).fetchall()
        return [self._run(row) for row in rows]

    def next_flow_due(self) -> float | None:
        row = self._db.execute(
            "SELECT min(next_due) FROM flow_runs WHERE status = 'active' AND next_due IS NOT NULL"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])
