"""Webhooks without a network (httpx.MockTransport, trio's autojump clock): which status
changes and inbound messages are posted, the backoff between tries, the counted results.
The same over real HTTP, through the whole app: tests/api/test_webhooks.py."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import trio
from prometheus_client import CollectorRegistry

from smppgw.gateway.notify import Webhooks, WebhookSettings
from smppgw.store.base import InboundRecord, MessageRecord, PartRecord, Status


def message(i: int, *, url: str | None = "http://hooks.test/status", dlr: bool = True) -> MessageRecord:
    return MessageRecord(
        id=f"{i:032x}", source="12345", destination="447700900001", text="hi", dlr=dlr, callback_url=url,
        parts=[PartRecord(index=1, total=1)], updated_at=5.0,
    )  # fmt: skip


class Receiver:
    """Answers 500 to the first ``fail_first`` requests, then 204; keeps every request."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.seen: list[tuple[str, dict[str, Any], float]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), json.loads(request.content), trio.current_time()))
        return httpx.Response(500 if len(self.seen) <= self.fail_first else 204)


def hooks(receiver: Receiver, **settings: Any) -> tuple[Webhooks, CollectorRegistry]:
    registry = CollectorRegistry()

    def wall(t: float | None) -> float | None:
        return None if t is None else t + 1000.0

    made = Webhooks(
        WebhookSettings(**settings), registry=registry, wall=wall, transport=httpx.MockTransport(receiver)
    )
    return made, registry


def count(registry: CollectorRegistry, kind: str, result: str) -> float:
    return registry.get_sample_value("smppgw_webhooks_total", {"kind": kind, "result": result}) or 0.0


async def run_until(webhooks: Webhooks, done: Any) -> None:
    """Run the workers until ``done()``; a minute of (virtual) time at most."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(webhooks.run)
            while not done():
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()


async def test_each_new_status_is_posted_once_and_only_submitted_and_final_ones(autojump_clock: Any) -> None:
    receiver = Receiver()
    webhooks, registry = hooks(receiver, workers=1)
    r = message(1)
    for status in (Status.QUEUED, Status.SUBMITTING, Status.SUBMITTED, Status.SUBMITTED, Status.DELIVERED):
        r.status = status
        webhooks.on_change(r)
    no_url = message(2, url=None)
    no_url.status = Status.DELIVERED
    webhooks.on_change(no_url)
    # One worker posts in queue order: once "delivered" is in, everything before it is.
    await run_until(webhooks, lambda: any(b["status"] == "delivered" for _, b, _ in receiver.seen))
    bodies = [body for _, body, _ in receiver.seen]
    assert [b["status"] for b in bodies] == ["submitted", "delivered"]
    assert [b["final"] for b in bodies] == [False, True]  # issue 13: every event says final
    assert bodies[1] == {
        "type": "message.status", "id": r.id, "status": "delivered", "final": True, "error": None,
        "parts": [r.parts[0].to_dict()], "updated_at": 1005.0,
    }  # fmt: skip
    assert {url for url, _, _ in receiver.seen} == {"http://hooks.test/status"}
    assert count(registry, "status", "ok") == 2


async def test_failures_are_retried_with_doubling_backoff_then_given_up(autojump_clock: Any) -> None:
    receiver = Receiver(fail_first=10)
    webhooks, registry = hooks(receiver, attempts=3, backoff=1.0, workers=1)
    r = message(1, dlr=False)
    r.status = Status.SUBMITTED
    webhooks.on_change(r)
    await run_until(webhooks, lambda: count(registry, "status", "failed") == 1)
    times = [t for _, _, t in receiver.seen]
    assert len(times) == 3
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [1.0, 2.0]
    assert count(registry, "status", "retry") == 2 and count(registry, "status", "ok") == 0


async def test_inbound_goes_to_the_inbound_url_only_when_one_is_set(autojump_clock: Any) -> None:
    inbound = InboundRecord(
        seq=7, smsc="a", source="447700900001", destination="12345", text="YES", data_coding=0, parts=1,
        complete=True, received_at=1.0,
    )  # fmt: skip
    receiver = Receiver()
    silent, _ = hooks(receiver)
    silent.on_inbound(inbound)
    deadline = trio.current_time() + 1.0
    await run_until(silent, lambda: trio.current_time() >= deadline)
    assert receiver.seen == []
    webhooks, registry = hooks(receiver, inbound_url="http://hooks.test/in")
    webhooks.on_inbound(inbound)
    await run_until(webhooks, lambda: len(receiver.seen) >= 1)
    [(url, body, _)] = receiver.seen
    assert url == "http://hooks.test/in" and body == {"type": "inbound", **inbound.to_dict()}
    assert count(registry, "inbound", "ok") == 1


async def test_calls_past_max_pending_are_dropped_and_counted() -> None:
    webhooks, registry = hooks(Receiver(), max_pending=1)
    for i in range(3):
        r = message(i, dlr=False)
        r.status = Status.SUBMITTED
        webhooks.on_change(r)
    assert count(registry, "status", "dropped") == 2
