"""The webhook delivery worker (DESIGN §4.2): POSTs the outbox's events, signed.

Theory of operation. The store holds every event and, per endpoint it is for, a
delivery row (``store.events``); this worker holds nothing that is not also there. It
polls the due pending deliveries (``EventStore.due_deliveries``, which hands each out
once until its outcome is recorded) into a queue per endpoint (each configured endpoint
is one; a message's ``callback_url`` is queued by its host and port), and at most
``max_concurrency`` runners per queue take them one after another, each over a
keep-alive connection of its own: so a slow receiver holds up only its own deliveries,
and what waits stays in the store, bounded by the disk (``smppgw_webhook_backlog``); a
queue is topped up from the store when it runs low. An attempt's outcome is recorded in
the store in batches (``record_attempts``, one transaction every 100 ms at most); a
crash before that only sends it again (at least once; receivers dedupe on
``webhook-id``).

Outcomes: 2xx delivered; 5xx, 408, 429 (after its Retry-After), a timeout or a transport
error retried after a backoff with full jitter (uniform in 0..min(backoff_cap, backoff x
2^attempts)) until ``retry_for`` has passed since the first attempt, then dead; any other
status dead at once (the receiver refuses it). Dead letters are listed and retried
through the API. A ``callback_url`` is checked again at each attempt against the SSRF
rule (``signing.resolved_target``): refused, it is dead; allowed, the POST goes to the
address that was checked (``connect_to``), so DNS rebinding can't point it elsewhere.

Each call: ``content-type: application/json``, ``webhook-id`` (the event id, the same
on every attempt), ``webhook-timestamp`` (the attempt's Unix seconds), and
``webhook-signature`` when the endpoint has secrets (an endpoint without ``secret_env``,
or callback URLs without ``[webhooks] secret_env``, are sent unsigned: a WARNING at start,
or at the first such callback, says so). The signature is over the stored body bytes, exactly the bytes sent. Logs name
an endpoint, never a URL. The POSTs go through ``net.http_client`` (keep-alive
connections, at most ``max_concurrency`` per queue); a redirect is not followed. An
endpoint with ``batch`` above 1 gets several events per call (``webhook_batch``).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby, islice
from operator import attrgetter
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import trio
from prometheus_client import CollectorRegistry, Counter, Gauge

from smppgw.gateway import webhook_batch
from smppgw.gateway.signing import literal_refusal, resolved_target, sign
from smppgw.gateway.webhook_config import Endpoint, EventRoutes, WebhookSettings, callback_endpoint
from smppgw.net.http_client import ClientLimits, HttpClient, HttpError, HttpResult, HttpTimeout
from smppgw.store.base import DEAD, DELIVERED, PENDING, Attempt, Delivery, EventStore, StoreError, Target
from smppgw.support.logsafe import kv
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["CALLBACK", "Poster", "Sink", "WebhookSettings", "Webhooks", "callback_endpoint"]

log = logging.getLogger(__name__)

CALLBACK: Final = "callback"  # the metrics label of every message's own callback_url
_RETRY_STATUSES = frozenset({408, 429})
_HOUSEKEEPING = 5.0  # seconds between backlog gauge updates
_PRUNE_EVERY = 60.0
_CHECK_TTL = 60.0  # seconds an SSRF check of a callback host holds
_CHECKED_MAX = 10_000
_SINK_BACKOFF_CAP = 30.0
_RECORD_EVERY = 0.1  # seconds between writes of the attempts' outcomes (``_recorder``)
_ENDPOINT = attrgetter("endpoint")


class Poster(Protocol):
    """What the worker needs of an HTTP client (``net.http_client.HttpClient``; tests
    give a fake)."""

    async def post(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]] = (), *,
        content_type: str = "application/json", connect_to: str | None = None, pool: str = "",
    ) -> HttpResult: ...  # fmt: skip


class Sink(Protocol):
    """An endpoint that is not an HTTP URL (``cluster.stream_events``: a Redis stream):
    one runner hands it up to ``batch`` deliveries at a time, in the order written;
    they are recorded delivered once ``send`` returns. ``send`` raising leaves them
    queued, sent again whole after a pause: a sink's deliveries are never dead."""

    batch: int
    target: Target  # every event goes to it (its endpoint is the sink's name)

    async def send(self, deliveries: Sequence[Delivery]) -> None: ...


class _Lane:
    """One endpoint's queue of deliveries read from the store, and its runners."""

    def __init__(self, low: int) -> None:
        self.queue: deque[Delivery] = deque()
        self.runners = 0
        self.low = low  # a queue this short is topped up
        self.grew = trio.Event()  # set (and replaced) when deliveries join the queue

    def arrivals(self) -> trio.Event:
        """What a runner filling a batch waits on (``webhook_batch.gather``)."""
        return self.grew


def _label(endpoint: str) -> str:
    return CALLBACK if endpoint.startswith("callback:") else endpoint


class Webhooks:
    def __init__(
        self,
        settings: WebhookSettings,
        store: EventStore,
        *,
        registry: CollectorRegistry,
        client: Poster | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        check_target: Callable[[str], Awaitable[tuple[str | None, str | None]]] = resolved_target,
        sinks: Sequence[Sink] = (),
    ) -> None:
        """``client``: the HTTP client (tests: a fake; default ``HttpClient`` on the
        network). ``clock``: wall-clock seconds (default: the store's wall time of the
        trio clock). ``check_target``: the SSRF rule for a callback URL at delivery,
        (refusal, address to connect to) (tests: no DNS). ``sinks``: endpoints that are
        not URLs (``Sink``), each named by its target."""
        self._ratelog = RateLimitedLog(log)  # per instance: two gateways never mute each other
        self.settings = settings
        self.store = store
        self._client: Poster = client or HttpClient(
            ClientLimits(timeout=settings.timeout, connect_timeout=settings.timeout,
                         max_connections=settings.max_concurrency)
        )  # fmt: skip
        self._rng = rng or random.Random()
        self._clock = clock or (lambda: store.wall(trio.current_time()) or 0.0)
        self._check_target = check_target
        # host:port -> (until, refusal, the address checked)
        self._checked: dict[str, tuple[float, str | None, str | None]] = {}
        self._endpoints: dict[str, Endpoint] = {e.name: e for e in settings.endpoints}
        self._lanes: dict[str, _Lane] = {}
        self._sinks: dict[str, Sink] = {sink.target.endpoint: sink for sink in sinks}
        #: The store's router: the targets of each event (``webhook_config.EventRoutes``).
        self.targets = EventRoutes(settings.endpoints, [s.target for s in self._sinks.values()]).targets
        self._counters: dict[tuple[str, str], Any] = {}
        self._callback_warned = False
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

    def callback_refusal(self, url: str) -> str | None:
        """Why the API refuses a ``callback_url`` (no DNS lookup on the request path)."""
        if self.settings.allow_private_targets:
            try:
                parsed = urlsplit(url)
                ok = parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
            except ValueError:
                ok = False
            return None if ok else "an http(s) URL"
        return literal_refusal(url)

    # -- the loop ----------------------------------------------------------------------------------

    def warn_unsigned(self) -> None:
        """A WARNING for each configured endpoint whose calls go out unsigned (for
        callback URLs without ``[webhooks] secret_env``: at the first such call, since
        most setups never use one)."""
        for e in self.settings.endpoints:
            if not e.secrets:
                log.warning("webhooks: endpoint %s has no secret_env: its calls are sent unsigned", e.name)

    async def run(self) -> None:
        s = self.settings
        self.warn_unsigned()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._recorder)
                nursery.start_soon(self._housekeeping)
                while True:
                    if self._top_up(nursery) >= s.batch:
                        await trio.lowlevel.checkpoint()
                        continue
                    with trio.move_on_after(s.poll_interval):
                        await self._wake.wait()
                    self._wake = trio.Event()
        finally:
            self.store.release_deliveries()  # what was queued or in flight is due again

    def _top_up(self, nursery: trio.Nursery) -> int:
        """Read due deliveries into the queues that run low; start their runners."""
        size = self.settings.max_concurrency
        depth = max(2 * size, 64)  # queued per endpoint at most (read once: no re-reads)
        busy = [name for name, lane in self._lanes.items() if len(lane.queue) >= lane.low]
        try:
            due = self.store.due_deliveries(self._clock(), limit=self.settings.batch, skip=busy)
        except StoreError as exc:  # (Redis away: every round until it is back; a line per interval)
            self._ratelog.emit(
                "outbox", "webhooks: reading the outbox failed; trying again %s", kv(error=str(exc))
            )
            return 0
        grown: list[_Lane] = []
        for name, run in groupby(due, _ENDPOINT):  # (the store reads an endpoint's together)
            lane = self._lanes.get(name)
            if lane is None:
                # A sink takes two batches; a batched endpoint a batch per runner.
                sink, endpoint = self._sinks.get(name), self._endpoints.get(name)
                room = (
                    max(depth, size * (endpoint.batch if endpoint else 1)) if sink is None else 2 * sink.batch
                )
                lane = self._lanes[name] = _Lane(room // 2)
            if not grown or grown[-1] is not lane:
                grown.append(lane)
            lane.queue.extend(run)
        for lane in grown:
            lane.grew.set()
            lane.grew = trio.Event()
        for name, lane in self._lanes.items():
            sink = self._sinks.get(name)
            if sink is not None:  # one runner: the order written is the order sent
                if lane.queue and not lane.runners:
                    lane.runners = 1
                    nursery.start_soon(self._sink_runner, lane, name, sink)
                continue
            while lane.runners < size and lane.runners < len(lane.queue):
                lane.runners += 1
                nursery.start_soon(self._runner, lane)
        return len(due)

    async def _sink_runner(self, lane: _Lane, name: str, sink: Sink) -> None:
        """Hands the queue to ``sink`` in batches, in order, until it is empty."""
        delay = 0.0
        try:
            while lane.queue:
                batch = list(islice(lane.queue, sink.batch))
                try:
                    await sink.send(batch)
                except Exception as exc:  # Redis away or a bug: kept, sent again
                    delay = min(max(2 * delay, 1.0), _SINK_BACKOFF_CAP)
                    log.warning(
                        "events to %s failed (%s); sending %d again in %.0f s", name, exc, len(batch), delay
                    )
                    await trio.sleep(delay)
                    continue
                delay = 0.0
                for _ in batch:
                    lane.queue.popleft()
                now = self._clock()
                self._outcomes += [Attempt(d.seq, d.endpoint, DELIVERED, now, now, None, None) for d in batch]
                self.calls.labels(name, DELIVERED).inc(len(batch))
                if len(lane.queue) <= lane.low:
                    self._wake.set()  # running low: top it up
        finally:
            lane.runners -= 1

    async def _runner(self, lane: _Lane) -> None:
        """Attempts the queue's deliveries one after another (a batch at a time for a
        batched endpoint) until it is empty."""
        try:
            while lane.queue:
                endpoint = self._endpoints.get(lane.queue[0].endpoint)
                if endpoint is not None and endpoint.batch > 1:
                    if len(lane.queue) < endpoint.batch:
                        self._wake.set()  # short of a batch: read what the outbox has
                    await webhook_batch.gather(lane.queue, endpoint.batch, endpoint.batch_wait, lane.arrivals)
                    batch = webhook_batch.take(lane.queue, endpoint.batch)
                    if len(lane.queue) <= lane.low:
                        self._wake.set()
                    if batch:
                        self._settle(batch, *await self._post_batch(batch, endpoint))
                    continue
                d = lane.queue.popleft()
                if len(lane.queue) == lane.low:
                    self._wake.set()  # running low: top it up
                self._settle([d], *await self._post(d))
        finally:
            lane.runners -= 1

    def _settle(
        self, batch: Sequence[Delivery], status: int | None, error: str | None, retry_after: float | None
    ) -> None:
        """Record one attempt's outcome for each delivery it carried (one, or a batch)."""
        now = self._clock()
        s = self.settings
        d = batch[0]
        if status is not None and 200 <= status < 300:
            state, next_at = DELIVERED, now
        elif retry_after is None and status is not None and status < 500 and status not in _RETRY_STATUSES:
            state, next_at = DEAD, now  # the receiver refuses it: trying again changes nothing
        else:
            firsts = [x.first_attempt_at for x in batch if x.first_attempt_at is not None]
            first = min(firsts) if firsts else now
            if now - first >= s.retry_for:
                state, next_at = DEAD, now
            else:
                attempts = max(x.attempts for x in batch)
                delay = retry_after if retry_after is not None else self._backoff(attempts)
                state, next_at = PENDING, min(now + min(delay, s.backoff_cap), first + s.retry_for)
        result = "retry" if state == PENDING else state
        counter = self._counters.get((d.endpoint, result))
        if counter is None:
            counter = self._counters[(d.endpoint, result)] = self.calls.labels(_label(d.endpoint), result)
        counter.inc(len(batch))
        if state == DEAD:
            # A per-message callback URL is the client's and may carry a token: only its label.
            log.warning(
                "webhook dead %s",
                kv(event=d.event_id, events=len(batch), endpoint=_label(d.endpoint), attempts=d.attempts + 1,
                   error=error or f"HTTP {status}"),
            )  # fmt: skip
        # (positional: a call with seven keywords costs more than the tuple it makes)
        self._outcomes += [Attempt(x.seq, x.endpoint, state, now, next_at, status, error) for x in batch]

    def _backoff(self, attempts: int) -> float:
        s = self.settings
        return self._rng.uniform(0.0, min(s.backoff_cap, s.backoff * 2.0 ** min(attempts, 60)))

    async def _post(self, d: Delivery) -> tuple[int | None, str | None, float | None]:
        """One attempt: (HTTP status or None, error or None, Retry-After seconds or None)."""
        endpoint = self._endpoints.get(d.endpoint)
        address = None
        if d.endpoint.startswith("callback:"):
            secrets = self.settings.callback_secrets
            if not secrets and not self._callback_warned:
                self._callback_warned = True
                log.warning(
                    "webhooks: [webhooks] secret_env is not set: callback_url calls are sent unsigned"
                )
            if not self.settings.allow_private_targets:
                refused, address = await self._target(d)
                if refused:
                    return 0, f"target refused: {refused}", None
        elif endpoint is None:
            return 0, f"endpoint {d.endpoint!r} is no longer configured", None
        else:
            secrets = endpoint.secrets
        # The stored text: the bytes sent are the bytes signed.
        return await self._send(d.url, d.endpoint, d.event_id, d.body.encode(), secrets, address)

    async def _post_batch(
        self, batch: Sequence[Delivery], endpoint: Endpoint
    ) -> tuple[int | None, str | None, float | None]:
        """One attempt of a batch (``webhook_batch``): its events as one JSON array."""
        body = webhook_batch.batch_body(batch)
        return await self._send(
            endpoint.url, endpoint.name, webhook_batch.batch_id(batch), body, endpoint.secrets
        )

    async def _send(
        self, url: str, pool: str, webhook_id: str, body: bytes, secrets: tuple[bytes, ...],
        address: str | None = None,
    ) -> tuple[int | None, str | None, float | None]:  # fmt: skip
        timestamp = int(self._clock())
        headers = [("webhook-id", webhook_id), ("webhook-timestamp", str(timestamp))]
        if secrets:
            headers.append(("webhook-signature", sign(secrets, webhook_id, timestamp, body)))
        try:
            answer = await self._client.post(url, body, headers, connect_to=address, pool=pool)
        except HttpTimeout:
            return None, "timeout", None
        except HttpError as exc:
            return None, str(exc), None
        status = answer.status
        if 300 <= status < 400:
            log.info("webhook %s to %s: HTTP %d, a redirect (not followed)", webhook_id, _label(pool), status)
        retry_after = _retry_after(answer.headers.get("retry-after")) if status == 429 else None
        return status, None if 200 <= status < 300 else f"HTTP {status}", retry_after

    async def _target(self, d: Delivery) -> tuple[str | None, str | None]:
        """The SSRF rule for a callback URL: (refusal, the address checked), kept a minute
        per host and port (a lookup per attempt would cost more than the attempt)."""
        now = trio.current_time()
        until, refused, address = self._checked.get(d.endpoint, (0.0, None, None))
        if until <= now:
            refused, address = await self._check_target(d.url)
            if len(self._checked) >= _CHECKED_MAX:
                self._checked.clear()
            self._checked[d.endpoint] = (now + _CHECK_TTL, refused, address)
        return refused, address

    # -- bookkeeping -------------------------------------------------------------------------------

    async def _recorder(self) -> None:
        """Write outcomes in batches; a delivery is free to start again once its is on disk.
        Every ``_RECORD_EVERY`` seconds: each write is a transaction (a commit on SQLite,
        about 160 us however few rows), and at 100 ms a busy endpoint's outcomes are a few
        hundred rows in one. A crash before the write sends those events again: at least
        once, as the module docstring says; a retry is due seconds later anyway."""
        while True:
            await trio.sleep(_RECORD_EVERY)
            if not self._outcomes:
                continue
            outcomes, self._outcomes = self._outcomes, []
            try:
                self.store.record_attempts(outcomes)
            except StoreError:
                log.exception("webhooks: recording %d outcomes failed; trying again", len(outcomes))
                self._outcomes = outcomes + self._outcomes
                continue
            self._wake.set()  # a retry may be due soon

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
