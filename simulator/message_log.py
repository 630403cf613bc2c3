"""What the simulator received: one record per accepted message, bounded in memory.

Tests assert on it ("what did the gateway actually send?") through the control API.
A log, not a store: nothing here persists (the gateway's ``MessageStore`` does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from smppgw.core.constants import MessageState
from smppgw.core.reassembly import MalformedUdh, split_udh
from smppgw.core.text import decode_text

if TYPE_CHECKING:
    from smppgw.core.pdu import DataSm, DestAddress, SubmitMulti, SubmitSm

__all__ = ["PENDING_STATES", "Message", "MessageLog", "text_of"]

# States a message leaves when it reaches its outcome.
PENDING_STATES: Final = frozenset({MessageState.ENROUTE, MessageState.ACCEPTED, MessageState.SCHEDULED})
_ENROUTE: Final = MessageState.ENROUTE
_UDHI: Final = 0x40  # esm_class bit 6: the user data starts with a header (3.4 §5.2.12)
_BINARY: Final = frozenset({0x02, 0x04})  # 8-bit binary data codings (3.4 §5.2.19)


def text_of(payload: bytes, data_coding: int, esm_class: int = 0) -> str | None:
    """The text a handset would show for a message's user data (its UDH left out), or
    None for binary data (an 8-bit data_coding, or a message class with 8-bit data)."""
    if data_coding in _BINARY or (data_coding >= 0xF0 and data_coding & 0x04):
        return None
    if esm_class & _UDHI:
        try:
            payload = split_udh(payload)[1]
        except MalformedUdh:
            return None
    return decode_text(payload, data_coding)


class Message:
    """One accepted submit (or one destination of a submit_multi)."""

    __slots__ = (
        "account",
        "bind_id",
        "data_coding",
        "dest_addr_npi",
        "dest_addr_ton",
        "destination_addr",
        "done_at",
        "duplicate",
        "error",
        "esm_class",
        "final_state",
        "message_id",
        "number",
        "payload",
        "receipt_id",
        "receipt_part",
        "receipts_sent",
        "registered_delivery",
        "service_type",
        "source_addr",
        "source_addr_npi",
        "source_addr_ton",
        "state",
        "submitted_at",
        "submitted_wall",
        "tlv_tags",
    )

    message_id: str
    number: int  # the sequential number behind the id (receipt id bases)
    account: str
    bind_id: int
    service_type: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    payload: bytes
    tlv_tags: tuple[int, ...]
    state: MessageState
    submitted_at: float  # trio clock
    submitted_wall: float
    receipt_id: str  # the submit_sm_resp id receipts refer to (submit_multi: shared)
    receipt_part: bool  # False: a non-final part of a concatenated message gets no final receipt

    def __init__(
        self,
        message_id: str,
        receipt_id: str,
        number: int,
        account: str,
        bind_id: int,
        pdu: SubmitSm | DataSm | SubmitMulti,
        target: SubmitSm | DataSm | DestAddress,
        payload: bytes,
        submitted_at: float,
        submitted_wall: float,
    ) -> None:
        """The message ``pdu`` carries to ``target``: the PDU itself, or one destination
        of a submit_multi. Its fields are copied (the PDU is not kept); ``payload`` is its
        user data (short_message or message_payload).

        Few positional parameters, not twenty keywords: a class call with keywords goes
        through a dict, and twenty of them cost ~1 us more per submit (CPython 3.11).
        """
        # Explicit assignments, not a **values loop of setattr: one Message per submit.
        self.message_id = message_id
        self.number = number
        self.account = account
        self.bind_id = bind_id
        self.service_type = pdu.service_type
        self.source_addr = pdu.source_addr
        self.source_addr_ton = pdu.source_addr_ton
        self.source_addr_npi = pdu.source_addr_npi
        self.destination_addr = target.destination_addr
        self.dest_addr_ton = target.dest_addr_ton
        self.dest_addr_npi = target.dest_addr_npi
        self.esm_class = pdu.esm_class
        self.data_coding = pdu.data_coding
        self.registered_delivery = pdu.registered_delivery
        self.payload = payload
        tlvs = pdu.tlvs
        self.tlv_tags = tuple([t.tag for t in tlvs]) if tlvs else ()
        self.state = _ENROUTE
        self.submitted_at = submitted_at
        self.submitted_wall = submitted_wall
        self.receipt_id = receipt_id
        self.receipts_sent = 0
        self.duplicate = False
        self.receipt_part = True
        self.done_at: float | None = None
        self.error = "000"
        self.final_state: MessageState | None = None  # the outcome decided at submit

    @property
    def is_final(self) -> bool:
        return self.state not in PENDING_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "account": self.account,
            "bind_id": self.bind_id,
            "service_type": self.service_type,
            "source_addr": self.source_addr,
            "source_addr_ton": self.source_addr_ton,
            "source_addr_npi": self.source_addr_npi,
            "destination_addr": self.destination_addr,
            "dest_addr_ton": self.dest_addr_ton,
            "dest_addr_npi": self.dest_addr_npi,
            "esm_class": self.esm_class,
            "data_coding": self.data_coding,
            "registered_delivery": self.registered_delivery,
            "payload_hex": self.payload.hex(),
            "text": text_of(self.payload, self.data_coding, self.esm_class),
            "tlv_tags": list(self.tlv_tags),
            "state": self.state.stat,
            "submitted_at": self.submitted_wall,
            "receipts_sent": self.receipts_sent,
            # The receipt: the id it carries, when the outcome was reached (wall clock) and
            # its err: code.
            "receipt_id": self.receipt_id,
            "done_at": self.done_at,
            "error": self.error,
        }


class MessageLog:
    """Messages by id, newest last; the oldest are forgotten past ``limit``."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._by_id: dict[str, Message] = {}
        # Ids oldest first, for eviction. ``del d[next(iter(d))]`` was O(deleted entries)
        # per add once past the limit (a dict's iterator skips the holes left at its
        # front until the next resize): ~58 us per add at the 200k default.
        self._order: deque[str] = deque()

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, message: Message) -> None:
        by_id = self._by_id
        if message.message_id not in by_id:  # (a re-add keeps its place, as in a dict)
            self._order.append(message.message_id)
        by_id[message.message_id] = message
        if len(by_id) > self.limit:
            del by_id[self._order.popleft()]

    def get(self, message_id: str) -> Message | None:
        return self._by_id.get(message_id)

    def clear(self) -> None:
        self._by_id.clear()
        self._order.clear()

    def newest_first(self) -> Iterator[Message]:
        return reversed(self._by_id.values())

    def select(
        self,
        *,
        account: str | None = None,
        source_addr: str | None = None,
        destination_addr: str | None = None,
        state: str | None = None,
        limit: int = 1000,
    ) -> list[Message]:
        out = []
        for m in self.newest_first():
            if account is not None and m.account != account:
                continue
            if source_addr is not None and m.source_addr != source_addr:
                continue
            if destination_addr is not None and m.destination_addr != destination_addr:
                continue
            if state is not None and m.state.stat != state.upper():
                continue
            out.append(m)
            if len(out) >= limit:
                break
        return out
