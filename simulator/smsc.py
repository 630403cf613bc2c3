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

The submission path (admission, validation, acceptance) lives in ``simulator.submission``,
the receipt half in ``simulator.receipts`` and query/cancel/replace in
``simulator.management_ops`` (mixins of ``Simulator``, as the control surface in
``simulator.management`` is). This module keeps the connections, binds and faults.
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
from simulator.plan import Plan
from simulator.receipts import Receipts
from simulator.scheduler import Scheduler
from simulator.store import MessageStore
from simulator.submission import Submission
from simulator.twoway import Handsets
from smppgw.core.constants import CommandId, CommandStatus, TlvTag
from smppgw.core.events import EnquireLinkReceived, Event, ProtocolViolation, RequestReceived, UnbindReceived
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    QuerySm,
    ReplaceSm,
    Request,
    Response,
    SubmitMulti,
    SubmitSm,
    Unbind,
    _Bind,
    _BindResp,
)
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


class Simulator(Submission, Receipts, ManagementOps, Management):
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
