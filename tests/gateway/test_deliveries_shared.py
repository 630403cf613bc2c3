"""A receipt for a part another gateway sent and has not committed yet (several gateways
on one store, issue 19): asked of the store again after 2, 4, 8, ... ms, answered
ESME_ROK once applied, ESME_RX_T_APPN (the SMSC redelivers) after a second without it.
Virtual time (MockClock); the store is the memory store, the part's correlation is put
there as the other gateway's commit would."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from smppgw.core.constants import CommandStatus, MessageState
from smppgw.core.events import RequestReceived
from smppgw.core.pdu import DeliverSmResp
from smppgw.gateway.changes import Changes
from smppgw.gateway.deliveries import Deliveries
from smppgw.gateway.inbound import Inbound
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import SHARED_KEEP, ReceiptBook
from smppgw.store.base import Status
from smppgw.store.memory import MemoryStore
from tests.gateway.test_deliveries import _Conn, _message, _receipt_pdu

T_APPN = int(CommandStatus.ESME_RX_T_APPN)


class _CountingStore(MemoryStore):
    """The memory store, counting the correlation lookups (each a round trip on Redis)."""

    lookups = 0

    def get_correlation(self, smsc: str, key: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return super().get_correlation(smsc, key)


def _shared() -> tuple[Deliveries, _CountingStore]:
    metrics = GatewayMetrics()
    store = _CountingStore()
    book = ReceiptBook(
        metrics=metrics, hold=60.0, bases={}, on_change=Changes(store, metrics).publish, store=store
    )
    book.shared = True
    return Deliveries("a", book, Inbound(None), metrics), store


async def test_a_receipt_that_overtook_the_other_gateways_commit_is_applied_when_it_lands(
    autojump_clock: MockClock,
) -> None:
    deliveries, store = _shared()
    record = _message()
    store.add([record])
    conn = _Conn(event_time=trio.current_time())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliveries.run)
        deliveries.on_event(
            conn, RequestReceived(sequence_number=7, pdu=_receipt_pdu("abc", MessageState.DELIVERED))
        )
        deliveries.end_batch()
        await trio.sleep(0.005)  # asked at 2 ms and not found: no answer yet
        assert conn.sent == [] and store.lookups >= 2
        # The sending gateway commits the part's SMSC id (its submit_sm_resp).
        record.parts[0].smsc_message_id = "abc"
        record.parts[0].status = Status.SUBMITTED
        store.put_correlation("a", deliveries.receipts.correlator.resp_key("a", "abc"), "m1", 1, 1.0)
        await trio.sleep(0.02)
        assert conn.sent == [(7, DeliverSmResp(), 0)]
        assert record.status is Status.DELIVERED
        nursery.cancel_scope.cancel()


async def test_a_receipt_no_gateway_records_is_answered_t_appn_after_a_second_with_few_lookups(
    autojump_clock: MockClock,
) -> None:
    deliveries, store = _shared()
    conn = _Conn(event_time=trio.current_time())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliveries.run)
        deliveries.on_event(
            conn, RequestReceived(sequence_number=9, pdu=_receipt_pdu("zzz", MessageState.DELIVERED))
        )
        await trio.sleep(0.9)
        assert conn.sent == []  # still asking
        await trio.sleep(0.2)
        assert conn.sent == [(9, DeliverSmResp(), T_APPN)]  # the SMSC delivers it again later
        assert store.lookups <= 12  # backing off: 2, 4, 8, ... ms, not a lookup per tick
        nursery.cancel_scope.cancel()


def test_the_sender_lets_go_of_parts_after_a_minute_and_their_late_receipt_is_looked_up() -> None:
    """Several gateways: a receipt may settle the message on any of them, so the sender
    does not hold every sent record until its deadline (48 h): after SHARED_KEEP the
    part leaves its memory, unsettled; a receipt that still comes is found in the store."""
    deliveries, store = _shared()
    book = deliveries.receipts
    record = _message()
    store.add([record])
    book.submitted("a", record, record.parts[0], "abc", now=100.0)
    assert book.open == 1 and book.overdue(100.0 + SHARED_KEEP - 1) == 0 and book.open == 1
    book.overdue(100.0 + SHARED_KEEP + 1)
    assert book.open == 0 and record.status is Status.SUBMITTED  # forgotten, not unknown
    conn = _Conn(event_time=200.0)
    lookups = store.lookups
    deliveries.on_event(
        conn, RequestReceived(sequence_number=3, pdu=_receipt_pdu("abc", MessageState.DELIVERED))
    )
    deliveries.end_batch()
    assert store.lookups > lookups and conn.sent == [(3, DeliverSmResp(), 0)]
    assert store.get("m1").status is Status.DELIVERED  # type: ignore[union-attr]
