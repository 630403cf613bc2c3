"""Batched webhook bodies (``[[webhooks.endpoint]] batch = N``): several events, one POST.

An endpoint with ``batch`` above 1 gets up to ``batch`` events per call, as a JSON
array of the events' stored bodies, byte for byte and in the order written::

    [{"id": "evt_..._1", "type": "message.status", ...}, {"id": "evt_..._2", ...}]

A runner of such an endpoint takes what its queue holds, up to ``batch``; with fewer,
it waits up to ``batch_wait`` seconds for more (the outbox is polled meanwhile), so a
trickle still goes out within that wait. The call is signed as any other (Standard
Webhooks: HMAC over ``"{webhook-id}.{webhook-timestamp}.{body}"``, the whole array);
``webhook-id`` is the batch's id (``batch_id``: made from its events' ids, so the same
events sent again carry the same id), and each event in it keeps its own ``id`` for the
receiver to dedupe on. A batch has one outcome: delivered, retried or dead together,
its deliveries' rows updated in one transaction (``EventStore.record_attempts``). A
retried batch's events are due at the same time, so they are read back together.

Why: a signed POST costs the gateway ~130 µs of CPU whatever it carries (HTTP framing,
the HMAC, a trio task switch, the receiver's answer read back); the events of a batch
share that.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from operator import attrgetter

import trio

from smppgw.store.base import Delivery

__all__ = ["batch_body", "batch_id", "gather", "take"]

# (map with these: no generator frame resumed per event)
_EVENT_ID, _BODY = attrgetter("event_id"), attrgetter("body")


def batch_id(deliveries: Sequence[Delivery]) -> str:
    """The ``webhook-id`` of a batch: the same events give the same id."""
    digest = hashlib.blake2b(",".join(map(_EVENT_ID, deliveries)).encode(), digest_size=12)
    return f"batch_{digest.hexdigest()}"


def batch_body(deliveries: Sequence[Delivery]) -> bytes:
    """The JSON array of the events' stored bodies (each already JSON: no re-encoding)."""
    return ("[" + ",".join(map(_BODY, deliveries)) + "]").encode()


def take(queue: deque[Delivery], size: int) -> list[Delivery]:
    """Up to ``size`` deliveries from the left of ``queue``."""
    return [queue.popleft() for _ in range(min(size, len(queue)))]


async def gather(queue: deque[Delivery], size: int, wait: float, arrivals: Callable[[], trio.Event]) -> None:
    """Return once ``queue`` holds ``size`` deliveries, or after ``wait`` seconds.

    ``arrivals()``: the event set when deliveries are next added to ``queue``. Woken by
    it, not by polling: a look every few milliseconds cost a trio sleep (a cancel scope
    and a timer) per look for every waiting runner, which was most of a batch's cost
    beside the POST itself.
    """
    if wait <= 0 or len(queue) >= size:
        return
    with trio.move_on_after(wait):
        while len(queue) < size:
            await arrivals().wait()
