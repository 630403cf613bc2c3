"""Parts of the composition root of ``smppgw serve`` (``app.py``; its 2-way wiring is
``app_twoway.py``): the resume of unfinished messages after a restart, and, on the Redis store, the shared work queue (``gateway.workqueue`` on
``cluster.workqueue``: every gateway takes any queued message; README "Scale out on
Redis")."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from smppgw.gateway.engine import Gateway, SubmitError
from smppgw.gateway.inbound import SharedParts
from smppgw.gateway.workqueue import Taker, WorkQueue
from smppgw.store.base import MessageStore, Status, Store

if TYPE_CHECKING:
    from smppgw.app import AppConfig

__all__ = ["resume", "work_queue"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def work_queue(config: AppConfig, store: Store, gateway: Gateway) -> AsyncIterator[WorkQueue | None]:
    """The shared work queue when the store is Redis (its own client, open for the run),
    else None. New queued messages go to it from here on (``Intake.handing``)."""
    if config.store_backend != "redis" or not isinstance(store, Taker):
        yield None
        return
    from smppgw.cluster.streams import redis_client  # coredis: loaded only on Redis
    from smppgw.cluster.workqueue import RedisWork

    taker = store
    taker.work_queue = gateway.intake.handing = True
    gateway.receipts.shared = True  # correlations written at submit; receipts asked of Redis
    if isinstance(store, SharedParts):
        for smsc in gateway.smscs.values():  # MO parts read by different gateways meet in Redis
            smsc.deliveries.inbound.shared = store
    smscs = config.gateway.smscs
    room = max(100, 4 * sum(s.window * s.binds for s in smscs))  # parts held here at most
    async with redis_client(config.redis_url, cluster=config.redis_cluster) as client:
        stream = RedisWork(
            client, config.redis_prefix, claim_idle=config.claim_idle, consumer_idle=config.consumer_idle
        )
        yield WorkQueue(gateway, stream, taker, room=room)


def resume(gateway: Gateway, store: MessageStore) -> int:
    """Hand the store's unfinished messages back to the gateway; returns how many."""
    records = store.unfinished()
    for record in records:
        try:
            gateway.restore(record)
        except SubmitError as exc:
            record.status, record.error = Status.FAILED, f"not resumable after restart: {exc}"
            store.save(record)
    return len(records)
