"""Connections and binds: what arrives on a connection, the faults, bind and unbind.

Every connection's application events are handled synchronously (``on_event``, run by
the connection's reader): a submit is admitted, validated, stored and answered inside
the reader's turn, so a burst read in one ``receive_some`` leaves as one write.

A request first meets the faults that replace an answer (SMPP-REFERENCE §7.1: drop,
black hole, generic_nack, malformed); then a submit of a bound ESME goes to
``Submission.submit``, query/cancel/replace to ``ManagementOps``, a bind is answered
here. The simulator's sessions leave enquire_link to it (``answer_enquire_link`` off in
their ``SessionConfig``), so the black hole can leave even the keep-alive unanswered.

Each connection is built with its ``BindState`` as its ``ConnectionBehaviour``
(``new_bind``, given to ``serve_smsc``): the ``read_delay`` fault is read through it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import trio

from simulator.accounts import BindState, bucket_for
from simulator.config import Behaviour
from simulator.management_ops import ManagementOps
from simulator.responses import Responder
from simulator.state import SimState
from simulator.submission import Submission
from smppgw.core.constants import CommandId, CommandStatus, TlvTag
from smppgw.core.events import Event, ProtocolViolation, RequestReceived, UnbindReceived
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    EnquireLink,
    EnquireLinkResp,
    QuerySm,
    ReplaceSm,
    Request,
    SubmitMulti,
    SubmitSm,
    Unbind,
    _Bind,
    _BindResp,
)
from smppgw.core.tlv import Tlv
from smppgw.net.connection import SmppConnection
from smppgw.support.logsafe import kv
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["Binds"]

log = logging.getLogger(__name__)

_BIND_RESP: dict[str, type[_BindResp]] = {
    "tx": BindTransmitterResp,
    "rx": BindReceiverResp,
    "trx": BindTransceiverResp,
}
_MODE = {0x02: "tx", 0x01: "rx", 0x09: "trx"}
_RECEIVER_MODES = frozenset({"rx", "trx"})
_SUBMITS = (SubmitSm, DataSm, SubmitMulti)  # a tuple: ``A | B`` in the call builds a union per PDU
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_ENQUIRE_LINK_RESP = EnquireLinkResp()


class Binds:
    """The connections of one simulator. ``handle`` serves one; ``new_bind`` makes the
    ``BindState`` a connection is built with."""

    def __init__(
        self, state: SimState, responder: Responder, submission: Submission, ops: ManagementOps
    ) -> None:
        self._state = state
        self._metrics = state.metrics
        self._plans = state.plans
        self._respond = responder.respond
        self._submit = submission.submit
        self._query, self._cancel, self._replace = ops.query, ops.cancel, ops.replace
        # A refused bind is a WARNING (never with the password), at most one a status an
        # interval: a client retrying in a loop must not flood the log.
        self._ratelog = RateLimitedLog(log)

    def new_bind(self) -> BindState:
        """The state of a connection about to be accepted (``serve_smsc``'s ``behaviour``)."""
        return BindState(self._state.unbound)

    async def handle(self, conn: SmppConnection) -> None:
        """The ``serve_smsc`` handler: one call per TCP connection."""
        self._metrics.connections.inc()
        # Its BindState, made for it by ``new_bind``. (A connection made without one, by
        # hand, gets one here: it works, but without the read_delay fault.)
        bind = conn.behaviour if isinstance(conn.behaviour, BindState) else self.new_bind()
        bind.conn = conn
        try:
            stream = getattr(conn.stream, "transport_stream", conn.stream)  # under TLS: the TCP one
            host, port = stream.socket.getpeername()[:2]  # type: ignore[union-attr]
            bind.peer, bind.address = f"{host}:{port}", host
        except Exception:
            bind.peer = "?"
        self._state.connections.add(bind)
        conn.on_event = functools.partial(self.on_event, bind)  # not a lambda: a frame less per PDU
        try:
            await conn.wait_closed()
        finally:
            self._disconnected(bind)

    def _disconnected(self, bind: BindState) -> None:
        self._state.connections.discard(bind)
        account = bind.account
        if account is not None:
            if bind in account.binds:
                account.binds.remove(bind)
            account.queue.remove_receiver(bind.conn)
            self._metrics.binds.labels(bind.system_id, bind.mode).dec()
            bind.account = None

    def on_event(self, bind: BindState, event: Event) -> None:
        """One event of ``bind``'s connection (its ``on_event``)."""
        if not isinstance(event, RequestReceived):
            self._on_session_event(event)
            return
        # A request (every submit): handled here, not in a method of its own (per PDU).
        seq, pdu = event.sequence_number, event.pdu
        account = bind.account
        b = bind.source.behaviour
        plan = self._plans.of(b)
        bind.pdus += 1
        self._metrics.pdus_in[pdu.command_id].n += 1
        if plan.faults and self._fault(bind, seq, pdu, b):
            return
        if isinstance(pdu, _SUBMITS) and account is not None:
            self._submit(bind, account, seq, pdu, plan)
        elif isinstance(pdu, _Bind):
            self._bind(bind, seq, pdu)
        elif isinstance(pdu, EnquireLink):
            self._enquire_link(bind, seq, b)
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
        metrics = self._metrics
        if isinstance(event, ProtocolViolation) and event.nack_queued:
            if event.error.command_status == CommandStatus.ESME_RTHROTTLED:  # beyond the window
                metrics.over_window.inc()
            if event.request_command_id is not None:
                metrics.pdu("in", event.request_command_id, 0)
            reply = event.reply_command_id if event.reply_command_id is not None else 0x8000_0000
            metrics.pdu("out", reply, int(event.error.command_status))
        elif isinstance(event, UnbindReceived):
            # The session answers it itself (3.4 §4.2); count both directions.
            metrics.pdu("in", CommandId.UNBIND, 0)
            metrics.pdu("out", CommandId.UNBIND_RESP, 0)

    def _enquire_link(self, bind: BindState, seq: int, b: Behaviour) -> None:
        """Answer a keep-alive (3.4 §4.11) at once, unless the black hole swallows it.
        The other faults leave it alone, and it does not count toward drop_after_pdus."""
        bind.pdus -= 1
        if b.black_hole:
            bind.conn.session.drop_request(seq)
            return
        bind.conn.send_response(seq, _ENQUIRE_LINK_RESP)
        self._metrics.pdu("out", _ENQUIRE_LINK_RESP.command_id, 0)

    def _fault(self, bind: BindState, seq: int, pdu: Request, b: Behaviour) -> bool:
        """Apply a fault that replaces the answer, if one fires (SMPP-REFERENCE §7.1,
        issue: "Faults"); True when it did and the request is dealt with."""
        if pdu.command_id == _ENQUIRE_LINK:
            return False  # see _enquire_link
        conn, rng = bind.conn, self._state.rng
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
            self._metrics.pdu("out", 0x8000_0000, CommandStatus.ESME_RSYSERR)
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

    # -- binds -----------------------------------------------------------------------------------

    def _bind(self, bind: BindState, seq: int, pdu: _Bind) -> None:
        mode = _MODE[pdu.command_id]
        account = self._state.accounts.get(pdu.system_id)
        # SMPP 3.4 §5.1.3 statuses; ESME_RALYBND for "too many binds" is carrier practice (§7.1).
        reason = ""
        if account is None:
            status, reason = CommandStatus.ESME_RINVSYSID, "no such account"
        elif pdu.password != account.account.password:
            status, reason = CommandStatus.ESME_RINVPASWD, "wrong password"
        elif account.refusing_binds(trio.current_time()):
            status, reason = CommandStatus.ESME_RBINDFAIL, "refusing binds (fault)"
        elif mode not in account.account.bind_types:
            status, reason = CommandStatus.ESME_RBINDFAIL, f"bind type {mode} not allowed"
        elif len(account.binds) >= account.account.max_binds:
            status, reason = CommandStatus.ESME_RALYBND, f"max_binds ({account.account.max_binds}) reached"
        elif self._binds_from(bind.address) >= self._state.config.max_binds_per_address:
            status, reason = CommandStatus.ESME_RBINDFAIL, "max_binds_per_address reached"
            self._metrics.binds_refused.labels("per_address").inc()
        else:
            status = CommandStatus.ESME_ROK
        # 3.4 §5.3.2.25: sc_interface_version only for a 3.4+ ESME.
        tlvs = (Tlv.from_int(TlvTag.SC_INTERFACE_VERSION, 0x34),) if pdu.interface_version >= 0x34 else ()
        resp = _BIND_RESP[mode](system_id=self._state.config.system_id, tlvs=tlvs)
        self._respond(bind, seq, resp, status)
        if status != CommandStatus.ESME_ROK or account is None:
            name = CommandStatus(status).name
            fields = kv(system_id=pdu.system_id, status=name, reason=reason, mode=mode, peer=bind.peer)
            self._ratelog.emit("bind:" + name, "bind refused %s", fields)
            return
        now = trio.current_time()
        bind.account, bind.mode, bind.system_id, bind.bound_at = account, mode, pdu.system_id, time.time()
        bind.bound_clock = now
        bind.bucket = bucket_for(account.behaviour.bind_tps, now)
        bind.source = account
        account.binds.append(bind)
        self._metrics.binds.labels(pdu.system_id, mode).inc()
        if mode in _RECEIVER_MODES:
            account.queue.add_receiver(bind.conn)
        self.schedule_unbind(bind)

    def _binds_from(self, address: str | None) -> int:
        """Bound sessions from ``address`` over every account (bounded: accounts x
        max_binds). A connection without an address (a memory stream) is not limited."""
        if address is None:
            return 0
        return sum(1 for a in self._state.accounts.values() for b in a.binds if b.address == address)

    def schedule_unbind(self, bind: BindState) -> None:
        """Plan the ``unbind_after`` fault for ``bind`` (at bind time, or when changed at run time)."""
        after = bind.account.behaviour.unbind_after if bind.account is not None else None
        if after is not None:
            self._state.scheduler.call_at(bind.bound_clock + after, self._smsc_unbind, bind)

    def keeps(self, fn: Callable[..., Any]) -> bool:
        """True for the binds' ``unbind_after`` timers: a reset keeps them."""
        return fn == self._smsc_unbind

    def _smsc_unbind(self, bind: BindState) -> None:
        conn, account = bind.conn, bind.account
        if conn.closed or not conn.session.state.is_bound or account is None:
            return
        after = account.behaviour.unbind_after
        if after is None or trio.current_time() < bind.bound_clock + after - 0.001:
            return  # changed at run time: the timer for the new value decides
        conn.start_request(Unbind(), lambda _outcome: conn.close("unbound by the SMSC"))
