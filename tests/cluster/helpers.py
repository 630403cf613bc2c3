"""Helpers for the cluster tests: coredis clients of their own, sliding-window counts,
and a TCP relay to Redis that a test can cut and restore (Redis away, then back)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

import trio

from smppgw.cluster.client import Client, redis_client

__all__ = ["RedisRelay", "SharedRedis", "clients", "max_in_window"]


class SharedRedis(NamedTuple):
    """Where a test's gateways share Redis (the ``shared`` fixture): a server, or a node
    of a Redis Cluster."""

    url: str
    prefix: str
    cluster: bool = False


@contextlib.asynccontextmanager
async def clients(url: str, n: int, *, cluster: bool = False) -> AsyncIterator[list[Client]]:
    """``n`` coredis clients, each with its own connection pool (as separate gateways);
    ``cluster``: cluster clients, ``url`` one node."""
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for _ in range(n):
            out.append(await stack.enter_async_context(redis_client(url, cluster=cluster)))
        yield out


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most of ``times`` within any half-open interval of ``window`` seconds."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class RedisRelay:
    """A loopback TCP relay to the Redis at ``url``: ``cut()`` drops every connection and
    refuses new ones (Redis away for its clients), ``restore()`` lets them through again."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = parts.path or "/0"
        self.port = 0
        self.open = True
        self._scopes: set[trio.CancelScope] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.db}"

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._serve, listeners)

    def cut(self) -> None:
        self.open = False
        for scope in list(self._scopes):
            scope.cancel()

    def restore(self) -> None:
        self.open = True

    async def _serve(self, client: trio.SocketStream) -> None:
        if not self.open:
            await client.aclose()
            return
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                server = await trio.open_tcp_stream(*self.target)
                async with client, server, trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, client, server, nursery.cancel_scope)
                    nursery.start_soon(self._pump, server, client, nursery.cancel_scope)
            finally:
                self._scopes.discard(scope)

    @staticmethod
    async def _pump(src: trio.abc.Stream, dst: trio.abc.Stream, done: trio.CancelScope) -> None:
        """Copy ``src`` to ``dst``; when either end goes, the pair goes (``done``)."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            async for data in src:
                await dst.send_all(data)
        done.cancel()
