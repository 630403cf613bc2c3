"""A loopback TCP proxy to the test Redis that a test can cut and restore: Redis "away"
without touching the shared server.

It runs on a trio loop in a thread of its own: the Redis store blocks the caller's trio
thread during a round trip (``store.redis_link``), so a proxy on that same loop could
never answer it. ``cut`` closes every connection and refuses new ones (accepted, then
closed at once, like a server gone); ``restore`` lets them through again.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import trio

__all__ = ["RedisProxy"]


async def _pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    try:
        async for data in source:
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


class RedisProxy:
    """A proxy to ``redis_url``; ``url`` is the proxy's (same database number)."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._path = parts.path
        self.up = True
        self._scopes: set[trio.CancelScope] = set()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._path}"

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, self._handle, listeners)
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if not self.up:
                return  # refused: closed at once
            with trio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    server = await trio.open_tcp_stream(*self._target)
                    async with server, trio.open_nursery() as nursery:
                        nursery.start_soon(_pump, client, server)
                        nursery.start_soon(_pump, server, client)
                finally:
                    self._scopes.discard(scope)

    def _on_loop(self, fn: object) -> None:
        done = threading.Event()

        def run() -> None:
            fn()  # type: ignore[operator]
            done.set()

        assert self._token is not None
        self._token.run_sync_soon(run)
        assert done.wait(5)

    def cut(self) -> None:
        """Redis goes away: every connection closed, new ones refused."""

        def cut() -> None:
            self.up = False
            for scope in list(self._scopes):
                scope.cancel()

        self._on_loop(cut)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        if self._token is not None and self._stop is not None:
            self._on_loop(self._stop.set)
            self._thread.join(5)
