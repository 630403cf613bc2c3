"""The coredis client the shared parts (``smppgw.cluster``) talk to Redis through: one
server, or a Redis Cluster (``[store] cluster``, ``[streams] cluster``).

On a cluster, coredis's ``RedisCluster`` learns the slot map from the node in the URL and
sends each command, script (by its KEYS) and pipeline to the node serving its slot. The
scripts here declare every key they touch, and each script's keys share a hash tag (the
store's prefix: ``store.config``), so Redis runs it on one node, atomically.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import coredis

__all__ = ["Client", "redis_client"]

#: Either client: the commands used here are the same on both.
Client: TypeAlias = "coredis.Redis[Any] | coredis.RedisCluster[Any]"


def redis_client(url: str, *, cluster: bool = False) -> Client:
    """A client of ``url`` (bytes in and out; the caller enters it: ``async with``);
    ``cluster``: ``url`` is one node of a Redis Cluster."""
    if cluster:
        return coredis.RedisCluster.from_url(url, decode_responses=False)
    return coredis.Redis.from_url(url, decode_responses=False)
