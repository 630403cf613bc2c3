"""Load the gateway's HTTP queue API end to end: ``POST /v1/messages`` (DESIGN §4.2).

Tested against ``smppgw serve`` (tests/loadtest/test_http_gateway.py). ``binds x window`` worker
tasks share one ``httpx.AsyncClient`` (anyio runs it on trio); the feeder hands them
intended send times as for SMPP binds, so open-loop latency is measured from the
intended time here too.

Before the load, ``open`` checks the API answers and takes the key. Outcomes: 200/201/202
-> acked; 401/403 -> the run stops at once (``RunFailed``: the key was refused, so every
request would be); 429 -> throttled; any other status -> an error named ``HTTP_<code>``;
no answer within ``--timeout`` -> ``timeout``; a transport failure -> ``connection_error``.

Receipts (``--wait-dlr``): the target listens on ``--callback-listen`` (loopback, a free
port by default; the gateway must be able to reach it, so a gateway refusing private
callback targets needs ``[webhooks] allow_private_targets = true``) and sends each message with a
``callback_url`` there; the gateway's webhook for the message's final status (delivered,
undeliverable, expired, rejected, failed) is its receipt, and submit->receipt latency
runs from the intended send time to that call's arrival.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import httpx
import trio

from loadtest.messages import TEXTS, kind_sequence
from loadtest.params import RunParams, parse_hostport
from loadtest.receipts import ReceiptTracker
from loadtest.stats import Counters
from smppgw.net.listeners import bind_error, listen_error

__all__ = ["HttpTarget"]

_OK: Final = frozenset({200, 201, 202})
_REFUSED: Final = frozenset({401, 403})  # the key: no later request can do better
_FINAL: Final = frozenset({"delivered", "undeliverable", "expired", "rejected", "failed", "blocked"})
_POOL: Final = 2000


class HttpTarget:
    """A pool of workers seen by the feeder as one sender with ``binds x window`` room."""

    def __init__(
        self,
        params: RunParams,
        counters: Counters,
        clock_us: Callable[[], int],
        on_room: Callable[[Any], None],
        receipts: ReceiptTracker | None = None,
    ) -> None:
        assert params.address is not None and params.api_key is not None
        self.p = params
        self.concurrency = params.binds * params.window
        self.busy = 0
        self._c = counters
        self._clock = clock_us
        self._on_room = on_room
        self._queue: deque[int] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._url = params.address.rstrip("/") + "/v1/messages"
        self._receipts = receipts
        self._callback_url: str | None = None
        self._bodies: list[bytes] = []
        self._next = 0
        self._client: httpx.AsyncClient | None = None

    def _build_bodies(self) -> list[bytes]:
        p = self.p
        kinds = kind_sequence(p.mix, _POOL, random.Random(p.seed))
        extra: dict[str, Any] = {"dlr": self._callback_url is not None}
        if self._callback_url is not None:
            extra["callback_url"] = self._callback_url
        return [
            json.dumps(
                {"to": p.destinations.number(i), "from": p.source, "text": TEXTS[kind], **extra}
            ).encode()
            for i, kind in enumerate(kinds)
        ]

    # -- the Sender protocol -----------------------------------------------------------------

    @property
    def room(self) -> int:
        return self.concurrency - self.busy - len(self._queue) if self._client is not None else 0

    @property
    def inflight_count(self) -> int:
        return self.busy + len(self._queue)

    def send_from(self, backlog: deque[int], k: int) -> None:
        for _ in range(k):
            self._queue.append(backlog.popleft())
        self._lot.unpark(count=k)

    def send_now(self, k: int, now_us: int) -> None:
        self._queue.extend([now_us] * k)
        self._lot.unpark(count=k)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Check the API answers at all (any HTTP status will do).

        Raises:
            RunFailed: nothing answers at the URL.
        """
        from loadtest.runner import RunFailed

        key = self.p.api_key or ""
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {key}", "X-API-Key": key, "Content-Type": "application/json"},
            limits=limits,
            timeout=httpx.Timeout(self.p.timeout, connect=min(self.p.timeout, 10.0)),
        )
        try:
            await self._client.get(self.p.address.rstrip("/") + "/healthz")  # type: ignore[union-attr]
            # The key, checked before a body is read: an empty body is refused (422) when the
            # key is good and never makes a message; a key refused now would be at every POST.
            answer = await self._client.post(self._url, content=b"{}")
        except httpx.HTTPError as exc:
            await self._client.aclose()
            self._client = None
            raise RunFailed(f"cannot reach {self.p.address}: {exc!r}") from None
        if answer.status_code in _REFUSED or answer.status_code == 404:
            await self._client.aclose()
            self._client = None
            raise self._refused(answer.status_code)

    def _refused(self, code: int) -> Exception:
        """The ``RunFailed`` for an answer that no later request can do better than."""
        from loadtest.runner import RunFailed

        why = {401: "the API key is unknown", 403: "the API key may not send messages"}
        return RunFailed(f"{self._url}: HTTP {code}: {why.get(code, 'no queue API there')} (check --api-key)")

    async def start(self, nursery: trio.Nursery) -> None:
        if self._receipts is not None:
            self._callback_url = await nursery.start(self._serve_callbacks)
        self._bodies = self._build_bodies()
        for _ in range(self.concurrency):
            nursery.start_soon(self._worker)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._queue.clear()
        if client is not None:
            await client.aclose()

    async def _worker(self) -> None:
        c, queue = self._c, self._queue
        while True:
            while not queue:
                await self._lot.park()
            client = self._client
            if client is None:
                return
            intended = queue.popleft()
            body = self._bodies[self._next]
            self._next = (self._next + 1) % len(self._bodies)
            self.busy += 1
            c.sent += 1
            try:
                response = await client.post(self._url, content=body)
            except httpx.TimeoutException:
                c.resp_lat.append(self._clock() - intended)
                c.timeouts += 1
                c.error("timeout")
            except httpx.HTTPError:
                c.error("connection_error")
            else:
                c.resp_lat.append(self._clock() - intended)
                code = response.status_code
                if code in _OK:
                    c.acked += 1
                    if self._receipts is not None:
                        self._submitted(response, intended)
                elif code in _REFUSED:  # every request would be: stop the run at once
                    raise self._refused(code)
                else:
                    if code == 429:
                        c.throttled += 1
                    c.error(f"HTTP_{code}")
            finally:
                self.busy -= 1
            self._on_room(self)

    # -- receipts by webhook ---------------------------------------------------------------

    def _submitted(self, response: httpx.Response, intended: int) -> None:
        try:
            message_id = response.json()["id"]
        except (ValueError, KeyError, TypeError):
            self._c.error("no_id_in_answer")
            return
        assert self._receipts is not None
        if response.status_code == 202:  # 200 is an idempotent repeat: no second receipt
            self._receipts.submitted(str(message_id), intended)

    async def _serve_callbacks(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        from hypercorn.config import Config
        from hypercorn.trio import serve

        config = Config()
        config.bind = [self.p.callback_listen]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        async with trio.open_nursery() as nursery:
            try:
                urls: list[str] = await nursery.start(serve, self._callback_app, config)  # type: ignore[arg-type]
            except (OSError, BaseExceptionGroup) as exc:
                failed = bind_error(exc)
                if failed is None:
                    raise
                from loadtest.runner import RunFailed

                host, port = parse_hostport(self.p.callback_listen, "--callback-listen", allow_zero=True)
                raise RunFailed(f"--callback-listen: {listen_error(failed, host, port).strerror}") from None
            task_status.started(urls[0].rstrip("/") + "/receipt")

    async def _callback_app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A bare ASGI app: one route, no framework (it takes a call per message)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status = 204
        try:
            event = json.loads(body)
            data = event.get("data") or {}  # the gateway's event model: the message in data
            if event.get("type") == "message.status" and data.get("status") in _FINAL:
                assert self._receipts is not None
                self._receipts.receipt(str(data["id"]), self._clock())
        except (ValueError, KeyError, AttributeError):
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
