"""Quiet hours at acceptance: a message the rules hold (``twoway.quiet``) becomes
``scheduled`` for the window's next opening in the recipient's local time.

The rules are pure and work in wall-clock time; the gateway's records are on the trio
clock. ``QuietDesk`` turns one into the other with the store's offset (``wall``), and
reads the recipient's zones from its number at the edge (``support.phone.time_zones``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from smppgw.store.base import MessageRecord
from smppgw.support.phone import time_zones
from smppgw.twoway.quiet import QuietRules

__all__ = ["QuietDesk"]


class QuietDesk:
    def __init__(self, rules: QuietRules, wall: Callable[[float], float]) -> None:
        """``wall``: a trio-clock time as wall-clock seconds (``StoreControl.wall``)."""
        self.rules = rules
        self.wall = wall

    def __call__(self, record: MessageRecord, route: str | None) -> float | None:
        """When ``record`` may be sent (trio clock), if later than it would be; else None."""
        if not record.tags:
            return None  # quiet hours hold tagged messages only (marketing by default)
        at = record.created_at if record.send_at is None else max(record.created_at, record.send_at)
        now = datetime.fromtimestamp(self.wall(at), UTC)
        opening = self.rules.hold_until(
            now, tags=record.tags, route=route, source=record.source,
            number_zones=time_zones(record.destination),
        )  # fmt: skip
        return None if opening is None else at + (opening - now).total_seconds()
