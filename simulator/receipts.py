"""A message's fate and its delivery receipts (SMPP 3.4 Appendix B; SMPP-REFERENCE §6).

The final outcome and its delay are decided when the message is accepted (``decide``),
so a seeded run is reproducible. Whether a receipt goes out is decided when the message
reaches its final state (``finalize``), from the registered_delivery it has *then*: a
replace_sm may have changed it. Intermediate notifications (ENROUTE/ACCEPTD) are only sent
while the message is still pending, so they never follow the final receipt.

``Receipts`` is used by ``Submission`` (which decides and plans) and by nobody else; it
puts each receipt on the account's ``DeliveryQueue``.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any

from simulator.accounts import AccountState
from simulator.config import FINAL_STATES
from simulator.deliveries import Delivery
from simulator.ids import IdFactory
from simulator.message_log import PENDING_STATES, Message
from simulator.plan import Plan
from simulator.state import SimState
from smppgw.core.constants import EsmClass, MessageState
from smppgw.core.pdu import DeliverSm
from smppgw.core.receipt import format_receipt, format_smpp_date, receipt_tlvs
from smppgw.core.text import decode_text
from smppgw.core.timefmt import SmppTimeError, resolve_smpp_time

__all__ = ["Receipts"]

_MAX_ADDR = 20  # deliver_sm addresses are C-Octet String(21); data_sm allows 65
_UDHI = int(EsmClass.UDHI)  # int & IntFlag runs enum's Python-level __and__: per receipt
_RECEIPT = int(EsmClass.SMSC_DELIVERY_RECEIPT)
_INTERMEDIATE = int(EsmClass.INTERMEDIATE_NOTIFICATION)
_PREVIEW_OCTETS = 44  # see _preview
_DELIVERED = MessageState.DELIVERED
_STAT = {state: state.stat for state in MessageState}


class Receipts:
    """Outcomes and receipts of accepted messages."""

    def __init__(self, state: SimState) -> None:
        self._rng = state.rng
        self._metrics = state.metrics

    def decide(self, plan: Plan, m: Message, pdu: Any) -> tuple[MessageState, float]:
        """The final state of ``m`` and how long after the submit it is reached."""
        rng, b = self._rng, plan.behaviour
        state = plan.fixed_state  # no force rule, one outcome: no RNG draw either way
        if state is None:
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
        delay = b.dlr_delay.sample(rng) if plan.dlr_delayed else 0.0
        # 3.4 §4.4.1: a scheduled message is held until its schedule_delivery_time, and
        # stays pending (cancellable, replaceable) until then.
        schedule: str = getattr(pdu, "schedule_delivery_time", "")  # data_sm has none
        if schedule:
            held = _seconds_until(schedule)
            if held:
                delay += held
        validity_period: str = getattr(pdu, "validity_period", "")
        if b.honour_validity and validity_period:
            validity = _seconds_until(validity_period)
            if validity is not None and delay > validity:
                return MessageState.EXPIRED, validity
        return state, delay

    @staticmethod
    def wants_receipt(m: Message) -> bool:
        """registered_delivery bits 1-0 (3.4 §5.2.17; 3 = on success only, 5.0)."""
        if not m.receipt_part:
            return False
        mode = m.registered_delivery & 0x03
        if mode == 1:
            return True
        delivered = m.final_state is _DELIVERED
        return (mode == 2 and not delivered) or (mode == 3 and delivered)

    def finalize(self, account: AccountState, m: Message) -> None:
        """``m`` reaches the final state decided for it; its receipt(s) go out if wanted."""
        if m.state not in PENDING_STATES:  # final (``m.is_final``): cancelled in the meantime
            return
        state = m.final_state
        assert state is not None
        m.state = state
        m.done_at = time.time()
        # registered_delivery 1 (always), the usual case, without the call.
        if (m.registered_delivery & 0x03 == 1 and m.receipt_part) or self.wants_receipt(m):
            self._send_receipt(account, m, state, False)
            if m.duplicate:
                self._send_receipt(account, m, state, False)

    def send_intermediate(self, account: AccountState, m: Message, state: MessageState) -> None:
        """An ENROUTE/ACCEPTD notification (3.4 §5.2.12), unless ``m`` is final already."""
        if m.state in PENDING_STATES:  # an interim receipt never follows the final one
            self._send_receipt(account, m, state, True)

    def _send_receipt(
        self, account: AccountState, m: Message, state: MessageState, intermediate: bool
    ) -> None:
        b = account.behaviour
        receipt_id = m.receipt_id
        if b.receipt_id_base != "same":
            receipt_id = IdFactory.for_receipt(m.number, receipt_id, b.receipt_id_base)
        text = b""
        if b.receipt_text:
            digits = b.receipt_date_digits
            preview = _preview(m.payload, m.data_coding) if not m.esm_class & _UDHI else ""
            head, tail = _receipt_frame(
                state,
                int(m.submitted_wall),
                int(m.done_at or time.time()),
                m.error,
                digits,
                not b.receipt_upper_case,
            )
            text = f"{head}{receipt_id}{tail}{preview}".encode("latin-1", "replace")[:254]
        tlvs = receipt_tlvs(message_id=receipt_id, state=state) if b.receipt_tlvs else ()
        # trusted: addresses come from a decoded submit (cut to 20), ids are our own.
        pdu = DeliverSm.trusted_from(
            {
                "source_addr_ton": m.dest_addr_ton,
                "source_addr_npi": m.dest_addr_npi,
                "source_addr": m.destination_addr[:_MAX_ADDR],
                "dest_addr_ton": m.source_addr_ton,
                "dest_addr_npi": m.source_addr_npi,
                "destination_addr": m.source_addr[:_MAX_ADDR],
                "esm_class": _INTERMEDIATE if intermediate else _RECEIPT,
                "short_message": text,
                "tlvs": tlvs,
            }
        )
        m.receipts_sent += 1
        self._metrics.receipts_by_stat[_STAT[state]].n += 1
        account.queue.put(Delivery(pdu, "receipt"))


def _preview(payload: bytes, data_coding: int) -> str:
    """The receipt's ``text:``: the first 20 characters of the message.

    Decoded from the first 44 octets when they give at least 22 characters (160-octet
    messages are common; the decoders cost per octet). A decoder reads left to right, so
    cutting the octets changes at most the last character it returns (a split UCS2
    surrogate pair or GSM7 escape): with 22, the first 20 are those of the whole text.
    """
    if len(payload) > _PREVIEW_OCTETS:
        text = decode_text(payload[:_PREVIEW_OCTETS], data_coding)
        if len(text) >= 22:
            return text[:20]
    return decode_text(payload, data_coding)[:20]


def _seconds_until(value: str) -> float | None:
    try:
        now = datetime.now(UTC)
        until = resolve_smpp_time(value, now)
    except SmppTimeError:
        return None
    return None if until is None else max(0.0, (until - now).total_seconds())


@functools.lru_cache(maxsize=256)
def _date_of_second(second: int, digits: int) -> str:
    # Receipt dates have at most one-second resolution: each second is formatted once.
    t = time.localtime(second)
    return format_smpp_date(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, min(t.tm_sec, 59), digits)


@functools.lru_cache(maxsize=256)
def _receipt_frame(
    state: MessageState, submitted: int, done: int, error: str, digits: int, lowercase: bool
) -> tuple[str, str]:
    """The Appendix B text around the id: a receipt's text is ``head + id + tail + preview``.

    ``format_receipt`` writes ``id:`` first and ``text:`` last (Appendix B order), and
    everything between changes at most once a second (the dates), so it is formatted
    once per second and outcome instead of once per receipt (~3 us each). The NUL marks
    where the id goes: our ids never contain one.
    """
    text = format_receipt(
        message_id="\x00",
        state=state,
        submit_date=_date_of_second(submitted, digits),
        done_date=_date_of_second(done, digits),
        error=error,
        text="",
        date_digits=digits,
        lowercase_keys=lowercase,
    )
    head, _, tail = text.partition("\x00")
    return head, tail
