"""Token buckets: throttling is arithmetic with an injected ``now`` (STYLE 3.8).

Used by the gateway (send no faster than a carrier allows) and by the simulator (answer
ESME_RTHROTTLED above an account's TPS). The adapter sleeps; this module only counts.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


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
