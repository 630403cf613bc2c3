"""One timer task for the whole simulator: a heap of (when, callback).

Delayed responses, receipts, handset replies and redeliveries are each one heap entry,
never one trio task, so a simulator with 100,000 receipts pending costs 100,000 tuples.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._counter = itertools.count()
        self._wake = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        heap = self._heap
        if not heap or when < heap[0][0]:
            self._wake.set()
        heapq.heappush(heap, (when, next(self._counter), fn, args))

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        self.call_at(trio.current_time() + delay, fn, *args)

    def clear(self, keep: Callable[[Callable[..., Any]], bool] | None = None) -> None:
        """Drop every pending call, or every one whose function ``keep`` does not want."""
        heap = self._heap  # changed in place: ``run`` holds it
        if keep is None:
            heap.clear()
            return
        heap[:] = [entry for entry in heap if keep(entry[2])]
        heapq.heapify(heap)

    async def run(self) -> None:
        heap = self._heap
        while True:
            if not heap:
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            when = heap[0][0]
            if when > trio.current_time():
                with trio.move_on_at(when):
                    await self._wake.wait()
                self._wake = trio.Event()
                continue
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                _, _, fn, args = heapq.heappop(heap)
                try:
                    fn(*args)
                except Exception:
                    log.exception("scheduled callback %r failed", fn)
            await trio.lowlevel.checkpoint()
