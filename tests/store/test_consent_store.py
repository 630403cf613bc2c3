"""The consent history (``store.consent``) on every backend: append-only, its index, its
``consent.changed`` events in the same transaction, the opt-out registry as a view of
it, a restart (SQLite reopened), and an older file's ``optouts`` table moved into it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from smppgw.store.base import OptOutRecord, Store, StoreError, Target, event_id
from smppgw.store.sqlite import SqliteStore
from smppgw.store.sqlite_rows import SCHEMA_VERSION
from smppgw.twoway.consent import ALL, OPTED_IN, OPTED_OUT, Consent, ConsentEvent, Scope
from tests.store.helpers import Backend

N = "447700900001"


def routed(store: Store) -> Store:
    store.route_events(lambda kind, url: [Target(endpoint="a", url="http://a.test/")])
    return store


def stop(at: float, number: str = N, sender: str = "12345", **kw: object) -> ConsentEvent:
    return ConsentEvent(number=number, scope=Scope.of(sender), state=OPTED_OUT, source="keyword", at=at,
                        keyword="STOP", inbound_seq=7, text="Stop please", **kw)  # type: ignore[arg-type]  # fmt: skip


def test_events_are_appended_indexed_and_told_in_the_outbox(backend: Backend) -> None:
    store = routed(backend.open())
    (first,) = store.add_consent([stop(100.0)])
    start = ConsentEvent(
        number=N, scope=Scope.of("12345"), state=OPTED_IN, source="api", at=200.0, reason="form"
    )
    second, other = store.add_consent([start, stop(150.0, number="447700900002")])
    assert (first.seq, second.seq, other.seq) == (1, 2, 3)
    assert [e.state for e in store.consent_history(N)] == [OPTED_OUT, OPTED_IN]  # nothing erased
    assert store.consent_history(N)[0] == first and first.text == "Stop please" and first.inbound_seq == 7
    index = store.consent(N)
    assert index is not None and index.count == 2 and Consent().decide(index, "12345") is None
    assert store.consent("447700900999") is None
    assert [e.seq for e in store.consent_events(after=1, limit=10)] == [2, 3]
    events = store.events(types=["consent.changed"])
    assert [(e.subject, e.sequence, e.id) for e in events] == [
        (f"consent:{N}", 1, event_id(f"consent:{N}", 1)),
        (f"consent:{N}", 2, event_id(f"consent:{N}", 2)),
        ("consent:447700900002", 1, event_id("consent:447700900002", 1)),
    ]
    assert events[0].data["state"] == OPTED_OUT and events[0].data["sender"] == "12345"
    assert events[0].data["text"] == "Stop please" and events[0].data["keyword"] == "STOP"
    assert len(store.due_deliveries(1e12, limit=10)) == 3


def test_the_history_and_its_events_outlive_a_restart(backend: Backend) -> None:
    store = routed(backend.open())
    store.add_consent([stop(100.0), stop(101.0, sender="67890")])
    store.close()
    again = routed(backend.reopen())
    index = again.consent(N)
    assert index is not None and index.count == 2
    assert Consent().decide(index, "12345") is not None and Consent().decide(index, "555") is None
    again.add_consent([stop(102.0)])  # the number's third: its event numbers on from the history
    assert [e.sequence for e in again.events(types=["consent.changed"])] == [1, 2, 3]


def test_the_opt_out_registry_is_a_view_of_the_history(backend: Backend) -> None:
    store = backend.open(clock_offset=10.0)
    store.add_consent([stop(5.0)])  # a STOP to one sender is not an account-wide opt-out
    assert not store.is_opted_out(N) and store.get_opt_out(N) is None
    store.opt_out(N, now=1.0, reason="STOP")
    store.opt_out(N, now=2.0, reason="again")  # opted out already: the first time and reason stay
    assert store.get_opt_out(N) == OptOutRecord(number=N, created_at=11.0, reason="STOP")
    assert store.opt_in(N, now=3.0) and not store.opt_in(N, now=4.0)
    assert not store.is_opted_out(N)
    history = store.consent_history(N)
    assert [(e.scope, e.state, e.source, e.at) for e in history[1:]] == [
        (ALL, OPTED_OUT, "api", 11.0), (ALL, OPTED_IN, "api", 13.0),
    ]  # fmt: skip


def test_a_failed_write_keeps_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    locker = sqlite3.connect(tmp_path / "s.sqlite3", timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    store._db.execute("PRAGMA busy_timeout = 0")
    with pytest.raises(StoreError):
        store.add_consent([stop(1.0)])
    locker.rollback()
    assert store.consent(N) is None and store.consent_history(N) == []


def test_an_older_files_optouts_table_moves_into_the_history(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    store = SqliteStore(db)
    store.close()
    raw = sqlite3.connect(db, isolation_level=None)
    raw.executescript(
        "DROP VIEW optouts; DELETE FROM consent;"
        "CREATE TABLE optouts (number TEXT PRIMARY KEY, created_at REAL NOT NULL, reason TEXT NOT NULL);"
        f"INSERT INTO optouts VALUES ('{N}', 1000.0, 'STOP'), ('447700900002', 1001.0, 'api');"
    )
    raw.close()
    store = SqliteStore(db)
    assert store.get_opt_out(N) == OptOutRecord(number=N, created_at=1000.0, reason="STOP")
    assert store.is_opted_out("447700900002")
    (moved,) = store.consent_history(N)
    assert (moved.scope, moved.state, moved.source) == (ALL, OPTED_OUT, "api")
    assert store.opt_in(N, now=2000.0)
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT type FROM sqlite_master WHERE name = 'optouts'").fetchone() == ("view",)
    assert raw.execute("SELECT number FROM optouts").fetchall() == [("447700900002",)]
    assert raw.execute("SELECT count(*) FROM consent").fetchone() == (3,)  # appended, nothing erased
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_consent_changed_events_carry_the_event_as_json(backend: Backend) -> None:
    store = routed(backend.open())
    store.add_consent([stop(1_700_000_000.5)])
    (event,) = store.events(types=["consent.changed"])
    body = json.loads(event.body())
    assert body["data"]["at"] == "2023-11-14T22:13:20.500Z" and body["subject"] == f"consent:{N}"
