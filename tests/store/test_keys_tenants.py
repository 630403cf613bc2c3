"""API keys (``KeyStore``) and tenants in the store, on every backend; and a version-2
SQLite file given its tenant columns and key table when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from smppgw.store.base import ApiKeyRecord, MessageQuery, StoreError, key_hash
from smppgw.store.sqlite import SqliteStore
from smppgw.store.sqlite_rows import SCHEMA_VERSION
from tests.store.helpers import Backend, record


def _key(n: int, **kw: object) -> ApiKeyRecord:
    fields: dict[str, object] = {"id": f"key_{n}", "name": f"k{n}", "hash": key_hash(f"secret-{n}"),
                                 "scopes": ("messages:send",), "created_at": 1_000.0 + n}  # fmt: skip
    fields.update(kw)
    return ApiKeyRecord(**fields)  # type: ignore[arg-type]


def test_keys_are_added_listed_revoked_and_touched(backend: Backend) -> None:
    store = backend.open()
    first = _key(1, tenant="acme", rate=5.0, max_queued=10, scopes=("messages:read", "inbound:read"))
    store.add_key(first)
    store.add_key(_key(2))
    with pytest.raises(StoreError):
        store.add_key(_key(3, hash=first.hash))  # a hash is unique
    with pytest.raises(StoreError):
        store.add_key(_key(1, hash=key_hash("other")))  # and an id
    store.touch_keys({"key_1": 2_000.0})
    assert store.revoke_key("key_2", now=3_000.0) and not store.revoke_key("key_2", now=3_001.0)
    assert not store.revoke_key("key_9", now=3_000.0)
    again = backend.reopen()
    [live] = again.api_keys()
    assert live == ApiKeyRecord(id="key_1", name="k1", hash=key_hash("secret-1"), tenant="acme", rate=5.0,
                                max_queued=10, scopes=("messages:read", "inbound:read"), created_at=1_001.0,
                                last_used_at=2_000.0)  # fmt: skip
    assert [(k.id, k.revoked_at) for k in again.api_keys(revoked=True)] == [
        ("key_1", None),
        ("key_2", 3_000.0),
    ]


def test_each_tenant_has_its_own_idempotency_keys_and_listing(backend: Backend) -> None:
    store = backend.open()
    store.add([record(1, idempotency_key="k", tenant="acme"), record(2, idempotency_key="k", tenant="beta")])
    store.add([record(3, idempotency_key="k")])  # no tenant: a namespace of its own
    with pytest.raises(StoreError):
        store.add([record(4, idempotency_key="k", tenant="acme")])
    again = backend.reopen()
    found = again.find_key("k", "acme"), again.find_key("k", "beta"), again.find_key("k")
    assert [m.id if m else None for m in found] == [record(1).id, record(2).id, record(3).id]
    assert again.find_key("k", "gamma") is None
    assert [m.id for m in again.list_messages(MessageQuery(tenant="beta"))[0]] == [record(2).id]
    assert len(again.list_messages(MessageQuery())[0]) == 3
    got = again.get(record(1).id)
    assert got is not None and got.tenant == "acme"


def test_inbound_is_listed_per_tenant(backend: Backend) -> None:
    store = backend.open()
    for i, tenant in enumerate(("acme", None, "acme", "beta")):
        store.add_inbound(smsc="a", source="447700900001", destination=f"1234{i}", text=f"mo {i}",
                          data_coding=0, parts=1, complete=True, received_at=0.0, tenant=tenant)  # fmt: skip
    again = backend.reopen()
    assert [m.text for m in again.inbound(tenant="acme")] == ["mo 0", "mo 2"]
    assert [m.text for m in again.inbound(after=1, tenant="acme", limit=1)] == ["mo 2"]
    assert [m.tenant for m in again.inbound()] == ["acme", None, "acme", "beta"]


# A version-2 file: the tables of version 3 less the tenant columns and the key table.
_TO_V2 = """
DROP TABLE api_keys;
ALTER TABLE messages RENAME TO messages_3;
CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, idempotency_key TEXT,
    status TEXT NOT NULL, open INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    source TEXT NOT NULL, destination TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL);
INSERT INTO messages SELECT seq, id, idempotency_key, status, open, created_at, updated_at, source,
    destination, body, state FROM messages_3;
DROP TABLE messages_3;
CREATE UNIQUE INDEX messages_key ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP TABLE inbound;
CREATE TABLE inbound (seq INTEGER PRIMARY KEY AUTOINCREMENT, smsc TEXT NOT NULL, source TEXT NOT NULL,
    destination TEXT NOT NULL, text TEXT NOT NULL, data_coding INTEGER NOT NULL, parts INTEGER NOT NULL,
    complete INTEGER NOT NULL, received_at REAL NOT NULL);
PRAGMA user_version = 2;
"""


def test_a_version_2_file_gets_tenants_and_keys(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    store = SqliteStore(db)
    store.add([record(1, idempotency_key="k")])
    store.close()
    with sqlite3.connect(db) as raw:  # back to version 2: no tenant columns, no key table
        raw.executescript(_TO_V2)
    store = SqliteStore(db)
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "messages_key" not in indexes and "messages_tenant_key" in indexes
    old = store.find_key("k")
    assert old is not None and old.id == record(1).id and old.tenant is None
    store.add([record(2, idempotency_key="k", tenant="acme")])  # the old key was the no-tenant one
    store.add_key(_key(1))
    assert [k.id for k in SqliteStore(db).api_keys()] == ["key_1"]
