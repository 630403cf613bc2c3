"""The 2-way notes on inbound messages (keyword, in_reply_to, conversation_id, answer,
linked_by) on every backend, across a reopen; and a version-3 SQLite file given their
columns when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from smppgw.store.base import INBOUND_NOTES
from smppgw.store.sqlite import SqliteStore
from tests.store.helpers import Backend

_MO = {"smsc": "sim", "source": "447700900001", "destination": "12345", "data_coding": 0, "parts": 1,
       "complete": True, "received_at": 5.0}  # fmt: skip


def test_notes_are_kept_and_read_back(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    plain = store.add_inbound(**_MO, text="hello")
    noted = store.add_inbound(
        **_MO,
        text="Yes!",
        keyword=None,
        in_reply_to="m1",
        conversation_id="c1",
        answer="YES",
        linked_by="exact",
    )
    stop = store.add_inbound(**_MO, text="stop please", keyword="STOP")
    store.close() if backend.name != "memory" else None
    again = backend.reopen()
    read = {r.seq: r for r in again.inbound()}
    assert all(getattr(read[plain.seq], name) is None for name in INBOUND_NOTES)
    assert read[noted.seq] == noted
    assert (read[noted.seq].answer, read[noted.seq].linked_by, read[noted.seq].in_reply_to) == (
        "YES",
        "exact",
        "m1",
    )
    assert read[stop.seq].keyword == "STOP" and read[stop.seq].received_at == 1_005.0
    assert read[stop.seq].to_dict()["keyword"] == "STOP"


def test_a_version_3_file_gets_the_note_columns(tmp_path: Path) -> None:
    db = tmp_path / "v3.db"
    store = SqliteStore(db)
    old = store.add_inbound(**_MO, text="before")
    store.close()
    with sqlite3.connect(db) as raw:  # back to version 3: inbound without the notes
        for name in INBOUND_NOTES:
            raw.execute(f"ALTER TABLE inbound DROP COLUMN {name}")
        raw.execute("PRAGMA user_version = 3")
    store = SqliteStore(db)
    new = store.add_inbound(**_MO, text="after", keyword="HELP")
    (first, second) = store.inbound()
    assert first.text == "before" and first.seq == old.seq and first.keyword is None
    assert second == new and second.keyword == "HELP"
    store.close()
