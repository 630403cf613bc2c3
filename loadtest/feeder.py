"""Who sends what next: the open-loop backlog and the closed-loop budget (no I/O).

Open loop: the scheduler appends each message's intended send time (µs since start) to
``backlog`` when that time comes; whenever a sender has window room it takes from the
front. A target that stalls leaves the backlog growing with the original intended
times, so the wait shows up as latency (no coordinated omission).

Closed loop: a sender with room sends at once, as many as its window allows, until the
count or the time is used up; its intended time is its send time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

import trio

from loadtest.stats import Counters

__all__ = ["Feeder", "Sender"]


class Sender(Protocol):
    """One bind (or one HTTP worker pool) seen from the feeder."""

    @property
    def room(self) -> int: ...

    @property
    def inflight_count(self) -> int: ...

    def send_from(self, backlog: deque[int], k: int) -> None: ...

    def send_now(self, k: int, now_us: int) -> None: ...


class Feeder:
    def __init__(
        self,
        counters: Counters,
        clock_us: Callable[[], int],
        *,
        closed: bool,
        count: int | None,
        end_us: int,
    ) -> None:
        self.counters = counters
        self.clock_us = clock_us
        self.closed = closed
        self.backlog: deque[int] = deque()
        self.senders: list[Sender] = []
        self._turn = 0
        self.offering = False
        self.budget: float = count if count is not None else math.inf
        self.end_us = end_us
        self.offer_done = trio.Event()  # closed loop: count or time used up
        self.drained = trio.Event()  # offering over and nothing in flight
        self.drained_at_us: int | None = None

    # -- open loop ---------------------------------------------------------------------------

    def offer(self, intended: list[int]) -> None:
        """Intended times that just came due (already counted against the budget)."""
        self.backlog.extend(intended)
        self.counters.offered += len(intended)
        self.dispatch()

    def dispatch(self) -> None:
        """Hand the backlog to the senders with room: each batch to as few senders as
        possible (one write, one burst of responses), starting from the next sender in
        turn each time, so the binds share the load over time."""
        backlog, senders = self.backlog, self.senders
        n = len(senders)
        for i in range(n):
            if not backlog:
                break
            s = senders[(self._turn + i) % n]
            k = min(s.room, len(backlog))
            if k > 0:
                s.send_from(backlog, k)
        self._turn = (self._turn + 1) % max(n, 1)

    # -- called by a sender whose window has room ---------------------------------------------

    def on_room(self, sender: Sender) -> None:
        if not self.offering:
            self.check_drained()
            return
        if not self.closed:
            n = len(self.backlog)
            if n:
                sender.send_from(self.backlog, min(sender.room, n))
            return
        now = self.clock_us()
        if now >= self.end_us:
            self.stop_offering()
            return
        k = int(min(sender.room, self.budget))
        if k > 0:
            self.budget -= k
            self.counters.offered += k
            sender.send_now(k, now)
        if self.budget <= 0:
            self.stop_offering()

    def start_closed(self) -> None:
        self.offering = True
        for s in self.senders:
            self.on_room(s)

    def stop_offering(self) -> None:
        """No more new messages; what waits in the backlog now stays unsent."""
        if self.offering:
            self.offering = False
            self.counters.unsent += len(self.backlog)  # never sent: no latency to record
            self.backlog.clear()
            self.offer_done.set()
        self.check_drained()

    def check_drained(self) -> None:
        if self.drained.is_set() or self.offering:
            return
        if all(s.inflight_count == 0 for s in self.senders):
            self.drained_at_us = self.clock_us()
            self.drained.set()
