"""Parts of the composition root of ``smppgw serve`` (``app.py``): the 2-way desks
(keywords, consent, conversations, vouchers), the resume of unfinished messages after a
restart, and, on the Redis store, the shared work queue (``gateway.workqueue`` on
``cluster.workqueue``: every gateway takes any queued message; README "Scale out on
Redis")."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import trio

from smppgw.cluster.streams import redis_client
from smppgw.cluster.workqueue import RedisWork
from smppgw.gateway.consent import CarrierOptOuts, ConsentDesk, ConsentGate
from smppgw.gateway.conversations import Conversations
from smppgw.gateway.engine import Gateway, SubmitError
from smppgw.gateway.inbound import SharedParts
from smppgw.gateway.twoway import Reply, TwoWay
from smppgw.gateway.vouchers import VoucherDesk
from smppgw.gateway.workqueue import Taker, WorkQueue
from smppgw.store.base import MessageStore, Status, Store
from smppgw.twoway.keywords import Keywords

if TYPE_CHECKING:
    from smppgw.app import AppConfig

__all__ = ["resume", "wire_twoway", "work_queue"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def work_queue(config: AppConfig, store: Store, gateway: Gateway) -> AsyncIterator[WorkQueue | None]:
    """The shared work queue when the store is Redis (its own client, open for the run),
    else None. New queued messages go to it from here on (``Intake.handing``)."""
    if config.store_backend != "redis" or not isinstance(store, Taker):
        yield None
        return
    taker = store
    taker.work_queue = gateway.intake.handing = True
    gateway.receipts.shared = True  # correlations written at submit; receipts asked of Redis
    if isinstance(store, SharedParts):
        for smsc in gateway.smscs.values():  # MO parts read by different gateways meet in Redis
            smsc.deliveries.inbound.shared = store
    smscs = config.gateway.smscs
    room = max(100, 4 * sum(s.window * s.binds for s in smscs))  # parts held here at most
    async with redis_client(config.redis_url) as client:
        stream = RedisWork(client, config.redis_prefix, claim_idle=config.claim_idle)
        yield WorkQueue(gateway, stream, taker, room=room)


def wire_twoway(config: AppConfig, store: Store, gateway: Gateway) -> TwoWay:
    """The inbound handler: keywords, consent and conversations (``gateway.twoway``);
    consent asked before every send (``gateway.consent``)."""
    gate = ConsentGate(store, config.twoway.consent)
    gateway.check_consent(gate.at_accept, gate.at_dispatch)
    desk = ConsentDesk(store, config.twoway.consent, gateway.block_destination)
    smscs = {s.name: s for s in config.gateway.smscs}
    if CarrierOptOuts.wanted(smscs):  # [[smsc]] optout_statuses / optout_network_errors
        gateway.add_listener(CarrierOptOuts(desk, smscs, lambda: store.wall(trio.current_time()) or 0.0))

    def send(reply: Reply) -> None:
        with gate.passing(reply):  # the one STOP confirmation, HELP: past the block, once
            gateway.submit(
                source=reply.source, destination=reply.destination, text=reply.text,
                tags=("twoway", reply.purpose, *reply.tags),
            )  # fmt: skip

    vouchers = VoucherDesk(store, registry=gateway.metrics.registry)  # rules' codes, flows' and the API's
    return TwoWay(
        store=store, send=send, keywords=Keywords(config.twoway.keywords), consent=desk,
        tenants=config.tenants, conversations=_conversations(config, store, gateway), vouchers=vouchers,
    )  # fmt: skip


def _conversations(config: AppConfig, store: Store, gateway: Gateway) -> Conversations:
    """The conversation desk (``gateway.conversations``), with the open conversations of
    the store taken back; also the intake's (``expect``, sender pools)."""
    limits = config.gateway

    def sender_tps(sender: str) -> float | None:
        return limits.sender_tps.get(sender, limits.long_code_tps)

    desk = Conversations(
        store, wall=store.wall, pools=config.twoway.pools, route_pools=limits.route_pools,
        router=gateway.intake.router, sender_tps=sender_tps,
    )  # fmt: skip
    if reloaded := desk.reload():
        log.warning("reloaded %d open conversations", reloaded)
    gateway.intake.conversations = desk
    return desk


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
