"""The Redis store's half of ``ThreadStore`` (``store.threads``): a base class of
``RedisStore`` (which provides ``_apply``, ``_run``, ``_k`` and the outbox's
``_events_now``; its ``add`` and ``add_inbound`` call ``_threads_written``).

Keys (``P`` the prefix; README "Scale out on Redis"):

- ``P:thread:{<id>}``: a thread's record as JSON; ``P:thread:{<id>}:e`` list: its
  entries in order (entry ``n`` at index ``n - 1``).
- ``P:threadpair:{<number>}`` hash: ``<tenant> TAB <sender>`` -> the pair's thread (the
  number's hash tag, as its consent keys).
- ``P:threads`` and ``P:threads:s:<status>`` sorted sets by ``active_at``: the listing,
  and the listing of one status (an inbox asks for ``waiting_on_agent``).

As in SQLite, a message's thread entries, the threads' changes and their events are
written in the same step as the message (``redis_lua.COMMIT``, ops ``t`` and ``te``).
SQLite reads a thread inside its write lock; here the thread is read first and the
script refuses the whole step (nothing written) if another gateway changed the thread
(or made the pair's) in between, and the step is worked out again from what is there
now: optimistic, so the result is the one SQLite's lock gives. Times are wall clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, MutableSet, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import orjson
from redis import Redis

from smppgw.store.base import StoreError
from smppgw.store.events import EventRecord
from smppgw.store.threads import (
    Pair,
    ThreadEntry,
    ThreadKeeping,
    ThreadQuery,
    ThreadRecord,
    ThreadWrites,
)

__all__ = ["RedisThreads"]

_TRIES = 20  # steps worked out again when other gateways keep changing the same threads
_SCAN = 10_000  # threads one listing call reads at most
_CHANGED = "THREAD_CHANGED"


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(raw: bytes) -> ThreadRecord:
    return ThreadRecord(**orjson.loads(raw))


class _Pairs(MutableSet[Pair]):
    """The pairs that have a thread, as Redis has them (``P:threadpair:{<number>}``): any
    gateway may have made one, so a look-up is a round trip (HEXISTS); adding and
    discarding are the thread writes' own (op ``t``)."""

    def __init__(self, exists: Callable[[Pair], bool], exist: Callable[[list[Pair]], list[bool]]) -> None:
        self._exists = exists
        self._exist = exist
        self._primed: dict[Pair, bool] = {}

    def prime(self, pairs: Sequence[Pair]) -> None:
        """Look ``pairs`` up in one round trip (an ``add`` of many messages), for the
        ``in`` tests of the same write; ``unprime`` after it (another gateway may make a
        thread any time)."""
        unique = list(dict.fromkeys(pairs))
        self._primed = dict(zip(unique, self._exist(unique), strict=True))

    def unprime(self) -> None:
        self._primed = {}

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple):
            return False
        known = self._primed.get(pair)  # type: ignore[call-overload]
        return known if known is not None else self._exists(pair)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Pair]:
        return iter(())  # (never listed)

    def __len__(self) -> int:
        return 0

    def add(self, pair: Pair) -> None:
        pass

    def discard(self, pair: Pair) -> None:
        pass


class RedisThreads(ThreadKeeping):
    clock_offset: float

    if TYPE_CHECKING:  # RedisStore's and RedisEvents'

        def _read(self, ids: Sequence[str]) -> list[Any]: ...
        def _apply(self, ops: list[list[Any]]) -> None: ...
        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...
        def _events_now(self, events: Sequence[EventRecord]) -> list[list[Any]]: ...

    def _threads_init(self) -> None:
        self._keeping_init()  # (ThreadKeeping)
        self._thread_pairs = _Pairs(self._pair_exists, self._pairs_exist)
        self._find_for_writes: Callable[[str | None, str, str], ThreadRecord | None] = self.find_thread

    def _pair_exists(self, pair: Pair) -> bool:
        key, field = self._k(f"threadpair:{{{pair[1]}}}"), f"{pair[0] or ''}\t{pair[2]}"

        def run(client: Redis) -> Any:
            return client.hexists(key, field)

        return bool(self._run(run))

    def _pairs_exist(self, pairs: list[Pair]) -> list[bool]:
        """``_pair_exists`` of each, in one round trip (a pipeline)."""
        if not pairs:
            return []
        asks = [(self._k(f"threadpair:{{{p[1]}}}"), f"{p[0] or ''}\t{p[2]}") for p in pairs]

        def run(client: Redis) -> Any:
            pipe = client.pipeline(transaction=False)  # (keys of several slots: no MULTI)
            for key, field in asks:
                pipe.hexists(key, field)
            return pipe.execute()

        return [bool(x) for x in self._run(run)]

    def _earlier(self, thread: ThreadRecord, since: float) -> list[Any]:
        """A new thread's earlier MT messages: the number's MT index (``P:mtby:{<number>}``,
        written with each message), the newest ``backfill`` of the pair's."""
        if self._backfill[0] <= 0:
            return []
        key = self._k(f"mtby:{{{thread.number}}}")

        def run(client: Redis) -> Any:
            return list(client.zrange(key, "+inf", repr(since), desc=True, byscore=True, offset=0, num=1000))

        ids = [_s(i) for i in self._run(run)]
        found = [m for m in self._read(ids) if m is not None and m.source == thread.sender]
        return list(reversed(found[: self._backfill[0]]))

    def _writes(self) -> ThreadWrites:
        assert self._thread_tenants is not None
        return ThreadWrites(self._find_for_writes, self._thread_tenants, self._thread_authors, self._thread_pairs,
                            self._earlier, self._backfill[1], self.clock_offset)  # fmt: skip

    # -- inside add / add_inbound ----------------------------------------------------------------

    def _threads_written(self, ops: list[list[Any]], fill: Callable[[ThreadWrites], None]) -> None:
        """Apply ``ops`` (a message's or an inbound's) with their thread writes (``fill``
        takes each message into a ``ThreadWrites``) in one step; again from a fresh read
        when another gateway changed one of the threads meanwhile."""
        if self._thread_tenants is None:
            self._apply(ops)
            return
        for n in range(_TRIES):
            if self._threads_try(ops, fill):
                return
            # Writers that collided try again at random moments, not in step (up to 1, 2,
            # 4 ... 16 ms): without it four gateways writing one thread could collide on
            # every one of the tries. Only a write that just lost a race waits.
            time.sleep(random.uniform(0.0, 0.001 * 2 ** min(n, 4)))
        raise StoreError(f"store: threads kept changing under {_TRIES} tries; nothing written")

    def _threads_try(self, ops: list[list[Any]], fill: Callable[[ThreadWrites], None]) -> bool:
        """One try: False when a thread read changed before the write (nothing written)."""
        assert self._thread_tenants is not None
        authors = dict(self._thread_authors)  # ThreadWrites takes them: given back for another try
        read: dict[str, bytes | None] = {}

        def find(tenant: str | None, number: str, sender: str) -> ThreadRecord | None:
            found = self._find_raw(tenant, number, sender)
            if found is None:
                return None
            read[found[0].id] = found[1]
            return found[0]

        self._find_for_writes = find
        writes = self._writes()
        fill(writes)
        try:
            self._apply(ops + self._thread_ops(writes, read))
        except StoreError as exc:
            self._thread_authors = authors
            if _CHANGED in str(exc):
                return False
            raise
        return True

    def _thread_op(self, t: ThreadRecord, *, check: bool, expected: bytes | None) -> list[Any]:
        return [
            "t", t.id, t.number, f"{t.tenant or ''}\t{t.sender}", orjson.dumps(attrs.asdict(t)).decode(),
            repr(float(t.active_at)), t.status, int(check), "" if expected is None else expected.decode(),
        ]  # fmt: skip

    def _thread_ops(self, writes: ThreadWrites, read: Mapping[str, bytes | None]) -> list[list[Any]]:
        ops = [self._thread_op(t, check=True, expected=read.get(t.id)) for t in writes.threads.values()]
        ops += [["te", e.thread_id, orjson.dumps(attrs.asdict(e)).decode()] for e in writes.entries]
        return ops + self._events_now(writes.events)

    # -- the desk's writes and the reads ---------------------------------------------------------

    def save_thread(self, record: ThreadRecord, events: Sequence[EventRecord] = ()) -> None:
        if self._thread_tenants is None:  # threads off: no backfill
            self._apply([self._thread_op(record, check=False, expected=None), *self._events_now(events)])
            return
        self._find_for_writes = self.find_thread
        writes = self._writes()
        written = writes.adopt(record, events)  # a new pair's thread: its earlier MTs first
        writes.events = []  # (adopt's answer has them, in order)
        writes.threads.pop(record.id, None)  # written here, unchecked (as SQLite's REPLACE)
        ops = [self._thread_op(record, check=False, expected=None)]
        self._apply(ops + self._thread_ops(writes, {}) + self._events_now(written))

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        key = self._k(f"thread:{{{thread_id}}}")

        def run(client: Redis) -> Any:
            return client.get(key)

        found = self._run(run)
        return None if found is None else _record(found)

    def _find_raw(self, tenant: str | None, number: str, sender: str) -> tuple[ThreadRecord, bytes] | None:
        pair, thread = self._k(f"threadpair:{{{number}}}"), self._k("thread:")

        def run(client: Redis) -> Any:
            found = client.hget(pair, f"{tenant or ''}\t{sender}")
            return None if found is None else client.get(f"{thread}{{{_s(found)}}}")  # type: ignore[arg-type]

        raw = self._run(run)
        return None if raw is None else (_record(raw), raw)

    def find_thread(self, tenant: str | None, number: str, sender: str) -> ThreadRecord | None:
        found = self._find_raw(tenant, number, sender)
        return None if found is None else found[0]

    def list_threads(self, query: ThreadQuery) -> tuple[list[ThreadRecord], tuple[float, str] | None]:
        """Most recently active first: the status's index (or every thread's) read
        backwards in chunks, each thread checked against ``query``; ``_SCAN`` at most a
        call (a rare filter may answer a short page with a cursor to read on from)."""
        key = self._k("threads" if query.status is None else f"threads:s:{query.status}")
        thread = self._k("thread:")
        top = "+inf" if query.before is None else repr(float(query.before[0]))
        found: list[ThreadRecord] = []
        offset, chunk, last = 0, max(100, query.limit + 1), None
        while len(found) <= query.limit and offset < _SCAN:

            def run(client: Redis, offset: int = offset) -> Any:
                got = client.zrange(key, top, "-inf", desc=True, byscore=True, offset=offset, num=chunk)
                ids: list[bytes] = list(got)  # type: ignore[arg-type]
                return [] if not ids else client.mget([f"{thread}{{{_s(i)}}}" for i in ids])

            page = self._run(run)
            if not page:
                break
            offset += len(page)
            for raw in page:
                if raw is None:
                    continue
                t = _record(raw)
                last = (t.active_at, t.id)
                if query.matches(t):
                    found.append(t)
                    if len(found) > query.limit:
                        break
        out = found[: query.limit]
        if len(found) > query.limit:
            return out, (out[-1].active_at, out[-1].id)
        more = offset >= _SCAN and last is not None  # stopped by the bound, not the end
        return out, last if more else None

    def thread_entries(self, thread_id: str, *, after: int = 0, limit: int = 100) -> list[ThreadEntry]:
        key = self._k(f"thread:{{{thread_id}}}:e")

        def run(client: Redis) -> Any:
            return list(client.lrange(key, after, after + limit - 1))  # type: ignore[arg-type]

        return [ThreadEntry(**orjson.loads(raw)) for raw in self._run(run)] if limit > 0 else []
