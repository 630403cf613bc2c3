"""A minimal SMSC: binds, answers every submit, optionally sends a receipt for each.

It has none of the carrier behaviour of the full simulator: no throttling, no faults,
no outcome mix. It exists for two jobs: the smallest honest peer for the foundation's
end-to-end demo, and the "minimal reference SMSC" a load test runs against to measure
the load generator rather than the target.
"""

from __future__ import annotations

import itertools
import logging
from typing import Final

import attrs
import trio

from smppgw.core.constants import CommandStatus, EsmClass, MessageState, RegisteredDelivery
from smppgw.core.events import RequestReceived
from smppgw.core.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    SubmitSm,
    SubmitSmResp,
    _Bind,
)
from smppgw.core.receipt import format_receipt, receipt_tlvs
from smppgw.net.connection import SmppConnection

__all__ = ["MinimalSmsc"]

log = logging.getLogger(__name__)

_BIND_RESP: Final = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}
_RECEIPT_ON_DELIVERY: Final = frozenset(
    {RegisteredDelivery.RECEIPT_ALWAYS, RegisteredDelivery.RECEIPT_ON_SUCCESS}
)
_DATE: Final = "2611270000"  # fixed: this SMSC reads no calendar, receipts are immediate


@attrs.define(eq=False)
class MinimalSmsc:
    """Accepts ``accounts`` (system_id -> password; empty accepts anyone).

    Use ``handle`` as the handler of ``smppgw.net.serve_smsc``.
    """

    accounts: dict[str, str] = attrs.field(factory=dict)
    system_id: str = "minimal"
    receipts: bool = True
    submitted: int = 0
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    async def handle(self, conn: SmppConnection) -> None:
        def on_event(event: object) -> None:
            if isinstance(event, RequestReceived):
                self._answer(conn, event.sequence_number, event.pdu)

        conn.on_event = on_event  # answer inline: one write per read, no task per PDU
        await conn.wait_closed()

    def _answer(self, conn: SmppConnection, seq: int, pdu: object) -> None:
        if isinstance(pdu, _Bind):
            expected = self.accounts.get(pdu.system_id)
            ok = not self.accounts or (expected is not None and expected == pdu.password)
            status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RBINDFAIL
            conn.send_response(seq, _BIND_RESP[type(pdu)](system_id=self.system_id), status)
        elif isinstance(pdu, SubmitSm | DataSm):
            message_id = str(next(self._ids))
            self.submitted += 1
            if isinstance(pdu, SubmitSm):
                conn.send_response(seq, SubmitSmResp(message_id=message_id))
            else:
                conn.send_response(seq, DataSmResp(message_id=message_id))
            wants = pdu.registered_delivery & RegisteredDelivery.RECEIPT_MASK
            if self.receipts and wants in (
                RegisteredDelivery.RECEIPT_ALWAYS,
                RegisteredDelivery.RECEIPT_ON_SUCCESS,
            ):
                self._receipt(conn, pdu, message_id)
        else:
            # query/cancel/replace/submit_multi are the full simulator's job.
            conn.send_nack(seq, CommandStatus.ESME_RINVCMDID)

    def _receipt(self, conn: SmppConnection, pdu: SubmitSm | DataSm, message_id: str) -> None:
        if not conn.session.can_send(DeliverSm.command_id):
            return  # a TX bind cannot take it; the full simulator queues for an RX bind
        text = format_receipt(
            message_id=message_id, state=MessageState.DELIVERED, submit_date=_DATE, done_date=_DATE
        )
        receipt = DeliverSm(
            source_addr_ton=pdu.dest_addr_ton,
            source_addr_npi=pdu.dest_addr_npi,
            source_addr=pdu.destination_addr[:20],
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            destination_addr=pdu.source_addr[:20],
            esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
            short_message=text.encode("ascii"),
            tlvs=receipt_tlvs(message_id=message_id, state=MessageState.DELIVERED),
        )
        try:
            conn.start_request(receipt, _ignore)
        except Exception:  # window full or closing: a minimal SMSC drops it, with a log line
            log.debug("receipt for %s not sent", message_id)


def _ignore(_outcome: object) -> None:
    return None


async def run_minimal(
    port: int = 0, *, host: str = "127.0.0.1", task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve a MinimalSmsc; ``task_status.started`` gets the bound port."""
    from smppgw.net.server import serve_smsc

    smsc = MinimalSmsc()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve_smsc, smsc.handle, port)
        task_status.started(listeners[0].socket.getsockname()[1])
