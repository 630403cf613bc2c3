"""BindPool and Dispatcher timing in virtual time (``autojump_clock``): reconnect backoff,
the account's sliding window, retry delays, throttling and per-sender limits.

No sockets: the pool gets an injected ``connect`` (memory streams to a small in-test
SMSC), and the dispatcher sends through a fake pool whose connections answer on a script.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from smppgw.core.constants import CommandStatus
from smppgw.core.errors import ConnectionLost
from smppgw.core.events import RequestAborted, ResponseReceived
from smppgw.core.pdu import SubmitSm, SubmitSmResp
from smppgw.core.session import SessionConfig
from smppgw.gateway.bindpool import BindPool
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.dispatcher import Dispatcher
from smppgw.gateway.jobs import Job
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.net.esme import Connect
from smppgw.net.server import Handler, handle_stream
from smppgw.policy.retry import Backoff, RetryPolicy
from smppgw.policy.throttle import AdaptiveRate, SlidingWindow
from smppgw.store.base import MessageRecord, PartRecord, Status
from tests.gateway.helpers import answer_binds

POOL_BACKOFF = Backoff(initial=0.5, factor=2.0, maximum=30.0, jitter=0.3)


def smsc_config(binds: int = 1) -> Any:
    table = {"name": "a", "host": "127.0.0.1", "port": 9, "system_id": "id", "password": "pw"}
    return config_from_dict({"smsc": [{**table, "binds": binds}]}).smscs[0]


def make_pool(connect: Connect, binds: int = 1, seed: int = 7) -> BindPool:
    return BindPool(
        smsc_config(binds),
        on_event=lambda conn, event: None,
        metrics=GatewayMetrics(),
        rng=random.Random(seed),
        connect=connect,
    )


def expected_delays(failures: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [POOL_BACKOFF.delay(n, rng) for n in range(1, failures + 1)]


# -- the bind pool ---------------------------------------------------------------------------


class Dialer:
    """The pool's ``connect``: notes each attempt, refuses the first ``refuse``, then gives
    a memory stream whose other end ``handler`` serves as the SMSC (in ``nursery``)."""

    def __init__(self, nursery: trio.Nursery, handler: Handler, refuse: int = 0) -> None:
        self.nursery, self.handler, self.refuse = nursery, handler, refuse
        self.attempts: list[float] = []
        self.peers: list[trio.abc.Stream] = []  # the SMSC ends
        self._attempted = trio.Event()

    async def connect(self, host: str, port: int, *, timeout: float, ssl_context: Any) -> trio.abc.Stream:
        self.attempts.append(trio.current_time())
        self._attempted.set()
        if len(self.attempts) <= self.refuse:
            raise ConnectionLost("connection refused")
        ours, theirs = trio.testing.memory_stream_pair()
        self.peers.append(theirs)
        self.nursery.start_soon(handle_stream, theirs, self.handler, SessionConfig())
        return ours

    async def wait_attempts(self, count: int) -> None:
        """Sleep (not poll: minutes of backoff in virtual time) until ``count`` attempts."""
        while len(self.attempts) < count:
            self._attempted = trio.Event()
            await self._attempted.wait()


async def test_unreachable_smsc_is_retried_with_jittered_exponential_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            dialer = Dialer(nursery, answer_binds(), refuse=10**6)
            pool = make_pool(dialer.connect)
            start = trio.current_time()
            await nursery.start(pool.run)
            await dialer.wait_attempts(10)
            nursery.cancel_scope.cancel()
    attempts = dialer.attempts
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert attempts[0] == pytest.approx(start)
    assert gaps == pytest.approx(expected_delays(9))  # exactly the seeded schedule
    for n, gap in enumerate(gaps, start=1):
        nominal = min(30.0, 0.5 * 2 ** (n - 1))
        assert nominal * 0.7 <= gap <= nominal * 1.3
    assert len({round(g / min(30.0, 0.5 * 2**n), 6) for n, g in enumerate(gaps)}) > 1  # jittered
    assert not pool.up and pool.connections == set()


async def test_already_bound_backs_off_longer(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            dialer = Dialer(nursery, answer_binds(CommandStatus.ESME_RALYBND))
            pool = make_pool(dialer.connect)
            await nursery.start(pool.run)
            await dialer.wait_attempts(4)
            nursery.cancel_scope.cancel()
    attempts = dialer.attempts
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # ESME_RALYBND: the carrier still sees the old session; wait at least half the maximum.
    assert gaps == pytest.approx([max(15.0, d) for d in expected_delays(3)])
    assert all(g >= 15.0 for g in gaps)
    assert pool.bind_failures >= 3 and pool.binds_made == 0


async def test_a_lost_bind_backs_off_from_the_start_and_never_exceeds_the_bind_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    most_open = 0
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            dialer = Dialer(nursery, answer_binds(), refuse=3)
            attempts, peers = dialer.attempts, dialer.peers
            pool = make_pool(dialer.connect, binds=2)
            await nursery.start(pool.run)
            while len(pool.senders) < 2:
                most_open = max(most_open, len(pool.connections))
                await trio.sleep(0.01)
            lost_at = trio.current_time()
            await peers[-1].aclose()  # the SMSC drops one bind
            count = len(attempts)
            while len(attempts) == count:
                most_open = max(most_open, len(pool.connections))
                await trio.sleep(0.01)
            regained = attempts[-1]
            await pool.close(1.0)
            nursery.cancel_scope.cancel()
    assert pool.binds_made == 3  # two, then the lost one again
    assert most_open <= 2
    # Bound, then lost: the next delay is a first-retry delay again (0.5 s +- 30 %).
    assert 0.35 - 0.02 <= regained - lost_at <= 0.65 + 0.02


# -- the dispatcher ---------------------------------------------------------------------------

Answer = Callable[[Job, int], int | None]  # (job, attempt number at the SMSC) -> status; None: abort


class FakeConn:
    """Answers each submit after ``latency`` with the status ``answer`` chooses."""

    def __init__(self, nursery: trio.Nursery, answer: Answer, latency: float = 0.01) -> None:
        self.nursery, self.answer, self.latency = nursery, answer, latency
        self.sent: list[tuple[float, SubmitSm]] = []
        self.closed = False
        self.seq = 0
        self.event_time = 0.0  # as SmppConnection: when the outcome being delivered arrived

    def start_request(self, pdu: SubmitSm, callback: Callable[[Any], Any], now: float | None = None) -> int:
        self.seq += 1
        self.sent.append((trio.current_time(), pdu))
        self.nursery.start_soon(self._answer, self.seq, pdu, callback)
        return self.seq

    async def _answer(self, seq: int, pdu: SubmitSm, callback: Callable[[Any], Any]) -> None:
        await trio.sleep(self.latency)
        self.event_time = trio.current_time()
        count = sum(1 for _, p in self.sent if p is pdu)
        status = self.answer(pdu, count)  # type: ignore[arg-type]
        if status is None:
            callback(RequestAborted(sequence_number=seq, request=pdu))
            return
        response = SubmitSmResp(message_id=f"id{seq}" if status == 0 else "")
        callback(
            ResponseReceived(
                sequence_number=seq, request=pdu, response=response, status=status, round_trip=self.latency
            )
        )


class FakePool:
    """Always up, one connection, unlimited window."""

    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.up = True

    def pick(self, now: float) -> FakeConn:
        return self.conn

    def bind_wait(self, now: float) -> float:
        return 0.0

    async def wait_for_room(self, timeout: float) -> None:
        await trio.sleep(timeout)

    def room(self) -> None:
        pass

    def in_flight(self) -> int:
        return 0


class Harness:
    def __init__(self, nursery: trio.Nursery, answer: Answer, **kwargs: Any) -> None:
        self.conn = FakeConn(nursery, answer)
        self.submitted: list[tuple[str, str, float]] = []
        self.finals: list[tuple[str, Status, str, float]] = []
        self.dispatcher = Dispatcher(
            "a",
            FakePool(self.conn),  # type: ignore[arg-type]
            account=kwargs.pop("account", None),
            retry=kwargs.pop("retry", RetryPolicy()),
            metrics=GatewayMetrics(),
            rng=random.Random(3),
            on_submitted=lambda message, part, smsc_id, now, sent_at: self.submitted.append(
                (message.id, smsc_id, now)
            ),
            on_final=lambda message, status, reason, source: self.finals.append(
                (message.id, status, reason, trio.current_time())
            ),
        )
        nursery.start_soon(self.dispatcher.run)

    def put(self, i: int, source: str = "12345", limits: tuple[SlidingWindow, ...] = ()) -> Job:
        message = MessageRecord(id=f"m{i}", source=source, destination=f"4477009{i:05d}", text="x")
        part = PartRecord(index=1, total=1)
        message.parts = [part]
        job = Job(
            message, part, SubmitSm(source_addr=source, destination_addr=message.destination), 0.0, limits
        )
        self.dispatcher.put(job)
        return job

    def times(self, source: str | None = None) -> list[float]:
        return [t for t, pdu in self.conn.sent if source is None or pdu.source_addr == source]


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


async def test_account_rate_is_never_exceeded_in_any_window(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery, lambda job, n: 0, account=AdaptiveRate(10))
            start = trio.current_time()
            for i in range(35):
                h.put(i)
            while len(h.submitted) < 35:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    times = [t - start for t in h.times()]
    assert max_in_any_window(times) == 10
    # As fast as allowed: bursts of 10 at 0, 1, 2 and the last 5 at 3 s.
    assert [round(t, 6) for t in times] == [float(i // 10) for i in range(35)]


async def test_throttled_submits_cut_the_rate_and_are_resent_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    throttled: set[str] = set()

    def answer(pdu: SubmitSm, n: int) -> int:
        # The carrier takes 5 per second; the rest of each burst is throttled.
        second = int(trio.current_time())
        taken = sum(1 for t, p in h.conn.sent if int(t) == second and p.destination_addr not in throttled)
        if taken > 5 and n == 1:
            throttled.add(pdu.destination_addr)
            return CommandStatus.ESME_RTHROTTLED
        return 0

    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            account = AdaptiveRate(20)
            h = Harness(nursery, answer, account=account)
            jobs = [h.put(i) for i in range(30)]
            while len(h.submitted) < 30:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    assert h.dispatcher.throttled == len(throttled) > 0
    assert account.rate < 20  # cut (AIMD)
    assert h.finals == []  # nothing failed: every throttled part was resent
    assert all(job.part.attempts == 1 for job in jobs)  # a throttled submit is not an attempt
    assert sorted(m for m, _, _ in h.submitted) == sorted(f"m{i}" for i in range(30))


async def test_transient_errors_back_off_then_fail_after_max_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = RetryPolicy(max_attempts=4, backoff=Backoff(initial=1.0, factor=2.0, maximum=60.0, jitter=0.2))
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery, lambda job, n: CommandStatus.ESME_RSYSERR, retry=policy)
            job = h.put(0)
            while not h.finals:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    times = h.times()
    assert len(times) == 4 and job.part.attempts == 4
    for n, (a, b) in enumerate(itertools.pairwise(times), start=1):
        nominal = 2.0 ** (n - 1)
        assert nominal * 0.8 - 0.02 <= b - a - 0.01 <= nominal * 1.2 + 0.02  # minus the resp latency
    [(message_id, status, reason, _)] = h.finals
    assert (message_id, status) == ("m0", Status.FAILED)
    assert reason == "ESME_RSYSERR: 4 attempts"


async def test_permanent_error_rejects_at_once(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery, lambda job, n: CommandStatus.ESME_RINVDSTADR)
            job = h.put(0)
            while not h.finals:
                await trio.sleep(0.1)
            await trio.sleep(10)
            nursery.cancel_scope.cancel()
    assert h.finals[0][:3] == ("m0", Status.REJECTED, "ESME_RINVDSTADR")
    assert len(h.times()) == 1 and job.part.attempts == 1


async def test_lost_bind_resends_at_once_and_counts_it(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery, lambda job, n: None if n == 1 else 0)
            job = h.put(0)
            while not h.submitted:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    first, second = h.times()
    assert second - first == pytest.approx(0.01)  # right after the abort: no backoff
    assert job.part.resent_unknown == 1 and job.part.attempts == 2


async def test_per_sender_limit_delays_only_that_sender(autojump_clock: trio.testing.MockClock) -> None:
    long_code = SlidingWindow(1.0)
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery, lambda job, n: 0)
            start = trio.current_time()
            for i in range(3):
                h.put(i, source="14155550100", limits=(long_code,))
            for i in range(3, 8):
                h.put(i, source="12345")
            while len(h.submitted) < 8:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    assert [round(t - start, 6) for t in h.times("14155550100")] == [0.0, 1.0, 2.0]
    assert [round(t - start, 6) for t in h.times("12345")] == [0.0] * 5
