"""The ``[store]`` section of ``smppgw serve`` (and ``smppgw keys``), and the store it opens.

    [store]
    backend = "sqlite"               # "sqlite" (embedded, the default), "redis" (several
                                     # gateways share it: README "Scale out on Redis"), "memory"
    path = "var/smppgw.sqlite3"      # sqlite: the file
    url = "redis://127.0.0.1:6379/0" # redis: the server (redis://, rediss://, unix://)
    prefix = "smppgw"                # redis: every key starts with it
    cluster = false                  # redis: url is a node of a Redis Cluster; the prefix
                                     # then holds a hash tag: prefix = "{smppgw}"
    flush_interval = 0.05            # seconds between write-behind flushes
    claim_idle = 30                  # redis: seconds before a dead gateway's work is taken over
    consumer_idle = 3600             # redis: seconds before an idle consumer with nothing pending is removed
    bind_lease_ttl = 15              # redis: seconds before a dead gateway's bind slots are free

A Redis that can't be reached at start is an error naming the URL (``open_store``
raises ``StoreError``; ``smppgw serve`` exits 1 with it).

Redis Cluster: the Lua scripts write a batch of messages and the shared indexes (the
``open`` and ``created`` sets, the counts, the outbox, the ``work`` stream) in one atomic
step, and Redis runs a script on one node over keys of one slot. So one deployment's keys
share one slot: the prefix holds a hash tag (``{smppgw}``, ``gw:{eu}``; Redis hashes only
the first ``{...}`` of a key), and ``cluster = true`` without one is a config error.
Several deployments (prefixes with different tags) spread over the shards.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from smppgw.store.base import Store, StoreControl, StoreError
from smppgw.support.config import ConfigError, boolean, number, positive, string, unknown_keys

__all__ = ["BACKENDS", "StoreSettings", "checkpointer", "flusher", "hash_tag", "open_store", "store_settings"]

log = logging.getLogger(__name__)

BACKENDS: Final = ("sqlite", "redis", "memory")
_SCHEMES = ("redis://", "rediss://", "unix://")
# No braces, or one hash tag: ``{tag}`` with something in it (``{}`` is no tag to Redis).
_PREFIX = re.compile(r"[^{}\s]*(\{[^{}\s]+\}[^{}\s]*)?")
_KEYS = {"backend", "path", "url", "prefix", "flush_interval", "claim_idle", "consumer_idle", "cluster"}
_KEYS |= {"bind_lease_ttl"}


def hash_tag(prefix: str) -> str | None:
    """The Redis Cluster hash tag of keys starting with ``prefix`` (None: it has none)."""
    start = prefix.find("{")
    end = prefix.find("}", start + 1)
    return prefix[start + 1 : end] if start >= 0 and end > start + 1 else None


@attrs.frozen(kw_only=True)
class StoreSettings:
    backend: str = "sqlite"
    path: Path = Path("var/smppgw.sqlite3")
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "smppgw"
    flush_interval: float = 0.05
    claim_idle: float = 30.0  # redis: the work queue's (cluster/workqueue.py)
    consumer_idle: float = 3600.0  # redis: a stopped gateway's consumer leaves the group (PRUNE)
    cluster: bool = False  # redis: ``url`` is a node of a Redis Cluster
    bind_lease_ttl: float = 15.0  # redis: a bind slot's lease outlives its last renewal (cluster/leases.py)

    def where(self) -> str:
        """What the store is, for logs and messages (a Redis URL without its password)."""
        if self.backend == "redis":
            from smppgw.store.redis_link import redact

            kind = "redis cluster" if self.cluster else "redis"
            return f"{kind} {redact(self.url)} prefix {self.prefix}"
        return "memory" if self.backend == "memory" else str(self.path)


def store_settings(t: dict[str, Any]) -> StoreSettings:
    """The ``[store]`` table. Raises ConfigError naming the first bad key."""
    unknown_keys(t, _KEYS, "store")
    out: dict[str, Any] = {}
    if "backend" in t:
        backend = string(t["backend"], "store.backend")
        if backend not in BACKENDS:
            raise ConfigError(f"store.backend: {backend!r} is not one of {', '.join(BACKENDS)}")
        out["backend"] = backend
    if "path" in t:
        out["path"] = Path(string(t["path"], "store.path"))
    if "url" in t:
        url = string(t["url"], "store.url", min_len=1)
        if not url.startswith(_SCHEMES):
            raise ConfigError(f"store.url: must start with {', '.join(_SCHEMES)}")
        out["url"] = url
    if "prefix" in t:
        prefix = string(t["prefix"], "store.prefix", min_len=1)
        if not _PREFIX.fullmatch(prefix):  # braces are Redis Cluster hash tags
            raise ConfigError(
                f"store.prefix: no whitespace, and no braces but one hash tag like {{smppgw}}; got {prefix!r}"
            )
        out["prefix"] = prefix
    if "flush_interval" in t:
        out["flush_interval"] = positive(t["flush_interval"], "store.flush_interval")
    if "claim_idle" in t:
        out["claim_idle"] = number(t["claim_idle"], "store.claim_idle", gt=0.5, le=86400)
    if "consumer_idle" in t:
        out["consumer_idle"] = number(t["consumer_idle"], "store.consumer_idle", gt=0, le=30 * 86400)
    if "cluster" in t:
        out["cluster"] = boolean(t["cluster"], "store.cluster")
    if "bind_lease_ttl" in t:  # renewed every third of it: a second at least between renewals
        out["bind_lease_ttl"] = number(t["bind_lease_ttl"], "store.bind_lease_ttl", ge=3, le=3600)
    settings = StoreSettings(**out)
    if settings.cluster:
        _check_cluster(settings)
    return settings


def _check_cluster(settings: StoreSettings) -> None:
    """A Redis Cluster has one database (0) and is reached over TCP; the prefix holds the
    hash tag of the deployment's slot."""
    if not settings.url.startswith(("redis://", "rediss://")):
        raise ConfigError("store.url: with cluster = true, a redis:// or rediss:// URL of one node")
    if settings.url.partition("://")[2].partition("?")[0].partition("/")[2] not in ("", "0"):
        raise ConfigError("store.url: a Redis Cluster has only database 0")
    if hash_tag(settings.prefix) is None:
        raise ConfigError(
            f"store.prefix: with cluster = true it needs a hash tag, like {{{settings.prefix}}}: a deployment's "
            f"keys must share one slot (one script writes a message, its indexes and its work entry atomically); "
            f"got {settings.prefix!r}"
        )


def open_store(settings: StoreSettings, *, clock_offset: float = 0.0) -> Store:
    """The store ``settings`` name. Raises StoreError (Redis can't be reached: the
    message names the URL; an SQLite file that can't be used)."""
    if settings.backend == "redis":
        from smppgw.store.redis import RedisStore

        return RedisStore(
            settings.url, prefix=settings.prefix, clock_offset=clock_offset, cluster=settings.cluster
        )
    if settings.backend == "memory":
        from smppgw.store.memory import MemoryStore

        return MemoryStore(clock_offset=clock_offset)
    from smppgw.store.sqlite import SqliteStore

    return SqliteStore(settings.path, clock_offset=clock_offset)


# -- the store's upkeep tasks in ``smppgw serve`` ------------------------------------------------


async def flusher(store: StoreControl, interval: float) -> None:
    """Write-behind flushes every ``interval``; a failed one keeps its changes for the
    next (``StoreControl.flush``), logged once per outage, not every ``interval``."""
    failing = False
    while True:
        await trio.sleep(interval)
        try:
            store.flush()
        except StoreError as exc:
            if not failing:
                log.warning("store flush failed; retrying, nothing is dropped: %s", exc)
            failing = True
        except Exception:
            log.exception("store flush failed; retrying")
        else:
            if failing:
                log.warning("store flush works again")
            failing = False


async def checkpointer(store: StoreControl, interval: float = 1.0) -> None:
    """The store's checkpoints, in a worker thread: never on the event loop."""
    while True:
        await trio.sleep(interval)
        try:
            await trio.to_thread.run_sync(store.checkpoint)
        except Exception:  # the WAL keeps everything meanwhile; the next one catches up
            log.exception("store checkpoint failed; retrying")
