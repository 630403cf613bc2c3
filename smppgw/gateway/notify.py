"""The webhook delivery worker (DESIGN §4.2): POSTs the outbox's events, signed.

Theory of operation. The store holds every event and, per endpoint it is for, a
delivery row (``store.events``); this worker holds nothing that is not also there. It
polls the due pending deliveries (``EventStore.due_deliveries``), soonest first, and
starts an attempt for each while that endpoint's queue has room: at most
``max_concurrency`` attempts in flight per endpoint (each configured endpoint is one
queue; a message's ``callback_url`` is queued by its host and port), so a slow receiver
holds up only its own deliveries, and what waits stays in the store, bounded by the disk
(``smppgw_webhook_backlog``). An attempt's outcome is recorded in the store in batches
(``record_attempts``); a delivery leaves the worker's in-flight set only once its
outcome is recorded, so it is never started twice at once, and a crash before that
only sends it again (at least once; receivers dedupe on ``webhook-id``).

Outcomes: 2xx delivered; 5xx, 408, 429 (after its Retry-After), a timeout or a transport
error retried after a backoff with full jitter (uniform in 0..min(backoff_cap, backoff x
2^attempts)) until ``retry_for`` has passed since the first attempt, then dead; any other
status dead at once (the receiver refuses it). Dead letters are listed and retried
through the API. A ``callback_url`` is checked again at each attempt against the SSRF
rule (``signing.resolved_refusal``): refused, it is dead.

Each call: ``content-type: application/json``, ``webhook-id`` (the event id, the same
on every attempt), ``webhook-timestamp`` (the attempt's Unix seconds), and
``webhook-signature`` when the endpoint has secrets. Logs name an endpoint, never a URL.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final

import httpx
import trio
from prometheus_client import CollectorRegistry, Counter, Gauge

from smppgw.gateway.signing import literal_refusal, resolved_refusal, sign
from smppgw.gateway.webhook_config import Endpoint, WebhookSettings
from smppgw.store.base import DEAD, DELIVERED, PENDING, Attempt, Delivery, EventStore, StoreError, Target
from smppgw.support.logsafe import kv

__all__ = ["CALLBACK", "WebhookSettings", "Webhooks", "callback_endpoint"]

log = logging.getLogger(__name__)

CALLBACK: Final = "callback"  # the metrics label of every message's own callback_url
_RETRY_STATUSES = frozenset({408, 429})
_MAX_BODY = 64 * 1024  # of an answer, read to keep the connection; the rest is dropped
_HOUSEKEEPING = 5.0  # seconds between backlog gauge updates
_PRUNE_EVERY = 60.0
_CHECK_TTL = 60.0  # seconds an SSRF check of a callback host holds
_CHECKED_MAX = 10_000


def callback_endpoint(url: str) -> str:
    """The queue of a message's callback_url: its host and port (never the path)."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"callback:{parsed.host}:{port}"


def _label(endpoint: str) -> str:
    return CALLBACK if endpoint.startswith("callback:") else endpoint


class Webhooks:
    def __init__(
        self,
        settings: WebhookSettings,
        store: EventStore,
        *,
        registry: CollectorRegistry,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        check_target: Callable[[str], Awaitable[str | None]] = resolved_refusal,
    ) -> None:
        """``transport``: httpx's, for tests; default the network. ``clock``: wall-clock
        seconds (default: the store's wall time of the trio clock). ``check_target``: the
        SSRF rule for a callback URL at delivery (tests: no DNS)."""
        self.settings = settings
        self.store = store
        self._transport = transport
        self._rng = rng or random.Random()
        self._clock = clock or (lambda: store.wall(trio.current_time()) or 0.0)
        self._check_target = check_target
        self._checked: dict[str, tuple[float, str | None]] = {}  # host:port -> (until, refusal)
        self._endpoints: dict[str, Endpoint] = {e.name: e for e in settings.endpoints}
        self._lanes: dict[str, trio.Semaphore] = {}
        self._in_flight: set[tuple[int, str]] = set()
        self._outcomes: list[Attempt] = []
        self._wake = trio.Event()
        self.calls = Counter(
            "smppgw_webhooks", "Webhook attempts by endpoint and result (delivered, retry, dead)",
            ["endpoint", "result"], registry=registry,
        )  # fmt: skip
        self.backlog = Gauge(
            "smppgw_webhook_backlog",
            "Pending webhook deliveries per endpoint",
            ["endpoint"],
            registry=registry,
        )

    # -- what goes where (the store's router) and the API's rule ---------------------------------

    def targets(self, event_type: str, callback_url: str | None) -> list[Target]:
        out = [Target(endpoint=e.name, url=e.url) for e in self.settings.endpoints if e.wants(event_type)]
        if callback_url is not None and event_type == "message.status":
            out.append(Target(endpoint=callback_endpoint(callback_url), url=callback_url))
        return out

    def callback_refusal(self, url: str) -> str | None:
        """Why the API refuses a ``callback_url`` (no DNS lookup on the request path)."""
        if self.settings.allow_private_targets:
            parsed = httpx.URL(url)
            return None if parsed.scheme in ("http", "https") and parsed.host else "an http(s) URL"
        return literal_refusal(url)

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        s = self.settings
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        async with (
            httpx.AsyncClient(timeout=s.timeout, limits=limits, transport=self._transport) as client,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(self._recorder)
            nursery.start_soon(self._housekeeping)
            while True:
                started = self._start_due(nursery, client)
                if started >= s.batch:
                    await trio.lowlevel.checkpoint()
                    continue
                with trio.move_on_after(s.poll_interval):
                    await self._wake.wait()
                self._wake = trio.Event()

    def _lane(self, endpoint: str) -> trio.Semaphore:
        lane = self._lanes.get(endpoint)
        if lane is None:
            lane = self._lanes[endpoint] = trio.Semaphore(self.settings.max_concurrency)
        return lane

    def _start_due(self, nursery: trio.Nursery, client: httpx.AsyncClient) -> int:
        busy = [name for name, lane in self._lanes.items() if lane.value == 0]
        # As many as can start (the known queues' free places, or a batch for new ones),
        # plus those in flight, which are still pending in the store.
        room = sum(lane.value for lane in self._lanes.values())
        limit = min(self.settings.batch, max(room, self.settings.max_concurrency)) + len(self._in_flight)
        try:
            due = self.store.due_deliveries(self._clock(), limit=limit, skip=busy)
        except StoreError:
            log.exception("webhooks: reading the outbox failed; trying again")
            return 0
        started = 0
        for d in due:
            key = (d.seq, d.endpoint)
            lane = self._lane(d.endpoint)
            if key in self._in_flight or lane.value == 0:
                continue
            lane.acquire_nowait()
            self._in_flight.add(key)
            nursery.start_soon(self._attempt, client, d, lane)
            started += 1
        return started

    async def _attempt(self, client: httpx.AsyncClient, d: Delivery, lane: trio.Semaphore) -> None:
        try:
            status, error, retry_after = await self._post(client, d)
        finally:
            lane.release()
        now = self._clock()
        s = self.settings
        if status is not None and 200 <= status < 300:
            state, next_at = DELIVERED, now
        elif retry_after is None and status is not None and status < 500 and status not in _RETRY_STATUSES:
            state, next_at = DEAD, now  # the receiver refuses it: trying again changes nothing
        else:
            first = d.first_attempt_at if d.first_attempt_at is not None else now
            if now - first >= s.retry_for:
                state, next_at = DEAD, now
            else:
                delay = retry_after if retry_after is not None else self._backoff(d.attempts)
                state, next_at = PENDING, min(now + min(delay, s.backoff_cap), first + s.retry_for)
        result = "retry" if state == PENDING else state
        self.calls.labels(_label(d.endpoint), result).inc()
        if state == DEAD:
            # A per-message callback URL is the client's and may carry a token: only its label.
            log.warning(
                "webhook dead %s",
                kv(event=d.event_id, endpoint=_label(d.endpoint), attempts=d.attempts + 1,
                   error=error or f"HTTP {status}"),
            )  # fmt: skip
        self._outcomes.append(
            Attempt(seq=d.seq, endpoint=d.endpoint, state=state, at=now, next_attempt_at=next_at,
                    status=status, error=error)
        )  # fmt: skip
        self._wake.set()  # its place in the queue is free: start the next one now

    def _backoff(self, attempts: int) -> float:
        s = self.settings
        return self._rng.uniform(0.0, min(s.backoff_cap, s.backoff * 2.0 ** min(attempts, 60)))

    async def _post(
        self, client: httpx.AsyncClient, d: Delivery
    ) -> tuple[int | None, str | None, float | None]:
        """One attempt: (HTTP status or None, error or None, Retry-After seconds or None)."""
        endpoint = self._endpoints.get(d.endpoint)
        if d.endpoint.startswith("callback:"):
            secrets = self.settings.callback_secrets
            if not self.settings.allow_private_targets and (refused := await self._refusal(d)):
                return 0, f"target refused: {refused}", None
        elif endpoint is None:
            return 0, f"endpoint {d.endpoint!r} is no longer configured", None
        else:
            secrets = endpoint.secrets
        body = d.body.encode()
        timestamp = int(self._clock())
        headers = {"content-type": "application/json", "webhook-id": d.event_id,
                   "webhook-timestamp": str(timestamp)}  # fmt: skip
        if secrets:
            headers["webhook-signature"] = sign(secrets, d.event_id, timestamp, body)
        try:
            async with client.stream("POST", d.url, content=body, headers=headers) as response:
                read = 0
                async for chunk in response.aiter_bytes():
                    read += len(chunk)
                    if read > _MAX_BODY:
                        break
                status = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after")) if status == 429 else None
                return status, None if 200 <= status < 300 else f"HTTP {status}", retry_after
        except httpx.TimeoutException:
            return None, "timeout", None
        except httpx.HTTPError as exc:
            return None, type(exc).__name__, None

    async def _refusal(self, d: Delivery) -> str | None:
        """The SSRF rule for a callback URL, its answer per host and port kept a minute
        (a lookup per attempt would cost more than the attempt)."""
        now = trio.current_time()
        until, refused = self._checked.get(d.endpoint, (0.0, None))
        if until <= now:
            refused = await self._check_target(d.url)
            if len(self._checked) >= _CHECKED_MAX:
                self._checked.clear()
            self._checked[d.endpoint] = (now + _CHECK_TTL, refused)
        return refused

    # -- bookkeeping -------------------------------------------------------------------------------

    async def _recorder(self) -> None:
        """Write outcomes in batches; a delivery is free to start again once its is on disk."""
        while True:
            await trio.sleep(0.01)
            if not self._outcomes:
                continue
            outcomes, self._outcomes = self._outcomes, []
            try:
                self.store.record_attempts(outcomes)
            except StoreError:
                log.exception("webhooks: recording %d outcomes failed; trying again", len(outcomes))
                self._outcomes = outcomes + self._outcomes
                continue
            for a in outcomes:
                self._in_flight.discard((a.seq, a.endpoint))
            self._wake.set()

    async def _housekeeping(self) -> None:
        since_prune = _PRUNE_EVERY
        while True:
            try:
                self._measure()
                if since_prune >= _PRUNE_EVERY:
                    since_prune = 0.0
                    pruned = self.store.prune_events(self._clock() - self.settings.retention)
                    if pruned:
                        log.info("webhooks: pruned %d delivered events past retention", pruned)
            except StoreError:
                log.exception("webhooks: housekeeping failed")
            await trio.sleep(_HOUSEKEEPING)
            since_prune += _HOUSEKEEPING

    def _measure(self) -> None:
        counts: dict[str, int] = dict.fromkeys([CALLBACK, *(e.name for e in self.settings.endpoints)], 0)
        for endpoint, n in self.store.backlog().items():
            label = _label(endpoint)
            counts[label] = counts.get(label, 0) + n
        for label, n in counts.items():
            self.backlog.labels(label).set(n)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (an HTTP date is read as no advice: the backoff applies)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
