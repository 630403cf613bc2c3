"""The gateway's seams for limits and bind slots shared with other gateways
(``gateway.shared``), with fakes in memory and virtual time: what the dispatcher asks,
when it waits, and how the bind pool binds only under a lease."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio
from trio.testing import MockClock

from tests.gateway.helpers import dest, gateway, memory_simulator, smsc, wait_all, wait_until


@attrs.define
class FakeAccount:
    """Answers from ``answer(keys, count)``; records every call and signal."""

    answer: Callable[[Sequence[tuple[str, float]], int], tuple[int, float, bool]]
    calls: list[tuple[tuple[tuple[str, float], ...], int, float]] = attrs.field(factory=list)
    signals: list[str] = attrs.field(factory=list)
    rate: float | None = 10.0
    slack: float = 0.02

    async def acquire(self, keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        self.calls.append((tuple(keys), count, trio.current_time()))
        await trio.lowlevel.checkpoint()
        return self.answer(keys, count)

    def throttled(self) -> None:
        self.signals.append("throttled")

    def congestion(self, state: int) -> None:
        self.signals.append(f"congestion {state}")


@attrs.define
class FakeLimits:
    account_: FakeAccount
    asked: list[tuple[str, float | None]] = attrs.field(factory=list)

    def account(self, name: str, tps: float | None) -> FakeAccount:
        self.asked.append((name, tps))
        return self.account_


async def test_a_burst_granted_once_carries_several_parts(autojump_clock: MockClock) -> None:
    fake = FakeAccount(lambda keys, count: (min(count, 4), 0.0, False))
    limits = FakeLimits(fake)
    async with memory_simulator() as sim, gateway(smsc(sim, tps=10), shared_limits=limits) as gw:
        assert limits.asked == [("a", 10)]
        assert gw.smscs["a"].dispatcher.account is None  # the shared rate replaces its own
        records = [gw.submit(source="12345", destination=dest(i), text="hi", dlr=False) for i in range(12)]
        await wait_all(gw, records, 5)
    assert len(fake.calls) == 3  # 12 parts, 4 a call
    assert fake.calls[0][1] == 12  # asked for this part and the 11 waiting behind it


async def test_the_account_blocked_holds_every_part_until_its_time(autojump_clock: MockClock) -> None:
    opens = 0.0

    def answer(keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        now = trio.current_time()
        return (1, 0.0, False) if now >= opens else (0, opens - now, True)

    fake = FakeAccount(answer)
    async with memory_simulator() as sim, gateway(smsc(sim, tps=10), shared_limits=FakeLimits(fake)) as gw:
        opens = trio.current_time() + 2.0
        records = [gw.submit(source="12345", destination=dest(i), text="hi", dlr=False) for i in range(3)]
        await wait_all(gw, records, 5)
        sent = sorted(m.submitted_at for m in sim.store.select(limit=10))
    assert len(sent) == 3 and sent[0] >= opens
    waited = [c for c in fake.calls if c[2] < opens]
    assert len(waited) == 1  # one ask, then the dispatcher slept the wait it was told


async def test_a_part_blocked_by_its_sender_waits_alone(autojump_clock: MockClock) -> None:
    """A sender-limited part that may not go yet is parked; the others go past it."""
    opens = 0.0

    def answer(keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        now = trio.current_time()
        if keys and now < opens:
            return 0, opens - now, False
        return 1, 0.0, False

    fake = FakeAccount(answer)
    limits = {"senders": {"777": 5}}
    async with (
        memory_simulator() as sim,
        gateway(smsc(sim, tps=10), shared_limits=FakeLimits(fake), limits=limits) as gw,
    ):
        opens = trio.current_time() + 3.0
        slow = gw.submit(source="777", destination=dest(0), text="hi", dlr=False)
        fast = [gw.submit(source="12345", destination=dest(i), text="hi", dlr=False) for i in range(1, 4)]
        await wait_all(gw, fast, 2)
        assert not slow.is_final and gw.smscs["a"].dispatcher.sent == 3
        await wait_all(gw, [slow], 5)
    assert (("sender:777", 5.0),) in [c[0] for c in fake.calls]  # its key, with its rate


async def test_throttling_is_told_to_the_shared_rate(autojump_clock: MockClock) -> None:
    """The shared rate grants 5/s; the carrier takes 2/s: its pushback is signalled."""
    next_at = 0.0

    def answer(keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        nonlocal next_at
        now = trio.current_time()
        if now < next_at:
            return 0, next_at - now, True
        next_at = now + 0.2
        return 1, 0.0, False

    fake = FakeAccount(answer)
    async with (
        memory_simulator(behaviour={"tps": 2}) as sim,
        gateway(smsc(sim, tps=50), shared_limits=FakeLimits(fake)) as gw,
    ):
        records = [gw.submit(source="12345", destination=dest(i), text="hi", dlr=False) for i in range(8)]
        await wait_all(gw, records, 20)
    assert "throttled" in fake.signals
    assert gw.smscs["a"].dispatcher.throttled == fake.signals.count("throttled")


@attrs.define(eq=False)
class FakeLease:
    slot: int
    lost: bool = False
    on_lost: Callable[[str], Any] | None = None


@attrs.define
class FakeKeeper:
    """Leases ``free`` slots; records releases."""

    free: set[int]
    held: list[FakeLease] = attrs.field(factory=list)
    released: list[int] = attrs.field(factory=list)

    async def acquire(self, account: str, slots: int, wanted: Sequence[int]) -> FakeLease | None:
        await trio.lowlevel.checkpoint()
        for slot in wanted:
            if slot in self.free:
                self.free.discard(slot)
                self.held.append(lease := FakeLease(slot))
                return lease
        return None

    async def release(self, lease: object) -> None:
        assert isinstance(lease, FakeLease)
        self.held.remove(lease)
        self.free.add(lease.slot)
        self.released.append(lease.slot)

    def lose(self, lease: FakeLease) -> None:
        lease.lost = True
        assert lease.on_lost is not None
        lease.on_lost("bind lease lost")


async def test_a_pool_binds_only_under_a_lease_and_a_lost_lease_closes_its_bind(
    autojump_clock: MockClock,
) -> None:
    keeper = FakeKeeper(free={1})  # of 3 slots, another gateway holds 0 and 2
    async with memory_simulator() as sim, gateway(smsc(sim, binds=3), leases=keeper, up=False) as gw:
        pool = gw.smscs["a"].pool
        assert await wait_until(lambda: len(pool.senders) == 1, 5)
        await trio.sleep(5)
        assert len(pool.senders) == 1 and pool.bind_failures == 0  # never a bind without one
        lease = keeper.held[0]
        keeper.lose(lease)  # Redis away too long, or given back
        assert await wait_until(lambda: keeper.released == [1], 5)  # closed, then given back
        keeper.free.add(2)  # the other gateway left: two slots for us now
        assert await wait_until(lambda: len(pool.senders) == 2, 10)
    assert sorted(keeper.released) == [1, 1, 2]  # every lease given back at the end
