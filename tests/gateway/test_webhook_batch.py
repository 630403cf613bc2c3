"""Batched webhook bodies (``[[webhooks.endpoint]] batch = N``, gateway.webhook_batch) without a
network: the fake client and receiver of test_notify, trio's autojump clock, the memory
store. One signed POST carries up to N events as a JSON array; a batch is retried and
dead-lettered as one; a burst to a slow batched endpoint loses no event. Over real HTTP
and SQLite: tests/api/test_webhook_batch.py."""

from __future__ import annotations

import base64
import time
from collections import deque
from typing import Any

import httpx
import pytest
import standardwebhooks
import trio
from prometheus_client import CollectorRegistry
from trio.testing import MockClock

from smppgw.gateway.notify import Webhooks
from smppgw.gateway.webhook_batch import batch_id, gather
from smppgw.gateway.webhook_config import Endpoint, WebhookSettings
from smppgw.store.base import MessageRecord, Status
from smppgw.store.memory import MemoryStore
from tests.gateway.helpers import dest, gateway, memory_simulator, smsc, wait_all
from tests.gateway.test_notify import MockClient, Receiver, count, emit, record, run_until

KEY = b"batch-secret-0123456789"


def batched(
    receiver: Receiver, size: int, wait: float = 0.05, **settings: Any
) -> tuple[Webhooks, MemoryStore, CollectorRegistry]:
    store = MemoryStore(clock_offset=time.time() - trio.current_time())
    registry = CollectorRegistry()
    endpoint = Endpoint(name="platform", url="http://platform.test/hooks", secrets=(KEY,), batch=size,
                        batch_wait=wait)  # fmt: skip
    hooks = Webhooks(
        WebhookSettings(endpoints=(endpoint,), **settings),
        store,
        registry=registry,
        client=MockClient(receiver),
    )
    store.route_events(hooks.targets)
    return hooks, store, registry


def verified(request: httpx.Request) -> list[dict[str, Any]]:
    """The body, checked by the independent Standard Webhooks implementation."""
    payload = standardwebhooks.Webhook(base64.b64encode(KEY).decode()).verify(
        request.content, dict(request.headers)
    )
    assert isinstance(payload, list)
    return payload


async def test_a_batched_endpoint_gets_signed_json_arrays_each_event_with_its_id(
    autojump_clock: MockClock,
) -> None:
    receiver = Receiver()
    hooks, store, registry = batched(receiver, 10)
    records = [record(i, Status.SUBMITTED, url=None) for i in range(50)]  # all due at once
    for r in records:
        emit(store, r)
    await run_until(hooks, lambda: store.backlog().get("platform", 0) == 0)
    bodies = [verified(request) for request, _ in receiver.seen]
    assert [len(b) for b in bodies] == [10, 10, 10, 10, 10]  # 50 events: five full batches
    events = [e for b in bodies for e in b]
    assert sorted(e["id"] for e in events) == sorted(f"evt_{r.id}_1" for r in records)
    for (request, _), body in zip(receiver.seen, bodies, strict=True):
        assert request.headers["webhook-id"].startswith("batch_")
        assert request.headers["webhook-id"] not in {e["id"] for e in body}
    assert len({r.headers["webhook-id"] for r, _ in receiver.seen}) == 5
    # The stored bodies, byte for byte: the array is what the replay log holds.
    assert events == [e.to_dict() for e in store.events(limit=100)]
    assert count(registry, "delivered", "platform") == 50
    assert store.backlog().get("platform", 0) == 0


async def test_a_short_batch_goes_out_after_batch_wait(autojump_clock: MockClock) -> None:
    receiver = Receiver()
    hooks, store, registry = batched(receiver, 100, wait=2.0)
    for i in range(3):
        emit(store, record(i, Status.SUBMITTED, url=None))
    start = trio.current_time()
    await run_until(hooks, lambda: count(registry, "delivered", "platform") == 3)
    [(request, at)] = receiver.seen
    assert len(verified(request)) == 3
    assert 2.0 <= at - start < 2.5  # waited for more, then sent what it had


async def test_a_batch_is_retried_whole_with_the_same_id_then_dead_whole(autojump_clock: MockClock) -> None:
    receiver = Receiver(lambda n: httpx.Response(503 if n <= 2 else 204))
    hooks, store, registry = batched(receiver, 50, backoff=1.0)
    records = [record(i, Status.SUBMITTED, url=None) for i in range(5)]
    for r in records:
        emit(store, r)
    await run_until(hooks, lambda: store.backlog().get("platform", 0) == 0)  # recorded, not only sent
    assert len(receiver.seen) == 3 and count(registry, "delivered", "platform") == 5
    assert len({r.headers["webhook-id"] for r, _ in receiver.seen}) == 1  # the same batch each time
    assert len({r.content for r, _ in receiver.seen}) == 1
    assert count(registry, "retry", "platform") == 10  # two failed attempts of five events
    rows = [d for r in records for d in store.deliveries(subject=r.id)]
    assert {(d.state, d.attempts, d.last_status) for d in rows} == {("delivered", 3, 204)}

    gone = Receiver(lambda n: httpx.Response(410))
    hooks, store, registry = batched(gone, 50)
    for r in records:
        emit(store, r)
    await run_until(hooks, lambda: len(store.deliveries(state="dead")) == 5)
    assert len(gone.seen) == 1  # refused for good: the batch is dead at once, every event of it
    assert {(d.state, d.attempts, d.last_status) for d in store.deliveries(state="dead")} == {
        ("dead", 1, 410)
    }
    gone.answer = lambda n: httpx.Response(204)
    assert store.retry_dead(None, hooks._clock()) == 5
    await run_until(hooks, lambda: count(registry, "delivered", "platform") == 5)
    assert len(gone.seen) == 2 and len(verified(gone.seen[1][0])) == 5


def test_a_batch_id_is_made_from_its_events() -> None:
    from smppgw.store.base import Delivery

    def d(i: int) -> Delivery:
        return Delivery(seq=i, event_id=f"evt_{i}", type="message.status", subject="s", endpoint="e", url="u")

    assert batch_id([d(1), d(2)]) == batch_id([d(1), d(2)])
    assert batch_id([d(1), d(2)]) != batch_id([d(1), d(3)]) != batch_id([d(1)])


async def test_a_burst_of_20000_messages_to_a_slow_batched_receiver_loses_no_event(
    autojump_clock: MockClock,
) -> None:
    receiver = Receiver(delay=0.5)  # 8 POSTs at a time, each half a second
    hooks, store, registry = batched(receiver, 100, batch=512)
    n = 20_000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hooks.run)
        async with memory_simulator() as sim, gateway(smsc(sim, window=256), store=store, events=store) as gw:
            records = gw.submit_many(
                [{"source": "12345", "destination": dest(i), "text": "hi", "dlr": False} for i in range(n)]
            )
            assert all(isinstance(r, MessageRecord) for r in records)
            await wait_all(gw, records, 3600)  # type: ignore[arg-type]
        with trio.fail_after(3600):
            while count(registry, "delivered", "platform") < n:
                await trio.sleep(1)
        nursery.cancel_scope.cancel()
    ids = [e["id"] for request, _ in receiver.seen for e in verified(request)]
    assert len(ids) == n == len(set(ids))  # every event, once (no failures, so no retries)
    assert set(ids) == {f"evt_{r.id}_1" for r in records}  # type: ignore[union-attr]
    assert len(receiver.seen) < n / 50  # batches, mostly full
    assert receiver.most_busy == 8
    assert store.backlog().get("platform", 0) == 0


async def test_a_filling_batch_wakes_when_deliveries_arrive_and_gives_up_after_its_wait(
    autojump_clock: MockClock,
) -> None:
    queue: deque[Any] = deque()
    arrived = trio.Event()

    async def top_up(n: int, after: float) -> None:
        nonlocal arrived
        await trio.sleep(after)
        queue.extend(range(n))
        arrived.set()
        arrived = trio.Event()

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(top_up, 3, 0.010)
        nursery.start_soon(top_up, 2, 0.017)  # the fifth arrives at 17 ms: it returns then
        await gather(queue, 5, 1.0, lambda: arrived)
        assert trio.current_time() - start == pytest.approx(0.017)
    assert len(queue) == 5
    queue.clear()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(top_up, 2, 0.010)  # never a whole batch: the wait decides
        await gather(queue, 5, 0.05, lambda: arrived)
    assert trio.current_time() - start == pytest.approx(0.05)
    assert len(queue) == 2
