"""Submissions: a submit_sm, data_sm or submit_multi from admission to acceptance.

A submit passes, in order (SMPP-REFERENCE §7.1): the bind then account TPS buckets
(ESME_RTHROTTLED), the processing queue (ESME_RMSGQFUL), forced statuses, random errors
(``_admit``), field validation (``simulator.validate``); then each destination is
accepted (``_accept``): stored, its final outcome and receipt delay decided with the
seeded RNG, its receipts planned. The response goes out after ``resp_latency`` +
``response_delay``. The faults that replace an answer come before all this, in
``Binds.on_event``, which hands every submit of a bound ESME to ``Submission.submit``.

Uses: the ``Responder`` (answers), ``Receipts`` (outcomes and receipts) and
``Handsets`` (replies to delivered messages), given at construction.
"""

from __future__ import annotations

import time
from typing import Any

import trio

from simulator.accounts import AccountState, BindState
from simulator.config import Behaviour
from simulator.message_log import Message
from simulator.plan import Plan
from simulator.receipts import Receipts
from simulator.responses import Responder
from simulator.state import SimState
from simulator.twoway import Handsets
from simulator.validate import OK, submit_multi_failures, validate_submit
from smppgw.core.constants import CommandStatus, MessageState
from smppgw.core.pdu import (
    DataSm,
    DestAddress,
    Response,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    UnsuccessSme,
)
from smppgw.core.reassembly import concat_info

__all__ = ["Submission"]

_DELIVERED = MessageState.DELIVERED


class Submission:
    """The submission path: ``submit`` is called once per submit of a bound ESME."""

    def __init__(self, state: SimState, responder: Responder, receipts: Receipts, handsets: Handsets) -> None:
        # The state's fields this path reads, and the collaborators' methods, as
        # attributes: one attribute load each per message, not two (``simulator.state``).
        self._rng = state.rng
        self._ids = state.ids
        self._metrics = state.metrics
        self._store = state.store
        self._scheduler = state.scheduler
        self._now = state.now
        self._respond = responder.respond
        self._send_accepted = responder.send_accepted
        self._decide = receipts.decide
        self._wants_receipt = receipts.wants_receipt
        self._finalize = receipts.finalize
        self._send_intermediate = receipts.send_intermediate
        self._on_delivered = handsets.on_delivered

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
            self._metrics.inc(self._metrics.throttled, account.account.system_id)
            return CommandStatus.ESME_RTHROTTLED
        if b.queue_size is not None and account.pending_responses >= b.queue_size:
            return CommandStatus.ESME_RMSGQFUL
        if b.force and not isinstance(pdu, SubmitMulti):
            for rule in b.force:
                if rule.submit_status is not None and rule.matches(pdu.destination_addr):
                    return rule.submit_status
        if b.error_probability and self._rng.random() < b.error_probability:
            return b.error_status
        return OK

    def submit(
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
        number, message_id = self._ids.new(b.message_id, b.message_id_width)
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
                delay += b.resp_latency.sample(self._rng)
            if not b.response_delay.is_zero:
                delay += b.response_delay.sample(self._rng)
        if isinstance(pdu, SubmitMulti):
            response: Response = SubmitMultiResp(message_id=message_id, unsuccess_smes=failures)
        else:
            # Our own id: valid, so built without validators (trusted_from).
            response = response_type.trusted_from({"message_id": message_id})
        if delay > 0:  # response_delay is in it already
            account.pending_responses += 1
            self._metrics.pdus_out_ok[response.command_id].n += 1
            self._scheduler.call_later(delay, self._send_accepted, bind, account, seq, response)
        else:
            bind.conn.send_response(seq, response, OK)
            self._metrics.pdus_out_ok[response.command_id].n += 1
        for m in due:  # zero-delay receipts, right after the resp: no scheduler round trip
            if m is not None:
                self._finalize(account, m)

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
        rng, b = self._rng, plan.behaviour
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
        self._store.add(m)
        account.submitted += 1
        self._metrics.messages_by_account[m.account].n += 1
        state = plan.fixed_state
        if state is not None and not plan.dlr_delayed and not getattr(pdu, "schedule_delivery_time", ""):
            delay = 0.0  # as Receipts.decide: no draw, no hold, so no delay to outlast the validity
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
                self._scheduler.call_later(
                    b.intermediate_delay.sample(rng), self._send_intermediate, account, m, inter
                )
        due = None
        if b.dlr_before_resp > 0 and self._wants_receipt(m) and rng.random() < b.dlr_before_resp:
            self._finalize(account, m)  # queued now: on the wire before the submit_sm_resp
        elif delay <= 0:
            due = m  # finalized right after the resp is queued
        else:
            self._scheduler.call_later(delay, self._finalize, account, m)
        if state is _DELIVERED and (b.handsets or b.personas is not None):
            self._on_delivered(account, b, m, delay)
        return due
