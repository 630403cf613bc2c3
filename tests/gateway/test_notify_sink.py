"""A sink endpoint of the webhook worker (``notify.Sink``: the Redis events stream,
``cluster.stream_events``), without Redis: a fake sink, the memory store, trio's
autojump clock. Its deliveries go in the order written, in batches, one at a time; a
sink that fails keeps them (never dead, whatever ``retry_for``); HTTP endpoints beside
it are not held up. With a real Redis, through the app: tests/redis/test_streams.py."""

from __future__ import annotations

import time
from collections.abc import Sequence

import trio
from prometheus_client import CollectorRegistry
from trio.testing import MockClock

from smppgw.gateway.notify import Webhooks
from smppgw.gateway.webhook_config import Endpoint, WebhookSettings
from smppgw.store.base import DEAD, DELIVERED, Delivery, Status, Target
from smppgw.store.memory import MemoryStore
from tests.gateway.test_notify import MockClient, Receiver, emit, no_dns, record, run_until


class FakeSink:
    batch = 16

    def __init__(self, away_until: float) -> None:
        self.target = Target(endpoint="stream:events", url="redis-stream:test:events")
        self.away_until = away_until
        self.sent: list[Delivery] = []
        self.failures = 0
        self.busy = self.most_busy = 0
        self.largest = 0

    async def send(self, deliveries: Sequence[Delivery]) -> None:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await trio.sleep(0.001)
            if trio.current_time() < self.away_until:
                self.failures += 1
                raise ConnectionError("Redis is away")
            self.largest = max(self.largest, len(deliveries))
            self.sent += deliveries
        finally:
            self.busy -= 1


async def test_a_sink_gets_every_event_in_order_and_keeps_them_while_it_is_away(
    autojump_clock: MockClock,
) -> None:
    sink = FakeSink(away_until=trio.current_time() + 120)  # away for longer than retry_for
    store = MemoryStore(clock_offset=time.time() - trio.current_time())
    receiver = Receiver()
    registry = CollectorRegistry()
    hooks = Webhooks(
        WebhookSettings(retry_for=30.0, callback_secrets=(b"secret-secret-secret",)), store,
        registry=registry, client=MockClient(receiver), check_target=no_dns, sinks=[sink],
    )  # fmt: skip
    store.route_events(hooks.targets)
    for i in range(100):
        emit(store, record(i, Status.QUEUED, Status.SUBMITTED, Status.EN_ROUTE, Status.DELIVERED))
    await run_until(
        hooks,  # until all are sent and recorded delivered
        lambda: (
            len(sink.sent) >= 300 and len(receiver.seen) >= 300 and not store.backlog().get("stream:events")
        ),
    )
    assert sink.failures >= 2  # it was away, and tried again after a pause
    assert receiver.seen[-1][1] < 120  # the callback URL's deliveries did not wait for it
    assert len({d.seq for d in sink.sent}) == 300  # each once
    # In the order the store hands them out (the memory store: by time, then as written).
    per_subject: dict[str, list[int]] = {}
    for d in sink.sent:
        per_subject.setdefault(d.subject, []).append(int(d.event_id.rsplit("_", 1)[1]))
    assert all(s == [1, 2, 3] for s in per_subject.values()) and len(per_subject) == 100  # in order
    assert sink.most_busy == 1 and sink.largest <= sink.batch
    assert not store.deliveries(state=DEAD, limit=1000)
    states = {d.state for d in store.deliveries(state=DELIVERED, limit=1000) if d.endpoint == "stream:events"}
    assert states == {DELIVERED}
    assert (
        registry.get_sample_value(
            "smppgw_webhooks_total", {"endpoint": "stream:events", "result": "delivered"}
        )
        == 300
    )


def test_the_targets_of_an_event_are_the_endpoints_that_want_it_its_callback_then_the_sinks() -> None:
    store = MemoryStore(clock_offset=time.time())
    endpoints = (
        Endpoint(name="all", url="http://all.test/"),
        Endpoint(name="inbound", url="http://in.test/", events=("message.inbound",)),
    )
    sink = FakeSink(away_until=0.0)
    hooks = Webhooks(
        WebhookSettings(endpoints=endpoints), store, registry=CollectorRegistry(),
        client=MockClient(Receiver()), sinks=[sink],
    )  # fmt: skip
    url = "http://cb.test:8080/hook?token=1"
    callback = Target(endpoint="callback:cb.test:8080", url=url)
    for _ in range(2):  # (the second time from what the first made)
        assert list(hooks.targets("message.status", None)) == [
            Target(endpoint="all", url="http://all.test/"), sink.target,
        ]  # fmt: skip
        assert list(hooks.targets("message.status", url)) == [
            Target(endpoint="all", url="http://all.test/"), callback, sink.target,
        ]  # fmt: skip
        assert list(hooks.targets("message.inbound", url)) == [
            Target(endpoint="all", url="http://all.test/"),
            Target(endpoint="inbound", url="http://in.test/"),
            sink.target,
        ]  # a callback_url is for status events only
