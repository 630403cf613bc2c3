"""The dispatcher's once-a-second validity walk (``gateway.queues.JobQueues``): skipped
while no queued part can have lapsed, never skipped past one that has, whichever way
the part came into the queues (``put``, back at the head, parked by a limit)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pytest

from smppgw.core.pdu import SubmitSm
from smppgw.gateway.jobs import Job
from smppgw.gateway.queues import JobQueues
from smppgw.store.base import MessageRecord, PartRecord, Status
from tests.store.helpers import record


class Queues(JobQueues):
    """The queues alone, as ``Dispatcher.__init__`` sets them; counts its walks."""

    def __init__(self) -> None:
        self.name = "a"
        self.ready = deque()
        self._levels = [self.ready, deque(), deque(), deque()]
        self._high = 0
        self._delayed = []
        self._lapses_after = math.inf
        self.finished: list[tuple[str, Status]] = []
        self._on_final = self._final
        self.walks = 0

    def _final(self, message: MessageRecord, status: Status, reason: str, source: str) -> None:
        message.status = status
        self.finished.append((message.id, status))

    def _all(self) -> list[Job]:
        self.walks += 1
        return super()._all()

    def put(self, job: Job) -> None:  # what Dispatcher.put does with the queues
        self.ready.append(job)
        if job.message.validity is not None:
            self._watch(job)


def job(i: int, created: float, validity: int | None = None) -> Job:
    message = record(i, validity=validity)
    part = PartRecord(index=1, total=1)
    message.parts.append(part)
    return Job(message, part, SubmitSm(source_addr="12345", destination_addr=message.destination), created)


def test_no_walk_while_no_queued_part_has_a_validity() -> None:
    q = Queues()
    for i in range(100):
        q.put(job(i, created=0.0))
    assert [q.expire_validity(float(t)) for t in range(1, 600)] == [0] * 599
    assert q.walks == 0 and len(q.ready) == 100


def test_a_lapsed_part_is_expired_on_the_first_walk_past_its_time() -> None:
    q = Queues()
    for i in range(50):
        q.put(job(i, created=0.0))
    late = job(50, created=10.0, validity=5)  # lapsed once less than 1 s is left: after 14 s
    q.put(late)
    assert q.expire_validity(13.5) == 0 and q.walks == 0
    assert q.expire_validity(14.5) == 1
    assert q.finished == [(late.message.id, Status.EXPIRED)] and len(q.ready) == 50
    # Nothing with a validity is left: no walk again until one comes.
    walks = q.walks
    assert q.expire_validity(100.0) == 0 and q.walks == walks
    q.put(job(51, created=100.0, validity=3))
    assert q.expire_validity(101.5) == 0 and q.walks == walks
    assert q.expire_validity(102.5) == 1


def test_the_earliest_of_several_sets_the_next_walk() -> None:
    q = Queues()
    first, second = job(1, created=0.0, validity=30), job(2, created=0.0, validity=10)
    q.put(first)
    q.put(second)
    assert q.expire_validity(8.5) == 0 and q.walks == 0  # lapsed past 9 s (less than 1 s left)
    assert q.expire_validity(9.5) == 1 and q.finished == [(second.message.id, Status.EXPIRED)]
    assert q.expire_validity(20.0) == 0  # the walk set the next time from the one left
    walks = q.walks
    assert q.expire_validity(28.9) == 0 and q.walks == walks
    assert q.expire_validity(29.5) == 1


@pytest.mark.parametrize("way", ["unpop", "park"])
def test_a_part_out_of_the_queues_during_a_walk_is_watched_when_it_comes_back(way: str) -> None:
    # The dispatcher holds a part across an await (the account's rate, a shared limit);
    # a walk meanwhile does not see it, and sets the next time without it.
    from smppgw.gateway.dispatcher import Dispatcher

    q = Queues()
    held = job(1, created=0.0, validity=5)
    q.put(held)
    q.ready.popleft()  # taken by the run loop
    q.put(job(2, created=0.0, validity=60))
    assert q.expire_validity(5.0) == 0  # the walk ran: only the other is queued
    assert q._lapses_after > 50
    back: Any = Dispatcher._unpop if way == "unpop" else Dispatcher._park
    extra: tuple[Any, ...] = () if way == "unpop" else (4.0,)
    if way == "park":
        q._order = iter(range(10))  # type: ignore[attr-defined]
    back(q, held, *extra)
    assert q.expire_validity(5.5) == 1 and q.finished == [(held.message.id, Status.EXPIRED)]
