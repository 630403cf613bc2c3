"""Wall-clock times as the API and the events show them: ISO 8601 in UTC with
milliseconds and a Z, ``2026-12-06T14:03:22.123Z``. One function for both, so a message
view and its events never disagree about a time.

Every status change writes an event with its time, so this runs once or more per
message: the date and time of day are formatted once per second, then only the
milliseconds (about 0.3 us against 2 us for ``datetime.isoformat``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["iso"]


class _Cache:
    """The last second formatted, and its text up to the seconds; the last time asked
    and its text (a status event shows its time twice, ``occurred_at`` and the
    message's ``updated_at``: the same time, most often)."""

    second = math.nan
    prefix = ""
    last = (math.nan, "")  # one tuple: read and replaced whole


def iso(wall: float) -> str:
    """``wall`` (seconds since the epoch) as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, milliseconds
    truncated as ``datetime.isoformat(timespec="milliseconds")`` does."""
    last = _Cache.last
    if wall == last[0]:
        return last[1]
    second = math.floor(wall)
    micro = round((wall - second) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micro >= 1_000_000:  # rounded up into the next second
        second, micro = second + 1, 0
    if second != _Cache.second:
        _Cache.prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _Cache.second = second
    text = f"{_Cache.prefix}.{micro // 1000:03d}Z"
    _Cache.last = (wall, text)
    return text
