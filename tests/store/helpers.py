"""What the store tests share: a record factory and the backends under test."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from smppgw.store.base import MessageRecord, Store
from smppgw.store.memory import MemoryStore
from smppgw.store.redis import RedisStore
from smppgw.store.sqlite import SqliteStore

__all__ = ["BACKENDS", "Backend", "backend_for", "record"]

BACKENDS = ("memory", "sqlite", "redis")


def record(i: int, **kw: object) -> MessageRecord:
    fields: dict[str, object] = {
        "id": f"{i:032x}", "source": "12345", "destination": f"4477009{i:05d}", "text": f"message {i}",
        "created_at": 100.0 + i, "updated_at": 100.0 + i,
    }  # fmt: skip
    fields.update(kw)
    return MessageRecord(**fields)  # type: ignore[arg-type]


@attrs.define
class Backend:
    """One store implementation in a test's directory (Redis: the server and key prefix
    in ``redis``). ``reopen`` is what a restarted process sees: a new SQLite connection on
    the same file, a new Redis client on the same prefix; for memory, the same store
    (nothing outlives the process, and nothing is lost while it runs)."""

    name: str
    directory: Path
    clock_offset: float = 0.0
    _first: Store | None = None
    redis: tuple[str, str] | None = None  # (url, prefix); "redis-cluster": a node's URL
    _opened: list[Store] = attrs.field(factory=list)

    def open(self, *, clock_offset: float = 0.0) -> Store:
        self.clock_offset = clock_offset
        self._first = self._make()
        return self._first

    def close(self) -> None:
        """Release the Redis clients this backend opened (their data stays: the prefix is
        the test's own)."""
        for store in self._opened:
            store.close()

    def reopen(self) -> Store:
        if self.name == "memory":
            assert self._first is not None
            return self._first
        return self._make()

    def _make(self) -> Store:
        if self.name == "memory":
            return MemoryStore(clock_offset=self.clock_offset)
        if self.name in ("redis", "redis-cluster"):
            assert self.redis is not None
            store = RedisStore(
                self.redis[0], prefix=self.redis[1], clock_offset=self.clock_offset,
                cluster=self.name == "redis-cluster",
            )  # fmt: skip
            self._opened.append(store)
            return store
        return SqliteStore(self.directory / "s.sqlite3", clock_offset=self.clock_offset)


def backend_for(request: pytest.FixtureRequest, directory: Path) -> Backend:
    """The backend ``request.param`` names, its Redis from the session's fixtures."""
    redis = None
    if request.param == "redis":
        redis = (request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    elif request.param == "redis-cluster":
        redis = (
            request.getfixturevalue("redis_cluster_url"),
            request.getfixturevalue("redis_cluster_prefix"),
        )
    return Backend(request.param, directory, redis=redis)
