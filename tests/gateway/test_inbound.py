"""Inbound (MO) plumbing: concatenated parts reassembled, the handler called once with
the whole text (checklist 71), receipts kept apart from MO."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.constants import CommandStatus, DataCoding
from smppgw.core.pdu import DeliverSm
from smppgw.gateway.inbound import Inbound, InboundMessage
from tests.gateway.helpers import gateway, memory_simulator, metric, smsc, wait_until

LONG_UCS2 = ("Привет! Это длинное сообщение, которое не помещается в одну часть. " * 3).strip()


@pytest.mark.parametrize("method", ["udh8", "udh16", "sar"])
async def test_long_ucs2_mo_reaches_the_handler_once_and_whole(
    method: str, autojump_clock: MockClock
) -> None:
    got: list[InboundMessage] = []
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"mo_concat": method}) as sim:
            async with gateway(smsc(sim, binds=1), inbound_handler=got.append) as gw:
                parts = sim.inject_mo(
                    system_id=None, source_addr="447700900123", destination_addr="12345", text=LONG_UCS2
                )
                assert parts >= 3
                assert await wait_until(lambda: len(got) >= 1, 5)
                await trio.sleep(0.2)  # nothing else follows
                inbound = metric(gw, "smppgw_inbound_total", smsc="a")
                receipts = gw.receipts.correlator.matched + gw.receipts.correlator.held
    [message] = got
    assert message.text == LONG_UCS2
    assert (message.source, message.destination) == ("447700900123", "12345")
    assert message.parts == parts and message.complete and message.smsc == "a"
    assert message.data_coding == DataCoding.UCS2
    assert inbound == parts  # every part answered and counted
    assert receipts == 0  # MO is never taken for a receipt


def test_handler_failure_asks_for_redelivery() -> None:
    def broken(message: InboundMessage) -> None:
        raise RuntimeError("database down")

    inbound = Inbound(broken)
    pdu = DeliverSm(source_addr="447700900123", destination_addr="12345", short_message=b"STOP")
    assert inbound.receive("a", pdu, 0.0) == CommandStatus.ESME_RX_T_APPN
    inbound.handler = lambda message: None
    assert inbound.receive("a", pdu, 1.0) == CommandStatus.ESME_ROK


def test_missing_parts_are_delivered_incomplete_after_the_timeout() -> None:
    got: list[InboundMessage] = []
    inbound = Inbound(got.append, timeout=10.0)
    udh = bytes([5, 0, 3, 7, 2, 1])
    pdu = DeliverSm(
        source_addr="447700900123", destination_addr="12345", esm_class=0x40, short_message=udh + b"Hello "
    )
    assert inbound.receive("a", pdu, 0.0) == CommandStatus.ESME_ROK
    assert got == []
    inbound.expire("a", 5.0)
    assert got == []
    inbound.expire("a", 10.5)
    [message] = got
    assert message.text == "Hello " and not message.complete and message.parts == 1
