"""The 2-way wiring of ``smppgw serve`` (``app.run_app``): the consent gate and desk, the
inbound handler with its keyword rules, conversations, vouchers and flows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from smppgw.gateway.consent import CarrierOptOuts, ConsentDesk, ConsentGate
from smppgw.gateway.conversations import Conversations
from smppgw.gateway.engine import Gateway
from smppgw.gateway.flows import flow_desk
from smppgw.gateway.twoway import Reply, TwoWay
from smppgw.gateway.vouchers import VoucherDesk
from smppgw.store.base import Store
from smppgw.twoway.keywords import Keywords

if TYPE_CHECKING:
    from smppgw.app import AppConfig

__all__ = ["conversation_desk", "twoway_handler"]

log = logging.getLogger("smppgw.app")


def twoway_handler(config: AppConfig, store: Store, gateway: Gateway) -> TwoWay:
    """The inbound handler: keywords, consent and conversations (``gateway.twoway``);
    consent asked before every send (``gateway.consent``)."""
    gate = ConsentGate(store, config.twoway.consent)
    gateway.check_consent(gate.at_accept, gate.at_dispatch)
    desk = ConsentDesk(store, config.twoway.consent, gateway.block_destination)
    smscs = {s.name: s for s in config.gateway.smscs}
    if CarrierOptOuts.wanted(smscs):  # [[smsc]] optout_statuses / optout_network_errors
        gateway.add_listener(CarrierOptOuts(desk, smscs, lambda: store.wall(trio.current_time()) or 0.0))

    def send(reply: Reply) -> object:
        with gate.passing(reply):  # the one STOP confirmation, HELP: past the block, once
            return gateway.submit(
                source=reply.source, destination=reply.destination, text=reply.text,
                tags=("twoway", reply.purpose, *reply.tags),
            )  # fmt: skip

    vouchers = VoucherDesk(store, registry=gateway.metrics.registry)  # rules' codes, flows' and the API's
    keywords = Keywords(config.twoway.keywords)
    flows = flow_desk(
        store, flows=config.twoway.flows, keywords=keywords, send=send, wall=store.wall, vouchers=vouchers
    )
    return TwoWay(
        store=store, send=send, keywords=keywords, consent=desk, tenants=config.tenants,
        conversations=conversation_desk(config, store, gateway), vouchers=vouchers, flows=flows,
    )  # fmt: skip


def conversation_desk(config: AppConfig, store: Store, gateway: Gateway) -> Conversations:
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
