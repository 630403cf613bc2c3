"""Checkpoints of the SQLite store run off the event loop: a commit never runs one, and
``checkpoint`` (from a worker thread, on its own connection) moves the WAL into the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

from smppgw.store.sqlite import SqliteStore
from tests.store.helpers import record


def _wal_frames(db: Path) -> int:
    """Frames in the WAL not yet copied into the database file (without copying any)."""
    probe = sqlite3.connect(db)
    try:
        # A checkpoint of mode PASSIVE would copy frames; reading the WAL's header size
        # does not: 32 bytes of header, then 24 + page size per frame.
        page = probe.execute("PRAGMA page_size").fetchone()[0]
    finally:
        probe.close()
    size = db.with_name(db.name + "-wal").stat().st_size
    return max(0, (size - 32) // (24 + page))


async def test_commits_leave_the_wal_to_the_checkpoint_in_a_worker_thread(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    store = SqliteStore(db)
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for i in range(400):  # well past SQLite's default of 1000 pages between checkpoints
            store.add([record(i, text="x" * 2000)])
        assert _wal_frames(db) > 1000  # no commit checkpointed
        moved = await trio.to_thread.run_sync(store.checkpoint)
        assert moved > 1000
        # Everything is in the database file now: a reader that ignores the WAL sees it all.
        copy = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        try:
            assert copy.execute("SELECT count(*) FROM messages").fetchone()[0] == 400
        finally:
            copy.close()
        assert await trio.to_thread.run_sync(store.checkpoint) == moved  # nothing new: same frames
    finally:
        store.close()
