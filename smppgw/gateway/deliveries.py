"""What arrives on an SMSC's binds: receipts, inbound (MO) messages, the rest.

Each SMSC has one ``Deliveries``; its pool calls ``on_event(conn, event)`` for every
event a bind's connection does not handle itself (SmppConnection answers responses to
our requests through their callbacks). For a deliver_sm or data_sm:

1. a receipt? ``core.receipt`` reads it from the TLVs (``quick_receipt``) or the text;
2. a receipt goes to the ``ReceiptBook`` (correlated, or held until its submit_sm_resp
   comes); anything else is an MO message for ``Inbound`` (reassembled, handed to the
   inbound handler), which says how to answer;
3. the answer: deliver_sm_resp / data_sm_resp, after the receipt or message is recorded
   (SMPP 3.4 §4.6.2), ESME_RX_T_APPN when the inbound handler failed (the SMSC
   redelivers later, §5.1.3).

Durability order (DESIGN §3, group commit): the answers of one batch (a read, or a
slice of a large one) are queued; when the connection ends the batch (``end_batch``,
its ``on_batch_end``) they are handed to the gateway's ``GroupCommit``, which sends
them after its next commit: no deliver_sm_resp leaves before what it acknowledges is
on disk, and one commit carries many batches. If the commit fails, the answers say
ESME_RX_T_APPN: the SMSC redelivers, nothing acknowledged is lost.

Other requests (enquire_link, unbind, bad PDUs) the session answers itself; protocol
violations, timeouts and alert_notification are only logged here. A response matching
no request in flight (an unsolicited generic_nack, a submit_sm_resp after its request
timed out) is counted (``smppgw_unsolicited_responses_total{smsc,command}``) and
logged, at most a line per interval: an SMSC can send one per PDU.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging

import trio

from smppgw.core.constants import CommandId, CommandStatus, status_name
from smppgw.core.events import (
    Event,
    NotificationReceived,
    ProtocolViolation,
    RequestReceived,
    SessionTimedOut,
    UnexpectedResponse,
)
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp, Response
from smppgw.core.receipt import Receipt, parse_receipt, quick_receipt
from smppgw.gateway.commit import GroupCommit
from smppgw.gateway.inbound import Inbound
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import NotRecordedYet, ReceiptBook
from smppgw.net.connection import SmppConnection
from smppgw.store.base import StoreError
from smppgw.support.logsafe import kv
from smppgw.support.ratelog import RateLimitedLog, escape

__all__ = ["Deliveries"]

log = logging.getLogger(__name__)
# Beyond the receiving window (``SmscConfig.receive_window``) the session answers these.
_OVER_WINDOW = CommandStatus.ESME_RX_T_APPN
_DELIVERY_IDS = frozenset({int(CommandId.DELIVER_SM), int(CommandId.DATA_SM)})


def _escaped(event: ProtocolViolation) -> str:
    """The violation's text (it may quote the peer's bytes), safe for one log line."""
    return escape(str(event), 300)


# Per-message constants: a tuple (``A | B`` in a call builds a union each time), frozen
# all-default answers shared by every receipt and MO.
_DELIVERIES = (DeliverSm, DataSm)
_DELIVER_SM_RESP, _DATA_SM_RESP = DeliverSmResp(), DataSmResp()
_RECORDED = 0  # ESME_ROK: the receipt is recorded (matched or held)
# A receipt for a part another gateway sent but has not committed yet (NotRecordedYet,
# issue 19) is asked of the store again after 2, 4, 8, ... ms, for up to a second, before
# it is answered ESME_RX_T_APPN: the sender commits within milliseconds, while the
# SMSC's redelivery comes a second or more later (and a carrier may slow the bind).
_ASK_FIRST, _ASK_FOR = 0.002, 1.0
_MAX_WAITING = 10_000  # beyond, answered ESME_RX_T_APPN at once (the SMSC's windows bound it)


class Deliveries:
    """What arrives on the binds of the SMSC ``smsc``."""

    def __init__(
        self,
        smsc: str,
        receipts: ReceiptBook,
        inbound: Inbound,
        metrics: GatewayMetrics,
        *,
        group: GroupCommit | None = None,
    ) -> None:
        self.smsc = smsc
        self.receipts = receipts
        self.inbound = inbound
        self._mo_count = metrics.inbound.labels(smsc)
        self._over_window = metrics.over_window.labels(smsc)
        self._metrics = metrics
        self._ratelog = RateLimitedLog(log)  # per instance: two gateways never mute each other
        # Answers go out after its next commit (at once without a durable store).
        self._group = group if group is not None else GroupCommit(None)
        # Answers of the batch being routed: (connection, sequence number, response, status).
        self._answers: list[tuple[SmppConnection, int, Response, int]] = []
        # Receipts whose part is not recorded yet, by when to ask again (``run``).
        self._waiting: list[tuple[float, int, _Waiting]] = []
        self._order = itertools.count()
        self._wake = trio.Event()

    def on_event(self, conn: SmppConnection, event: Event) -> None:
        """One event from a bind of this SMSC (its pool's ``on_event``)."""
        if isinstance(event, RequestReceived) and isinstance(event.pdu, _DELIVERIES):
            pdu = event.pdu
            now = conn.event_time  # when the read that carried it happened
            short_message = pdu.short_message if isinstance(pdu, DeliverSm) else b""
            receipt = quick_receipt(short_message=short_message, tlvs=pdu.tlvs) if pdu.tlvs else None
            if receipt is None:
                receipt = parse_receipt(short_message=short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
            if receipt is not None:
                if (
                    self.receipts.shared  # (before the property: one frame less per receipt)
                    and self.receipts.batches_lookups
                    and self.receipts.asks_store(self.smsc, receipt)
                    and len(self._waiting) < _MAX_WAITING
                ):  # looked up with the others of its round
                    self._wait(_Waiting(conn, event.sequence_number, pdu, receipt, now), first=0.0)
                    return
                try:
                    self.receipts.receipt(self.smsc, receipt, now)
                    status = _RECORDED
                except NotRecordedYet:
                    if len(self._waiting) < _MAX_WAITING:  # answered when found, or given up
                        self._wait(_Waiting(conn, event.sequence_number, pdu, receipt, now))
                        return
                    status = _OVER_WINDOW
                except StoreError:  # a lookup the store could not answer (Redis away): redelivered
                    self._ratelog.emit(
                        "store:" + self.smsc, "%s: receipt not recorded: store unavailable", self.smsc
                    )
                    status = _OVER_WINDOW
            else:
                self._mo_count.inc()
                status = self.inbound.receive(self.smsc, pdu, now)
            response = _DELIVER_SM_RESP if isinstance(pdu, DeliverSm) else _DATA_SM_RESP
            # Sent by end_batch, after the commit (DESIGN §3).
            self._answers.append((conn, event.sequence_number, response, status))
        elif isinstance(event, ProtocolViolation):
            # A peer can send one a PDU: counted, and logged at most once per interval.
            if event.error.command_status == _OVER_WINDOW and event.request_command_id in _DELIVERY_IDS:
                self._over_window.inc()
            self._ratelog.emit("violation:" + self.smsc, "%s: %s", self.smsc, _escaped(event))
        elif isinstance(event, UnexpectedResponse):
            self._unsolicited(event)
        elif isinstance(event, SessionTimedOut):
            log.warning("%s: %s", self.smsc, event)
        elif isinstance(event, NotificationReceived):
            log.info("notification %s", kv(smsc=self.smsc, pdu=type(event.pdu).__name__))

    def _unsolicited(self, event: UnexpectedResponse) -> None:
        header = event.header
        try:
            command = CommandId(header.command_id).name.lower()
        except ValueError:  # the label stays bounded: the peer picks the id
            command = "unknown"
        self._metrics.unsolicited.labels(self.smsc, command).inc()
        self._ratelog.emit(
            "unsolicited:" + self.smsc,
            "unsolicited response %s",
            kv(
                smsc=self.smsc,
                command=command if command != "unknown" else f"0x{header.command_id:08x}",
                sequence_number=header.sequence_number,
                command_status=status_name(header.command_status),
            ),
        )

    def expire(self, now: float) -> None:
        """Hand over inbound messages whose missing parts never came (housekeeping)."""
        self.inbound.expire(self.smsc, now)

    def end_batch(self) -> None:
        """The connection routed a batch (``SmppConnection.on_batch_end``): its answers
        go out after the next group commit (``GroupCommit``), never before."""
        if self._answers:
            answers, self._answers = self._answers, []
            self._group.defer(answers)

    def _wait(self, waiting: _Waiting, *, first: float = _ASK_FIRST) -> None:
        """Ask about ``waiting`` again ``first`` seconds from now (0: at the next round,
        with every other receipt read meanwhile: one store lookup for them all)."""
        waiting.since = trio.current_time()
        waiting.delay = first if first > 0 else _ASK_FIRST / 2  # (doubled: the next ask at 2 ms)
        due = waiting.since + first
        heapq.heappush(self._waiting, (due, next(self._order), waiting))
        self._wake.set()

    async def run(self) -> None:
        """Ask the store again for the parts of waiting receipts (several gateways on one
        store), and answer each: ESME_ROK once applied (after the next commit, as any
        receipt), ESME_RX_T_APPN after ``_ASK_FOR`` seconds without it."""
        while True:
            if not self._waiting:
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            await trio.sleep_until(self._waiting[0][0])
            self._ask_again(trio.current_time())

    def _ask_again(self, now: float) -> None:
        due: list[_Waiting] = []
        while self._waiting and self._waiting[0][0] <= now:
            due.append(heapq.heappop(self._waiting)[2])
        # (the store away: each is asked below, and answered ESME_RX_T_APPN)
        with contextlib.suppress(StoreError):
            self.receipts.prefetch(self.smsc, [w.receipt.message_id or "" for w in due])
        try:
            self._answer(due, now)
        finally:
            self.receipts.prefetched = None

    def _answer(self, due: list[_Waiting], now: float) -> None:
        answers: list[tuple[SmppConnection, int, Response, int]] = []
        for waiting in due:
            try:
                self.receipts.receipt(self.smsc, waiting.receipt, waiting.at)
                status = _RECORDED
            except NotRecordedYet:
                left = waiting.since + _ASK_FOR - now  # the last ask comes at the second's end
                if left > 1e-9:
                    waiting.delay = min(waiting.delay * 2, left)
                    heapq.heappush(self._waiting, (now + waiting.delay, next(self._order), waiting))
                    continue
                self._ratelog.emit(
                    "unrecorded:" + self.smsc,
                    "%s: receipt for a part no gateway recorded within %.0f s: answered ESME_RX_T_APPN",
                    self.smsc,
                    _ASK_FOR,
                )
                status = _OVER_WINDOW
            except StoreError:
                status = _OVER_WINDOW
            response = _DELIVER_SM_RESP if isinstance(waiting.pdu, DeliverSm) else _DATA_SM_RESP
            answers.append((waiting.conn, waiting.sequence_number, response, status))
        if answers:
            self._group.defer(answers)


class _Waiting:
    """A receipt waiting for its part to be recorded by the gateway that sent it."""

    __slots__ = ("at", "conn", "delay", "pdu", "receipt", "sequence_number", "since")

    def __init__(
        self, conn: SmppConnection, sequence_number: int, pdu: DeliverSm | DataSm, receipt: Receipt, at: float
    ) -> None:
        self.conn, self.sequence_number, self.pdu, self.receipt = conn, sequence_number, pdu, receipt
        self.at = at  # when it was read: the receipt's time
        self.since = at  # when its wait began (``Deliveries._wait``)
        self.delay = _ASK_FIRST
