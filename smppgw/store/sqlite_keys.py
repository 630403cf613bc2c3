"""The SQLite store's half of ``KeyStore`` (``store.keys``): a base class of ``SqliteStore``.

The ``api_keys`` table (schema version 3) holds each key's SHA-256, never the key.
``smppgw keys`` writes it from another process while the server runs; the server reads
it again every few seconds (``api.keys.Keyring``), so a revoked key stops working then.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from smppgw.store.keys import ApiKeyRecord
from smppgw.store.sqlite_rows import Transaction

__all__ = ["KEYS_SCHEMA", "SqliteKeys"]

KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,  -- SHA-256 of the key, hex: the key itself is never stored
    scopes TEXT NOT NULL,  -- space-separated
    tenant TEXT,
    rate REAL,
    max_queued INTEGER,
    created_at REAL NOT NULL,
    revoked_at REAL,
    last_used_at REAL
);
"""
_COLUMNS = "id, name, hash, scopes, tenant, rate, max_queued, created_at, revoked_at, last_used_at"


class SqliteKeys:
    _db: sqlite3.Connection

    def add_key(self, key: ApiKeyRecord) -> None:
        with Transaction(self._db):
            self._db.execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.name,
                    key.hash,
                    " ".join(key.scopes),
                    key.tenant,
                    key.rate,
                    key.max_queued,
                    key.created_at,
                    key.revoked_at,
                    key.last_used_at,
                ),
            )

    def api_keys(self, *, revoked: bool = False) -> list[ApiKeyRecord]:
        where = "" if revoked else " WHERE revoked_at IS NULL"
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, id")
        return [
            ApiKeyRecord(
                id=id_,
                name=name,
                hash=hash_,
                scopes=tuple(scopes.split()),
                tenant=tenant,
                rate=rate,
                max_queued=max_queued,
                created_at=created,
                revoked_at=revoked_at,
                last_used_at=used,
            )
            for id_, name, hash_, scopes, tenant, rate, max_queued, created, revoked_at, used in rows
        ]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        with Transaction(self._db):
            cursor = self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
            )
        return cursor.rowcount > 0

    def touch_keys(self, used: Mapping[str, float]) -> None:
        if used:
            with Transaction(self._db):
                self._db.executemany(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                    [(at, key_id) for key_id, at in used.items()],
                )
