"""The SQLite store's rows written the cheap way read the same as written the plain way:
the state JSON (fields written out, not zipped), INSERTs of many rows per statement,
and a change of a message that stays open (an UPDATE without ``open``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from smppgw.store.base import FINAL, MessageRecord, PartRecord, Status, advance, owes_work
from smppgw.store.sqlite import SqliteStore
from smppgw.store.sqlite_records import message_row, state_row, state_row_open
from smppgw.store.sqlite_rows import insert_many
from tests.store.helpers import record

OFFSET = 1_700_000_000.0
_COLUMNS = {"id", "idempotency_key", "status", "created_at", "updated_at", "source", "destination", "tenant"}
_BODY = {"text", "encoding", "dlr", "validity", "priority", "tags", "callback_url"}


def _expected_state(m: MessageRecord) -> str:
    """The state column as the plain comprehension made it: every field of the record
    but the columns and the body, None left out, times on the wall clock; the history
    (if any) as lists, its times on the wall clock too."""

    def fields(obj: Any, skip: set[str], times: set[str]) -> dict[str, Any]:
        out = {}
        for f in attrs.fields(type(obj)):
            value = getattr(obj, f.name)
            if f.name in skip or value is None:
                continue
            out[f.name] = (
                value.value if isinstance(value, Status) else value + OFFSET if f.name in times else value
            )
        return out

    state = fields(m, _COLUMNS | _BODY | {"parts", "history", "history_saved"}, {"send_at"})
    state["parts"] = [fields(p, set(), {"submitted_at", "receipt_at"}) for p in m.parts]
    if m.history:
        state["history"] = [
            [s.value, at + OFFSET, source, detail, ok] for s, at, source, detail, ok in m.history
        ]
    return orjson.dumps(state).decode()


def _full(i: int) -> MessageRecord:
    """Every field set, none None (two parts, one of them final)."""
    return record(
        i, status=Status.SUBMITTED, route="default", smsc="a", error="e", attempts=2, reference=7, send_at=50.5,
        validity=60.0, idempotency_key="k", callback_url="http://127.0.0.1/h", tenant="t",
        parts=[
            PartRecord(index=1, total=2, status=Status.DELIVERED, smsc_message_id="x1", attempts=1, resent_unknown=1,
                       submitted_at=101.25, resp_latency=0.01, receipt_stat="DELIVRD", receipt_final=True,
                       receipt_at=102.5, receipt_error="000", receipt_latency=1.25, receipts=2, error="none"),
            PartRecord(index=2, total=2, status=Status.SUBMITTED, smsc_message_id="x2", submitted_at=101.5),
        ],
    )  # fmt: skip


def _states(db: Path) -> dict[str, tuple[str, str, int]]:
    with sqlite3.connect(db) as raw:
        return {r[0]: (r[1], r[2], r[3]) for r in raw.execute("SELECT id, state, status, open FROM messages")}


def test_the_state_column_is_byte_for_byte_the_fields_not_none(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=OFFSET)
    records = [_full(1), record(2), record(3, parts=[PartRecord(index=1, total=1)])]
    advance(records[0], Status.QUEUED, "api", 100.5, "accepted")  # (it is submitted: refused)
    advance(records[0], Status.SUBMITTED, "smpp", 101.25)
    advance(records[0], Status.QUEUED, "api", 101.5)  # refused too (history only): applied false
    assert all(getattr(records[0], f.name) is not None for f in attrs.fields(MessageRecord))
    assert all(getattr(records[0].parts[0], f.name) is not None for f in attrs.fields(PartRecord))
    store.add(records)
    records[2].status, records[2].parts[0].receipt_at, records[2].error = Status.DELIVERED, 103.0, "late"
    advance(records[2], Status.DELIVERED, "receipt", 103.0, "DELIVRD")
    store.save(records[2])
    store.flush()
    states = _states(db)
    for m in records:
        assert states[m.id][0] == _expected_state(m)
    assert json.loads(states[records[0].id][0])["parts"][0]["receipt_at"] == OFFSET + 102.5
    assert [h[4] for h in json.loads(states[records[0].id][0])["history"]] == [False, True, False]
    # And each history reads back as it was (a new store: from the file).
    again = SqliteStore(db, clock_offset=OFFSET)
    for m in records:
        back = again.get(m.id)
        assert back is not None and back.history == m.history
        assert back.history_saved == len(m.history)


def test_a_change_sets_open_as_owes_work_says(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=OFFSET)
    waiting, unasked, done = record(1), record(2, dlr=False), record(3)
    store.add([waiting, unasked, done])
    for m in (waiting, unasked, done):
        m.status = Status.SUBMITTED
        store.save(m)
    done.status = Status.DELIVERED
    store.flush()
    assert {k: v[1:] for k, v in _states(db).items()} == {
        waiting.id: ("submitted", 1),
        unasked.id: ("submitted", 0),
        done.id: ("delivered", 0),
    }
    # Read back from the file (no longer held), then changed: its row is found and its open set.
    back = SqliteStore(db, clock_offset=OFFSET)
    late = back.get(unasked.id)
    assert late is not None and not owes_work(late)
    late.status = Status.EN_ROUTE  # a receipt nobody asked for: owed work again
    back.save(late)
    waiting.status = Status.EN_ROUTE
    back.save(waiting)  # (not held by this store either)
    back.flush()
    assert _states(db)[unasked.id][1:] == ("en_route", 1)
    assert [r.id for r in SqliteStore(db, clock_offset=OFFSET).unfinished()] == [waiting.id, unasked.id]
    assert Status.EN_ROUTE not in FINAL


@pytest.mark.parametrize("n", [0, 1, 2, 3, 63, 64, 65, 127, 128, 129, 200])
def test_insert_many_writes_what_executemany_writes(n: int) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    for table in ("a", "b"):
        db.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, v TEXT, f REAL, x)")
    # Repeated keys: OR IGNORE keeps the first of them, so the order of the rows counts.
    rows = [(i % max(1, n - 5), f"v{i}", i / 3, None if i % 2 else b"\x00") for i in range(n)]
    db.executemany("INSERT OR IGNORE INTO a VALUES (?, ?, ?, ?)", rows)
    insert_many(db, "INSERT OR IGNORE INTO b VALUES (?, ?, ?, ?)", rows)
    a = db.execute("SELECT k, v, f, x FROM a ORDER BY k").fetchall()
    assert a == db.execute("SELECT k, v, f, x FROM b ORDER BY k").fetchall()
    assert len(a) == len({r[0] for r in rows})


def test_the_rows_of_a_message_and_of_its_changes_hold_the_same_state() -> None:
    # ``plain``: INSERT_PLAIN's columns (no idempotency key, no tenant); ``history=False``:
    # the state the Redis store writes (its history apart); a change's row (UPDATE's,
    # UPDATE_OPEN's). Zero, one and two parts: one part is written out by the generated
    # state functions, more go through ``_part_state``.
    for m in (record(1), record(2, parts=[PartRecord(index=1, total=1)]), _full(3)):
        advance(m, Status.QUEUED, "api", 100.5, "accepted")
        m.idempotency_key = m.tenant = None
        row = message_row(7, m, OFFSET)
        assert row[10] == _expected_state(m)
        assert message_row(7, m, OFFSET, plain=True) == (row[0], row[1], *row[3:11])
        bare = message_row(7, m, OFFSET, history=False)
        assert "history" in orjson.loads(row[10]) and bare[10] == _expected_state(attrs.evolve(m, history=[]))
        assert state_row(7, m, OFFSET) == (row[3], row[4], row[6], row[10], 7)
        assert state_row_open(7, m, OFFSET) == (row[3], row[6], row[10], 7)
