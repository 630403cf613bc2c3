"""A WARNING that a peer can trigger once per PDU, logged at most once per interval.

A flood (an SMSC sending a million MO parts that never complete, a receipt storm) must
not become a log storm: the first occurrence is logged at once, the rest of the interval
only counted, and the next line says how many were left out. The counts that matter are
in the metrics; the log line is for the operator to notice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog", "escape"]


def escape(value: str, limit: int = 64) -> str:
    """A value that came from the network, safe for one log line: no control characters
    (a newline would forge a line), at most ``limit`` characters."""
    out = value[:limit].encode("unicode_escape").decode("ascii")
    return out + "..." if len(value) > limit else out


class RateLimitedLog:
    """``emit(key, msg, *args)``: a WARNING, at most one line per ``key`` per ``interval`` seconds."""

    def __init__(
        self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def emit(self, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the interval; True if logged."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        left_out = self._suppressed.pop(key, 0)
        if left_out:
            self._log.warning(msg + " (%d more like it not logged)", *args, left_out)
        else:
            self._log.warning(msg, *args)
        return True
