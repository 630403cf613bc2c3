"""Inbound concatenation: UDH parsing, SAR TLVs and reassembly of the parts.

``concat_info`` reads one part's place in its message, from the UDH (IEI 0x00 or 0x08,
3GPP TS 23.040 §9.2.3.24.1/.8) when esm_class has UDHI, else from the SAR TLVs (SMPP 3.4
§5.3.2.22-24). ``Reassembler`` is pure bookkeeping (STYLE rule 5): the caller supplies
``now`` and polls ``next_deadline()`` / ``expire(now)``; nothing here reads a clock.

Groups are keyed by (source_addr, destination_addr, reference, total) as the reference
alone is only unique per address pair (SMPP-REFERENCE §5.5). A group's age counts from its
first part; ``now`` must not go backwards, so the oldest group is always first in the dict.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from smppgw.core.constants import CommandStatus, EsmClass, TlvTag
from smppgw.core.errors import RemoteProtocolError
from smppgw.core.text import ConcatMethod
from smppgw.core.tlv import Tlv, find_tlv

__all__ = [
    "ConcatInfo",
    "Incomplete",
    "MalformedUdh",
    "Reassembled",
    "Reassembler",
    "concat_info",
    "split_udh",
]

_IEI_CONCAT8: Final = 0x00
_IEI_CONCAT16: Final = 0x08
_MAX_PARTS: Final = 255


class MalformedUdh(RemoteProtocolError, ValueError):
    """The UDH length (UDHL) runs past the end of the user data."""

    command_status = CommandStatus.ESME_RINVMSGLEN


def _check_seqnum(instance: ConcatInfo, attribute: attrs.Attribute[int], value: int) -> None:
    if value > instance.total:
        raise ValueError(f"seqnum {value} is greater than total {instance.total}")


@attrs.frozen(kw_only=True)
class ConcatInfo:
    """Where one part sits in a concatenated message."""

    reference: int = attrs.field(validator=[attrs.validators.ge(0), attrs.validators.le(0xFFFF)])
    total: int = attrs.field(validator=[attrs.validators.ge(1), attrs.validators.le(_MAX_PARTS)])
    seqnum: int = attrs.field(validator=[attrs.validators.ge(1), _check_seqnum])
    method: ConcatMethod = attrs.field(
        validator=attrs.validators.in_((ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR))
    )


def split_udh(short_message: bytes) -> tuple[bytes, bytes]:
    """Return ``(udh including its length octet, payload)``.

    Raises:
        MalformedUdh: the data is empty or UDHL runs past it.
    """
    if not short_message:
        raise MalformedUdh("UDHI is set but the user data is empty")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise MalformedUdh(f"UDHL {short_message[0]} runs past the {len(short_message)}-octet user data")
    return short_message[:end], short_message[end:]


def _valid(reference: int, total: int, seqnum: int) -> bool:
    return 0 <= reference <= 0xFFFF and 1 <= total <= _MAX_PARTS and 1 <= seqnum <= total


def _udh_concat(udh: bytes) -> ConcatInfo | None:
    """The last concatenation IE in the UDH (23.040 §9.2.3.24: the last occurrence wins)."""
    found: tuple[int, int, int, ConcatMethod] | None = None
    pos, end = 1, len(udh)
    while pos + 2 <= end:
        iei, length = udh[pos], udh[pos + 1]
        data = udh[pos + 2 : pos + 2 + length]
        if len(data) < length:
            break  # a truncated IE ends the (tolerant) scan
        if iei == _IEI_CONCAT8 and length == 3:
            found = (data[0], data[1], data[2], ConcatMethod.UDH8)
        elif iei == _IEI_CONCAT16 and length == 4:
            found = ((data[0] << 8) | data[1], data[2], data[3], ConcatMethod.UDH16)
        pos += 2 + length
    if found is None or not _valid(*found[:3]):
        return None
    return ConcatInfo(reference=found[0], total=found[1], seqnum=found[2], method=found[3])


def _sar_concat(tlvs: Sequence[Tlv]) -> ConcatInfo | None:
    ref = find_tlv(tlvs, TlvTag.SAR_MSG_REF_NUM)
    total = find_tlv(tlvs, TlvTag.SAR_TOTAL_SEGMENTS)
    seqnum = find_tlv(tlvs, TlvTag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seqnum is None:
        return None
    values = (ref.as_int(), total.as_int(), seqnum.as_int())
    if not _valid(*values):
        return None
    return ConcatInfo(reference=values[0], total=values[1], seqnum=values[2], method=ConcatMethod.SAR)


def concat_info(short_message: bytes, esm_class: int, tlvs: Sequence[Tlv]) -> tuple[ConcatInfo | None, bytes]:
    """One part's concatenation info (or None) and its payload without the UDH.

    The user data is ``short_message``, or the message_payload TLV when short_message is
    empty (SMPP 3.4 §5.3.2.32: the two are mutually exclusive). With UDHI set the UDH is
    read first and the SAR TLVs are the fallback. Out-of-range values (total 0, seqnum 0
    or above total) give None: the part is then a message of its own.

    Raises:
        MalformedUdh: UDHI is set and the UDH length runs past the user data.
    """
    data = short_message
    if not data:
        payload = find_tlv(tlvs, TlvTag.MESSAGE_PAYLOAD)
        if payload is not None:
            data = payload.value
    info = None
    if esm_class & EsmClass.UDHI:
        udh, data = split_udh(data)
        info = _udh_concat(udh)
    if info is None and tlvs:
        info = _sar_concat(tlvs)
    return info, data


@attrs.frozen(kw_only=True)
class Reassembled:
    """A complete message: payloads concatenated in seqnum order (GSM7: unpacked septets)."""

    key: tuple[str, str, int]  # (source_addr, destination_addr, reference)
    data_coding: int  # from the first part received
    payload: bytes
    parts: int


@attrs.frozen(kw_only=True)
class Incomplete:
    """A group given up on: timed out, or evicted to respect ``max_pending``."""

    key: tuple[str, str, int]  # (source_addr, destination_addr, reference)
    total: int
    parts_received: tuple[int, ...]  # seqnums, ascending
    payloads: Mapping[int, bytes] = attrs.field(hash=False)  # by seqnum
    data_coding: int
    first_seen: float
    evicted: bool  # True: dropped because max_pending was reached, not by timeout


@attrs.define
class _Group:
    key: tuple[str, str, int]
    total: int
    data_coding: int
    first_seen: float
    payloads: dict[int, bytes]

    def incomplete(self, *, evicted: bool) -> Incomplete:
        seqnums = tuple(sorted(self.payloads))
        return Incomplete(
            key=self.key,
            total=self.total,
            parts_received=seqnums,
            payloads={seq: self.payloads[seq] for seq in seqnums},
            data_coding=self.data_coding,
            first_seen=self.first_seen,
            evicted=evicted,
        )


@attrs.define
class Reassembler:
    """Pure bookkeeping: the caller supplies `now`. Collects parts keyed by
    (source_addr, destination_addr, reference, total).

    Groups evicted because ``max_pending`` was reached are handed back by the next
    ``expire()`` call (``Incomplete.evicted`` is True), and ``next_deadline()`` reports
    them as due at once. At most ``max_pending`` evicted groups wait for that call.
    """

    timeout: float = 60.0
    max_pending: int = attrs.field(default=10_000, validator=attrs.validators.ge(1))
    _groups: dict[tuple[str, str, int, int], _Group] = attrs.field(factory=dict, init=False)
    _evicted: deque[Incomplete] = attrs.field(
        default=attrs.Factory(lambda self: deque(maxlen=self.max_pending), takes_self=True), init=False
    )
    _evicted_at: float | None = attrs.field(default=None, init=False)
    evicted_total: int = attrs.field(default=0, init=False)  # groups evicted by max_pending, ever

    def add(
        self,
        *,
        source_addr: str,
        destination_addr: str,
        info: ConcatInfo,
        data_coding: int,
        payload: bytes,
        now: float,
    ) -> Reassembled | None:
        """Store one part; return the whole message when its last missing part arrives.

        A duplicate part (same seqnum) is ignored and the first copy kept.
        """
        key = (source_addr, destination_addr, info.reference)
        if info.total == 1:
            return Reassembled(key=key, data_coding=data_coding, payload=payload, parts=1)
        group_key = (source_addr, destination_addr, info.reference, info.total)
        group = self._groups.get(group_key)
        if group is None:
            if len(self._groups) >= self.max_pending:
                self._evict_oldest(now)
            group = _Group(key=key, total=info.total, data_coding=data_coding, first_seen=now, payloads={})
            self._groups[group_key] = group
        payloads = group.payloads
        if info.seqnum in payloads:
            return None
        payloads[info.seqnum] = payload
        if len(payloads) < group.total:
            return None
        del self._groups[group_key]
        return Reassembled(
            key=key,
            data_coding=group.data_coding,
            payload=b"".join(payloads[seq] for seq in range(1, group.total + 1)),
            parts=group.total,
        )

    def _evict_oldest(self, now: float) -> None:
        oldest = next(iter(self._groups))
        self.evicted_total += 1
        self._evicted.append(self._groups.pop(oldest).incomplete(evicted=True))
        if self._evicted_at is None:
            self._evicted_at = now

    def expire(self, now: float) -> list[Incomplete]:
        """Evicted groups, then groups whose first part is at least ``timeout`` old."""
        out = list(self._evicted)
        self._evicted.clear()
        self._evicted_at = None
        groups = self._groups
        while groups:
            group_key, group = next(iter(groups.items()))
            if group.first_seen + self.timeout > now:
                break
            del groups[group_key]
            out.append(group.incomplete(evicted=False))
        return out

    def next_deadline(self) -> float | None:
        """When ``expire`` next has something to return; None when nothing is pending."""
        deadline = self._evicted_at
        if self._groups:
            oldest = next(iter(self._groups.values())).first_seen + self.timeout
            deadline = oldest if deadline is None else min(deadline, oldest)
        return deadline

    def __len__(self) -> int:
        """Pending (incomplete) groups."""
        return len(self._groups)
