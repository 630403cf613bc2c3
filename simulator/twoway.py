"""Virtual handsets: subscribers who answer MT messages (the 2-way half of a carrier).

A rule matches the MT text (case-insensitive substring), fires with its probability
after the message is delivered plus the rule's delay, and sends an MO from the MT's
destination to its source: "YES", "NO", "STOP", or a 0-10 survey score. Long replies
travel concatenated (the behaviour's ``mo_concat``: 8-bit UDH, 16-bit UDH or SAR) and
text outside GSM 03.38 in UCS-2, as a real handset's would. An MT no rule answers goes
to the behaviour's ``personas`` (``simulator.personas``), when it has them.
"""

from __future__ import annotations

from simulator.accounts import AccountState
from simulator.config import Behaviour
from simulator.deliveries import Delivery
from simulator.message_log import Message
from simulator.personas import Personas
from simulator.state import SimState
from smppgw.core.constants import MessageState, Npi, Ton
from smppgw.core.pdu import DeliverSm
from smppgw.core.text import ConcatMethod, decode_text, split_message

__all__ = ["Handsets"]

_METHOD = {"udh8": ConcatMethod.UDH8, "udh16": ConcatMethod.UDH16, "sar": ConcatMethod.SAR}


class Handsets:
    """The subscribers behind every destination; ``send_mo`` also serves ``POST /inject``."""

    def __init__(self, state: SimState) -> None:
        self._rng = state.rng
        self._scheduler = state.scheduler
        self._reference = 0
        self.replies_sent = 0
        seed = state.config.seed if state.config.seed is not None else state.rng.getrandbits(32)
        self.personas = Personas(seed, state.scheduler.call_later, self._reply)  # MTs no rule answered

    def on_delivered(self, account: AccountState, b: Behaviour, m: Message, delivered_after: float) -> None:
        """Called when ``m`` is accepted with a DELIVRD outcome ``delivered_after`` seconds on."""
        text = decode_text(m.payload, m.data_coding).lower()
        rng = self._rng
        for rule in b.handsets:
            if rule.match.lower() not in text:
                continue
            if rng.random() >= rule.probability:
                return
            texts = [t for t, _ in rule.replies]
            reply = rng.choices(texts, [w for _, w in rule.replies])[0]
            if reply.lower() == "score":
                reply = str(rng.randint(0, 10))
            delay = delivered_after + rule.delay.sample(rng)
            self._scheduler.call_later(delay, self._reply, account, m, reply)
            return
        if b.personas is not None:
            self.personas.on_delivered(account, b.personas, m, delivered_after)

    def _reply(self, account: AccountState, m: Message, text: str) -> None:
        if m.state is MessageState.DELIVERED:  # not cancelled before it reached the handset
            self.send_mo(
                account, m.destination_addr, m.source_addr, text, m.source_addr_ton, m.source_addr_npi
            )

    def send_mo(
        self,
        account: AccountState,
        source_addr: str,
        destination_addr: str,
        text: str,
        dest_addr_ton: int = Ton.UNKNOWN,
        dest_addr_npi: int = Npi.UNKNOWN,
    ) -> int:
        """Queue an MO message; returns how many deliver_sm parts it took."""
        method = _METHOD[account.behaviour.mo_concat]
        self._reference = (self._reference + 1) % (256 if method is ConcatMethod.UDH8 else 65536)
        parts = split_message(text, method=method, reference=self._reference)
        source_ton = Ton.INTERNATIONAL if source_addr.isdigit() and len(source_addr) > 6 else Ton.UNKNOWN
        for part in parts:
            pdu = DeliverSm(
                source_addr_ton=source_ton,
                source_addr_npi=Npi.ISDN if source_ton == Ton.INTERNATIONAL else Npi.UNKNOWN,
                source_addr=source_addr,
                dest_addr_ton=dest_addr_ton,
                dest_addr_npi=dest_addr_npi,
                destination_addr=destination_addr,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                short_message=part.short_message,
                tlvs=part.tlvs,
            )
            account.queue.put(Delivery(pdu, "mo"))
        self.replies_sent += 1
        return len(parts)
