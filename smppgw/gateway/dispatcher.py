"""The dispatcher: one task per SMSC that turns queued parts into submit_sm, as fast as
the carrier allows and never faster.

Theory of operation
-------------------
Work items are *parts* (``Job``): a message is split once, when its SMSC is chosen, and
every part keeps its PDU (same UDH reference) across retries, so a retry can never send
different bytes. Jobs wait in ``ready`` (one FIFO per priority, see below) or, when they
may not go yet (a backoff, a per-sender or per-route limit), in the ``delayed`` heap; a
job that must wait never blocks the jobs behind it. The account limit (AIMD over a
sliding window, counting segments) applies to every job of this SMSC, so the loop sleeps
on it. Limits shared with other gateways (``shared``: Redis) replace it: one call charges
the account and the part's own limits at once (``gateway.shared.SharedGate``). Consent (``consent``, gateway.consent) is asked again just before each submit_sm.

Each submit_sm is sent with a callback (no task per message). The callback classifies
the outcome with ``policy.retry``: success records the SMSC message_id (and matches
early receipts); ESME_RTHROTTLED / ESME_RMSGQFUL cut the AIMD rate and requeue the part
at the head; other transient statuses requeue after a backoff; permanent ones finish the
message as ``rejected``; a timeout or a lost bind requeues the part and counts it in
``resent_unknown`` (it may have reached the carrier: never silent).

Durability (DESIGN §3): a part is marked ``submitting`` and saved as its submit_sm is
queued on a connection, and the store commits once per dispatch batch, before the loop
yields: the connection's writer runs only when this task yields, so every submit_sm
that reaches the wire was ``submitting`` on disk first (group commit: one transaction
per batch, not per PDU). A restart resends a part found ``submitting`` and counts it in
``resent_unknown``. If the commit fails, this SMSC's binds are closed before they write:
the parts come back as lost-bind outcomes (requeued, counted), nothing unrecorded is sent.

Priority (a message's ``priority``, 0..3): one deque per level, the higher level first,
FIFO within a level. No starvation: each time a job is taken while lower levels wait,
each counts one pass; a level passed over more than ``priority_burst`` times (default 10)
sends its oldest job next (the most passed over first): under a full load a waiting level
gets one send in ``priority_burst + 1``-ish. With one level in use (priority 0) none of this runs.

Validity counts from acceptance (or ``send_at``, ``Job.created``): a part whose validity
lapsed while queued is not sent and its message ends ``expired`` (checked just before a
part is sent, and once a second by ``expire_validity``); a part sent later carries the time
left as its relative validity_period (SMPP 3.4 §7.1.1), rounded to the second.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import trio

from smppgw.core.constants import CommandStatus
from smppgw.core.errors import SmppError
from smppgw.core.events import RequestAborted, RequestExpired, ResponseReceived
from smppgw.core.pdu import SubmitSmResp
from smppgw.gateway import lifecycle
from smppgw.gateway.bindpool import BindPool
from smppgw.gateway.jobs import Job
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.pace import Pace
from smppgw.gateway.queues import JobQueues
from smppgw.gateway.shared import SharedAccount, SharedGate
from smppgw.net.connection import SmppConnection
from smppgw.net.errors import Outcome
from smppgw.policy.retry import RetryPolicy, Verdict
from smppgw.policy.throttle import AdaptiveRate
from smppgw.store.base import FINAL, MessageRecord, PartRecord, Status, StoreError, advance
from smppgw.support.logsafe import kv

__all__ = ["Dispatcher", "Job"]

log = logging.getLogger(__name__)

_THROTTLE = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})
_QUEUED, _SUBMITTING = Status.QUEUED, Status.SUBMITTING
_NOT_SENT = frozenset({Status.ACCEPTED, Status.QUEUED})
_ROK = int(CommandStatus.ESME_ROK)
_LEVELS = 4  # priority_flag 0..3 (SMPP 3.4 §5.2.14)


class Dispatcher(JobQueues):
    def __init__(
        self,
        name: str,
        pool: BindPool,
        *,
        account: AdaptiveRate | None,
        retry: RetryPolicy,
        metrics: GatewayMetrics,
        rng: random.Random,
        on_submitted: Callable[[MessageRecord, PartRecord, str, float, float], Any],
        on_final: Callable[[MessageRecord, Status, str, str], Any],
        on_rebind: Callable[[SmppConnection], Any] | None = None,
        save: Callable[[MessageRecord], Any] | None = None,
        commit: Callable[[], Any] | None = None,
        priority_burst: int = 10,
        shared: SharedAccount | None = None,
    ) -> None:
        """``shared``: the account's limits shared with other gateways (Redis), which
        then replace ``account``; a part's own limits are asked of it too."""
        self.name = name
        self.shared = SharedGate(shared) if shared is not None else None
        self.pool = pool
        self.account = account
        self.retry = retry
        self.metrics = metrics
        self.rng = rng
        self._on_submitted = on_submitted
        self._on_final = on_final
        self._on_rebind = on_rebind
        # ``ready`` is priority 0 (the common case: the run loop's fast path reads it
        # alone); ``_levels[n]`` priority n; ``_high`` counts the jobs in levels 1..3.
        self.ready: deque[Job] = deque()
        self._levels: list[deque[Job]] = [self.ready, *(deque() for _ in range(1, _LEVELS))]
        self._high = 0
        self._passed = [0] * _LEVELS  # times each waiting level was passed over (no starvation)
        self.priority_burst = priority_burst
        self._delayed: list[tuple[float, int, Job]] = []
        self._lapses_after = math.inf  # no queued part lapses before (gateway.queues)
        self._order = itertools.count()
        self._wake = trio.Event()
        self._idle = False
        self._waiting_room = False  # run() waits in pool.wait_for_room
        self.sent = 0
        self.throttled = 0
        self._pace = Pace(account, shared, metrics.throttle_rate.labels("smsc", name))
        self._inflight_gauge = metrics.in_flight.labels(name)
        # trio.current_time() is three Python frames; the run's clock method is one (a few
        # times per message). ``run`` sets it: a clock belongs to one trio.run.
        self._now: Callable[[], float] = trio.current_time
        self._save = save  # MessageStore.save: ``submitting`` is recorded
        self._commit = commit  # StoreControl.commit: ... and durable before the write
        self._uncommitted = False  # submit_sm queued since the last commit
        self.consent: Callable[[MessageRecord], str | None] | None = None  # None, or why it may not go
        self.recheck: Callable[[MessageRecord], bool] | None = None  # work queue: canceled elsewhere?
        self.fence: Callable[[Dispatcher, Job], bool] | None = None  # False: not ours now (WorkQueue.fence)

    def __len__(self) -> int:
        return len(self.ready) + self._high + len(self._delayed)

    # -- queueing ------------------------------------------------------------------------------

    def put(self, job: Job, *, delay: float = 0.0, first: bool = False) -> None:
        job.part.status = _QUEUED
        if job.message.validity is not None:
            self._watch(job)
        if delay > 0:
            heapq.heappush(self._delayed, (self._now() + delay, next(self._order), job))
        elif level := job.message.priority:  # 1..3: its own FIFO (see the module docstring)
            queue = self._levels[min(level, _LEVELS - 1)]
            queue.appendleft(job) if first else queue.append(job)
            self._high += 1
        else:
            self.ready.appendleft(job) if first else self.ready.append(job)
        if self._idle:
            self._wake.set()

    def _pop(self) -> Job:
        """The next ready job: the highest level, unless a lower one was passed over more
        than ``priority_burst`` times (no starvation; the module docstring)."""
        if not self._high:
            return self.ready.popleft()
        levels, passed = self._levels, self._passed
        waiting = [n for n in range(_LEVELS - 1, -1, -1) if levels[n]]
        chosen = waiting[0]
        if len(waiting) > 1:
            for n in waiting[1:]:
                passed[n] += 1
            late = max(waiting[1:], key=passed.__getitem__)
            if passed[late] > self.priority_burst:
                chosen = late
        passed[chosen] = 0
        if chosen:
            self._high -= 1
        return levels[chosen].popleft()

    def _in_time(self, job: Job, now: float) -> bool:
        """Just before a part is sent: False (and its message ``expired``) when its
        validity lapsed; else its PDU carries the time left (``Job.time_left``)."""
        if job.time_left(now):
            return True
        self._finish(job, Status.EXPIRED, "validity lapsed before it was sent")
        return False

    async def _next(self) -> Job:
        delayed = self._delayed
        while True:
            now = self._now()
            if delayed and delayed[0][0] <= now:
                return heapq.heappop(delayed)[2]
            if self.ready or self._high:
                return self._pop()
            deadline = delayed[0][0] if delayed else math.inf
            if self._uncommitted:
                self._end_batch()
            self._idle = True
            with trio.move_on_at(deadline):
                await self._wake.wait()
            self._idle = False
            self._wake = trio.Event()

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        pool, account = self.pool, self.account
        self._now = now_of = trio.lowlevel.current_clock().current_time
        while True:
            # Nothing delayed and a job ready (the busy case): what _next would return,
            # without a coroutine and a clock read per job. (Attributes, not locals:
            # take_unstarted and expire replace both queues.)
            if self.ready and not self._delayed and not self._high:
                job = self.ready.popleft()
            else:
                job = await self._next()
            if job.message.status in FINAL:  # is_final, without the property call
                continue  # another part failed permanently (or canceled): the rest need not go
            now = now_of()
            if job.message.validity is not None and not self._in_time(job, now):
                continue  # its validity lapsed while queued: expired, not sent
            limits = job.limits
            if limits:  # (most jobs have none: no generator per message)
                wait = max(lim.wait_time(now) for lim in limits)
                if wait > 0:  # a per-sender / per-route limit: park this job only
                    self._park(job, now + wait)
                    continue
            if account is not None:
                while (wait := account.wait_time(now)) > 0:
                    if self._uncommitted:
                        self._end_batch()
                    await trio.sleep(wait)
                    now = now_of()
                if job.message.status in FINAL:  # canceled or blocked while this job waited
                    continue
            if self.consent is not None and (why := self.consent(job.message)) is not None:
                self._finish(job, Status.BLOCKED, why, "consent")  # opted out while it waited
                continue
            conn = pool.pick(now)
            if conn is None:  # back at the head, still visible to failover (take_unstarted)
                self._unpop(job)
                # Woken by any response, expiry or new bind (pool.room); the timeout is
                # only a bind-TPS wait or a safety net, never a 1 ms poll.
                bind_wait = pool.bind_wait(now) if pool.up else 0.0
                if self._uncommitted:
                    self._end_batch()
                self._waiting_room = True
                try:
                    await pool.wait_for_room(bind_wait if bind_wait > 0 else 1.0)
                finally:
                    self._waiting_room = False
                continue
            if (gate := self.shared) is not None and not gate.take(keys := job.keys(), now):
                if self._uncommitted:  # the await lets the writers run: durable first
                    self._end_batch()
                wait, whole = await gate.ask(keys, len(self.ready), now)
                if job.message.status in FINAL:  # canceled or blocked meanwhile
                    continue
                if wait > 0 and whole:  # the account's rate: every part waits
                    self._unpop(job)
                    await trio.sleep(wait)
                    continue
                if wait > 0:  # a per-sender / per-route limit: park this job only
                    self._park(job, now_of() + wait)
                    continue
                now = now_of()
            if account is not None:
                account.record(now)  # (the rate gauge is set by gauges() and on a cut)
            for lim in limits:
                lim.record(now)
            if self.fence is not None and not self.fence(self, job):  # after every await: the fence keeps it
                continue
            self._send(conn, job, now)

    def _unpop(self, job: Job) -> None:
        """Back at the head of its level, still visible to failover (take_unstarted)."""
        self._levels[min(job.message.priority, _LEVELS - 1)].appendleft(job)
        if job.message.priority:
            self._high += 1
        if job.message.validity is not None:  # (a walk may have run while it was out)
            self._watch(job)

    def _park(self, job: Job, until: float) -> None:
        """Into the delayed heap until ``until`` (a limit's wait), watched like ``put``."""
        heapq.heappush(self._delayed, (until, next(self._order), job))
        if job.message.validity is not None:
            self._watch(job)

    def _send(self, conn: SmppConnection, job: Job, now: float) -> None:
        part = job.part
        part.attempts += 1
        part.status = _SUBMITTING
        job.sent_at = now
        if job.message.status in _NOT_SENT:
            advance(job.message, _SUBMITTING, "gateway", now)
        if self._save is not None:  # durable at the batch's commit, before the write
            self._save(job.message)
            self._uncommitted = True
        if self.recheck is not None and not self.recheck(job.message):  # (gateway/workqueue.py)
            part.attempts -= 1  # canceled by another gateway: not sent; Redis away: in a second
            if job.message.status not in FINAL:
                self.put(job, delay=1.0)
            return
        try:
            # A partial, not a lambda: called in C, one Python frame less per response.
            seq = conn.start_request(job.pdu, functools.partial(self._outcome, job, conn), now)
        except SmppError as exc:  # closed between pick and send: try again at once
            part.attempts -= 1
            log.debug("send failed; requeued %s", kv(smsc=self.name, error=exc))
            self.put(job, first=True)
            return
        self.sent += 1
        if lifecycle.on():
            lifecycle.sent(self.name, job.message, part, seq)

    # -- outcomes ----------------------------------------------------------------------------------

    def _outcome(self, job: Job, conn: SmppConnection, outcome: Outcome) -> None:
        if self._waiting_room and self.pool.refill(conn, len(self)):  # once, not per response
            self._waiting_room = False
            self.pool.room()
        now = conn.event_time  # when the outcome arrived: no clock read per response
        message, part = job.message, job.part
        route = message.route or "-"
        if isinstance(outcome, ResponseReceived):
            status = outcome.status
            if lifecycle.on():
                lifecycle.answered(self.name, message, part, outcome)
            self.metrics.submit(route, self.name, status, outcome.round_trip)
            if self._pace.adaptive:  # congestion_state steers the adaptive rate
                self._pace.congestion(outcome.response, now)
            if status == _ROK:
                assert isinstance(outcome.response, SubmitSmResp)
                part.resp_latency = outcome.round_trip
                self._on_submitted(job.message, part, outcome.response.message_id, now, job.sent_at)
                return
            if status in _THROTTLE:
                # SMPP-REFERENCE §7.1: slow down, then resubmit the same PDU first.
                self.throttled += 1
                part.attempts -= 1  # the carrier did not take it: not an attempt
                self._pace.throttled(now)
                self.put(job, first=True, delay=0.0 if self._pace.adaptive else 1.0)
                return
            decision = self.retry.decide(status, attempts=part.attempts, age=now - job.created, rng=self.rng)
        else:
            # No answer (timeout) or the bind died: the carrier may have it. Resend, counted.
            part.resent_unknown += 1
            self.metrics.resent_unknown.labels(self.name).inc()
            kind = "timeout" if isinstance(outcome, RequestExpired) else "bind lost"
            log.warning(
                "resubmitting %s", kv(smsc=self.name, cause=kind, message=message.id, part=part.index)
            )
            decision = self.retry.decide(None, attempts=part.attempts, age=now - job.created, rng=self.rng)
            if isinstance(outcome, RequestAborted) and decision.verdict is Verdict.RETRY:
                self.put(job, first=True)
                return
        self._decided(job, conn, decision.verdict, decision.delay, decision.reason)

    def _decided(self, job: Job, conn: SmppConnection, verdict: Verdict, delay: float, reason: str) -> None:
        job.part.error = reason
        if verdict is Verdict.RETRY:
            self.put(job, delay=delay)
        elif verdict is Verdict.REBIND:
            self.put(job, first=True)
            if self._on_rebind is not None:
                self._on_rebind(conn)
        else:
            # Rejected: the SMSC's command_status says so; failed: the retries or the age ran out.
            rejected = verdict is Verdict.REJECT
            status = Status.REJECTED if rejected else Status.FAILED
            self._finish(job, status, reason, "smpp" if rejected else "gateway")

    def _end_batch(self) -> None:
        """Commit the batch's ``submitting`` changes, before this task yields and the
        writers send the batch's submit_sm (DESIGN §3)."""
        self._uncommitted = False
        if self._commit is None:
            return
        try:
            self._commit()
        except StoreError:
            # Not durable, so not sent: close the binds before their writers run; the
            # parts come back as RequestAborted (requeued, counted in resent_unknown).
            log.exception("%s: store commit failed; closing the binds before they write", self.name)
            for conn in list(self.pool.connections):
                conn.close("store commit failed")

    def gauges(self) -> None:
        """Set the gauges (once a second): in flight, and the adaptive rate, which also
        climbs back between cuts (a Gauge.set takes a lock: not once per message)."""
        self._inflight_gauge.set(self.pool.in_flight())
        self._pace.set_gauge()
