"""The simulated SMSC: binds, submits, receipts, 2-way handsets and faults.

Theory of operation
-------------------
Every connection is an ``SmppConnection`` in the SMSC role whose application events are
handled synchronously (``on_event``): a submit is admitted, validated, stored and
answered inside the reader's turn, so a burst read in one ``receive_some`` leaves as one
write. Anything later (a latency-delayed response, a receipt after its delay, a handset's
reply, a redelivery) is an entry in the one ``Scheduler`` heap. Deliveries go through
the account's ``DeliveryQueue``.

A submit passes, in order (SMPP-REFERENCE §7.1): the faults that replace an answer
(drop, black hole, generic_nack, malformed), the bind then account TPS buckets
(ESME_RTHROTTLED), the processing queue (ESME_RMSGQFUL), forced statuses, random
errors, field validation; then it is accepted, its final outcome and receipt delay are
decided with the seeded RNG, and the response is sent (after ``resp_latency`` +
``response_delay``). The outcome is decided at submit time so a ``--seed`` run is
reproducible message by message for the same inputs in the same order.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import trio

from simulator.accounts import AccountState, BindState, bucket_for
from simulator.config import FINAL_STATES, Behaviour, SimConfig, build_behaviour
from simulator.deliveries import Delivery, DeliveryQueue
from simulator.ids import IdFactory
from simulator.metrics import SimMetrics
from simulator.scheduler import Scheduler
from simulator.store import Message, MessageStore
from simulator.twoway import Handsets
from simulator.validate import ValidationPolicy, submit_multi_failures, validate_submit
from smppgw.core.constants import CommandStatus, EsmClass, MessageState, TlvTag
from smppgw.core.events import Event, ProtocolViolation, RequestReceived
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DataSmResp,
    DeliverSm,
    DestAddress,
    QuerySm,
    ReplaceSm,
    Request,
    Response,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnsuccessSme,
    _Bind,
)
from smppgw.core.reassembly import concat_info
from smppgw.core.receipt import format_receipt, format_smpp_date, receipt_tlvs
from smppgw.core.text import decode_text
from smppgw.core.tlv import Tlv
from smppgw.net.connection import SmppConnection
from simulator.management import Management

__all__ = ["Simulator"]

log = logging.getLogger(__name__)

_BIND_RESP: dict[str, type[Response]] = {
    "tx": BindTransmitterResp,
    "rx": BindReceiverResp,
    "trx": BindTransceiverResp,
}
_MODE = {0x02: "tx", 0x01: "rx", 0x09: "trx"}
_RECEIVER_MODES = frozenset({"rx", "trx"})


class Simulator(Management):
    """One simulated SMSC. Run with ``run_simulator``; ``handle`` serves a connection."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.ids = IdFactory(self.rng)
        self.metrics = SimMetrics()
        self.store = MessageStore()
        self.scheduler = Scheduler()
        self.handsets = Handsets(self)
        self.port = 0
        self.http_port: int | None = None
        now = trio.current_time()
        self.global_behaviour = build_behaviour(config.raw_global_behaviour(), "behaviour")
        self.accounts: dict[str, AccountState] = {}
        for account in config.accounts:
            behaviour = config.behaviour_for(account)
            state = AccountState(account, behaviour, self._new_queue(account.system_id), now)
            self.accounts[account.system_id] = state
        self.connections: set[BindState] = set()
        self._policies: dict[Behaviour, ValidationPolicy] = {}
        self._mo_reference = 0

    def _new_queue(self, system_id: str) -> DeliveryQueue:
        deliveries = self.metrics.deliveries

        def retry() -> tuple[float, ...]:
            return self.accounts[system_id].behaviour.deliver_retry

        return DeliveryQueue(
            self.scheduler, retry, lambda kind, result: deliveries.labels(kind, result).inc()
        )

    # -- connections --------------------------------------------------------------------------

    async def handle(self, conn: SmppConnection) -> None:
        """The ``serve_smsc`` handler: one call per TCP connection."""
        self.metrics.connections.inc()
        try:
            peer = "{}:{}".format(*conn.stream.socket.getpeername()[:2])  # type: ignore[attr-defined]
        except Exception:
            peer = "?"
        bind = BindState(conn, peer)
        self.connections.add(bind)
        conn.read_delay = self.global_behaviour.read_delay
        conn.on_event = lambda event: self._on_event(bind, event)
        try:
            await conn.wait_closed()
        finally:
            self._disconnected(bind)

    def _disconnected(self, bind: BindState) -> None:
        self.connections.discard(bind)
        account = bind.account
        if account is not None:
            if bind in account.binds:
                account.binds.remove(bind)
            account.queue.remove_receiver(bind.conn)
            self.metrics.binds.labels(bind.system_id, bind.mode).dec()
            bind.account = None

    def _on_event(self, bind: BindState, event: Event) -> None:
        if isinstance(event, RequestReceived):
            self._request(bind, event.sequence_number, event.pdu)
        elif isinstance(event, ProtocolViolation) and event.nack_queued:
            self.metrics.pdu("out", 0x8000_0000, int(event.error.command_status))

    def _behaviour(self, bind: BindState) -> Behaviour:
        return bind.account.behaviour if bind.account is not None else self.global_behaviour

    def _request(self, bind: BindState, seq: int, pdu: Request) -> None:
        conn, b, rng = bind.conn, self._behaviour(bind), self.rng
        bind.pdus += 1
        self.metrics.pdu("in", pdu.command_id, 0)
        # Faults that replace the answer (SMPP-REFERENCE §7.1, issue: "Faults").
        if (b.drop_after_pdus is not None and bind.pdus >= b.drop_after_pdus) or (
            b.drop_probability and rng.random() < b.drop_probability
        ):
            conn.close("fault: connection dropped")
            return
        if b.black_hole:
            conn.session.drop_request(seq)
            return
        if b.nack_probability and rng.random() < b.nack_probability:
            conn.send_nack(seq, CommandStatus.ESME_RSYSERR)
            self.metrics.pdu("out", 0x8000_0000, CommandStatus.ESME_RSYSERR)
            return
        if b.malformed_probability and rng.random() < b.malformed_probability:
            # A response whose message_id never ends: framing holds, the body is broken.
            conn.session.drop_request(seq)
            body = b"malformed-no-nul"
            conn.send_raw(
                (16 + len(body)).to_bytes(4, "big")
                + (pdu.command_id | 0x8000_0000).to_bytes(4, "big")
                + bytes(4)
                + seq.to_bytes(4, "big")
                + body
            )
            return
        if isinstance(pdu, _Bind):
            self._bind(bind, seq, pdu)
        elif bind.account is None:  # the session only lets binds through before binding
            conn.send_nack(seq, CommandStatus.ESME_RINVBNDSTS)
        elif isinstance(pdu, SubmitSm | DataSm | SubmitMulti):
            self._submit(bind, bind.account, seq, pdu)
        elif isinstance(pdu, QuerySm):
            self._query(bind, seq, pdu)
        elif isinstance(pdu, CancelSm):
            self._cancel(bind, seq, pdu)
        elif isinstance(pdu, ReplaceSm):
            self._replace(bind, seq, pdu)
        else:
            conn.send_nack(seq, CommandStatus.ESME_RINVCMDID)

    def _respond(
        self, bind: BindState, seq: int, response: Response, status: int, delay: float = 0.0
    ) -> None:
        self.metrics.pdu("out", response.command_id, status)
        if delay > 0:
            self.scheduler.call_later(delay, bind.conn.send_response, seq, response, status)
        else:
            bind.conn.send_response(seq, response, status)

    # -- binds -----------------------------------------------------------------------------------

    def _bind(self, bind: BindState, seq: int, pdu: _Bind) -> None:
        mode = _MODE[pdu.command_id]
        account = self.accounts.get(pdu.system_id)
        # SMPP 3.4 §5.1.3 statuses; ESME_RALYBND for "too many binds" is carrier practice (§7.1).
        if account is None:
            status = CommandStatus.ESME_RINVSYSID
        elif pdu.password != account.account.password:
            status = CommandStatus.ESME_RINVPASWD
        elif account.behaviour.refuse_binds or mode not in account.account.bind_types:
            status = CommandStatus.ESME_RBINDFAIL
        elif len(account.binds) >= account.account.max_binds:
            status = CommandStatus.ESME_RALYBND
        else:
            status = CommandStatus.ESME_ROK
        # 3.4 §5.3.2.25: sc_interface_version only for a 3.4+ ESME.
        tlvs = (Tlv.from_int(TlvTag.SC_INTERFACE_VERSION, 0x34),) if pdu.interface_version >= 0x34 else ()
        self._respond(bind, seq, _BIND_RESP[mode](system_id=self.config.system_id, tlvs=tlvs), status)
        if status != CommandStatus.ESME_ROK or account is None:
            return
        now = trio.current_time()
        bind.account, bind.mode, bind.system_id, bind.bound_at = account, mode, pdu.system_id, time.time()
        bind.bucket = bucket_for(account.behaviour.bind_tps, now)
        bind.conn.read_delay = account.behaviour.read_delay
        account.binds.append(bind)
        self.metrics.binds.labels(pdu.system_id, mode).inc()
        if mode in _RECEIVER_MODES:
            account.queue.add_receiver(bind.conn)
        if account.behaviour.unbind_after is not None:
            self.scheduler.call_later(account.behaviour.unbind_after, self._smsc_unbind, bind)

    def _smsc_unbind(self, bind: BindState) -> None:
        conn = bind.conn
        if conn.closed or not conn.session.state.is_bound:
            return
        conn.start_request(Unbind(), lambda _outcome: conn.close("unbound by the SMSC"))

    # -- submission ------------------------------------------------------------------------------

    def _policy(self, b: Behaviour) -> ValidationPolicy:
        policy = self._policies.get(b)
        if policy is None:
            policy = self._policies[b] = ValidationPolicy(strict=b.strict)
        return policy

    def _admit(
        self, bind: BindState, account: AccountState, b: Behaviour, pdu: SubmitSm | DataSm | SubmitMulti
    ) -> int:
        now = trio.current_time()
        if (bind.bucket is not None and not bind.bucket.take(now)) or (
            account.bucket is not None and not account.bucket.take(now)
        ):
            bind.throttled += 1
            account.throttled += 1
            self.metrics.throttled.labels(account.account.system_id).inc()
            return CommandStatus.ESME_RTHROTTLED
        if b.queue_size is not None and account.pending_responses >= b.queue_size:
            return CommandStatus.ESME_RMSGQFUL
        if b.force and not isinstance(pdu, SubmitMulti):
            for rule in b.force:
                if rule.submit_status is not None and rule.matches(pdu.destination_addr):
                    return rule.submit_status
        if b.error_probability and self.rng.random() < b.error_probability:
            return b.error_status
        return validate_submit(pdu, self._policy(b))

    def _submit(
        self, bind: BindState, account: AccountState, seq: int, pdu: SubmitSm | DataSm | SubmitMulti
    ) -> None:
        b = account.behaviour
        bind.submits += 1
        status = self._admit(bind, account, b, pdu)
        response_type = (
            SubmitSmResp
            if isinstance(pdu, SubmitSm)
            else DataSmResp
            if isinstance(pdu, DataSm)
            else SubmitMultiResp
        )
        if status != CommandStatus.ESME_ROK:
            self._respond(bind, seq, response_type(), status)
            return
        number, message_id = self.ids.new(b.message_id, b.message_id_width)
        failures: tuple[UnsuccessSme, ...] = ()
        if isinstance(pdu, SubmitMulti):
            failed = submit_multi_failures(pdu, self._policy(b))
            failures = tuple(
                UnsuccessSme(
                    dest_addr_ton=d.dest_addr_ton,
                    dest_addr_npi=d.dest_addr_npi,
                    destination_addr=d.destination_addr,
                    error_status_code=code,
                )
                for d, code in failed
            )
            bad = {id(d) for d, _ in failed}
            targets = [d for d in pdu.dest_addresses if isinstance(d, DestAddress) and id(d) not in bad]
        else:
            targets = [pdu]
        early = False
        for index, target in enumerate(targets):
            key = message_id if index == 0 else f"{message_id}/{index}"
            early |= self._accept(bind, account, b, pdu, target, number, message_id, key)
        delay = 0.0
        if not b.resp_latency.is_zero:
            delay += b.resp_latency.sample(self.rng)
        if not b.response_delay.is_zero:
            delay += b.response_delay.sample(self.rng)
        if isinstance(pdu, SubmitMulti):
            response: Response = SubmitMultiResp(message_id=message_id, unsuccess_smes=failures)
        else:
            response = response_type(message_id=message_id)
        if delay > 0:
            account.pending_responses += 1
            self.metrics.pdu("out", response.command_id, 0)
            self.scheduler.call_later(delay, self._delayed_response, bind, account, seq, response)
        else:
            self._respond(bind, seq, response, CommandStatus.ESME_ROK)

    def _delayed_response(self, bind: BindState, account: AccountState, seq: int, response: Response) -> None:
        account.pending_responses -= 1
        bind.conn.send_response(seq, response, CommandStatus.ESME_ROK)

    def _accept(
        self,
        bind: BindState,
        account: AccountState,
        b: Behaviour,
        pdu: Any,
        target: Any,
        number: int,
        message_id: str,
        key: str,
    ) -> bool:
        """Store one message, decide its fate, plan its receipts; True if a receipt went out early."""
        rng = self.rng
        payload = pdu.payload
        m = Message(
            message_id=key,
            number=number,
            account=account.account.system_id,
            bind_id=bind.id,
            service_type=pdu.service_type,
            source_addr=pdu.source_addr,
            source_addr_ton=pdu.source_addr_ton,
            source_addr_npi=pdu.source_addr_npi,
            destination_addr=target.destination_addr,
            dest_addr_ton=target.dest_addr_ton,
            dest_addr_npi=target.dest_addr_npi,
            esm_class=pdu.esm_class,
            data_coding=pdu.data_coding,
            registered_delivery=pdu.registered_delivery,
            payload=payload,
            tlv_tags=tuple(t.tag for t in pdu.tlvs),
            state=MessageState.ENROUTE,
            submitted_at=trio.current_time(),
            submitted_wall=time.time(),
        )
        m.receipt_id = message_id  # the id receipts refer to (submit_multi: shared)
        self.store.add(m)
        account.submitted += 1
        self.metrics.messages.labels(m.account).inc()
        state, delay = self._decide(b, m, pdu)
        m.final_state = state
        m.error = "000" if state is MessageState.DELIVERED else "001"
        rd = m.registered_delivery
        mode = rd & 0x03
        delivered = state is MessageState.DELIVERED
        want_final = mode == 1 or (mode == 2 and not delivered) or (mode == 3 and delivered)
        if not b.per_part_receipts and want_final:
            info, _ = (
                concat_info(payload, m.esm_class, pdu.tlvs) if not isinstance(pdu, DataSm) else (None, b"")
            )
            if info is not None and info.seqnum != info.total:
                want_final = False
        if rd & 0x10 and b.intermediate:
            for stat in b.intermediate:
                inter = MessageState.ENROUTE if stat == "ENROUTE" else MessageState.ACCEPTED
                self.scheduler.call_later(
                    b.intermediate_delay.sample(rng), self._send_receipt, account, m, inter, True
                )
        early = want_final and b.dlr_before_resp > 0 and rng.random() < b.dlr_before_resp
        if early:
            self._finalize(account, m, True)
        else:
            self.scheduler.call_later(delay, self._finalize, account, m, want_final)
        if delivered and b.handsets:
            self.handsets.on_delivered(account, b, m, delay)
        return early

    def _decide(self, b: Behaviour, m: Message, pdu: Any) -> tuple[MessageState, float]:
        rng = self.rng
        state = None
        for rule in b.force:
            if rule.outcome is not None and rule.matches(m.destination_addr):
                state = FINAL_STATES[rule.outcome]
                break
        if state is None:
            names = b.outcomes
            if len(names) == 1:
                state = FINAL_STATES[names[0][0]]
            else:
                state = FINAL_STATES[rng.choices([n for n, _ in names], [w for _, w in names])[0]]
        delay = b.dlr_delay.sample(rng) if not b.dlr_delay.is_zero else 0.0
        if b.honour_validity and getattr(pdu, "validity_period", ""):
            validity = self._validity_seconds(pdu.validity_period)
            if validity is not None and delay > validity:
                return MessageState.EXPIRED, validity
        return state, delay

    @staticmethod
    def _validity_seconds(value: str) -> float | None:
        from datetime import UTC, datetime

        from smppgw.core.timefmt import SmppTimeError, resolve_smpp_time

        try:
            now = datetime.now(UTC)
            until = resolve_smpp_time(value, now)
        except SmppTimeError:
            return None
        return None if until is None else max(0.0, (until - now).total_seconds())

    # -- receipts ----------------------------------------------------------------------------------

    def _finalize(self, account: AccountState, m: Message, send: bool) -> None:
        if m.is_final:  # cancelled (DELETED) in the meantime
            return
        assert m.final_state is not None
        m.state = m.final_state
        m.done_at = time.time()
        if send:
            self._send_receipt(account, m, m.state, False)
            if (
                account.behaviour.duplicate_receipts
                and self.rng.random() < account.behaviour.duplicate_receipts
            ):
                self._send_receipt(account, m, m.state, False)

    def _send_receipt(
        self, account: AccountState, m: Message, state: MessageState, intermediate: bool
    ) -> None:
        b = account.behaviour
        receipt_id = IdFactory.for_receipt(m.number, m.receipt_id, b.receipt_id_base)
        text = b""
        if b.receipt_text:
            digits = b.receipt_date_digits
            preview = decode_text(m.payload, m.data_coding)[:20] if not m.esm_class & EsmClass.UDHI else ""
            text = format_receipt(
                message_id=receipt_id,
                state=state,
                submit_date=_smpp_date(m.submitted_wall, digits),
                done_date=_smpp_date(m.done_at or time.time(), digits),
                error=m.error,
                text=preview,
                date_digits=digits,
                lowercase_keys=not b.receipt_upper_case,
            ).encode("latin-1", "replace")[:254]
        tlvs = receipt_tlvs(message_id=receipt_id, state=state) if b.receipt_tlvs else ()
        pdu = DeliverSm(
            source_addr_ton=m.dest_addr_ton,
            source_addr_npi=m.dest_addr_npi,
            source_addr=m.destination_addr,
            dest_addr_ton=m.source_addr_ton,
            dest_addr_npi=m.source_addr_npi,
            destination_addr=m.source_addr,
            esm_class=EsmClass.INTERMEDIATE_NOTIFICATION if intermediate else EsmClass.SMSC_DELIVERY_RECEIPT,
            short_message=text,
            tlvs=tlvs,
        )
        m.receipts_sent += 1
        self.metrics.receipts.labels(state.stat).inc()
        account.queue.put(Delivery(pdu, "receipt"))

    # -- query / cancel / replace (3.4 §4.8-4.10) ------------------------------------------------

    def _find(self, bind: BindState, message_id: str) -> Message | None:
        m = self.store.get(message_id)
        if m is None or bind.account is None or m.account != bind.account.account.system_id:
            return None
        return m

    def _query(self, bind: BindState, seq: int, pdu: QuerySm) -> None:
        from smppgw.core.pdu import QuerySmResp

        m = self._find(bind, pdu.message_id)
        if m is None:
            self._respond(bind, seq, QuerySmResp(), CommandStatus.ESME_RQUERYFAIL)
            return
        final_date = _smpp_time(m.done_at) if m.is_final and m.done_at else ""
        resp = QuerySmResp(
            message_id=pdu.message_id,
            final_date=final_date,
            message_state=int(m.state),
            error_code=0 if m.state is MessageState.DELIVERED else 1,
        )
        self._respond(bind, seq, resp, CommandStatus.ESME_ROK)

    def _cancel(self, bind: BindState, seq: int, pdu: CancelSm) -> None:
        from smppgw.core.pdu import CancelSmResp

        if pdu.message_id:
            found = [m] if (m := self._find(bind, pdu.message_id)) is not None else []
        else:  # 3.4 §4.9.1: cancel every pending message from source to destination
            found = [
                m
                for m in self.store.newest_first()
                if m.source_addr == pdu.source_addr
                and m.destination_addr == pdu.destination_addr
                and (not pdu.service_type or m.service_type == pdu.service_type)
                and bind.account is not None
                and m.account == bind.account.account.system_id
            ]
        pending = [m for m in found if not m.is_final]
        for m in pending:
            m.state = MessageState.DELETED
            m.done_at = time.time()
        self._respond(
            bind, seq, CancelSmResp(), CommandStatus.ESME_ROK if pending else CommandStatus.ESME_RCANCELFAIL
        )

    def _replace(self, bind: BindState, seq: int, pdu: ReplaceSm) -> None:
        from smppgw.core.pdu import ReplaceSmResp

        m = self._find(bind, pdu.message_id)
        if m is None or m.is_final:
            self._respond(bind, seq, ReplaceSmResp(), CommandStatus.ESME_RREPLACEFAIL)
            return
        m.payload = pdu.short_message
        m.registered_delivery = pdu.registered_delivery
        self._respond(bind, seq, ReplaceSmResp(), CommandStatus.ESME_ROK)


def _smpp_date(wall: float, digits: int) -> str:
    t = time.localtime(wall)
    return format_smpp_date(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, min(t.tm_sec, 59), digits)


def _smpp_time(wall: float) -> str:
    from datetime import UTC, datetime

    from smppgw.core.timefmt import format_smpp_time

    return format_smpp_time(datetime.fromtimestamp(wall, UTC))
