"""``[streams]``: the queue interface for platforms on Redis Streams (``cluster.streams``).

    [streams]
    enabled = true
    url = "redis://127.0.0.1:6379/0"  # any Redis; the store may be SQLite, memory or Redis
    prefix = "smppgw"                 # streams {prefix}:in, :accepted, :errors and :events
    input = true                      # read message requests from {prefix}:in
    events = true                     # write every event of the outbox to {prefix}:events
    group = "smppgw"                  # the gateways' consumer group on {prefix}:in
    consumer = ""                     # this gateway's name in it (default: host-pid)
    tenant = "acme"                   # the tenant of every request read (default: none)
    batch = 100                       # entries per read (XREADGROUP COUNT)
    block = 1.0                       # seconds a read waits for entries (BLOCK)
    claim_idle = 60                   # seconds before another gateway's pending entry is taken
    consumer_idle = 3600              # seconds before an idle consumer with nothing pending is removed
    maxlen = 1000000                  # :accepted, :errors and :events trimmed to about this
    cluster = false                   # url is a node of a Redis Cluster (each stream is one key:
                                      # no hash tag needed; the streams may sit on different nodes)

The streams are named by the prefix, not configured one by one: a platform needs only
the prefix to find them all.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import attrs

from smppgw.support.config import (
    ConfigError,
    boolean,
    integer,
    number,
    string,
    unknown_keys,
)

__all__ = ["StreamSettings", "streams_from_dict"]

_KEYS = {"enabled", "url", "prefix", "input", "events", "group", "consumer", "tenant", "batch", "block"}
_KEYS |= {"claim_idle", "consumer_idle", "maxlen", "cluster"}


def _consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@attrs.frozen(kw_only=True)
class StreamSettings:
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "smppgw"
    input: bool = True
    events: bool = True
    group: str = "smppgw"
    consumer: str = attrs.field(factory=_consumer)
    tenant: str | None = None
    batch: int = 100
    block: float = 1.0
    claim_idle: float = 60.0
    consumer_idle: float = 3600.0  # a gateway that stopped: its consumer removed (cluster.workqueue.PRUNE)
    maxlen: int = 1_000_000
    cluster: bool = False

    @property
    def input_stream(self) -> str:
        return f"{self.prefix}:in"

    @property
    def events_stream(self) -> str:
        return f"{self.prefix}:events"

    @property
    def errors_stream(self) -> str:
        return f"{self.prefix}:errors"

    @property
    def accepted_stream(self) -> str:
        return f"{self.prefix}:accepted"


def streams_from_dict(t: dict[str, Any]) -> StreamSettings | None:
    """The ``[streams]`` table; None unless ``enabled``. Raises ConfigError naming the key."""
    unknown_keys(t, _KEYS, "streams")
    enabled = boolean(t.get("enabled", False), "streams.enabled")
    given: dict[str, Any] = {}
    if "url" in t:
        url = string(t["url"], "streams.url", min_len=1, max_len=2048)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"streams.url: a redis://, rediss:// or unix:// URL, got {url!r}")
        given["url"] = url
    for name in ("prefix", "group", "consumer", "tenant"):
        if name in t:
            value = string(t[name], f"streams.{name}", min_len=1, max_len=128)
            if not value.isprintable() or " " in value:
                raise ConfigError(f"streams.{name}: printable characters without spaces, got {value!r}")
            given[name] = value
    for name in ("input", "events", "cluster"):
        if name in t:
            given[name] = boolean(t[name], f"streams.{name}")
    if "batch" in t:
        given["batch"] = integer(t["batch"], "streams.batch", 1, 10_000)
    if "block" in t:
        given["block"] = number(t["block"], "streams.block", gt=0, le=60)
    if "claim_idle" in t:
        given["claim_idle"] = number(t["claim_idle"], "streams.claim_idle", gt=0, le=86_400)
    if "consumer_idle" in t:
        given["consumer_idle"] = number(t["consumer_idle"], "streams.consumer_idle", gt=0, le=30 * 86_400)
    if "maxlen" in t:
        given["maxlen"] = integer(t["maxlen"], "streams.maxlen", 1000, 1_000_000_000)
    settings = StreamSettings(**given)  # checked even when not enabled: a typo is said now
    if settings.cluster and not settings.url.startswith(("redis://", "rediss://")):
        raise ConfigError("streams.url: with cluster = true, a redis:// or rediss:// URL of one node")
    return settings if enabled else None
