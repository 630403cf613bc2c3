"""Outbound notifications, sent by the gateway (DESIGN §2.2): webhooks (DESIGN §4.2) POST
status changes to a message's ``callback_url`` and inbound messages to ``[webhooks]
inbound_url``, retried with exponential backoff.

    {"type": "message.status", "id": ..., "status": "submitted" | "delivered" | ..., "error": ...,
     "parts": [...], "updated_at": <unix seconds>}
    {"type": "inbound", "seq": ..., "source": ..., "destination": ..., "text": ..., ...}

One call per status a message reaches (``submitted``, then its final status; a message
sent without a receipt request gets ``submitted`` only). A 2xx answer is success; any
other answer, a timeout or a transport error is retried after ``backoff``, doubling, up
to ``attempts`` tries, then given up (counted, logged; the message's state is still in
``GET /v1/messages/{id}``). Workers run concurrently, so two calls for one message may
arrive out of order: receivers should order them by ``updated_at`` and status.

Pending calls live in memory, bounded by ``max_pending``; a restart or an overflow
drops the pending ones (counted in ``smppgw_webhooks_total{result="dropped"}``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio
from prometheus_client import CollectorRegistry, Counter

from smppgw.store.base import FINAL, InboundRecord, MessageRecord, Status

__all__ = ["WebhookSettings", "Webhooks"]

log = logging.getLogger(__name__)

_REMEMBER = 100_000  # messages whose last call was "submitted", awaiting their final one


@attrs.frozen(kw_only=True)
class WebhookSettings:
    inbound_url: str | None = None
    attempts: int = 6
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    timeout: float = 5.0
    workers: int = 4
    max_pending: int = 10_000


class Webhooks:
    def __init__(
        self,
        settings: WebhookSettings,
        *,
        registry: CollectorRegistry,
        wall: Callable[[float | None], float | None],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport``: httpx's, for tests (``httpx.MockTransport``); default the network."""
        self.settings = settings
        self._wall = wall
        self._transport = transport
        self._send, self._receive = trio.open_memory_channel[tuple[str, str, dict[str, Any]]](
            settings.max_pending
        )
        self._notified: dict[str, Status] = {}  # the last status sent per message id
        self.calls = Counter(
            "smppgw_webhooks", "Webhook calls by kind and result", ["kind", "result"], registry=registry
        )

    # -- what to send ---------------------------------------------------------------------

    def on_change(self, record: MessageRecord) -> None:
        """A ``Gateway`` listener: queue a call when a message reaches a new status."""
        url = record.callback_url
        if url is None:
            return
        status = record.status
        if status is not Status.SUBMITTED and status not in FINAL:
            return
        notified = self._notified
        if notified.get(record.id) is status:
            return
        if status in FINAL or not record.dlr:  # its last call: nothing to remember
            notified.pop(record.id, None)
        else:
            if len(notified) >= _REMEMBER:  # receipts that never come: forget the oldest
                del notified[next(iter(notified))]
            notified[record.id] = status
        body = {
            "type": "message.status",
            "id": record.id,
            "status": status.value,
            "final": status in FINAL,
            "error": record.error,
            "parts": [p.to_dict() for p in record.parts],
            "updated_at": self._wall(record.updated_at),
        }
        self._queue("status", url, body)

    def on_inbound(self, message: InboundRecord) -> None:
        if self.settings.inbound_url is not None:
            self._queue("inbound", self.settings.inbound_url, {"type": "inbound", **message.to_dict()})

    def _queue(self, kind: str, url: str, body: dict[str, Any]) -> None:
        try:
            self._send.send_nowait((kind, url, body))
        except trio.WouldBlock:
            self.calls.labels(kind, "dropped").inc()
            log.warning("webhook queue full (%d): %s call dropped", self.settings.max_pending, kind)

    # -- sending --------------------------------------------------------------------------

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.settings.workers * 2)
        async with httpx.AsyncClient(
            timeout=self.settings.timeout, limits=limits, transport=self._transport
        ) as client:
            async with trio.open_nursery() as nursery:
                for _ in range(self.settings.workers):
                    nursery.start_soon(self._worker, client)

    async def _worker(self, client: httpx.AsyncClient) -> None:
        async for kind, url, body in self._receive:
            await self._deliver(client, kind, url, body)

    async def _deliver(self, client: httpx.AsyncClient, kind: str, url: str, body: dict[str, Any]) -> None:
        s = self.settings
        for attempt in range(1, s.attempts + 1):
            try:
                response = await client.post(url, json=body)
                if 200 <= response.status_code < 300:
                    self.calls.labels(kind, "ok").inc()
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            self.calls.labels(kind, "retry" if attempt < s.attempts else "failed").inc()
            if attempt < s.attempts:
                await trio.sleep(s.backoff * math.pow(2, attempt - 1))
        # The URL may carry a token: log its host only.
        log.warning("webhook %s to %s failed %d times (%s)", kind, httpx.URL(url).host, s.attempts, problem)
