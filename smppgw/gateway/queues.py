"""A dispatcher's queues of parts, and what walks them: failover's ``take_unstarted``,
the housekeeping's ``expire`` (max_age) and ``expire_validity``, and ``drop`` (a cancel,
an opt-out). ``gateway.dispatcher.Dispatcher`` keeps the queues (``ready`` and the
priority levels, the ``delayed`` heap) and takes this class as its base.

``_lapses_after`` is a time before which no queued part's validity has lapsed: lowered
by every part put in (``_watch``), set again from what is left after each walk. A
message without a validity never moves it, so with none queued the walk is skipped.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from smppgw.gateway.jobs import Job
from smppgw.policy.retry import RetryPolicy
from smppgw.store.base import MessageRecord, Status

__all__ = ["JobQueues"]


class JobQueues:
    """The queue walks of ``Dispatcher`` (which sets every attribute below)."""

    name: str
    retry: RetryPolicy
    ready: deque[Job]
    _levels: list[deque[Job]]
    _high: int
    _delayed: list[tuple[float, int, Job]]
    _lapses_after: float
    _on_final: Callable[[MessageRecord, Status, str, str], Any]

    def take_unstarted(self) -> list[MessageRecord]:
        """Remove and return messages none of whose parts reached the SMSC (failover)."""
        started = {
            id(j.message) for j in self._all() if j.part.smsc_message_id is not None or j.part.attempts
        }
        moved: dict[int, MessageRecord] = {}
        for job in self._queued():
            message = job.message
            if id(message) not in started and not any(p.smsc_message_id for p in message.parts):
                moved[id(message)] = message
        self._keep(lambda j: id(j.message) not in moved)
        return list(moved.values())

    def expire(self, now: float) -> int:
        """Fail queued parts older than the retry policy's max_age (their SMSC has been
        unreachable): a message never waits forever. Returns how many were failed."""
        max_age = self.retry.max_age
        return self.drop(
            lambda j: now - j.created >= max_age,
            Status.FAILED,
            f"no bind to {self.name} within max_age ({max_age:.0f}s)",
        )

    def drop(
        self, doomed: Callable[[Job], bool], status: Status, reason: str, source: str = "gateway"
    ) -> int:
        """Remove the queued parts ``doomed`` picks (of messages not final yet) and make
        their messages final with ``status``; parts already sent are not touched.
        ``source``: who asked, for the history ("api" for an opt-out)."""
        # ``doomed`` first: mostly False and cheap (called in C), over every queued part.
        old = [j for j in self._all() if doomed(j) and not j.message.is_final]
        if not old:
            return 0
        gone = {id(j) for j in old}
        self._keep(lambda j: id(j) not in gone)
        for job in old:
            self._finish(job, status, reason, source)
        return len(old)

    def _finish(self, job: Job, status: Status, reason: str, source: str = "gateway") -> None:
        job.part.status, job.part.error = status, reason
        self._on_final(job.message, status, reason, source)

    def _all(self) -> list[Job]:
        return [*self._queued(), *(d[2] for d in self._delayed)]

    def _queued(self) -> list[Job]:
        """The ready jobs, every level (highest first)."""
        return [j for level in reversed(self._levels) for j in level]

    def _keep(self, keep: Callable[[Job], bool]) -> None:
        """Keep only the queued jobs ``keep`` accepts (each level in place: ``ready`` is
        the same deque as ``_levels[0]``)."""
        for level in self._levels:
            if level:
                kept = [j for j in level if keep(j)]
                level.clear()
                level.extend(kept)
        self._high = sum(len(level) for level in self._levels[1:])
        self._delayed = [d for d in self._delayed if keep(d[2])]
        heapq.heapify(self._delayed)

    def expire_validity(self, now: float) -> int:
        """Make ``expired`` the queued messages whose validity lapsed before they were
        sent (housekeeping, once a second). Returns how many parts were dropped.

        Only when one may have lapsed (``_lapses_after``): a walk over every queued part
        each second cost a backlog of 40,000 about 3% of the gateway's CPU, and most
        messages carry no validity at all."""
        if now < self._lapses_after:
            return 0
        lapsed = functools.partial(Job.lapsed, now=now)  # called in C: one frame per queued part, not two
        dropped = self.drop(lapsed, Status.EXPIRED, "validity lapsed before it was sent")
        self._lapses_after = min(map(Job.lapses_after, self._all()), default=math.inf)
        return dropped

    def _watch(self, job: Job) -> None:
        """``job`` (with a validity) is queued or delayed: keep ``_lapses_after`` below
        its time (every way into the queues calls this)."""
        self._lapses_after = min(self._lapses_after, job.lapses_after())
