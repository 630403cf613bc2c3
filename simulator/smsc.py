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

The receipt half lives in ``simulator.receipts`` and query/cancel/replace in
``simulator.management_ops`` (mixins of ``Simulator``, as the control surface in
``simulator.management`` is).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import trio

from simulator.accounts import AccountState, BindState, bucket_for
from simulator.config import Behaviour, SimConfig, build_behaviour
from simulator.deliveries import DeliveryQueue
from simulator.ids import IdFactory
from simulator.management import Management
from simulator.management_ops import ManagementOps
from simulator.metrics import SimMetrics
from simulator.plan import Plan, plan_for
from simulator.receipts import Receipts
from simulator.scheduler import Scheduler
from simulator.store import Message, MessageStore
from simulator.twoway import Handsets
from simulator.validate import OK, ValidationPolicy, submit_multi_failures, validate_submit
from smppgw.core.constants import CommandId, CommandStatus, MessageState, TlvTag
from smppgw.core.events import EnquireLinkReceived, Event, ProtocolViolation, RequestReceived, UnbindReceived
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DestAddress,
    QuerySm,
    ReplaceSm,
    Request,
    Response,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    Unbind,
    UnsuccessSme,
    _Bind,
    _BindResp,
)
from smppgw.core.reassembly import concat_info
from smppgw.core.tlv import Tlv
from smppgw.net.connection import SmppConnection

__all__ = ["Simulator"]

log = logging.getLogger(__name__)

_BIND_RESP: dict[str, type[_BindResp]] = {
    "tx": BindTransmitterResp,
    "rx": BindReceiverResp,
    "trx": BindTransceiverResp,
}
_MODE = {0x02: "tx", 0x01: "rx", 0x09: "trx"}
_RECEIVER_MODES = frozenset({"rx", "trx"})
_SUBMITS = (SubmitSm, DataSm, SubmitMulti)  # a tuple: ``A | B`` in the call builds a union per PDU
# A module global: reading an enum member off its class costs ~150 ns (Python 3.11), per message.
_DELIVERED = MessageState.DELIVERED


class Simulator(Receipts, ManagementOps, Management):
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
        # The run's clock method: trio.current_time() is three Python frames (per message).
        # A Simulator lives in the trio run that made it (``run_simulator``).
        self._now = trio.lowlevel.current_clock().current_time
        now = self._now()
        self.global_behaviour = build_behaviour(config.raw_global_behaviour(), "behaviour")
        self.global_patch: dict[str, Any] = {}
        self.accounts: dict[str, AccountState] = {}
        for account in config.accounts:
            behaviour = config.behaviour_for(account)
            state = AccountState(account, behaviour, self._new_queue(account.system_id), now)
            self.accounts[account.system_id] = state
        self.connections: set[BindState] = set()
        self._plans: dict[int, Plan] = {}
        self._mo_reference = 0

    def _new_queue(self, system_id: str) -> DeliveryQueue:
        def retry() -> tuple[float, ...]:
            return self.accounts[system_id].behaviour.deliver_retry

        return DeliveryQueue(self.scheduler, retry, self.metrics.deliveries_by)

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
        conn.session.answer_enquire_link = not self.global_behaviour.black_hole
        conn.on_event = functools.partial(self._on_event, bind)  # not a lambda: a frame less per PDU
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
        if not isinstance(event, RequestReceived):
            self._on_session_event(event)
            return
        # A request (every submit): handled here, not in a method of its own (per PDU).
        seq, pdu = event.sequence_number, event.pdu
        account = bind.account
        b = account.behaviour if account is not None else self.global_behaviour
        plan = self._plans.get(id(b))  # ``_plan``, inline
        if plan is None or plan.behaviour is not b:
            plan = self._plan(b)
        bind.pdus += 1
        self.metrics.pdus_in[pdu.command_id].n += 1
        if plan.faults and self._fault(bind, seq, pdu, plan.behaviour):
            return
        if isinstance(pdu, _SUBMITS) and account is not None:
            self._submit(bind, account, seq, pdu, plan)
        elif isinstance(pdu, _Bind):
            self._bind(bind, seq, pdu)
        elif account is None:  # the session only lets binds through before binding
            bind.conn.send_nack(seq, CommandStatus.ESME_RINVBNDSTS)
        elif isinstance(pdu, QuerySm):
            self._query(bind, seq, pdu)
        elif isinstance(pdu, CancelSm):
            self._cancel(bind, seq, pdu)
        elif isinstance(pdu, ReplaceSm):
            self._replace(bind, seq, pdu)
        else:
            bind.conn.send_nack(seq, CommandStatus.ESME_RINVCMDID)

    def _on_session_event(self, event: Event) -> None:
        """Count what the session answered or rejected by itself."""
        if isinstance(event, ProtocolViolation) and event.nack_queued:
            if event.request_command_id is not None:
                self.metrics.pdu("in", event.request_command_id, 0)
            reply = event.reply_command_id if event.reply_command_id is not None else 0x8000_0000
            self.metrics.pdu("out", reply, int(event.error.command_status))
        elif isinstance(event, UnbindReceived | EnquireLinkReceived):
            # The session answers these itself (3.4 §4.2, §4.11); count both directions.
            command = CommandId.UNBIND if isinstance(event, UnbindReceived) else CommandId.ENQUIRE_LINK
            self.metrics.pdu("in", command, 0)
            self.metrics.pdu("out", command | 0x8000_0000, 0)

    def _behaviour(self, bind: BindState) -> Behaviour:
        return bind.account.behaviour if bind.account is not None else self.global_behaviour

    def _fault(self, bind: BindState, seq: int, pdu: Request, b: Behaviour) -> bool:
        """Apply a fault that replaces the answer, if one fires (SMPP-REFERENCE §7.1,
        issue: "Faults"); True when it did and the request is dealt with."""
        conn, rng = bind.conn, self.rng
        if (b.drop_after_pdus is not None and bind.pdus >= b.drop_after_pdus) or (
            b.drop_probability and rng.random() < b.drop_probability
        ):
            conn.close("fault: connection dropped")
            return True
        if b.black_hole:
            conn.session.drop_request(seq)
            return True
        if b.nack_probability and rng.random() < b.nack_probability:
            conn.send_nack(seq, CommandStatus.ESME_RSYSERR)
            self.metrics.pdu("out", 0x8000_0000, CommandStatus.ESME_RSYSERR)
            return True
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
            return True
        return False

    def _respond(self, bind: BindState, seq: int, response: Response, status: int) -> None:
        """Answer now, or after the ``response_delay`` fault (never a bind_resp: the bind must
        take effect at once, or deliveries for a new receiver would wait for no reason)."""
        self.metrics.pdu("out", response.command_id, status)
        b = self._behaviour(bind)
        if b.response_delay.is_zero or isinstance(response, _BindResp):
            bind.conn.send_response(seq, response, status)
        else:
            delay = b.response_delay.sample(self.rng)
            self.scheduler.call_later(delay, self._late_response, bind, seq, response, status)

    def _late_response(self, bind: BindState, seq: int, response: Response, status: int) -> None:
        bind.conn.send_response(seq, response, status)

    def _survives_reset(self, fn: Callable[..., Any]) -> bool:
        """Timers a reset keeps: responses the ESME is still owed, and the binds' unbind_after."""
        return fn in (self._late_response, self._delayed_response, self._smsc_unbind)

    # -- binds -----------------------------------------------------------------------------------

    def _bind(self, bind: BindState, seq: int, pdu: _Bind) -> None:
        mode = _MODE[pdu.command_id]
        account = self.accounts.get(pdu.system_id)
        # SMPP 3.4 §5.1.3 statuses; ESME_RALYBND for "too many binds" is carrier practice (§7.1).
        if account is None:
            status = CommandStatus.ESME_RINVSYSID
        elif pdu.password != account.account.password:
            status = CommandStatus.ESME_RINVPASWD
        elif account.refusing_binds(trio.current_time()) or mode not in account.account.bind_types:
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
        bind.bound_clock = now
        bind.bucket = bucket_for(account.behaviour.bind_tps, now)
        bind.conn.read_delay = account.behaviour.read_delay
        bind.conn.session.answer_enquire_link = not account.behaviour.black_hole
        account.binds.append(bind)
        self.metrics.binds.labels(pdu.system_id, mode).inc()
        if mode in _RECEIVER_MODES:
            account.queue.add_receiver(bind.conn)
        self._schedule_unbind(bind)

    def _schedule_unbind(self, bind: BindState) -> None:
        """Plan the ``unbind_after`` fault for ``bind`` (at bind time, or when changed at run time)."""
        after = bind.account.behaviour.unbind_after if bind.account is not None else None
        if after is not None:
            self.scheduler.call_at(bind.bound_clock + after, self._smsc_unbind, bind)

    def _smsc_unbind(self, bind: BindState) -> None:
        conn, account = bind.conn, bind.account
        if conn.closed or not conn.session.state.is_bound or account is None:
            return
        after = account.behaviour.unbind_after
        if after is None or trio.current_time() < bind.bound_clock + after - 0.001:
            return  # changed at run time: the timer for the new value decides
        conn.start_request(Unbind(), lambda _outcome: conn.close("unbound by the SMSC"))

    # -- submission ------------------------------------------------------------------------------

    def _plan(self, b: Behaviour) -> Plan:
        # Keyed by identity (hashing a 40-field Behaviour per PDU costs more than the
        # validation); the plan keeps ``b`` alive so its id cannot be reused.
        plan = self._plans.get(id(b))
        if plan is None or plan.behaviour is not b:
            plan = self._plans[id(b)] = plan_for(b)
        return plan

    def _policy(self, b: Behaviour) -> ValidationPolicy:
        return self._plan(b).policy

    def _admit(
        self, bind: BindState, account: AccountState, b: Behaviour, pdu: SubmitSm | DataSm | SubmitMulti
    ) -> int:
        """The TPS buckets, the processing queue, forced statuses and random errors, in that
        order (the submit's field validation comes after them)."""
        if (bind.bucket is not None and not bind.bucket.take(trio.current_time())) or (
            account.bucket is not None and not account.bucket.take(trio.current_time())
        ):
            bind.throttled += 1
            account.throttled += 1
            self.metrics.inc(self.metrics.throttled, account.account.system_id)
            return CommandStatus.ESME_RTHROTTLED
        if b.queue_size is not None and account.pending_responses >= b.queue_size:
            return CommandStatus.ESME_RMSGQFUL
        if b.force and not isinstance(pdu, SubmitMulti):
            for rule in b.force:
                if rule.submit_status is not None and rule.matches(pdu.destination_addr):
                    return rule.submit_status
        if b.error_probability and self.rng.random() < b.error_probability:
            return b.error_status
        return OK

    def _submit(
        self,
        bind: BindState,
        account: AccountState,
        seq: int,
        pdu: SubmitSm | DataSm | SubmitMulti,
        plan: Plan,
    ) -> None:
        b = plan.behaviour  # the account's
        bind.submits += 1
        status = OK
        if plan.admit_rules or bind.bucket is not None or account.bucket is not None:
            status = self._admit(bind, account, b, pdu)
        if status == OK:
            status = validate_submit(pdu, plan.policy)
        response_type: type[Response] = pdu.response_type  # type: ignore[assignment]  # never None here
        if status != OK:
            self._respond(bind, seq, response_type(), status)
            return
        number, message_id = self.ids.new(b.message_id, b.message_id_width)
        failures: tuple[UnsuccessSme, ...] = ()
        # The messages whose receipt is due at once (from _accept), finalized after the resp.
        due: list[Message | None]
        if not isinstance(pdu, SubmitMulti):
            due = [self._accept(bind, account, plan, pdu, pdu, number, message_id, message_id)]
        else:
            failed = submit_multi_failures(pdu, plan.policy)
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
            targets: list[Any] = [
                d for d in pdu.dest_addresses if isinstance(d, DestAddress) and id(d) not in bad
            ]
            due = []
            for index, target in enumerate(targets):
                key = message_id if index == 0 else f"{message_id}/{index}"
                due.append(self._accept(bind, account, plan, pdu, target, number, message_id, key))
        delay = 0.0
        if plan.resp_delayed:
            if not b.resp_latency.is_zero:
                delay += b.resp_latency.sample(self.rng)
            if not b.response_delay.is_zero:
                delay += b.response_delay.sample(self.rng)
        if isinstance(pdu, SubmitMulti):
            response: Response = SubmitMultiResp(message_id=message_id, unsuccess_smes=failures)
        else:
            # Our own id: valid. trusted_from, not trusted(**kw): no keyword packing per submit.
            response = response_type.trusted_from({"message_id": message_id})
        if delay > 0:  # response_delay is in it already
            account.pending_responses += 1
            self.metrics.pdus_out_ok[response.command_id].n += 1
            self.scheduler.call_later(delay, self._delayed_response, bind, account, seq, response)
        else:
            bind.conn.send_response(seq, response, OK)
            self.metrics.pdus_out_ok[response.command_id].n += 1
        for m in due:  # zero-delay receipts, right after the resp: no scheduler round trip
            if m is not None:
                self._finalize(account, m)

    def _delayed_response(self, bind: BindState, account: AccountState, seq: int, response: Response) -> None:
        account.pending_responses -= 1
        bind.conn.send_response(seq, response, CommandStatus.ESME_ROK)

    def _accept(
        self,
        bind: BindState,
        account: AccountState,
        plan: Plan,
        pdu: Any,
        target: Any,
        number: int,
        message_id: str,
        key: str,
    ) -> Message | None:
        """Store one message, decide its fate and plan its receipts. Returns the message
        when its receipt is due at once, for ``_submit`` to finalize after the response."""
        rng, b = self.rng, plan.behaviour
        # ``pdu.payload`` looks for message_payload (three calls); with no TLVs it is the
        # short_message (data_sm has none).
        payload = pdu.payload if pdu.tlvs else getattr(pdu, "short_message", b"")
        m = Message(
            key,
            message_id,
            number,
            account.account.system_id,
            bind.id,
            pdu,
            target,
            payload,
            self._now(),
            time.time(),
        )
        self.store.add(m)
        account.submitted += 1
        self.metrics.messages_by_account[m.account].n += 1
        state = plan.fixed_state
        if state is not None and not plan.dlr_delayed and not getattr(pdu, "schedule_delivery_time", ""):
            delay = 0.0  # as _decide: no draw, no hold, so no delay to outlast the validity
        else:
            state, delay = self._decide(plan, m, pdu)
        m.final_state = state
        m.error = "000" if state is _DELIVERED else "001"
        # Decided now, not when the receipt goes out: every RNG draw happens at submit
        # time, so a seeded run does not depend on how submits and timers interleave.
        m.duplicate = b.duplicate_receipts > 0 and rng.random() < b.duplicate_receipts
        if not b.per_part_receipts and not isinstance(pdu, DataSm):
            info, _ = concat_info(payload, m.esm_class, pdu.tlvs)
            m.receipt_part = info is None or info.seqnum == info.total
        if m.registered_delivery & 0x10 and b.intermediate:
            for stat in b.intermediate:
                inter = MessageState.ENROUTE if stat == "ENROUTE" else MessageState.ACCEPTED
                self.scheduler.call_later(
                    b.intermediate_delay.sample(rng), self._send_intermediate, account, m, inter
                )
        due = None
        if b.dlr_before_resp > 0 and self._wants_receipt(m) and rng.random() < b.dlr_before_resp:
            self._finalize(account, m)  # queued now: on the wire before the submit_sm_resp
        elif delay <= 0:
            due = m  # finalized right after the resp is queued
        else:
            self.scheduler.call_later(delay, self._finalize, account, m)
        if state is _DELIVERED and b.handsets:
            self.handsets.on_delivered(account, b, m, delay)
        return due
