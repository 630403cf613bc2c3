"""query_sm, cancel_sm and replace_sm on the messages the simulator holds (3.4 §4.8-4.10).

Each request is first validated (``simulator.validate``: empty message_id ->
ESME_RINVMSGID, bad addresses -> their status), then looked up among the bind's own
account's messages. A source_addr given in the request must match the original's: 3.4
uses it "for verification purposes". Unknown messages get ESME_RQUERYFAIL,
ESME_RCANCELFAIL or ESME_RREPLACEFAIL; cancel and replace also fail on a message that is
already final (3.4 §4.9, §4.10).

``Binds.on_event`` hands these requests of a bound ESME to ``query``, ``cancel`` and
``replace``; the answers go through the ``Responder``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from simulator.accounts import BindState
from simulator.message_log import Message
from simulator.responses import Responder
from simulator.state import SimState
from simulator.validate import ValidationPolicy, validate_cancel, validate_query, validate_replace
from smppgw.core.constants import CommandStatus, MessageState, TlvTag
from smppgw.core.pdu import CancelSm, CancelSmResp, QuerySm, QuerySmResp, ReplaceSm, ReplaceSmResp
from smppgw.core.timefmt import format_smpp_time

__all__ = ["ManagementOps"]

# States whose query_sm error_code is 0: pending, delivered, or cancelled by the ESME.
_NO_ERROR = frozenset(
    {MessageState.ENROUTE, MessageState.ACCEPTED, MessageState.DELIVERED, MessageState.DELETED}
)


class ManagementOps:
    """query_sm, cancel_sm and replace_sm of bound ESMEs, on the message log."""

    def __init__(self, state: SimState, responder: Responder) -> None:
        self._store = state.store
        self._plans = state.plans
        self._respond = responder.respond

    def _policy(self, bind: BindState) -> ValidationPolicy:
        return self._plans.of(bind.source.behaviour).policy

    def _find(self, bind: BindState, message_id: str, source_addr: str = "") -> Message | None:
        m = self._store.get(message_id)
        if m is None or bind.account is None or m.account != bind.account.account.system_id:
            return None
        if source_addr and m.source_addr != source_addr:
            return None
        return m

    def _with_parts(self, m: Message) -> Iterator[Message]:
        """``m`` and, for a submit_multi, the messages of its other destinations."""
        yield m
        for index in range(1, 255):
            other = self._store.get(f"{m.message_id}/{index}")
            if other is None:
                return
            yield other

    def query(self, bind: BindState, seq: int, pdu: QuerySm) -> None:
        status = validate_query(pdu, self._policy(bind))
        m = self._find(bind, pdu.message_id, pdu.source_addr) if not status else None
        if m is None:
            self._respond(bind, seq, QuerySmResp(), status or CommandStatus.ESME_RQUERYFAIL)
            return
        resp = QuerySmResp(
            message_id=pdu.message_id,
            final_date=_smpp_time(m.done_at) if m.is_final and m.done_at else "",
            message_state=int(m.state),
            error_code=0 if m.state in _NO_ERROR else 1,
        )
        self._respond(bind, seq, resp, CommandStatus.ESME_ROK)

    def cancel(self, bind: BindState, seq: int, pdu: CancelSm) -> None:
        status = validate_cancel(pdu, self._policy(bind))
        if status:
            self._respond(bind, seq, CancelSmResp(), status)
            return
        if pdu.message_id:
            m = self._find(bind, pdu.message_id, pdu.source_addr)
            found = list(self._with_parts(m)) if m is not None else []
        else:  # 3.4 §4.9.1: cancel every pending message from source to destination
            assert bind.account is not None
            system_id = bind.account.account.system_id
            found = [
                m
                for m in self._store.newest_first()
                if m.source_addr == pdu.source_addr
                and m.destination_addr == pdu.destination_addr
                and (not pdu.service_type or m.service_type == pdu.service_type)
                and m.account == system_id
            ]
        pending = [m for m in found if not m.is_final]
        for m in pending:
            m.state = MessageState.DELETED
            m.done_at = time.time()
        self._respond(
            bind, seq, CancelSmResp(), CommandStatus.ESME_ROK if pending else CommandStatus.ESME_RCANCELFAIL
        )

    def replace(self, bind: BindState, seq: int, pdu: ReplaceSm) -> None:
        status = validate_replace(pdu, self._policy(bind))
        m = self._find(bind, pdu.message_id, pdu.source_addr) if not status else None
        if m is None or m.is_final:
            self._respond(bind, seq, ReplaceSmResp(), status or CommandStatus.ESME_RREPLACEFAIL)
            return
        payload = pdu.get_tlv(TlvTag.MESSAGE_PAYLOAD)
        m.payload = payload.value if payload is not None else pdu.short_message
        m.registered_delivery = pdu.registered_delivery
        self._respond(bind, seq, ReplaceSmResp(), CommandStatus.ESME_ROK)


def _smpp_time(wall: float) -> str:
    return format_smpp_time(datetime.fromtimestamp(wall, UTC))
