"""Scheduled sending: messages with a ``send_at`` wait here, ``scheduled``, until their time.

A message accepted with a ``send_at`` in the future is stored ``scheduled`` (durably,
like any accepted message) and handed to ``Schedule.add``; at its time the timer task
(``run``) releases it: ``release(record)`` plans it as a new message (the route and SMSC
chosen then, when the binds that are up are known) and queues it. A restart re-adds the
stored ``scheduled`` messages (``Gateway.restore``), so the schedule survives restarts;
a ``send_at`` that passed while the gateway was down is released at once.

The timer is a heap of ``(send_at, order, record)`` on the trio clock, woken by a
``trio.Event`` when an earlier message arrives, so a test drives it with a MockClock. A
canceled message stays in the heap until its time and is then skipped (its status is no
longer ``scheduled``); ``discard`` drops it at once for callers that need the memory.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import Any

import trio

from smppgw.store.base import MessageRecord, Status

__all__ = ["Schedule"]

_SCHEDULED = Status.SCHEDULED


class Schedule:
    def __init__(self, release: Callable[[MessageRecord], Any]) -> None:
        self._release = release
        self._heap: list[tuple[float, int, MessageRecord]] = []
        self._order = itertools.count()
        self._wake = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, record: MessageRecord) -> None:
        """Release ``record`` (``scheduled``, with ``send_at`` on the trio clock) at its time."""
        at = record.send_at if record.send_at is not None else -math.inf
        heap = self._heap
        if not heap or at < heap[0][0]:
            self._wake.set()  # the timer sleeps until a later time: wake it
        heapq.heappush(heap, (at, next(self._order), record))

    def discard(self, message_id: str) -> bool:
        """Drop the message with this id from the timer (a cancel). False if not here."""
        kept = [entry for entry in self._heap if entry[2].id != message_id]
        if len(kept) == len(self._heap):
            return False
        heapq.heapify(kept)
        self._heap = kept
        return True

    def due(self, now: float) -> list[MessageRecord]:
        """Take the messages whose time has come (still ``scheduled``), earliest first."""
        heap, out = self._heap, []
        while heap and heap[0][0] <= now:
            record = heapq.heappop(heap)[2]
            if record.status is _SCHEDULED:  # not canceled meanwhile
                out.append(record)
        return out

    async def run(self) -> None:
        """Release each message at its ``send_at``; runs until cancelled."""
        while True:
            for record in self.due(trio.current_time()):
                self._release(record)
            deadline = self._heap[0][0] if self._heap else math.inf
            self._wake = trio.Event()
            with trio.move_on_at(deadline):
                await self._wake.wait()
