"""The store on Redis: every protocol of ``store.base``, shared by several gateway processes.

Same answers as the SQLite store (the store suite runs on both: tests/store), with the
same durability rule (DESIGN §3): ``add``, ``add_inbound``, ``add_consent``,
``save_conversation`` and ``record_attempts`` are written before they return; status
changes (``save``), correlations, MO parts and status events are kept in memory and
written by ``commit`` (= ``flush``) in one step: one ``EVAL`` of a Lua script with the
batch as JSON (``store.redis_lua``: atomic in Redis, all or none for ``add``). A write
that fails (Redis away) raises ``StoreError`` and keeps every change for the next try:
nothing is dropped. What the write means on a crash of Redis itself depends on its
persistence (README "Scale out on Redis": AOF with ``appendfsync always`` for the
guarantee, ``everysec`` for up to a second).

The calls are synchronous, like SQLite's: each waits for its round trip, in the
caller's thread (``store.redis_link``). As with
SQLite, the process keeps the messages it still owes work (``_live``) and the ones
changed since the last commit (``_dirty``) in memory, so ``get`` on the hot path is no
round trip; other reads are. Times: records carry the trio clock, Redis keeps
wall-clock seconds (``clock_offset``), as SQLite does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from smppgw.store.base import (
    INBOUND_NOTES,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    Status,
    StoreError,
    owes_work,
)
from smppgw.store.redis_events import RedisEvents
from smppgw.store.redis_flows import RedisFlows
from smppgw.store.redis_guards import RedisGuards
from smppgw.store.redis_link import RedisLink
from smppgw.store.redis_lua import COMMIT
from smppgw.store.redis_read import RedisReads
from smppgw.store.redis_receipts import CORRELATION_TTL, RedisReceipts
from smppgw.store.redis_threads import RedisThreads
from smppgw.store.redis_twoway import RedisConsent, RedisConversations, RedisKeys
from smppgw.store.redis_vouchers import RedisVouchers
from smppgw.store.sqlite_records import message_row, part_json, wall_history

if TYPE_CHECKING:
    from smppgw.store.base import FlowStore, InboundPartStore, Store, ThreadStore
    from smppgw.store.threads import ThreadWrites

__all__ = ["RedisStore"]

log = logging.getLogger(__name__)


_SCAN = 10_000  # index entries one listing call reads at most


def _t(x: float) -> str:
    """A time as a Redis argument: every digit (a Lua number keeps 14)."""
    return repr(float(x))


class RedisStore(
    RedisReads, RedisEvents, RedisReceipts, RedisKeys, RedisConsent, RedisConversations, RedisVouchers, RedisFlows,
    RedisThreads, RedisGuards,
):  # fmt: skip
    """Implements every protocol of ``store.base`` (``Store``) on Redis at ``url``; every
    key starts with ``prefix``.

    Raises:
        StoreError: Redis can't be reached at ``url`` (the message names it).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "smppgw",
        clock_offset: float = 0.0,
        timeout: float = 5.0,
        correlation_ttl: int = CORRELATION_TTL,
        cluster: bool = False,
    ) -> None:
        #: The work queue (``cluster.workqueue``) is on: a ``queued`` message ``add``
        #: stores is XADDed to ``P:work`` in the same step, and not held here (whichever
        #: gateway takes it holds it: ``take_work``).
        self.work_queue = False
        self.url = url
        self.prefix = prefix
        self.clock_offset = clock_offset
        self.correlation_ttl = correlation_ttl
        self.cluster = cluster
        self._redis = RedisLink(url, timeout=timeout, cluster=cluster)
        try:
            self._redis.call(_ping)
        except StoreError as exc:
            self._redis.close()
            raise StoreError(f"can't reach Redis at {self._redis.where}: {exc.__cause__ or exc}") from None
        self._live: dict[str, MessageRecord] = {}
        self._dirty: dict[str, MessageRecord] = {}
        self._ops: list[list[Any]] = []  # correlations and MO parts, in order, for the next commit
        self._refused: set[str] = set()  # guarded changes another gateway's came before
        self._stale: set[str] = set()  # written lacking another gateway's part receipts (take_stale)
        self.flushes = 0
        self._events_init()
        self._consent_init()
        self._conversations_init()
        self._threads_init()

    @property
    def where(self) -> str:
        return self._redis.where

    def _k(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def _eval(self, script: str, *args: Any) -> Any:
        prefix = self.prefix

        # KEYS[1] is the prefix: it declares the one slot every key of the script is in
        # (on Redis Cluster the prefix holds the hash tag, ``store.config``), so a cluster
        # client sends the script to the node serving that slot. The scripts build their
        # key names from ARGV[1], the same prefix.
        def run(client: Redis) -> Any:
            return client.eval(script, 1, prefix, prefix, *args)

        return self._redis.call(run)

    def _run(self, work: Any) -> Any:
        return self._redis.call(work)

    def _hget(self, name: str, field: str) -> str | None:
        key = self._k(name)

        def run(client: Redis) -> Any:
            return client.hget(key, field)

        found = self._run(run)
        return None if found is None else found.decode()

    def _apply(self, ops: list[list[Any]]) -> None:
        """One atomic step (``redis_lua.COMMIT``); guarded changes refused are noted."""
        if ops:
            self._note_refused(self._eval(COMMIT, orjson.dumps(ops)))

    def close(self) -> None:
        """Flush, then stop the client (again: nothing). With Redis away the changes kept
        back are dropped, logged: like a crash, they are only what nobody was told about
        yet (their messages resume from the state Redis has, DESIGN §3)."""
        if self._redis.closed:
            return
        try:
            self.flush()
        except StoreError as exc:
            kept = len(self._dirty) + len(self._ops) + len(self._staged_events)
            log.warning("store closed with %d changes not written (%s)", kept, exc)
        finally:
            self._redis.close()

    def checkpoint(self) -> int:
        return 0  # Redis persists on its own (AOF, README)

    def reachable(self) -> bool:
        """Redis answers a PING now (``/readyz``); in the link's backoff window: False
        without touching the network, so a probe during an outage costs nothing."""
        try:
            return bool(self._run(lambda client: client.ping()))
        except StoreError:
            return False

    def wall(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else monotonic + self.clock_offset

    # -- messages ---------------------------------------------------------------------------

    def _message_op(self, m: MessageRecord, *, check: bool) -> list[Any]:
        row = list(message_row(0, m, self.clock_offset, history=False))
        del row[4], row[0]  # (seq, open: the store keeps both its own way)
        history = [
            orjson.dumps(e).decode() for e in wall_history(m.history[m.history_saved :], self.clock_offset)
        ]
        idem = "" if m.idempotency_key is None else f"{m.tenant or ''}\t{m.idempotency_key}"
        parts = m.parts
        finals = (
            [[p.index, part_json(p, self.clock_offset)] for p in parts if p.receipt_final]
            if len(parts) > 1
            else []
        )
        return [
            "m", m.id, m.status.value, int(owes_work(m)), _t(row[3]), orjson.dumps(row).decode(),
            m.history_saved, history, idem, int(check), m.idempotency_key or "", len(parts), finals,
        ]  # fmt: skip

    def add(self, messages: Sequence[MessageRecord]) -> None:
        opened = self._take_opened()  # their conversations and threads, in the same step
        ops = [self._message_op(m, check=True) for m in messages]
        handed = [m.id for m in messages if m.status is Status.QUEUED] if self.work_queue else []
        offset = self.clock_offset
        # Scheduled ones wait in the shared ``P:sched`` (any gateway releases them at
        # their time, ``cluster.workqueue``), not in this process.
        sched = (
            [m for m in messages if m.status is Status.SCHEDULED and m.send_at is not None]
            if self.work_queue
            else []
        )

        def threads(writes: ThreadWrites) -> None:
            writes.mts(messages)

        by_number = [["mt", m.destination, repr(m.created_at + offset), m.id] for m in messages]  # (backfill)
        self._threads_written(
            ops
            + by_number
            + self._opened_ops(opened)
            + [["w", i] for i in handed]
            + [["s", m.id, _t(m.send_at + offset)] for m in sched if m.send_at is not None],
            threads,
        )
        self._written(messages, frozenset(handed) | {m.id for m in sched})

    def take_work(self, ids: Sequence[str]) -> list[MessageRecord | None]:
        """The work queue took these messages (``cluster.workqueue``): their records as
        Redis has them (one round trip), held here from now on like the ones ``add``
        keeps; one this process holds already is that same object."""
        out = self.get_many(ids)
        for r in out:
            if r is not None and owes_work(r):
                self._live[r.id] = r
        return out

    def let_go(self, message_id: str, *, lost: bool = False) -> None:
        """This process no longer works on the message (its work-queue entry settled):
        later reads go to Redis, where another gateway may settle it (a receipt).
        ``lost``: another gateway claimed it from this one while this one could not write
        (``gateway.workqueue``): this copy's changes kept back are stale, not written over
        that gateway's. (A receipt that still reaches this copy is written: a final status
        is never undone in Redis, ``redis_lua.COMMIT``.)"""
        if lost:
            self._dirty.pop(message_id, None)
        if message_id not in self._dirty:
            self._live.pop(message_id, None)

    def _written(self, messages: Sequence[MessageRecord], handed: frozenset[str] = frozenset()) -> None:
        live = self._live
        for m in messages:
            m.history_saved = len(m.history)
            if owes_work(m) and m.id not in handed:
                live[m.id] = m
            else:
                live.pop(m.id, None)

    def save(self, message: MessageRecord) -> None:
        self._dirty[message.id] = message

    def commit(self) -> None:
        """The group commit: every change kept back, in one step (``flush``)."""
        self.flush()

    def flush(self) -> int:
        self._consent_refresh(now=False)  # other gateways' consent events, once a second
        if not self._dirty and not self._ops and not self._staged_events:
            return 0
        dirty, self._dirty = self._dirty, {}
        ops, self._ops = self._ops, []
        events = self._take_events()
        try:
            self._apply(ops + [self._message_op(m, check=False) for m in dirty.values()] + events)
        except StoreError:
            self._dirty = dirty | self._dirty  # kept for the next try: nothing lost
            self._ops = ops + self._ops
            self._staged_events = events + self._staged_events
            raise
        self._written(list(dirty.values()))
        self.flushes += 1
        return len(dirty)

    def find_key(self, idempotency_key: str, tenant: str | None = None) -> MessageRecord | None:
        key = self._k(f"idem:{tenant or ''}\t{idempotency_key}")

        def run(client: Redis) -> Any:
            return client.get(key)

        found = self._run(run)
        return None if found is None else self.get(found.decode())

    def unfinished(self) -> list[MessageRecord]:
        """Messages to resume after a restart, oldest first (every open one of the prefix:
        with several gateways, who resumes what is the work queue's business)."""
        self.flush()
        key = self._k("open")

        def run(client: Redis) -> Any:
            return list(client.zrange(key, 0, -1))

        ids = [i.decode() for i in self._run(run)]
        records = [r for r in self._read(ids) if r is not None]
        for r in records:
            self._live[r.id] = r
        return records

    def counts(self) -> dict[str, int]:
        self.flush()
        key = self._k("counts")

        def run(client: Redis) -> Any:
            return dict(client.hgetall(key))

        return {k.decode(): int(v) for k, v in self._run(run).items() if int(v) > 0}

    def list_messages(self, query: MessageQuery) -> tuple[list[MessageRecord], tuple[float, str] | None]:
        """Newest first: the ``created`` index read backwards in chunks (bounded by
        ``since``/``until``), each record checked against ``query``. No per-field index,
        so one call reads ``_SCAN`` entries at most: a rare filter may answer a short
        page with a cursor to read on from."""
        self.flush()
        key = self._k("created")
        tops = [repr(query.before[0])] if query.before is not None else []
        tops += [f"({query.until!r}"] if query.until is not None else []
        top = min(tops, key=lambda t: float(t.lstrip("("))) if tops else "+inf"
        bottom = "-inf" if query.since is None else repr(query.since)
        found: list[tuple[float, str, MessageRecord]] = []
        offset, chunk, last = 0, max(100, query.limit + 1), None
        while len(found) <= query.limit and offset < _SCAN:

            def run(client: Redis, offset: int = offset) -> Any:
                return list(client.zrange(key, top, bottom, desc=True, byscore=True, offset=offset, num=chunk,
                                         withscores=True))  # fmt: skip

            page = self._run(run)
            if not page:
                break
            offset += len(page)
            pairs = [(m.decode(), float(s)) for m, s in page]
            for (mid, created), record in zip(pairs, self._read([p[0] for p in pairs]), strict=True):
                record = self._dirty.get(mid) or self._live.get(mid) or record
                last = (created, mid)
                if record is not None and query.matches(record, created):
                    found.append((created, mid, record))
                    if len(found) > query.limit:
                        break
        page_ = found[: query.limit]
        if len(found) > query.limit:
            return [t[2] for t in page_], (page_[-1][0], page_[-1][1])
        more = offset >= _SCAN and last is not None  # stopped by the bound, not the end
        return [t[2] for t in page_], last if more else None

    # -- inbound ----------------------------------------------------------------------------

    def _next(self, counter: str, n: int = 1) -> int:
        """The last of ``n`` numbers taken from ``counter`` (INCRBY: unique across processes)."""
        key = self._k(counter)

        def run(client: Redis) -> Any:
            return int(client.incrby(key, n))

        return int(self._run(run))

    def add_inbound(
        self,
        *,
        smsc: str,
        source: str,
        destination: str,
        text: str,
        data_coding: int,
        parts: int,
        complete: bool,
        received_at: float,
        tenant: str | None = None,
        **notes: str | None,
    ) -> InboundRecord:
        record = InboundRecord(
            seq=self._next("inbound:seq"), smsc=smsc, source=source, destination=destination, text=text,
            data_coding=data_coding, parts=parts, complete=bool(complete),
            received_at=received_at + self.clock_offset, tenant=tenant,
            **{name: notes.get(name) for name in INBOUND_NOTES},
        )  # fmt: skip
        op = ["i", record.seq, tenant or "", orjson.dumps(record.to_dict()).decode()]
        # With its message.inbound event and its thread's entry.
        self._threads_written([op, *self._inbound_event_ops(record)], lambda writes: writes.mo(record))
        return record

    def inbound(self, *, after: int = 0, limit: int = 100, tenant: str | None = None) -> list[InboundRecord]:
        key = self._k("inbound" if tenant is None else f"inbound:t:{tenant}")

        def run(client: Redis) -> Any:
            return list(client.zrange(key, f"({after}", "+inf", byscore=True, offset=0, num=limit))

        return [InboundRecord(**orjson.loads(row)) for row in self._run(run)]


def _ping(client: Redis) -> object:
    return client.ping()


if TYPE_CHECKING:

    def _implements(store: RedisStore) -> Store:
        return store  # mypy checks RedisStore against every protocol

    def _holds_parts(store: RedisStore) -> InboundPartStore:
        return store

    def _keeps_flows(store: RedisStore) -> FlowStore:
        return store

    def _keeps_threads(store: RedisStore) -> ThreadStore:
        return store
