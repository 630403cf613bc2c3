"""A cancel racing the release of a scheduled message on the shared work queue (issue 19):
a canceled message is never sent.

Two in-process gateways on one Redis prefix and one simulator (real time, loopback):
gateway G takes the released message from the work stream; gateway C cancels it. The
interleavings are made deterministic by trio's single thread: nothing runs between two
statements without an ``await``.

- C's cancel lands after G took the entry but before G's first submit_sm: G's guarded
  ``submitting`` (``WorkQueue.recheck``) finds it canceled in Redis and does not send it.
- G's ``submitting`` is in Redis before C's cancel is written: the cancel is refused
  (``CancelError``), checked and written in one step with the status there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from simulator.smsc import Simulator
from smppgw.cluster.streams import redis_client
from smppgw.cluster.workqueue import RedisWork
from smppgw.gateway.actions import CancelError
from smppgw.gateway.engine import Gateway
from smppgw.gateway.workqueue import WorkQueue
from smppgw.store.base import Status
from smppgw.store.redis import RedisStore
from tests.gateway.helpers import gateway, simulator, smsc, wait_until


def _store(url: str, prefix: str) -> RedisStore:
    store = RedisStore(url, prefix=prefix, clock_offset=time.time() - trio.current_time())
    store.work_queue = True  # scheduled ones wait in P:sched, queued ones on P:work
    return store


@asynccontextmanager
async def _pair(url: str, prefix: str) -> AsyncIterator[tuple[Gateway, Gateway, WorkQueue, Simulator]]:
    """(C, G, G's work queue, the simulator)."""
    async with simulator() as sim, redis_client(url) as client:
        store_c, store_g = _store(url, prefix), _store(url, prefix)
        async with gateway(smsc(sim), store=store_c) as c, gateway(smsc(sim), store=store_g) as g:
            c.intake.handing = g.intake.handing = True
            work = WorkQueue(g, RedisWork(client, prefix), store_g)
            await work.stream.start()
            for d in g.smscs.values():
                d.dispatcher.recheck = work.recheck  # (as WorkQueue.run does)
            yield c, g, work, sim
        store_c.close()
        store_g.close()


def _seen(sim: Simulator) -> list[str]:
    """The destinations of the submit_sm the simulator took."""
    return [m.destination_addr for m in sim.store.select(limit=1000)]


async def _released(c: Gateway, work: WorkQueue, to: str) -> str:
    """A message C accepted for 0.2 s from now, released by the script onto P:work; its
    entry read by G (not yet taken). Returns the message id."""
    record = c.submit(source="12345", destination=to, text="later", send_at=trio.current_time() + 0.2)
    assert record.status is Status.SCHEDULED
    await trio.sleep(0.3)
    assert await work.stream.release(10) == 1
    entries = await work.stream.read(10, 0.5)
    assert [m for _, m in entries] == [record.id]
    work._take(entries, claimed=False)  # G restores it: its schedule releases it at once
    return record.id


async def test_a_cancel_before_the_first_send_stops_it(redis_url: str, redis_prefix: str) -> None:
    async with _pair(redis_url, redis_prefix) as (c, g, work, sim):
        message_id = await _released(c, work, "447700900901")
        canceled = c.cancel(message_id)  # (no await since the take: G has sent nothing)
        assert canceled.status is Status.CANCELED
        g.submit(source="12345", destination="447700900902", text="now")  # onto P:work
        work._take(await work.stream.read(10, 0.5), claimed=False)
        assert await wait_until(lambda: "447700900902" in _seen(sim), 5)  # (G's bind works)
        await trio.sleep(0.5)  # the canceled one had as long
        fresh = RedisStore(redis_url, prefix=redis_prefix)
        found = fresh.get(message_id)
        fresh.close()
        assert found is not None and found.status is Status.CANCELED
        assert "447700900901" not in _seen(sim)  # the canceled one never sent


async def test_a_cancel_after_the_first_send_is_refused(redis_url: str, redis_prefix: str) -> None:
    async with _pair(redis_url, redis_prefix) as (c, g, work, sim):
        message_id = await _released(c, work, "447700900903")
        stale = c.store.get(message_id)  # C's copy, read while it was still scheduled
        assert stale is not None and stale.status is Status.SCHEDULED
        c.store.take_work([message_id])  # C holds that copy: its cancel reads no fresher one
        taken = g.store.get(message_id)
        assert taken is not None
        assert await wait_until(lambda: taken.status not in (Status.SCHEDULED, Status.QUEUED), 5)
        with pytest.raises(CancelError):
            c.cancel(message_id)  # checked against Redis, where G wrote submitting first
        assert await wait_until(lambda: "447700900903" in _seen(sim), 5)
        await trio.sleep(0.3)  # (its receipt may reach C's bind, which does not look in Redis)
        g.store.commit()
        fresh = RedisStore(redis_url, prefix=redis_prefix)
        found = fresh.get(message_id)
        fresh.close()
        assert found is not None and found.status in (Status.SUBMITTED, Status.DELIVERED), found.status
        assert _seen(sim).count("447700900903") == 1
