"""The shared work queue's gateway half: take messages any gateway accepted, send them,
settle their entries (issue 19; its Redis half is ``cluster.workqueue``).

Theory of operation. With the work queue on, a new ``queued`` message is not put on
this process's dispatcher (``Intake.handing``: its ``Plan`` is ``handed``): the store
XADDs it to the work stream in the step that stores it, so accepting and queueing are
one write. Every gateway reads the stream as one consumer of a group, as its queue room
allows (``room`` parts waiting here, at most ``batch`` entries a read), takes the
records (``take_work``: as Redis has them) and puts their parts on its dispatchers through
``Gateway.restore`` (the same path a restart takes: the plan kept, parts with an SMSC
id left to their receipts, the rest queued). It holds each entry until the message's
parts need no more sending from here (each submitted, or final), then commits the store
(so that state is durable) and XACKs the entry (``_settle``, every ``tick``).

A gateway that dies leaves its entries pending in the group; every gateway claims
entries idle ``claim_idle`` seconds (XAUTOCLAIM) and takes them the same way, so a
live gateway marks its own as fresh well before that (``keep``: XCLAIM of what it holds,
every third of ``claim_idle``). A claimed message resumes from the state Redis has:
queued parts are sent; a part that was ``submitting`` (its submit_sm may have left the
dead process: the window between the commit of ``submitting`` and that of its SMSC id)
is sent again, counted in ``smppgw_resent_unknown_total`` and
``smppgw_work_resent_total``, and its message's history says so. So nothing is lost, and
a part is sent twice only if it was in the dead process's window.

A live gateway that could not renew its entries for ``claim_idle`` (Redis away or
restarted, a partition) may have lost them to another gateway's claim, and must then no
longer send them: two gateways sending the same queued part, neither counting it, is
what a Redis restart did before (issue 19). So what it holds is a lease: renewed by
``keep`` (which answers the entries another consumer took meanwhile: ``_drop``), valid
until a quarter of ``claim_idle`` before another gateway could claim it (``lease_until``,
counted from when the renewal was asked, by this process's clock). The dispatchers ask
``fence`` just before each submit_sm: a part of a held message goes only while the lease
is valid; past it the job is parked here until a renewal (then queued again, first) or
dropped, with its message, if the renewal says another gateway has the entry (its
changes kept back here are stale: not written, ``let_go(lost=True)``). A part already written
is in this gateway's window: its state in Redis is ``submitting`` (DESIGN §3), so the
gateway that claims it sends it again counted. And a claim waits ``claim_idle`` after
Redis itself (re)started (``cluster.workqueue``), so after a Redis restart the live
gateways renew what they hold before anyone may take it.

Scheduled messages (a future ``send_at``, or held by quiet hours) are not kept in the
accepting process's memory either: the store ZADDs them to the shared set of scheduled
messages with their record, and every gateway moves the due ones onto the work stream
(``_releaser``, every ``release_every`` seconds; one atomic step in Redis, so each is
moved once). The gateway that takes one finds it ``scheduled`` with its time passed:
``restore`` hands it to the local schedule, which releases it at once (planned then,
queued on this gateway's dispatchers). So a scheduled message outlives the gateway that
accepted it, and a cancel (which takes it out of the set, from any gateway) stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import trio
from prometheus_client import Counter

from smppgw.gateway.deadline import DeadlineStore, Guarded, SharedDeadline
from smppgw.gateway.dispatcher import Dispatcher, Job
from smppgw.gateway.engine import Gateway
from smppgw.gateway.messages import SubmitError
from smppgw.store.base import FINAL, MessageRecord, Status, StoreError, advance
from smppgw.support.logsafe import kv

__all__ = ["Taker", "WorkQueue", "WorkStream"]

log = logging.getLogger(__name__)

_SUBMITTING = Status.SUBMITTING
# Where a send may start from (or restart: a failed try may have written ``submitting``):
# anything else in Redis (canceled, blocked: final) means another gateway settled it first.
_SENDABLE = ("accepted", "scheduled", "queued", "submitting")
_BACKOFF_CAP = 5.0
_STALE_KEPT = 10_000  # stale copies remembered (their jobs dropped), the oldest forgotten first


class WorkStream(Protocol):
    """The work stream's consumer (``cluster.workqueue.RedisWork``): entries are
    (entry id, message id); ``keep`` renews them and answers the entry ids lost."""

    claim_idle: float
    consumer_idle: float

    async def start(self) -> None: ...
    async def read(self, count: int, block: float) -> list[tuple[str, str]]: ...
    async def claim(self, count: int) -> list[tuple[str, str]]: ...
    async def keep(self, entries: Sequence[tuple[str, str]]) -> list[str]: ...
    async def ack(self, entries: Sequence[str]) -> None: ...
    async def release(self, count: int) -> int: ...
    async def prune(self) -> list[str]: ...


@runtime_checkable
class Taker(Protocol):
    """The store's side (``RedisStore``): records of taken messages; the commit."""

    work_queue: bool

    def take_work(self, ids: Sequence[str]) -> list[MessageRecord | None]: ...
    def let_go(self, message_id: str, *, lost: bool = False) -> None: ...
    def commit(self) -> None: ...


def needs_sending(record: MessageRecord) -> bool:
    """Whether some part still needs a submit_sm from the gateway holding it."""
    if record.status in FINAL or not record.parts:
        return record.status not in FINAL
    return any(p.smsc_message_id is None and p.status not in FINAL for p in record.parts)


class WorkQueue:
    def __init__(
        self, gateway: Gateway, stream: WorkStream, store: Taker, *, room: int = 1000, batch: int = 100,
        tick: float = 0.05, release_every: float = 0.25,
    ) -> None:  # fmt: skip
        self.gateway = gateway
        self.stream = stream
        self.store = store
        self.room = room
        self.batch = batch
        self.tick = tick
        self.release_every = release_every
        #: The receipt deadline of every gateway's messages (``gateway.deadline``), leased
        #: ``claim_idle`` seconds at a time, as the work is.
        self.deadline = (
            SharedDeadline(gateway.receipts, store, lease=stream.claim_idle)
            if isinstance(store, DeadlineStore)
            else None
        )
        self.held: dict[str, MessageRecord | None] = {}  # entry id -> its message (None: just XACK)
        self._entry_of: dict[str, str] = {}  # message id -> entry id (one entry per message held)
        self._released: set[str] = set()  # scheduled ones taken: checked again at their first send
        self._margin = stream.claim_idle / 4
        self.lease_until = -1.0  # trio time: what is held is this gateway's to send until then
        self._keep_due = 0.0
        self._parked: list[tuple[Dispatcher, Job]] = []  # held back while the lease lapsed
        self._stale: dict[int, MessageRecord] = {}  # copies of messages another gateway took (by id())
        r = gateway.metrics.registry
        self.claimed = Counter(
            "smppgw_work_claimed", "Work-queue entries taken over from a gateway that stopped", registry=r
        )
        self.resent = Counter(
            "smppgw_work_resent",
            "Parts sent again after a claim: they were submitting in the stopped gateway (may duplicate)",
            registry=r,
        )
        self.lost = Counter(
            "smppgw_work_lost",
            "Work-queue entries another gateway claimed from this one while it could not renew them",
            registry=r,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Take, send and settle until cancelled (a task of the app's nursery)."""
        await self.stream.start()
        self.store.work_queue = self.gateway.intake.handing = True
        if isinstance(self.store, Guarded):
            for smsc in self.gateway.smscs.values():
                smsc.dispatcher.recheck = self.recheck
        for smsc in self.gateway.smscs.values():
            smsc.dispatcher.fence = self.fence
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._reader)
            nursery.start_soon(self._claimer)
            nursery.start_soon(self._settler)
            nursery.start_soon(self._releaser)
            if self.deadline is not None:
                nursery.start_soon(self.deadline.run)
            task_status.started()

    def _free(self) -> int:
        """How many entries to take now: none while no bind of this gateway is up (its
        account's binds may all be leased to other gateways: what it took would wait
        here, kept fresh, while they could send it)."""
        if not any(smsc.pool.up for smsc in self.gateway.smscs.values()):
            return 0
        return min(self.room - self.gateway.queued(), self.room - len(self.held), self.batch)

    async def _reader(self) -> None:
        delay = 0.0
        while True:
            free = self._free()
            if free <= 0:  # the queue is full: the entries wait in Redis (backpressure)
                await trio.sleep(self.tick)
                continue
            start = trio.current_time()
            try:
                entries = await self.stream.read(free, 0.5)
            except Exception as exc:  # Redis away: wait, then again; the entries wait in Redis
                delay = min(max(delay * 2, 0.1), _BACKOFF_CAP)
                log.warning("work queue: read failed; again in %.1fs %s", delay, kv(error=str(exc)))
                await trio.sleep(delay)
                continue
            delay = 0.0
            if entries:
                self._take(entries, start, claimed=False)

    async def _claimer(self) -> None:
        every = min(self.stream.claim_idle / 2, 5.0)
        prune_every, prune_due = min(self.stream.consumer_idle / 2, 60.0), 0.0
        while True:
            await trio.sleep(every)
            free = self._free()
            try:
                while free > 0 and (entries := await self.stream.claim(free)):
                    self._take(entries, trio.current_time(), claimed=True)
                    free = self._free()
                if trio.current_time() >= prune_due:  # dead gateways' consumers, after their entries
                    prune_due = trio.current_time() + prune_every
                    if gone := await self.stream.prune():
                        log.info("work queue: idle consumers removed %s", kv(consumers=",".join(gone)))
            except Exception as exc:
                log.warning("work queue: claim failed %s", kv(error=str(exc)))

    async def _releaser(self) -> None:
        """Due scheduled messages onto the stream (any gateway's; the reader takes them)."""
        while True:
            await trio.sleep(self.release_every)
            try:
                while await self.stream.release(self.batch) >= self.batch:  # a backlog: at once
                    await trio.sleep(0)
            except Exception as exc:  # Redis away: they wait in the set; the next round
                log.warning("work queue: releasing scheduled messages failed %s", kv(error=str(exc)))

    async def _settler(self) -> None:
        while True:
            await trio.sleep(self.tick)
            try:
                # Renewed first: past a lapse, what another gateway took is dropped here
                # before this one's changes to it are written (``_drop``).
                if self.held and trio.current_time() >= self._keep_due:
                    await self._renew()
                await self._settle()
            except Exception as exc:  # Redis away: held entries stay pending; the next tick tries again
                log.warning("work queue: settling failed %s", kv(error=str(exc)))
                await trio.sleep(0.5)

    async def _settle(self) -> None:
        """XACK the entries whose messages need no more sending, once that is durable."""
        done = [entry for entry, record in self.held.items() if record is None or not needs_sending(record)]
        if not done:
            return
        self.store.commit()  # their states in Redis first (StoreError: the next tick)
        await self.stream.ack(done)
        for entry in done:
            record = self.held.pop(entry)
            if record is not None and self._entry_of.get(record.id) == entry:
                del self._entry_of[record.id]
                self._released.discard(record.id)  # (one never sent: expired, failed)
                self.store.let_go(record.id)  # its receipt may reach another gateway: read Redis

    async def _renew(self) -> None:
        """Renew the lease on what is held (``keep``); drop what another gateway took;
        queue again (first) the jobs parked while the lease lapsed."""
        start = trio.current_time()
        lost = await self.stream.keep([(e, "" if r is None else r.id) for e, r in self.held.items()])
        self.lease_until = start + self.stream.claim_idle - self._margin
        self._keep_due = start + self.stream.claim_idle / 3
        self._drop(lost)
        parked, self._parked = self._parked, []
        for dispatcher, job in parked:
            if id(job.message) not in self._stale:
                dispatcher.put(job, first=True)

    def fence(self, dispatcher: Dispatcher, job: Job) -> bool:
        """Whether ``job`` may be sent now (``Dispatcher.fence``, just before its
        submit_sm): not a stale copy's; a held message's only within the lease (else
        parked here until ``_renew``)."""
        message = job.message
        if self._stale and id(message) in self._stale:
            return False  # another gateway has it: dropped here
        if message.id not in self._entry_of or trio.current_time() < self.lease_until:
            return True
        self._parked.append((dispatcher, job))
        return False

    def _drop(self, lost: Sequence[str]) -> None:
        """Entries another gateway claimed from this one: their messages are no longer
        sent, settled or written from here (their queued jobs meet ``fence``). One with
        nothing left to send from here is let go as settled: e.g. this gateway's own XACK
        that Redis applied but whose answer was lost (Redis stopping); its receipts still
        count."""
        for entry in lost:
            record = self.held.pop(entry, None)
            if record is None or self._entry_of.get(record.id) != entry:
                continue
            del self._entry_of[record.id]
            self._released.discard(record.id)
            if not needs_sending(record):
                self.store.let_go(record.id)
                continue
            self.lost.inc()
            self._stale[id(record)] = record
            self.store.let_go(record.id, lost=True)
            log.warning("work queue: taken by another gateway %s", kv(message=record.id))
        while len(self._stale) > _STALE_KEPT:
            del self._stale[next(iter(self._stale))]

    def _take(self, entries: list[tuple[str, str]], start: float | None = None, *, claimed: bool) -> None:
        """Hold ``entries`` (read or claimed at ``start``, by default now) and queue their messages."""
        try:
            records = self.store.take_work([message_id for _, message_id in entries])
        except StoreError as exc:  # not held: claimed again after claim_idle (by anyone)
            log.warning("work queue: records not read %s", kv(error=str(exc)))
            return
        if not self.held:  # these alone: the lease runs from their read
            start = trio.current_time() if start is None else start
            self.lease_until = start + self.stream.claim_idle - self._margin
            self._keep_due = start + self.stream.claim_idle / 3
        for (entry, message_id), record in zip(entries, records, strict=True):
            if record is None:
                log.warning("work queue: no message %s; entry dropped", message_id)
                self.held[entry] = None
                continue
            self.held[entry] = record
            if (old := self._entry_of.get(message_id)) is not None:  # held here already
                self._entry_of[message_id] = entry
                self.held[old] = None
                continue
            self._entry_of[message_id] = entry
            if not needs_sending(record):
                continue
            if record.status is Status.SCHEDULED:  # released by any gateway: a cancel may race it
                self._released.add(message_id)
            if claimed:
                self._claimed(record)
            try:
                self.gateway.restore(record)
            except SubmitError as exc:  # e.g. its SMSC left the config
                self.gateway.changes.fail(record, Status.FAILED, f"not resumable: {exc}")

    def recheck(self, record: MessageRecord) -> bool:
        """Just before the first submit_sm of a released scheduled message (the dispatcher
        saved it ``submitting``): that save is committed now, guarded, so a cancel from
        another gateway that came first (Redis has it final) stops the send, and one that
        comes later finds it ``submitting`` (no longer cancelable, ``Actions.cancel``).
        True: send it. False: not now (Redis away: the dispatcher tries again in a second)
        or never (final in Redis: this copy is marked so, not saved, and let go)."""
        store, message_id = self.store, record.id
        if message_id not in self._released or not isinstance(store, Guarded):
            return True
        if not store.refused(message_id):  # (a try whose commit failed may have been refused)
            store.guard(message_id, _SENDABLE)
            try:
                store.commit()
            except StoreError:
                return False
            if not store.refused(message_id):
                self._released.discard(message_id)
                return True
        self._released.discard(message_id)
        record.status = Status.CANCELED  # (a local marker: Redis has the real final status)
        log.info("work queue: not sent, settled by another gateway first %s", kv(message=message_id))
        return False

    def _claimed(self, record: MessageRecord) -> None:
        """A stopped gateway's message: its parts ``submitting`` there are sent again
        (``restore`` counts them in resent_unknown); the history says so."""
        self.claimed.inc()
        now = trio.current_time()
        for part in record.parts:
            if part.status is _SUBMITTING and part.smsc_message_id is None:
                self.resent.inc()
                advance(record, record.status, "gateway", now,
                        f"part {part.index}/{part.total} sent again: it was submitting in a gateway "
                        "that stopped (work queue claim); the SMSC may have it twice")  # fmt: skip
        log.info("work queue: claimed %s", kv(message=record.id, status=record.status.value))
