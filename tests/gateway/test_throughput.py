"""Rates at the carrier (checklist 45, 46, 80): the simulator's own clock is the judge.

The gateway's limiter is exact on the gateway's clock; the simulator stamps a message
when its reader handles it. Over memory streams in virtual time (``tests.gateway.helpers``)
the two clocks are one and the stamps exact; ``JITTER`` still allows the loopback and
scheduling delay of a real network, far less than the gap an extra send inside a window
would leave (sends at a limit go in bursts), so the checks hold on either.
"""

from __future__ import annotations

import collections
import itertools
from typing import Any

import trio
from trio.testing import MockClock

from tests.gateway.helpers import dest, gateway, memory_simulator, metric, smsc, wait_all

JITTER = 0.05


def stamps(sim: Any) -> list[float]:
    return sorted(m.submitted_at for m in sim.store.select(limit=100_000))


def per_second(times: list[float]) -> collections.Counter[int]:
    """Counts per one-second bucket. The gateway sends at its limit in bursts one second
    apart; the buckets start half a second before the first message, so each burst falls
    inside one bucket whatever the jitter (a boundary at a burst would count jitter)."""
    return collections.Counter(int(t - times[0] + 0.5) for t in times)


def shortest_span(times: list[float], count: int) -> float:
    """The shortest time holding ``count + 1`` consecutive messages."""
    return min((times[i + count] - times[i] for i in range(len(times) - count)), default=float("inf"))


async def test_never_exceeds_the_configured_tps(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator() as sim, gateway(smsc(sim, tps=30)) as gw:
            start = trio.current_time()
            records = [
                gw.submit(source="12345", destination=dest(i), text=f"m{i}", dlr=False) for i in range(90)
            ]
            await wait_all(gw, records, 10)
            elapsed = trio.current_time() - start
    times = stamps(sim)
    assert len(times) == 90
    assert max(per_second(times).values()) <= 30
    assert shortest_span(times, 30) >= 1.0 - JITTER  # no 31 within any one second
    assert 1.9 < elapsed < 4.0  # and not much slower than allowed: 3 bursts of 30


async def test_bind_tps_caps_each_bind(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator() as sim, gateway(smsc(sim, bind_tps=10, binds=2)) as gw:
            records = [
                gw.submit(source="12345", destination=dest(i), text=f"m{i}", dlr=False) for i in range(40)
            ]
            await wait_all(gw, records, 10)
    by_bind: dict[int, list[float]] = collections.defaultdict(list)
    for m in sim.store.select(limit=1000):
        by_bind[m.bind_id].append(m.submitted_at)
    assert len(by_bind) == 2
    for times in by_bind.values():
        times.sort()
        assert shortest_span(times, 10) >= 1.0 - JITTER
    assert shortest_span(stamps(sim), 20) >= 1.0 - JITTER


async def test_converges_under_an_unknown_carrier_rate(autojump_clock: MockClock) -> None:
    carrier_tps, count = 20, 120
    with trio.fail_after(30):
        async with memory_simulator(behaviour={"tps": carrier_tps}) as sim, gateway(smsc(sim, tps=50)) as gw:
            dispatcher = gw.smscs["a"].dispatcher
            assert dispatcher.account is not None
            start = trio.current_time()
            rates: list[tuple[float, float]] = []
            async with trio.open_nursery() as nursery:

                async def sample() -> None:
                    while True:
                        assert dispatcher.account is not None
                        rates.append((trio.current_time() - start, dispatcher.account.rate))
                        await trio.sleep(0.1)

                nursery.start_soon(sample)
                records = [
                    gw.submit(source="12345", destination=dest(i), text=f"m{i}", dlr=False)
                    for i in range(count)
                ]
                await wait_all(gw, records, 20)
                nursery.cancel_scope.cancel()
            throttled_metric = metric(gw, "smppgw_submits_total", smsc="a", status="ESME_RTHROTTLED")
    # Nothing lost, nothing twice: every message accepted exactly once by the carrier.
    assert all(r.status.value == "submitted" for r in records)
    assert sorted(m.destination_addr for m in sim.store.select(limit=1000)) == sorted(
        r.destination for r in records
    )
    # Throttled submits were counted and retried; most submits were accepted.
    assert dispatcher.throttled == throttled_metric > 0
    assert dispatcher.throttled < count / 2
    assert dispatcher.sent == count + dispatcher.throttled
    # After the first two seconds the AIMD rate sits near, and mostly under, the carrier's.
    settled = [rate for t, rate in rates if t >= 2.0]
    assert settled
    under = sum(1 for rate in settled if rate <= carrier_tps)
    assert under >= 0.8 * len(settled)
    assert carrier_tps * 0.5 <= sorted(settled)[len(settled) // 2] <= carrier_tps * 1.1


async def test_long_code_limit_spaces_one_sender_only(autojump_clock: MockClock) -> None:
    long_code, short_code = "+14155550100", "12345"
    with trio.fail_after(20):
        async with memory_simulator() as sim, gateway(smsc(sim), limits={"long_code_tps": 1}) as gw:
            records = [
                gw.submit(source=long_code, destination=dest(i), text="x", dlr=False) for i in range(3)
            ]
            records += [
                gw.submit(source=short_code, destination=dest(10 + i), text="y", dlr=False) for i in range(5)
            ]
            await wait_all(gw, records, 10)
    long_times = sorted(m.submitted_at for m in sim.store.select(source_addr="14155550100"))
    short_times = sorted(m.submitted_at for m in sim.store.select(source_addr=short_code))
    assert len(long_times) == 3 and len(short_times) == 5
    assert all(b - a >= 1.0 - JITTER for a, b in itertools.pairwise(long_times))
    assert short_times[-1] - short_times[0] < 0.3  # not held back by the long code's limit
    assert short_times[-1] < long_times[1]


async def test_per_sender_limit_by_address(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with (
            memory_simulator() as sim,
            gateway(smsc(sim), limits={"senders": {"+447700900999": 2}}) as gw,
        ):
            records = [
                gw.submit(source="447700900999", destination=dest(i), text="x", dlr=False) for i in range(4)
            ]
            await wait_all(gw, records, 10)
    times = sorted(m.submitted_at for m in sim.store.select(source_addr="447700900999"))
    assert len(times) == 4
    assert times[2] - times[0] >= 1.0 - JITTER and times[3] - times[1] >= 1.0 - JITTER


async def test_route_tps_limits_the_route(autojump_clock: MockClock) -> None:
    route = [{"name": "r", "smscs": ["a"], "tps": 5}]
    with trio.fail_after(20):
        async with memory_simulator() as sim, gateway(smsc(sim), route=route) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text="x", dlr=False) for i in range(10)]
            await wait_all(gw, records, 10)
    times = stamps(sim)
    assert len(times) == 10
    assert shortest_span(times, 5) >= 1.0 - JITTER
    assert times[-1] - times[0] < 1.5
