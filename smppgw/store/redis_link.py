"""The Redis store's connection: a synchronous client in the caller's thread, with a
backoff while Redis is away.

Why synchronous (redis-py), not coredis: the store protocols are synchronous (SQLite is
called in the trio thread; the gateway counts on a ``get`` or a ``commit`` being a plain
call). The first version ran coredis on a trio loop in a thread of its own and handed it
each call; every round trip then needed two thread wake-ups besides Redis's, and on a
busy machine each waits for a core: measured on the 2-core CI machine under load, a PING
took 3.3-5.7 ms that way against 0.4-0.85 ms with a synchronous client in the calling
thread (0.35 ms against ~0.1-0.17 ms when idle). The async parts that share Redis from
the trio loop (``smppgw.cluster``) use coredis.

Failures: any error of the connection (refused, reset, timed out, a server loading or
read-only) becomes ``StoreError`` naming the URL (without its password), and opens a
backoff window (0.05 s, doubling to 2 s) during which calls fail at once without
touching the network, so a Redis that is away costs the event loop nothing per call;
the first call after the window tries again (the client reconnects), and a success
closes it. A call never waits longer than ``timeout`` (a socket timeout).

On Redis Cluster (``cluster=True``, ``[store] cluster``) the client is redis-py's
``RedisCluster``: it learns the slot map from the node in ``url`` and sends each command
to the node that owns its key's slot (a script by the key it declares, ``RedisStore``),
following MOVED after a failover. A cluster that is down (no node answers, a slot not
served) counts as away like a single server that is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from smppgw.store.base import StoreError

__all__ = ["RedisLink", "redact"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0
# Errors that mean "Redis can't serve now": retried after the backoff, the API answers 503.
_AWAY = (
    redis.exceptions.ConnectionError,  # BusyLoadingError (a server loading its file) too
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterError,  # CLUSTERDOWN, MASTERDOWN: a failover under way
    redis.exceptions.RedisClusterException,  # no node reachable, a slot not covered
    OSError,
)


def redact(url: str) -> str:
    """``url`` without a password (it is logged and shown in errors)."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        auth, _, rest = tail.rpartition("@")
        user = auth.partition(":")[0]
        return f"{head}://{user + ':***' if ':' in auth else auth}@{rest}"
    return url


class RedisLink:
    """One Redis client (a connection pool); ``call`` runs ``work(client)`` and turns the
    client's errors into ``StoreError``."""

    def __init__(self, url: str, *, timeout: float = 5.0, cluster: bool = False) -> None:
        self.url = url
        self.where = redact(url) + (" (cluster)" if cluster else "")
        self.timeout = timeout
        options: dict[str, Any] = {
            "socket_timeout": timeout, "socket_connect_timeout": min(timeout, 2.0),
            "retry": Retry(NoBackoff(), 0),  # the store retries on its own schedule (backoff)
        }  # fmt: skip
        try:
            if cluster:  # (it reads the slot map now: a cluster away raises here)
                self._client: redis.Redis | None = redis.RedisCluster.from_url(  # type: ignore[assignment]
                    url, **options
                )
            else:
                self._client = redis.Redis.from_url(url, **options)
        except ValueError as exc:  # a URL redis-py can't read
            raise StoreError(f"redis {self.where}: {exc}") from None
        except _AWAY as exc:
            raise StoreError(f"can't reach Redis at {self.where}: {exc}") from None
        self._down_until = 0.0
        self._backoff = _BACKOFF_FIRST
        self._up = False  # a call succeeded once: later outages are logged (the first is the opener's)
        self.failures = 0  # calls that failed on the connection

    @property
    def closed(self) -> bool:
        return self._client is None

    def call(self, work: Callable[[redis.Redis], T]) -> T:
        """``work(client)``'s result.

        Raises:
            StoreError: Redis can't be reached (or is in the backoff window), the call
                timed out, or Redis answered with an error (a script's refusal).
        """
        client = self._client
        if client is None:
            raise StoreError(f"redis {self.where}: the store is closed")
        if time.monotonic() < self._down_until:
            raise StoreError(f"redis {self.where} is unavailable (retrying)")
        try:
            value = work(client)
        except _AWAY as exc:
            self.failures += 1
            self._down_until = time.monotonic() + self._backoff
            if self._backoff == _BACKOFF_FIRST and self._up:
                log.error("redis %s unavailable: %s: %s", self.where, type(exc).__name__, exc)  # noqa: TRY400 (no trace: a known outage)
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
            raise StoreError(f"redis {self.where} unavailable: {type(exc).__name__}: {exc}") from exc
        except redis.exceptions.RedisError as exc:  # an answer: a script's refusal, a wrong type
            raise StoreError(f"redis {self.where}: {exc}") from exc
        if self._backoff != _BACKOFF_FIRST and self._up:
            log.warning("redis %s is back", self.where)
        self._backoff = _BACKOFF_FIRST
        self._up = True
        return value

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
