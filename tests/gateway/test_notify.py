"""The event outbox and its webhook worker without a network (a fake HTTP client that hands
each POST to a handler as an httpx.Request, trio's autojump clock, the memory store): which events a message makes, how they are signed,
retried, dead-lettered, and kept apart per endpoint. Over real HTTP and SQLite, through
the whole app: tests/api/test_webhooks.py; across a SIGKILL: tests/api/test_crash_events.py."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import standardwebhooks
import trio
from prometheus_client import CollectorRegistry
from trio.testing import MockClock

from smppgw.gateway.notify import Webhooks
from smppgw.gateway.signing import literal_refusal
from smppgw.gateway.webhook_config import Endpoint, WebhookSettings
from smppgw.net.http_client import HttpResult
from smppgw.store.base import MessageRecord, PartRecord, Status, advance
from smppgw.store.memory import MemoryStore
from tests.gateway.helpers import dest, gateway, memory_simulator, smsc, wait_all

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="  # base64 of b"secret-secret-secret"
HOOK = "http://hooks.test/status"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Receiver:
    """Keeps every request with its (virtual) time; ``answer`` decides the response."""

    def __init__(self, answer: Callable[[int], httpx.Response] | None = None, delay: float = 0.0) -> None:
        self.answer = answer or (lambda n: httpx.Response(204))
        self.delay = delay
        self.seen: list[tuple[httpx.Request, float]] = []
        self.busy = self.most_busy = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            if self.delay:
                await trio.sleep(self.delay)
            self.seen.append((request, trio.current_time()))
            return self.answer(len(self.seen))
        finally:
            self.busy -= 1

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r, _ in self.seen]


class MockClient:
    """The worker's HTTP client (``notify.Poster``) without a network: each POST is handed
    to ``handler`` as an httpx.Request; its answer's status, Retry-After and body return."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connect_to: list[str | None] = []

    async def post(
        self, url: str, body: bytes, headers: Any = (), *, content_type: str = "application/json",
        connect_to: str | None = None, pool: str = "",
    ) -> HttpResult:  # fmt: skip
        self.connect_to.append(connect_to)
        request = httpx.Request("POST", url, headers=[("content-type", content_type), *headers], content=body)
        response = await self.handler(request)
        kept = {k: v for k, v in response.headers.items() if k == "retry-after"}
        return HttpResult(response.status_code, kept, response.content)


def outbox(
    receiver: Receiver, store: MemoryStore | None = None, **settings: Any
) -> tuple[Webhooks, MemoryStore, CollectorRegistry]:
    store = store or MemoryStore(clock_offset=time.time() - trio.current_time())
    registry = CollectorRegistry()
    settings.setdefault("callback_secrets", (b"secret-secret-secret",))
    hooks = Webhooks(
        WebhookSettings(**settings), store, registry=registry, client=MockClient(receiver),
        rng=random.Random(7), check_target=no_dns,
    )  # fmt: skip
    store.route_events(hooks.targets)
    return hooks, store, registry


async def no_dns(url: str) -> tuple[str | None, str | None]:
    """The SSRF rule without a lookup (tests reach no network): literal addresses only."""
    await trio.lowlevel.checkpoint()
    return literal_refusal(url), None


def count(registry: CollectorRegistry, result: str, endpoint: str = "callback") -> float:
    return registry.get_sample_value("smppgw_webhooks_total", {"endpoint": endpoint, "result": result}) or 0.0


async def run_until(hooks: Webhooks, done: Callable[[], bool], limit: float = 600) -> None:
    """Run the worker until ``done()``; ``limit`` seconds of (virtual) time at most."""
    with trio.fail_after(limit):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hooks.run)
            while not done():
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()


def record(i: int, *statuses: Status, url: str | None = HOOK) -> MessageRecord:
    """A message that went through ``statuses`` (each applied, one second apart)."""
    r = MessageRecord(
        id=f"{i:032x}", source="12345", destination=dest(i), text="hi", callback_url=url,
        parts=[PartRecord(index=1, total=1)],
    )  # fmt: skip
    for n, status in enumerate(statuses):
        advance(r, status, "test", float(n))
    return r


def emit(store: MemoryStore, r: MessageRecord) -> None:
    from smppgw.gateway.events import status_events

    for event in status_events(r, 0, store.wall):
        store.append_event(event)


# -- which events ----------------------------------------------------------------------------------


async def test_a_message_makes_an_event_per_status_after_acceptance(autojump_clock: MockClock) -> None:
    store = MemoryStore(clock_offset=1_700_000_000.0)
    store.route_events(lambda kind, url: [])
    async with (
        memory_simulator(behaviour={"dlr_delay": 0.5}) as sim,
        gateway(smsc(sim), store=store, events=store) as gw,
    ):
        receipt = gw.submit(source="12345", destination=dest(1), text="x" * 200, callback_url=HOOK)
        plain = gw.submit(source="12345", destination=dest(2), text="hi", dlr=False)
        await wait_all(gw, [receipt, plain], 10)
    events = store.events(limit=100)
    mine = [e for e in events if e.subject == receipt.id]
    assert [e.data["status"] for e in mine] == ["submitted", "delivered"]  # not queued, submitting
    assert [e.sequence for e in mine] == [1, 2]
    assert [e.id for e in mine] == [f"evt_{receipt.id}_1", f"evt_{receipt.id}_2"]
    assert all(e.type == "message.status" for e in events)
    assert [e.data["final"] for e in mine] == [False, True]
    assert [p["receipt_stat"] for p in mine[1].data["parts"]] == ["DELIVRD", "DELIVRD"]
    body = mine[1].to_dict()
    assert body["occurred_at"].startswith("2023-11-14T22:") and body["occurred_at"].endswith("Z")
    assert body["data"]["updated_at"].endswith("Z")
    assert [e.data["status"] for e in events if e.subject == plain.id] == ["submitted"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_the_same_change_written_twice_is_one_event_and_a_refused_move_none() -> None:
    store = MemoryStore()
    store.route_events(lambda kind, url: [])
    r = record(1, Status.QUEUED, Status.SUBMITTING, Status.SUBMITTED, Status.DELIVERED)
    emit(store, r)
    emit(store, r)  # replayed (a restart): the same ids
    advance(r, Status.SUBMITTED, "smpp", 9.0)  # refused: delivered already
    emit(store, r)
    assert [(e.sequence, e.data["status"]) for e in store.events()] == [(1, "submitted"), (2, "delivered")]


# -- how they are sent ------------------------------------------------------------------------------


async def test_deliveries_are_signed_per_standard_webhooks_with_both_rotated_secrets(
    autojump_clock: MockClock,
) -> None:
    receiver = Receiver()
    old, new = b"old-secret-0123456789", b"new-secret-0123456789"
    hooks, store, registry = outbox(receiver, callback_secrets=(old, new))
    emit(store, record(1, Status.SUBMITTED, Status.DELIVERED))
    await run_until(hooks, lambda: len(receiver.seen) == 2)
    for request, _ in receiver.seen:
        headers = dict(request.headers)
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):  # each secret alone verifies (the receiver has one of them)
            import base64

            verified = standardwebhooks.Webhook(base64.b64encode(secret).decode()).verify(
                request.content, headers
            )
            assert verified == json.loads(request.content)
        assert headers["webhook-id"] == json.loads(request.content)["id"]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        request, _ = receiver.seen[0]
        standardwebhooks.Webhook(SECRET).verify(request.content, dict(request.headers))
    assert count(registry, "delivered") == 2


async def test_failures_back_off_with_full_jitter_then_deliver(autojump_clock: MockClock) -> None:
    receiver = Receiver(lambda n: httpx.Response(503 if n <= 5 else 200))
    hooks, store, registry = outbox(receiver, backoff=1.0)
    emit(store, record(1, Status.SUBMITTED))
    await run_until(hooks, lambda: store.deliveries(state="delivered") != [])
    times = [t for _, t in receiver.seen]
    assert len(times) == 6 and len({r.headers["webhook-id"] for r, _ in receiver.seen}) == 1
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Attempt k waits uniform(0, 2^k) s, plus the poll and record steps (< 0.1 s).
    assert all(gap <= 2.0**k + 0.1 for k, gap in enumerate(gaps)), gaps
    assert sum(gaps) > 1.0  # not all zero: it did wait
    assert count(registry, "retry") == 5
    [d] = store.deliveries(subject=record(1).id)
    assert (d.state, d.attempts, d.last_status) == ("delivered", 6, 200)


async def test_429_waits_for_its_retry_after(autojump_clock: MockClock) -> None:
    receiver = Receiver(
        lambda n: httpx.Response(429, headers={"Retry-After": "30"}) if n == 1 else httpx.Response(204)
    )
    hooks, store, registry = outbox(receiver)
    emit(store, record(1, Status.SUBMITTED))
    await run_until(hooks, lambda: count(registry, "delivered") == 1)
    first, second = (t for _, t in receiver.seen)
    assert 30.0 <= second - first < 30.2


async def test_dead_after_retry_for_or_at_once_on_a_4xx_and_retried_on_request(
    autojump_clock: MockClock,
) -> None:
    answers = {"down": 503, "gone": 410}
    receiver = Receiver()
    receiver.answer = lambda n: httpx.Response(answers[receiver.seen[-1][0].url.path.strip("/")])
    hooks, store, _ = outbox(receiver, retry_for=120.0, backoff=5.0)
    down, gone = (
        record(1, Status.SUBMITTED, url="http://hooks.test/down"),
        record(2, Status.SUBMITTED, url="http://hooks.test/gone"),
    )
    emit(store, down)
    emit(store, gone)
    await run_until(hooks, lambda: len(store.deliveries(state="dead")) == 2)
    [d_down] = store.deliveries(subject=down.id)
    [d_gone] = store.deliveries(subject=gone.id)
    assert (d_gone.state, d_gone.attempts, d_gone.last_status) == ("dead", 1, 410)
    assert d_down.state == "dead" and d_down.attempts > 3
    assert d_down.first_attempt_at is not None
    assert 120.0 <= d_down.updated_at - d_down.first_attempt_at < 122.0  # the last try at retry_for
    assert {d.event_id for d in store.deliveries(state="dead")} == {d_down.event_id, d_gone.event_id}
    answers["down"] = 200
    assert store.retry_dead(d_down.event_id, hooks._clock()) == 1
    await run_until(hooks, lambda: store.deliveries(state="delivered") != [])
    [again] = store.deliveries(subject=down.id)
    assert again.state == "delivered"
    assert [d.event_id for d in store.deliveries(state="dead")] == [d_gone.event_id]


async def test_a_slow_endpoint_backs_up_only_its_own_queue(autojump_clock: MockClock) -> None:
    slow, fast = Receiver(delay=10.0), Receiver()

    async def route(request: httpx.Request) -> httpx.Response:
        return await (slow if request.url.host == "slow.test" else fast)(request)

    store = MemoryStore(clock_offset=time.time())
    registry = CollectorRegistry()
    settings = WebhookSettings(
        endpoints=(
            Endpoint(name="slow", url="http://slow.test/"),
            Endpoint(name="fast", url="http://fast.test/"),
        ),
        max_concurrency=2,
    )
    hooks = Webhooks(settings, store, registry=registry, client=MockClient(route))
    store.route_events(hooks.targets)
    for i in range(20):
        emit(store, record(i, Status.SUBMITTED, url=None))
    start = trio.current_time()
    await run_until(hooks, lambda: len(fast.seen) == 20 and store.backlog().get("fast", 0) == 0)
    assert trio.current_time() - start < 1.0  # not held up behind the slow one
    assert len(slow.seen) <= 2 and slow.most_busy == 2  # its queue: 2 in flight, the rest in the store
    hooks._measure()
    assert registry.get_sample_value("smppgw_webhook_backlog", {"endpoint": "slow"}) >= 18
    assert registry.get_sample_value("smppgw_webhook_backlog", {"endpoint": "fast"}) == 0


async def test_a_callback_url_to_a_private_address_is_refused_at_delivery(autojump_clock: MockClock) -> None:
    receiver = Receiver()
    hooks, store, _ = outbox(receiver)
    emit(store, record(1, Status.SUBMITTED, url="http://10.1.2.3/hook"))
    emit(store, record(2, Status.SUBMITTED, url="http://[::ffff:127.0.0.1]:8080/hook"))
    await run_until(hooks, lambda: len(store.deliveries(state="dead")) == 2)
    assert receiver.seen == []  # never sent
    errors = sorted(d.last_error or "" for d in store.deliveries(state="dead"))
    assert errors[0].startswith("target refused: loopback address 127.0.0.1")
    assert errors[1].startswith("target refused: private address 10.1.2.3")
    allowing, store2, registry2 = outbox(receiver, allow_private_targets=True)
    emit(store2, record(1, Status.SUBMITTED, url="http://10.1.2.3/hook"))
    await run_until(allowing, lambda: count(registry2, "delivered") == 1)


# -- a burst --------------------------------------------------------------------------------------


async def test_a_burst_of_20000_messages_to_a_slow_receiver_loses_no_event(autojump_clock: MockClock) -> None:
    receiver = Receiver(delay=0.2)  # 8 at a time: 40 events/s against a 20,000 burst
    store = MemoryStore(clock_offset=time.time())
    registry = CollectorRegistry()
    hooks = Webhooks(
        WebhookSettings(callback_secrets=(b"k" * 16,), batch=512), store, registry=registry,
        client=MockClient(receiver), check_target=no_dns,
    )  # fmt: skip
    store.route_events(hooks.targets)
    n = 20_000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hooks.run)
        async with memory_simulator() as sim, gateway(smsc(sim, window=256), store=store, events=store) as gw:
            records = gw.submit_many(
                [{"source": "12345", "destination": dest(i), "text": "hi", "dlr": False, "callback_url": HOOK}
                 for i in range(n)]
            )  # fmt: skip
            assert all(isinstance(r, MessageRecord) for r in records)
            await wait_all(gw, records, 3600)  # type: ignore[arg-type]
        with trio.fail_after(7200):
            while len(receiver.seen) < n:
                await trio.sleep(1)
        nursery.cancel_scope.cancel()
    ids = [r.headers["webhook-id"] for r, _ in receiver.seen]
    assert len(set(ids)) == n == len(ids)  # every event, once (no failures, so no retries)
    assert set(ids) == {f"evt_{r.id}_1" for r in records}  # type: ignore[union-attr]
    assert receiver.most_busy == 8
    assert count(registry, "delivered") == n


async def test_a_callback_goes_to_the_address_checked_and_unsigned_endpoints_are_warned_of(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def checked(url: str) -> tuple[str | None, str | None]:
        await trio.lowlevel.checkpoint()
        return None, "192.0.2.7"  # what the lookup answered and the rule allowed

    receiver = Receiver()
    client = MockClient(receiver)
    store = MemoryStore(clock_offset=time.time())
    settings = WebhookSettings(endpoints=(Endpoint(name="plain", url="http://plain.test/"),))
    hooks = Webhooks(settings, store, registry=CollectorRegistry(), client=client, check_target=checked)
    store.route_events(hooks.targets)
    emit(store, record(1, Status.SUBMITTED, url="http://hooks.example/status"))
    with caplog.at_level("WARNING", logger="smppgw.gateway.notify"):
        await run_until(hooks, lambda: len(receiver.seen) == 2)
    by_host = {r.url.host: c for (r, _), c in zip(receiver.seen, client.connect_to, strict=True)}
    assert by_host == {"hooks.example": "192.0.2.7", "plain.test": None}  # an endpoint: no check
    assert all("webhook-signature" not in r.headers for r, _ in receiver.seen)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("plain has no secret_env" in m for m in warned)
    assert any("callback_url calls are sent unsigned" in m for m in warned)
