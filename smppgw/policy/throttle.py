"""Token buckets: throttling is arithmetic with an injected ``now`` (STYLE 3.8).

Used by the gateway (send no faster than a carrier allows) and by the simulator (answer
ESME_RTHROTTLED above an account's TPS). The adapter sleeps; this module only counts.
"""

from __future__ import annotations

from collections import deque

__all__ = ["AdaptiveRate", "SlidingWindow", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. Starts full.

    A plain slotted class: ``take``/``delay`` run once per message on the hot path.
    """

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        self._tokens = self.burst
        self._updated: float | None = None

    def _refill(self, now: float) -> None:
        updated = self._updated
        if updated is not None and now > updated:
            self._tokens = min(self.burst, self._tokens + (now - updated) * self.rate)
        if updated is None or now > updated:
            self._updated = now

    def take(self, now: float, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if available now; False (and nothing taken) otherwise."""
        self._refill(now)
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

    def delay(self, now: float, tokens: float = 1.0) -> float:
        """Take ``tokens`` if available (return 0.0), else the seconds to wait first."""
        self._refill(now)
        if self._tokens >= tokens:
            self._tokens -= tokens
            return 0.0
        return (tokens - self._tokens) / self.rate

    def set_rate(self, rate: float, now: float, burst: float | None = None) -> None:
        """Change the rate (AIMD, operator action) without losing accrued tokens."""
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._refill(now)
        self.rate = float(rate)
        if burst is not None:
            self.burst = float(burst)
        self._tokens = min(self._tokens, self.burst)

    @property
    def tokens(self) -> float:
        return self._tokens


class SlidingWindow:
    """At most ``rate`` sends in *any* ``window``-second interval (checklist item 80).

    A token bucket lets ``rate + burst`` through in some one-second windows; carriers
    count per second, so the gateway uses an exact log of the last sends instead. The
    capacity is ``rate * window`` sends (at least one: 0.5/s becomes 1 per 2 s).
    """

    __slots__ = ("_capacity", "_sent", "_span", "name", "rate", "window")

    def __init__(self, rate: float, window: float = 1.0, *, name: str = "") -> None:
        """``name``: what it limits (``sender:<address>``, ``route:<name>``), the key of
        the same limit when it is shared between gateways (``gateway.shared``)."""
        if rate <= 0 or window <= 0:
            raise ValueError(f"rate and window must be > 0, got {rate}, {window}")
        self.name = name
        self.window = window
        self._sent: deque[float] = deque()
        self.rate = 0.0
        self._capacity = 1
        self._span = window
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate = float(rate)
        self._capacity = max(1, int(rate * self.window))
        # Count over the whole window (a shorter span would let two full bursts into one
        # window at a fractional rate); longer only when rate * window < 1.
        self._span = max(self.window, self._capacity / self.rate)
        # The log is kept whole: after a cut, sends already made still count.

    def wait_time(self, now: float, tokens: int = 1) -> float:
        """Seconds until ``tokens`` sends fit (0.0: now); records nothing."""
        sent, span = self._sent, self._span
        while sent and sent[0] <= now - span:
            sent.popleft()
        room = self._capacity - len(sent)
        if room >= tokens:
            return 0.0
        if tokens > self._capacity:  # never fits: let it through alone when empty
            return 0.0 if not sent else sent[-1] + span - now
        return sent[tokens - room - 1] + span - now

    def record(self, now: float, tokens: int = 1) -> None:
        """Count ``tokens`` sends at ``now`` (after ``wait_time`` said 0.0)."""
        self._sent.extend([now] * min(tokens, self._capacity))

    def delay(self, now: float, tokens: int = 1) -> float:
        """Record ``tokens`` sends at ``now`` if allowed (0.0), else seconds to wait."""
        wait = self.wait_time(now, tokens)
        if wait <= 0:
            self.record(now, tokens)
            return 0.0
        return wait

    @property
    def in_window(self) -> int:
        return len(self._sent)


class AdaptiveRate:
    """AIMD over a ``SlidingWindow``: settle just under a carrier's real limit.

    On ESME_RTHROTTLED / ESME_RMSGQFUL (or a v5.0 congestion_state >= 90) the rate is cut
    multiplicatively, at most once per ``hold`` seconds (one burst of rejects is one
    signal); otherwise it grows additively by ``increase`` sends/s per second up to
    ``ceiling``. The caller counts *segments*: one token per submit_sm.
    """

    __slots__ = ("_last_cut", "_last_grow", "ceiling", "decrease", "floor", "hold", "increase", "limiter")

    def __init__(
        self,
        ceiling: float,
        *,
        floor: float | None = None,
        decrease: float = 0.5,
        increase: float | None = None,
        hold: float = 1.0,
    ) -> None:
        if ceiling <= 0:
            raise ValueError(f"ceiling must be > 0, got {ceiling}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be within (0, 1), got {decrease}")
        self.ceiling = float(ceiling)
        self.floor = float(floor) if floor is not None else min(1.0, self.ceiling)
        self.decrease = decrease
        # Default: recover from one halving in about 20 seconds.
        self.increase = float(increase) if increase is not None else max(0.05, self.ceiling / 40)
        self.hold = hold
        self.limiter = SlidingWindow(self.ceiling)
        self._last_cut: float | None = None
        self._last_grow: float | None = None

    @property
    def rate(self) -> float:
        return self.limiter.rate

    def delay(self, now: float, tokens: int = 1) -> float:
        """Seconds to wait before sending ``tokens`` segments (0.0: go, recorded)."""
        self._grow(now)
        return self.limiter.delay(now, tokens)

    def wait_time(self, now: float, tokens: int = 1) -> float:
        self._grow(now)
        return self.limiter.wait_time(now, tokens)

    def record(self, now: float, tokens: int = 1) -> None:
        self.limiter.record(now, tokens)

    def _grow(self, now: float) -> None:
        last = self._last_grow
        self._last_grow = now
        if last is None or now <= last or self.limiter.rate >= self.ceiling:
            return
        if self._last_cut is not None:
            if now - self._last_cut < self.hold:
                return
            last = max(last, self._last_cut + self.hold)  # no growth for time within the hold
        self.limiter.set_rate(min(self.ceiling, self.limiter.rate + self.increase * (now - last)))

    def throttled(self, now: float) -> bool:
        """The carrier pushed back. Returns True if the rate was cut (not within hold)."""
        if self._last_cut is not None and now - self._last_cut < self.hold:
            return False
        self._last_cut = self._last_grow = now
        self.limiter.set_rate(max(self.floor, self.limiter.rate * self.decrease))
        return True

    def congestion(self, state: int, now: float) -> None:
        """v5.0 congestion_state TLV (SMPP-REFERENCE §3): >= 90 nearing congestion."""
        if state >= 90:
            self.throttled(now)
        elif state >= 80:  # "optimum": hold the current rate
            self._last_grow = now
