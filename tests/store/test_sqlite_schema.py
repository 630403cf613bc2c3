"""The SQLite file's schema version: a file of the previous schema is migrated when it
is opened (rows, history and listing kept), one from a newer smppgw is refused, and a
migration that fails leaves the file as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from smppgw.store.base import MessageQuery, PartRecord, Status, StoreError, advance
from smppgw.store.sqlite import SqliteStore
from smppgw.store.sqlite_rows import SCHEMA_VERSION
from tests.store.helpers import record

# The schema before version 2 (PRAGMA user_version 0): the whole record in ``body``,
# the history keyed on the message id. ``listing``: the source and destination columns
# a later version-1 file has (an earlier one has them in the body only).
_V1 = """
CREATE TABLE messages (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, status TEXT NOT NULL,
    open INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, body TEXT NOT NULL{listing});
CREATE INDEX messages_open ON messages (open) WHERE open = 1;
CREATE TABLE history (message_id TEXT NOT NULL, n INTEGER NOT NULL, status TEXT NOT NULL, at REAL NOT NULL,
    source TEXT NOT NULL, detail TEXT, applied INTEGER NOT NULL, PRIMARY KEY (message_id, n)) WITHOUT ROWID;
"""
_PART = {
    "index": 1, "total": 1, "status": "submitted", "smsc_message_id": "AB12", "attempts": 1,
    "resent_unknown": 0, "submitted_at": 1_000.5, "resp_latency": 0.01, "receipt_stat": None,
    "receipt_final": False, "receipt_at": None, "receipt_error": None, "receipt_latency": None,
    "receipts": 0, "error": None,
}  # fmt: skip


def _v1_body(i: int, status: str, source: str = "12345", **kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": f"{i:032x}", "source": source, "destination": f"4477009{i:05d}", "text": f"old {i}",
        "encoding": "auto", "dlr": True, "validity": None, "priority": 0, "tags": ["t"], "status": status,
        "route": "default", "smsc": "a", "created_at": 1_000.0 + i, "updated_at": 1_001.0 + i,
        "error": None, "attempts": 1, "idempotency_key": f"key-{i}", "callback_url": None,
        "reference": 7, "send_at": None, "parts": [dict(_PART, status=status)],
    }  # fmt: skip
    body.update(kw)
    return body


def _v1_file(db: Path, *, listing: bool, bodies: list[dict[str, object]]) -> None:
    with sqlite3.connect(db) as raw:
        raw.executescript(_V1.format(listing=", source TEXT, destination TEXT" if listing else ""))
        for body in bodies:
            columns = [
                body["id"],
                body["idempotency_key"],
                body["status"],
                int(body["status"] != "delivered"),
            ]
            columns += [body["created_at"], body["updated_at"], json.dumps(body)]
            if listing:
                columns += [body["source"], body["destination"]]
            raw.execute(f"INSERT INTO messages VALUES ({', '.join('?' * len(columns))})", columns)
            for n, status in enumerate(("queued", "submitting", body["status"])):
                raw.execute(
                    "INSERT INTO history VALUES (?, ?, ?, ?, 'gateway', NULL, 1)",
                    (body["id"], n, status, 1_000.0 + n),
                )


@pytest.mark.parametrize("listing", [False, True], ids=["before-listing-columns", "with-listing-columns"])
def test_a_version_1_file_is_migrated_with_its_rows_history_and_listing(
    tmp_path: Path, listing: bool
) -> None:
    db = tmp_path / "old.db"
    bodies = [_v1_body(1, "delivered"), _v1_body(2, "submitted", source="ACME", tags=["vip"])]
    _v1_file(db, listing=listing, bodies=bodies)
    store = SqliteStore(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    done = store.get(f"{1:032x}")
    assert done is not None and done.status is Status.DELIVERED and done.text == "old 1"
    assert (done.reference, done.route, done.tags, done.idempotency_key) == (7, "default", ("t",), "key-1")
    assert done.parts[0].smsc_message_id == "AB12" and done.parts[0].submitted_at == 1_000.5
    assert [(h[0], h[1]) for h in done.history] == [
        (Status.QUEUED, 1_000.0),
        (Status.SUBMITTING, 1_001.0),
        (Status.DELIVERED, 1_002.0),
    ]
    [open_one] = store.unfinished()
    assert open_one.id == f"{2:032x}" and len(open_one.history) == 3
    assert [m.id for m in store.list_messages(MessageQuery(source="ACME"))[0]] == [open_one.id]
    assert [m.id for m in store.list_messages(MessageQuery(tag="vip"))[0]] == [open_one.id]
    assert store.find_key("key-1") is not None
    # The migrated message goes on: its next change and history entry land on its row.
    advance(open_one, Status.DELIVERED, "receipt", 1_010.0, "DELIVRD")
    open_one.parts[0].status = Status.DELIVERED
    store.save(open_one)
    store.flush()
    again = SqliteStore(db).get(open_one.id)
    assert again is not None and again.status is Status.DELIVERED and len(again.history) == 4
    assert SqliteStore(db).counts() == {"delivered": 2}
    # New messages follow the migrated ones (the old rowids are kept as their seq).
    store.add([record(3, parts=[PartRecord(1, 1)])])
    rows = sqlite3.connect(db).execute("SELECT seq, id FROM messages ORDER BY seq").fetchall()
    assert rows == [(1, f"{1:032x}"), (2, f"{2:032x}"), (3, record(3).id)]


def test_a_file_from_a_newer_smppgw_is_refused_with_its_version(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1} is newer"):
        SqliteStore(db)


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    _v1_file(db, listing=True, bodies=[_v1_body(1, "delivered"), _v1_body(2, "delivered", parts="x")])
    with pytest.raises(StoreError, match="migrating to schema version"):
        SqliteStore(db)
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone() == (0,)
    assert raw.execute("SELECT count(*) FROM messages").fetchone() == (2,)
    assert raw.execute("SELECT count(*) FROM history").fetchone() == (6,)


def test_a_version_4_file_keeps_its_history_table_and_a_change_moves_it_into_the_row(tmp_path: Path) -> None:
    """Before version 5 a message's history was a row per entry in ``history``: such a
    message reads back the same (``get``, ``unfinished``), and its next change writes its
    whole history into its state."""
    db = tmp_path / "v4.db"
    done, open_one = record(1, parts=[PartRecord(1, 1)]), record(2, parts=[PartRecord(1, 1)])
    for r, final in ((done, Status.DELIVERED), (open_one, Status.SUBMITTED)):
        advance(r, Status.QUEUED, "api", 1_000.0, "accepted")
        advance(r, final, "smpp", 1_001.0)
        advance(r, Status.QUEUED, "api", 1_002.0)  # refused: applied False
    SqliteStore(db).add([done, open_one])
    with sqlite3.connect(db) as raw:  # as version 4 wrote them: the history in its table
        for seq, r in enumerate((done, open_one), 1):
            raw.executemany(
                "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (seq, n, s.value, at, source, detail, int(ok))
                    for n, (s, at, source, detail, ok) in enumerate(r.history)
                ],
            )
        raw.execute("UPDATE messages SET state = json_remove(state, '$.history')")
        raw.execute("PRAGMA user_version = 4")
    store = SqliteStore(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    back = store.get(done.id)
    assert back is not None and back.history == done.history and back.history_saved == 3
    [resumed] = store.unfinished()
    assert resumed.history == open_one.history and resumed.history_saved == 3
    advance(resumed, Status.DELIVERED, "receipt", 1_003.0, "DELIVRD")
    resumed.parts[0].status = Status.DELIVERED
    store.save(resumed)
    store.flush()
    (state,) = sqlite3.connect(db).execute("SELECT state FROM messages WHERE seq = 2").fetchone()
    assert [h[0] for h in json.loads(state)["history"]] == ["queued", "submitted", "queued", "delivered"]
    again = SqliteStore(db).get(open_one.id)
    assert again is not None and again.history == resumed.history and len(again.history) == 4
