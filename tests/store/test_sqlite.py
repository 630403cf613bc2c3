"""The embedded SQLite store beyond the shared protocol suite (test_store.py): durable
adds, write-behind changes, wall-clock times on disk, a failed flush, the live cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import attrs
import pytest

from smppgw.store.base import MessageRecord, PartRecord, Status, StoreError
from smppgw.store.sqlite import SqliteStore
from tests.store.helpers import record


def test_add_is_durable_at_once_and_round_trips_every_field(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=1_700_000_000.0)
    r = record(
        1, tags=("a", "b"), validity=60.0, priority=2, idempotency_key="k", callback_url="http://x/y",
        reference=300, status=Status.SUBMITTED, route="default", smsc="a",
        parts=[PartRecord(index=1, total=2, status=Status.SUBMITTED, smsc_message_id="AB", submitted_at=101.5),
               PartRecord(index=2, total=2, receipt_stat="DELIVRD", receipt_at=102.0, receipt_final=True)],
    )  # fmt: skip
    store.add([r])
    # A second connection (another process after a crash) sees it without any flush.
    other = SqliteStore(db, clock_offset=1_700_000_000.0)
    back = other.get(r.id)
    assert back is not None and back is not r
    assert back.tags == ("a", "b") and back.reference == 300 and back.callback_url == "http://x/y"
    assert back.created_at == pytest.approx(101.0) and back.parts[0].submitted_at == pytest.approx(101.5)
    assert back.parts[1].receipt_final and back.parts[0].status is Status.SUBMITTED
    raw = sqlite3.connect(db).execute("SELECT created_at, status FROM messages").fetchone()
    assert raw == (pytest.approx(1_700_000_101.0), "submitted")  # wall clock on disk


def test_changes_are_written_by_flush_in_one_go(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db)
    records = [record(i) for i in range(5)]
    store.add(records)
    for r in records:
        r.status = Status.DELIVERED
        store.save(r)
    assert store.get(records[0].id) is records[0]  # the newest state, before the flush
    assert SqliteStore(db).counts() == {"accepted": 5}
    assert store.flush() == 5 and store.flush() == 0
    assert SqliteStore(db).counts() == {"delivered": 5}
    assert store.unfinished() == []
    fresh = store.get(records[0].id)  # final and flushed: read back from disk
    assert fresh is not records[0] and fresh is not None and fresh.status is Status.DELIVERED


def test_a_failed_flush_keeps_the_changes_for_the_next_one(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db)
    r = record(1)
    store.add([r])
    r.status = Status.DELIVERED
    store.save(r)
    locker = sqlite3.connect(db, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
    store._db.execute("PRAGMA busy_timeout = 0")
    with pytest.raises(StoreError, match="locked"):
        store.flush()
    locker.rollback()
    assert store.flush() == 1 and SqliteStore(db).counts() == {"delivered": 1}


def test_inbound_and_opt_out_times_are_wall_clock_on_disk(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=10.0)
    store.add_inbound(
        smsc="a", source="44770", destination="12345", text="YES", data_coding=0, parts=1, complete=False,
        received_at=5.0,
    )  # fmt: skip
    store.opt_out("447700900001", now=1.0, reason="STOP")
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT received_at, complete FROM inbound").fetchone() == (15.0, 0)
    assert raw.execute("SELECT * FROM optouts").fetchone() == ("447700900001", 11.0, "STOP")


def test_messages_that_need_no_more_work_are_not_kept_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db)
    no_receipt = record(1, dlr=False, status=Status.SUBMITTED)  # where a dlr=false message ends
    waiting = record(2, status=Status.SUBMITTED)  # still waits for its receipt
    blocked = record(3, status=Status.BLOCKED)
    store.add([no_receipt, waiting, blocked])
    assert set(store._live) == {waiting.id}
    assert [r.id for r in SqliteStore(db).unfinished()] == [waiting.id]
    waiting.status = Status.DELIVERED
    store.save(waiting)
    store.flush()
    assert store._live == {} and SqliteStore(db).unfinished() == []


def test_the_state_leaves_out_nulls_and_reads_back_as_written(tmp_path: Path) -> None:
    # Every field that may be None has the default None: a key left out reads back as None.
    for cls in (MessageRecord, PartRecord):
        for f in attrs.fields(cls):
            if "None" in str(f.type):
                assert f.default is None, f"{cls.__name__}.{f.name}"
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=1_700_000_000.0)
    r = record(2, status=Status.SUBMITTED, route="default", smsc="a",
               parts=[PartRecord(index=1, total=1, status=Status.SUBMITTED, submitted_at=101.5)])  # fmt: skip
    store.add([r])
    state = json.loads(sqlite3.connect(db).execute("SELECT state FROM messages").fetchone()[0])
    assert "error" not in state and "receipt_at" not in state["parts"][0]
    assert state["route"] == "default" and state["parts"][0]["submitted_at"] == pytest.approx(1_700_000_101.5)
    back = SqliteStore(db, clock_offset=1_700_000_000.0).get(r.id)
    assert back is not None and back.error is None and back.send_at is None
    assert attrs.asdict(back.parts[0]) == attrs.asdict(r.parts[0])
    # A row written with its nulls (before they were left out) reads the same.
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE messages SET state = ?", (json.dumps({**state, "error": None, "send_at": None,
                    "parts": [{**state["parts"][0], "receipt_at": None, "error": None}]}),))  # fmt: skip
    again = SqliteStore(db, clock_offset=1_700_000_000.0).get(r.id)
    assert again is not None and attrs.asdict(again.parts[0]) == attrs.asdict(r.parts[0])
