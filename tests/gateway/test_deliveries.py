"""Deliveries: what arrives on a bind, decided and answered without a network.

The second half is the receipt walk as a whole: a deliver_sm receipt -> ReceiptBook ->
the correlator -> rollup -> Changes (saved, handed to a listener) -> deliver_sm_resp.
"""

from __future__ import annotations

from typing import Any

import attrs

from smppgw.core.constants import CommandStatus, MessageState, TlvTag
from smppgw.core.events import RequestReceived
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp
from smppgw.core.receipt_format import format_receipt
from smppgw.core.tlv import Tlv
from smppgw.gateway.changes import Changes
from smppgw.gateway.deliveries import Deliveries
from smppgw.gateway.inbound import Inbound, InboundMessage
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.store.base import MessageRecord, PartRecord, Status
from smppgw.store.memory import MemoryStore


@attrs.define
class _Conn:
    """What Deliveries uses of an SmppConnection: the read's time and send_response."""

    event_time: float = 10.0
    sent: list[tuple[int, Any, int]] = attrs.field(factory=list)

    def send_response(self, sequence_number: int, pdu: Any, status: int = 0) -> None:
        self.sent.append((sequence_number, pdu, status))


def _receipt_pdu(smsc_id: str, state: MessageState) -> DeliverSm:
    text = format_receipt(message_id=smsc_id, state=state, submit_date="2601011200", done_date="2601011201")
    return DeliverSm(
        source_addr="447700900001", destination_addr="12345", esm_class=0x04, short_message=text.encode()
    )


def _setup(handler: Any = None) -> tuple[Deliveries, GatewayMetrics, list[MessageRecord], MemoryStore]:
    metrics = GatewayMetrics()
    store = MemoryStore()
    changes = Changes(store, metrics)
    seen: list[MessageRecord] = []
    changes.listeners.append(seen.append)
    book = ReceiptBook(metrics=metrics, hold=60.0, bases={}, on_change=changes.publish)
    return Deliveries("a", book, Inbound(handler), metrics), metrics, seen, store


def _message(parts: int = 1) -> MessageRecord:
    record = MessageRecord(id="m1", source="12345", destination="447700900001", text="hi")
    record.parts = [PartRecord(index=i + 1, total=parts) for i in range(parts)]
    return record


def test_a_receipt_settles_its_message_saves_it_tells_the_listener_then_is_answered() -> None:
    deliveries, metrics, seen, store = _setup()
    record = _message()
    store.add([record])
    deliveries.receipts.submitted("a", record, record.parts[0], "abc123", now=1.0)
    assert seen[-1].status is Status.SUBMITTED
    conn = _Conn()
    deliveries.on_event(
        conn, RequestReceived(sequence_number=7, pdu=_receipt_pdu("abc123", MessageState.DELIVERED))
    )
    deliveries.end_batch()  # the connection ends the batch: commit, then answer
    assert conn.sent == [(7, DeliverSmResp(), 0)]
    assert record.status is Status.DELIVERED and record.parts[0].receipt_latency == 9.0
    assert seen[-1] is record and store.get("m1") is record
    sample = metrics.registry.get_sample_value
    assert sample("smppgw_receipts_total", {"smsc": "a", "stat": "DELIVRD"}) == 1
    assert sample("smppgw_messages_total", {"status": "delivered"}) == 1
    assert sample("smppgw_submit_receipt_seconds_count", {"smsc": "a"}) == 1


def test_a_receipt_before_its_submit_resp_is_held_and_answered_ok() -> None:
    deliveries, _, seen, _ = _setup()
    conn = _Conn()
    deliveries.on_event(
        conn, RequestReceived(sequence_number=3, pdu=_receipt_pdu("zz9", MessageState.UNDELIVERABLE))
    )
    deliveries.end_batch()  # the connection ends the batch: commit, then answer
    assert conn.sent == [(3, DeliverSmResp(), 0)]
    assert deliveries.receipts.correlator.held == 1 and seen == []
    record = _message()
    deliveries.receipts.submitted("a", record, record.parts[0], "zz9", now=11.0)
    assert (record.status, record.error) == (Status.UNDELIVERABLE, "UNDELIV")


def test_an_mo_goes_to_the_inbound_handler_and_its_failure_asks_for_redelivery() -> None:
    got: list[InboundMessage] = []
    deliveries, metrics, _, _ = _setup(got.append)
    conn = _Conn()
    mo = DeliverSm(source_addr="447700900001", destination_addr="12345", short_message=b"STOP")
    deliveries.on_event(conn, RequestReceived(sequence_number=1, pdu=mo))
    deliveries.end_batch()  # the connection ends the batch: commit, then answer
    assert conn.sent == [(1, DeliverSmResp(), 0)]
    assert [(m.text, m.smsc, m.received_at) for m in got] == [("STOP", "a", 10.0)]
    assert metrics.registry.get_sample_value("smppgw_inbound_total", {"smsc": "a"}) == 1

    def broken(message: InboundMessage) -> None:
        raise RuntimeError("the handler is down")

    deliveries, _, _, _ = _setup(broken)
    deliveries.on_event(conn, RequestReceived(sequence_number=2, pdu=mo))
    deliveries.end_batch()  # the connection ends the batch: commit, then answer
    assert conn.sent[-1] == (2, DeliverSmResp(), CommandStatus.ESME_RX_T_APPN)
    assert deliveries.receipts.correlator.held == 0  # never taken for a receipt


def test_data_sm_is_answered_with_data_sm_resp() -> None:
    got: list[InboundMessage] = []
    deliveries, _, _, _ = _setup(got.append)
    conn = _Conn()
    pdu = DataSm(
        source_addr="447700900001", destination_addr="12345", tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, b"hello"),)
    )
    deliveries.on_event(conn, RequestReceived(sequence_number=5, pdu=pdu))
    deliveries.end_batch()  # the connection ends the batch: commit, then answer
    assert conn.sent == [(5, DataSmResp(), 0)]
    assert [m.text for m in got] == ["hello"]


async def test_a_failure_is_final_once_counted_and_published() -> None:
    metrics, store = GatewayMetrics(), MemoryStore()
    changes = Changes(store, metrics)
    seen: list[Status] = []
    changes.listeners.append(lambda m: seen.append(m.status))
    record = _message()
    changes.fail(record, Status.REJECTED, "ESME_RINVDSTADR")
    changes.fail(record, Status.FAILED, "too late")  # final already: nothing changes
    assert (record.status, record.error, seen) == (Status.REJECTED, "ESME_RINVDSTADR", [Status.REJECTED])
    assert store.get("m1") is record
    assert metrics.registry.get_sample_value("smppgw_messages_total", {"status": "rejected"}) == 1
