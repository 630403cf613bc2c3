"""Throttling arithmetic (checklist 80): sliding windows, token buckets, AIMD."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppgw.policy.throttle import AdaptiveRate, SlidingWindow, TokenBucket

rates = st.floats(min_value=0.2, max_value=200, allow_nan=False)
steps = st.lists(st.floats(min_value=0.0, max_value=0.7, allow_nan=False), min_size=1, max_size=300)


def capacity(rate: float, window: float = 1.0) -> int:
    return max(1, int(rate * window))


def span(rate: float, window: float = 1.0) -> float:
    return max(window, capacity(rate, window) / rate)


def most_in(times: list[float], length: float) -> int:
    """Most sends in any half-open interval of ``length``."""
    return max((sum(1 for u in times if t <= u < t + length - 1e-9) for t in times), default=0)  # float slack


@given(rate=rates, steps=steps, window=st.sampled_from([0.5, 1.0, 2.0]))
@settings(max_examples=200, deadline=None)
def test_sliding_window_never_allows_more_than_rate_in_any_window(
    rate: float, steps: list[float], window: float
) -> None:
    limiter = SlidingWindow(rate, window)
    now, sent = 0.0, []
    for step in steps:
        now += step
        if limiter.delay(now) == 0.0:
            sent.append(now)
    assert most_in(sent, window) <= capacity(rate, window)
    if rate * window >= 1:
        assert most_in(sent, window) <= rate * window
    else:  # 0.5/s: one send per 2 s
        assert all(b - a >= 1 / rate - 1e-9 for a, b in itertools.pairwise(sent))


@given(rate=rates, steps=steps)
@settings(max_examples=200, deadline=None)
def test_sliding_window_wait_time_is_exact(rate: float, steps: list[float]) -> None:
    """Waiting what ``wait_time`` says is enough, and no shorter wait would do."""
    limiter = SlidingWindow(rate)
    now = 0.0
    for step in steps:
        now += step
        wait = limiter.wait_time(now)
        if wait > 0:
            if wait > 1e-9:  # else it is float rounding
                assert limiter.wait_time(now + wait * 0.999) > 0
            now += wait
            assert limiter.wait_time(now) < 1e-9  # 0.0 but for float rounding
        limiter.record(now)


@given(
    ops=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=0.5), st.floats(min_value=0.5, max_value=60)),
        min_size=1,
        max_size=300,
    )
)
@settings(max_examples=200, deadline=None)
def test_sliding_window_with_changing_rates(ops: list[tuple[float, float]]) -> None:
    """However the rate moves (AIMD), each send respects the rate in force when it went."""
    limiter = SlidingWindow(10.0)
    now, sent = 0.0, []
    for step, rate in ops:
        now += step
        limiter.set_rate(rate)
        if limiter.delay(now) == 0.0:
            sent.append((now, rate))
    for i, (t, rate) in enumerate(sent):
        in_window = sum(1 for u, _ in sent[: i + 1] if u > t - span(rate) + 1e-9)  # float slack
        assert in_window <= capacity(rate)


def test_fractional_rate_counts_over_the_whole_window() -> None:
    limiter = SlidingWindow(15.6)
    assert all(limiter.delay(0.0) == 0.0 for _ in range(15))
    assert limiter.delay(0.0) > 0
    # Not before a whole second has passed: 15 more at 0.97 s would make 30 in one second.
    assert limiter.wait_time(0.97) == pytest.approx(0.03)
    assert limiter.wait_time(1.0) == 0.0


def test_sliding_window_slow_rate_and_big_requests() -> None:
    slow = SlidingWindow(0.5)
    assert slow.delay(0.0) == 0.0
    assert slow.wait_time(1.0) == pytest.approx(1.0)
    assert slow.delay(2.0) == 0.0
    big = SlidingWindow(3)
    assert big.delay(0.0, tokens=5) == 0.0  # more than capacity: alone, when empty
    assert big.in_window == 3
    assert big.wait_time(0.5, tokens=5) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        SlidingWindow(0)
    with pytest.raises(ValueError):
        big.set_rate(-1)


def test_token_bucket() -> None:
    bucket = TokenBucket(10, burst=5)
    assert all(bucket.take(0.0) for _ in range(5))
    assert not bucket.take(0.0)
    assert bucket.delay(0.0) == pytest.approx(0.1)
    assert bucket.take(0.1)
    assert bucket.tokens == pytest.approx(0.0)
    bucket.set_rate(1.0, 1.0, burst=2)
    assert bucket.tokens == pytest.approx(2.0)
    assert TokenBucket(0.5).burst == 1.0
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_adaptive_rate_cuts_at_most_once_per_hold() -> None:
    aimd = AdaptiveRate(40, hold=1.0)
    assert aimd.rate == 40
    assert aimd.throttled(10.0)
    assert aimd.rate == 20
    assert not aimd.throttled(10.2)  # the same burst of rejects: one signal
    assert not aimd.throttled(10.99)
    assert aimd.rate == 20
    assert aimd.throttled(11.0)
    assert aimd.rate == 10
    for t in range(12, 30):
        aimd.throttled(float(t))
    assert aimd.rate == aimd.floor == 1.0  # never below the floor


def test_adaptive_rate_recovers_additively_to_the_ceiling() -> None:
    aimd = AdaptiveRate(40, increase=2.0, hold=1.0)
    aimd.throttled(0.0)
    assert aimd.rate == 20
    aimd.wait_time(0.5)
    assert aimd.rate == 20  # no growth within the hold
    samples = {}
    t = 0.5
    while t < 20:
        t = round(t + 0.1, 1)
        aimd.wait_time(t)
        samples[t] = aimd.rate
    assert samples[1.0] == 20  # growth starts when the hold ends
    assert samples[5.5] == pytest.approx(20 + 2.0 * 4.5)
    increments = [samples[round(1.1 + i / 10, 1)] - samples[round(1.0 + i / 10, 1)] for i in range(50)]
    assert increments == pytest.approx([0.2] * 50)  # linear in time
    assert samples[12.0] == 40 and max(samples.values()) == 40  # capped at the ceiling


def test_adaptive_rate_limits_sends() -> None:
    aimd = AdaptiveRate(4, hold=1.0)
    assert [aimd.delay(0.0) for _ in range(4)] == [0.0] * 4
    assert aimd.delay(0.0) == pytest.approx(1.0)
    aimd.throttled(0.0)
    assert aimd.rate == 2
    assert aimd.wait_time(1.0) == 0.0
    aimd.record(1.0, tokens=2)
    assert aimd.wait_time(1.5) > 0


def test_congestion_state() -> None:
    aimd = AdaptiveRate(40, increase=2.0, hold=1.0)
    aimd.congestion(95, 0.0)  # >= 90: nearing congestion, cut like a throttle
    assert aimd.rate == 20
    aimd.congestion(99, 0.5)  # within the hold: one signal
    assert aimd.rate == 20
    aimd.wait_time(1.5)  # counts from the end of the hold, not from the cut
    grown = aimd.rate
    assert grown == pytest.approx(20 + 2.0 * 0.5)
    aimd.congestion(85, 2.5)  # 80-89, "optimum": no growth across the report
    aimd.wait_time(2.5)
    assert aimd.rate == grown
    aimd.congestion(50, 3.0)  # below 80: no effect
    aimd.wait_time(3.5)
    assert aimd.rate == pytest.approx(grown + 2.0 * 1.0)


def test_adaptive_rate_arguments() -> None:
    with pytest.raises(ValueError):
        AdaptiveRate(0)
    with pytest.raises(ValueError):
        AdaptiveRate(10, decrease=1.0)
    small = AdaptiveRate(0.5)
    assert small.floor == 0.5 and math.isclose(small.increase, 0.05)
