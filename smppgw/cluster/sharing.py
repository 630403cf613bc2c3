"""The limits and bind slots a gateway shares with the others on one Redis: made from
``(url, prefix)`` (``[store] url``/``prefix``), run as one task (the composition root's,
``smppgw.app``) for as long as the gateway runs."""

from __future__ import annotations

import trio

from smppgw.cluster.client import redis_client
from smppgw.cluster.leases import RedisLeases
from smppgw.cluster.limits import RedisLimits

__all__ = ["Sharing"]


class Sharing:
    """``limits`` (``Gateway(shared_limits=)``) and ``leases`` (``Gateway(leases=)``)
    on one coredis client of their own. Nothing connects before ``run``; a Redis away
    then pauses sending and binding (each module says how), it does not stop the run."""

    def __init__(self, url: str, prefix: str, *, cluster: bool = False, lease_ttl: float = 15.0) -> None:
        self.url = url
        self.client = redis_client(url, cluster=cluster)
        self.limits = RedisLimits(self.client, prefix)
        self.leases = RedisLeases(self.client, prefix, ttl=lease_ttl)  # [store] bind_lease_ttl

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.client, trio.open_nursery() as nursery:
            await nursery.start(self.limits.run)
            await nursery.start(self.leases.run)
            task_status.started()
