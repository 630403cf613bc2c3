"""Inbound (MO) plumbing: reassemble, decode, hand to the inbound handler.

Concatenated parts (8-bit UDH, 16-bit UDH, SAR) are collected by ``core.reassembly``;
the handler sees one ``InboundMessage`` per whole message. A part is acknowledged
(deliver_sm_resp ESME_ROK) once it is recorded; if the handler raises, the last part is
answered ESME_RX_T_APPN so the SMSC redelivers it later (SMPP 3.4 §5.1.3). Parts whose
siblings never arrive are delivered as they are after the reassembly timeout, marked
incomplete, rather than lost. The 2-way layer (keywords, opt-outs, conversations)
implements ``InboundHandler``.

A part held for reassembly was acknowledged to the SMSC, so it must survive a crash
(DESIGN §3): it goes into the store (``InboundPartStore.add_inbound_part``, durable at
the batch's commit, before its deliver_sm_resp); its group's parts are dropped once the
group leaves the reassembler (whole and handed over, or given up), and a restart
reloads what is held (``reload``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import DataSm, DeliverSm
from smppgw.core.reassembly import ConcatInfo, Incomplete, MalformedUdh, Reassembler, concat_info
from smppgw.core.text import ConcatMethod, decode_text
from smppgw.store.base import InboundPart, InboundPartStore, StoreError
from smppgw.support.logsafe import TEXT_LIMIT, Fields, kv

__all__ = ["Inbound", "InboundHandler", "InboundMessage"]

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class InboundMessage:
    smsc: str
    source: str
    destination: str
    text: str
    data_coding: int
    parts: int
    received_at: float
    complete: bool = True


@runtime_checkable
class SharedParts(Protocol):
    """MO parts in a store several gateways share (``RedisStore``, issue 19): the parts of
    one message read by different gateways meet there, and one gateway takes them."""

    def gather_inbound_part(self, part: InboundPart) -> list[InboundPart] | None: ...
    def take_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> list[InboundPart]: ...


class InboundHandler(Protocol):
    def __call__(self, message: InboundMessage) -> None:
        """Take one inbound message; raise to have the SMSC redeliver it later."""


def _log_only(message: InboundMessage) -> None:
    # Never the text at INFO (STYLE: logging).
    log.info(
        "inbound %s",
        kv(smsc=message.smsc, source=message.source, destination=message.destination, parts=message.parts),
    )
    log.debug("inbound text %s", Fields({"text": message.text}, limit=TEXT_LIMIT))  # only its start


class Inbound:
    def __init__(
        self,
        handler: InboundHandler | None = None,
        *,
        timeout: float = 60.0,
        parts: InboundPartStore | None = None,
        max_groups: int = 10_000,
        on_evicted: Callable[[str, int], None] | None = None,
    ) -> None:
        """``max_groups``: MO messages in reassembly at most; beyond it the oldest is
        handed over incomplete at once (its stored parts dropped) and ``on_evicted(smsc,
        n)`` told how many went: a flood of first parts that never complete holds no more."""
        self.handler: InboundHandler = handler or _log_only
        self.reassembler = Reassembler(timeout=timeout, max_pending=max_groups)
        self.on_evicted = on_evicted
        self._evicted_seen = 0
        self.received = 0
        self.parts = parts  # where parts held for reassembly are kept (None: memory only)
        #: Parts shared with other gateways (set by the composition root on Redis): a
        #: message is whole when the parts any gateway read are; the local reassembler
        #: then only times groups out.
        self.shared: SharedParts | None = None

    def receive(self, smsc: str, pdu: DeliverSm | DataSm, now: float) -> int:
        """Receive one non-receipt deliver_sm/data_sm (``Deliveries.on_event``); return the
        status to answer it with."""
        short_message = pdu.short_message if isinstance(pdu, DeliverSm) else b""
        try:
            info, payload = concat_info(short_message or pdu.payload, pdu.esm_class, pdu.tlvs)
        except MalformedUdh:
            return CommandStatus.ESME_RINVMSGLEN
        if info is None:
            return self._hand_over(
                InboundMessage(
                    smsc=smsc,
                    source=pdu.source_addr,
                    destination=pdu.destination_addr,
                    text=decode_text(payload, pdu.data_coding),
                    data_coding=pdu.data_coding,
                    parts=1,
                    received_at=now,
                )
            )
        if self.shared is not None:
            return self._gather(smsc, pdu, info, payload, now)
        whole = self.reassembler.add(
            source_addr=pdu.source_addr,
            destination_addr=pdu.destination_addr,
            info=info,
            data_coding=pdu.data_coding,
            payload=payload,
            now=now,
        )
        if self.reassembler.evicted_total != self._evicted_seen:
            self.expire(smsc, now)  # at once: the reassembler keeps only max_groups of them
        if whole is None:
            if self.parts is not None:  # durable at the batch's commit, before the answer
                self.parts.add_inbound_part(
                    InboundPart(
                        smsc=smsc, source=pdu.source_addr, destination=pdu.destination_addr,
                        reference=info.reference, total=info.total, seqnum=info.seqnum,
                        data_coding=pdu.data_coding, payload=payload, received_at=now,
                    )
                )  # fmt: skip
            return CommandStatus.ESME_ROK  # recorded; waiting for the other parts
        status = self._hand_over(
            InboundMessage(
                smsc=smsc,
                source=whole.key[0],
                destination=whole.key[1],
                text=decode_text(whole.payload, whole.data_coding),
                data_coding=whole.data_coding,
                parts=whole.parts,
                received_at=now,
            )
        )
        if self.parts is not None and whole.parts > 1:  # the group left the reassembler
            self.parts.drop_inbound_parts(smsc, whole.key[0], whole.key[1], whole.key[2], whole.parts)
        return status

    def expire(self, smsc: str, now: float) -> None:
        evicted = self.reassembler.evicted_total - self._evicted_seen
        if evicted:
            self._evicted_seen += evicted
            if self.on_evicted is not None:
                self.on_evicted(smsc, evicted)
        for group in self.reassembler.expire(now):
            if self.shared is not None:  # the parts any gateway read, if no other took them
                try:
                    held = self.shared.take_inbound_parts(smsc, *group.key, group.total)
                except StoreError:
                    continue  # kept in Redis
                if held:
                    group = attrs.evolve(group, payloads={p.seqnum: p.payload for p in held})
                    self._hand_over(self._incomplete(smsc, group, now))
                continue
            self._hand_over(self._incomplete(smsc, group, now))
            if self.parts is not None:
                self.parts.drop_inbound_parts(smsc, group.key[0], group.key[1], group.key[2], group.total)

    def reload(self, smsc: str) -> int:
        """After a restart: put the parts the store holds for ``smsc`` back into the
        reassembler (oldest first, their first-seen times kept, so the reassembly timeout
        still counts from the first part). Returns how many."""
        if self.parts is None:
            return 0
        held = self.parts.inbound_parts(smsc)
        for part in held:
            self.reassembler.add(
                source_addr=part.source,
                destination_addr=part.destination,
                info=ConcatInfo(
                    reference=part.reference, total=part.total, seqnum=part.seqnum, method=ConcatMethod.UDH16
                ),
                data_coding=part.data_coding,
                payload=part.payload,
                now=part.received_at,
            )  # (a held group is incomplete: its last part was never stored as held)
        return len(held)

    def _gather(
        self, smsc: str, pdu: DeliverSm | DataSm, info: ConcatInfo, payload: bytes, now: float
    ) -> int:
        """A part with other gateways (``shared``): held in the store at once; the
        gateway whose part completes the message hands it over."""
        assert self.shared is not None
        part = InboundPart(
            smsc=smsc, source=pdu.source_addr, destination=pdu.destination_addr, reference=info.reference,
            total=info.total, seqnum=info.seqnum, data_coding=pdu.data_coding, payload=payload, received_at=now,
        )  # fmt: skip
        try:
            parts = self.shared.gather_inbound_part(part)
        except StoreError:
            return CommandStatus.ESME_RX_T_APPN  # not recorded: the SMSC redelivers it
        if parts is None:  # timed out here (``expire``) if the others never come
            self.reassembler.add(source_addr=part.source, destination_addr=part.destination, info=info,
                                 data_coding=part.data_coding, payload=payload, now=now)  # fmt: skip
            return CommandStatus.ESME_ROK
        status = self._hand_over(
            InboundMessage(
                smsc=smsc, source=part.source, destination=part.destination,
                text=decode_text(b"".join(p.payload for p in parts), part.data_coding),
                data_coding=part.data_coding, parts=len(parts), received_at=now,
            )
        )  # fmt: skip
        if status != CommandStatus.ESME_ROK and self.parts is not None:  # held again but this one,
            for other in parts:  # which the SMSC delivers again
                if other.seqnum != part.seqnum:
                    self.parts.add_inbound_part(other)
        return status

    @staticmethod
    def _incomplete(smsc: str, group: Incomplete, now: float) -> InboundMessage:
        payload = b"".join(group.payloads[n] for n in sorted(group.payloads))
        return InboundMessage(
            smsc=smsc,
            source=group.key[0],
            destination=group.key[1],
            text=decode_text(payload, group.data_coding),
            data_coding=group.data_coding,
            parts=len(group.payloads),
            received_at=now,
            complete=False,
        )

    def _hand_over(self, message: InboundMessage) -> int:
        self.received += 1
        try:
            self.handler(message)
        except Exception:
            log.exception("inbound handler failed; asking the SMSC to redeliver")
            return CommandStatus.ESME_RX_T_APPN
        return CommandStatus.ESME_ROK
