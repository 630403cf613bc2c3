"""A synchronous door to Redis for the Redis store: coredis on a trio loop of its own,
in a daemon thread.

The store protocols are synchronous (``store.base``: SQLite is called in the trio
thread, and the gateway counts on a ``get`` or a ``commit`` being a plain call), while
coredis is async. So the store runs one coredis client on a private trio loop in a
background thread and hands it coroutines: ``call`` schedules one there
(``TrioToken.run_sync_soon`` is the thread-safe way in) and blocks the caller until
its answer comes back, like a SQLite call blocks on the disk. A thread hop costs tens
of microseconds next to a loopback round trip (README: "Scale out on Redis").

Failures: any error of the connection (refused, reset, timed out) becomes
``StoreError`` naming the URL, and opens a backoff window (0.05 s, doubling to 2 s)
during which calls fail at once without touching the network, so a Redis that is
away costs the event loop nothing per call; the first call after the window tries
again (coredis reconnects), and a success closes it. A call never waits longer than
``timeout``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import coredis
import coredis.exceptions
import trio

from smppgw.store.base import StoreError

__all__ = ["RedisBridge", "redact"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0


def redact(url: str) -> str:
    """``url`` without a password (it is logged and shown in errors)."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        auth, _, rest = tail.rpartition("@")
        user = auth.partition(":")[0]
        return f"{head}://{user + ':***' if ':' in auth else auth}@{rest}"
    return url


class RedisBridge:
    """One coredis client on a trio loop in a daemon thread; ``call`` runs a coroutine
    there and returns its result to the calling (any) thread."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self.where = redact(url)
        self.timeout = timeout
        self._client: coredis.Redis[bytes] = coredis.Redis.from_url(
            url, stream_timeout=timeout, connect_timeout=min(timeout, 2.0)
        )
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._down_until = 0.0
        self._backoff = _BACKOFF_FIRST
        self.failures = 0  # calls that failed on the connection (for tests and logs)
        self._up = False  # a call succeeded once: later outages are logged (the first is the opener's)
        self._thread = threading.Thread(target=self._main, name="smppgw-redis", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise StoreError(f"redis {self.where}: {self._error}") from self._error

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            async with self._client:
                self._ready.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()

    def call(self, work: Callable[[coredis.Redis[bytes]], Awaitable[T]]) -> T:
        """Run ``work(client)`` on the Redis loop and return its result.

        Raises:
            StoreError: Redis can't be reached (or is in the backoff window), the call
                timed out, or Redis answered with an error.
        """
        if self._token is None:
            raise StoreError(f"redis {self.where}: the store is closed")
        now = time.monotonic()
        if now < self._down_until:
            raise StoreError(f"redis {self.where} is unavailable (retrying)")
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

        async def run() -> None:
            try:
                with trio.fail_after(self.timeout):
                    answer.put((True, await work(self._client)))
            except BaseException as exc:
                answer.put((False, exc))
                if not isinstance(exc, Exception):
                    raise

        try:
            self._token.run_sync_soon(lambda: self._nursery.start_soon(run))
            ok, value = answer.get(timeout=self.timeout + 1.0)
        except (trio.RunFinishedError, queue.Empty) as exc:
            ok, value = False, trio.TooSlowError() if isinstance(exc, queue.Empty) else exc
        if ok:
            if self.failures and self._backoff != _BACKOFF_FIRST:
                log.warning("redis %s is back", self.where)
            self._backoff = _BACKOFF_FIRST
            self._up = True
            return value  # type: ignore[no-any-return]
        if isinstance(value, StoreError):
            raise value
        if isinstance(value, coredis.exceptions.ResponseError) and not _connection_error(value):
            raise StoreError(f"redis {self.where}: {value}") from value
        self.failures += 1
        self._down_until = time.monotonic() + self._backoff
        if self._backoff == _BACKOFF_FIRST and self._up:
            log.error("redis %s unavailable: %s: %s", self.where, type(value).__name__, value)
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        raise StoreError(f"redis {self.where} unavailable: {type(value).__name__}: {value}") from value

    @property
    def closed(self) -> bool:
        return self._token is None

    def close(self) -> None:
        """Stop the loop and its thread (the client's connections close with it)."""
        token, self._token = self._token, None
        if token is not None and self._stop is not None:
            stop = self._stop
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(stop.set)
            self._thread.join(timeout=5.0)


def _connection_error(exc: BaseException) -> bool:
    """A reply that says the server can't serve now (loading, read-only replica, busy)."""
    text = str(exc)
    return text.startswith(("LOADING", "READONLY", "BUSY", "MASTERDOWN", "TRYAGAIN"))
