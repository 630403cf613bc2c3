"""Text for short messages: segment counting and splitting, and the one import for text.

Splitting follows SMPP-REFERENCE §5.5: one part when the text fits a single SMS,
otherwise 153/134/67 units per part with an 8-bit-reference UDH (or SAR TLVs, for which
the MC builds that same 6-octet UDH) and 152/133/66 with a 16-bit-reference UDH. A cut
never separates an ESC pair or a UTF-16 surrogate pair, so a part may carry one unit less
than its capacity; ``count_segments`` runs the same cutting rule, so its count always
equals ``len(split_message(...))``. Inbound parsing and reassembly live in
``smppgw.core.reassembly``.

The alphabets (the GSM 03.38 tables, encoding and decoding by data_coding) live in
``smppgw.core.alphabet``; every public name there is re-exported here.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from smppgw.core._construct import build
from smppgw.core.alphabet import (
    _DATA_CODING,
    _ESC,
    Encoding,
    _encode_as,
    _resolve,
    choose_encoding,
    decode_text,
    encode_text,
    fits_gsm7,
    gsm7_decode,
    gsm7_encode,
    gsm7_length,
    gsm7_pack,
    gsm7_unpack,
)
from smppgw.core.constants import EsmClass, TlvTag
from smppgw.core.errors import TextEncodingError
from smppgw.core.tlv import Tlv

__all__ = [
    "ConcatMethod",
    "Encoding",
    "Part",
    "SegmentInfo",
    "choose_encoding",
    "count_segments",
    "decode_text",
    "encode_text",
    "fits_gsm7",
    "gsm7_decode",
    "gsm7_encode",
    "gsm7_length",
    "gsm7_pack",
    "gsm7_unpack",
    "split_message",
]


class ConcatMethod(enum.Enum):
    """How a long message travels (SMPP-REFERENCE §5.5)."""

    # Members are singletons: identity hashing is exact and cheaper than Enum's
    # name hash (dict keys on the per-message path: split_message).
    __hash__ = object.__hash__

    UDH8 = "udh8"  # UDH IEI 0x00: 05 00 03 ref total seq
    UDH16 = "udh16"  # UDH IEI 0x08: 06 08 04 refH refL total seq
    SAR = "sar"  # sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs, no UDH
    PAYLOAD = "payload"  # one PDU, sm_length=0, the whole text in message_payload


_GSM7, _UCS2 = Encoding.GSM7, Encoding.UCS2


def _encode(text: str, encoding: Encoding | str) -> tuple[Encoding, bytes]:
    """The encoding ``encoding`` resolves to for ``text``, and the text in it."""
    if encoding == "auto" and text.isascii():
        # The usual text: encoded once, where choose_encoding + gsm7_encode went twice.
        try:
            return _GSM7, gsm7_encode(text)
        except TextEncodingError:  # an ASCII control character, say
            return _UCS2, text.encode("utf-16-be")
    enc = _resolve(text, encoding)
    return enc, _encode_as(text, enc)


# -- segmentation (SMPP-REFERENCE §5.5) ----------------------------------------------------
_UNIT_OCTETS: Final = {Encoding.GSM7: 1, Encoding.LATIN1: 1, Encoding.UCS2: 2}
_SINGLE: Final = {Encoding.GSM7: 160, Encoding.LATIN1: 140, Encoding.UCS2: 70}
_UDH8_CAPACITY: Final = {Encoding.GSM7: 153, Encoding.LATIN1: 134, Encoding.UCS2: 67}
_PER_PART: Final = {
    ConcatMethod.UDH8: _UDH8_CAPACITY,
    ConcatMethod.SAR: _UDH8_CAPACITY,  # the MC adds a 6-octet UDH itself
    ConcatMethod.UDH16: {Encoding.GSM7: 152, Encoding.LATIN1: 133, Encoding.UCS2: 66},
}
_MAX_PAYLOAD: Final = 0xFFFF  # message_payload length field is 2 octets
_MAX_PARTS: Final = 255  # total-parts field is 1 octet
_MAX_REFERENCE: Final = {
    ConcatMethod.UDH8: 0xFF,
    ConcatMethod.UDH16: 0xFFFF,
    ConcatMethod.SAR: 0xFFFF,
    ConcatMethod.PAYLOAD: 0xFFFF,
}


@attrs.frozen(kw_only=True)
class SegmentInfo:
    """What sending a text costs. ``units`` are septets, octets or UTF-16 code units."""

    encoding: Encoding
    data_coding: int
    segments: int  # PDUs that will be sent (1 for PAYLOAD); may exceed 255
    units: int
    units_per_segment: int  # 160/70/140 when it fits one part, else the per-part capacity


@attrs.frozen(kw_only=True, slots=False)  # dict-based: split_message builds one per message (_construct)
class Part:
    """One submit_sm worth of a (possibly split) message."""

    short_message: bytes  # UDH + payload for UDH methods; b"" for PAYLOAD
    esm_class: int  # 0x40 (UDHI) for UDH methods with more than one part, else 0
    data_coding: int
    tlvs: tuple[Tlv, ...]  # SAR TLVs, or message_payload for PAYLOAD, else ()
    part_number: int  # 1-based
    total: int


def _cuts(data: bytes, encoding: Encoding, capacity: int) -> list[int]:
    """End offsets of each part; an ESC pair or a surrogate pair is never cut."""
    width = _UNIT_OCTETS[encoding]
    step = capacity * width
    size = len(data)
    ends = []
    pos = 0
    while pos < size:
        end = pos + step
        if end >= size:
            end = size
        elif encoding is Encoding.GSM7:
            # 0x1B in gsm7_encode output is always an escape prefix (no ext code is 0x1B).
            if data[end - 1] == _ESC:
                end -= 1
        elif encoding is Encoding.UCS2 and 0xD8 <= data[end - 2] <= 0xDB:  # high surrogate
            end -= 2
        ends.append(end)
        pos = end
    return ends


def count_segments(
    text: str, encoding: Encoding | str = "auto", method: ConcatMethod = ConcatMethod.UDH8
) -> SegmentInfo:
    """Exactly how many parts ``split_message`` would produce, and the units behind it.

    Unlike ``split_message`` this does not refuse more than 255 parts (useful for a
    counter in a UI); for PAYLOAD the capacity is the 65535-octet message_payload.

    Raises:
        TextEncodingError: ``text`` cannot be carried by the (chosen) encoding.
    """
    enc, data = _encode(text, encoding)
    if type(method) is not ConcatMethod:  # Enum's __call__ costs ~0.5 us: once per message
        method = ConcatMethod(method)
    width = _UNIT_OCTETS[enc]
    units = len(data) // width
    single = _SINGLE[enc]
    dcs = _DATA_CODING[enc]
    if units <= single:
        return SegmentInfo(encoding=enc, data_coding=dcs, segments=1, units=units, units_per_segment=single)
    if method is ConcatMethod.PAYLOAD:
        return SegmentInfo(
            encoding=enc, data_coding=dcs, segments=1, units=units, units_per_segment=_MAX_PAYLOAD // width
        )
    per_part = _PER_PART[method][enc]
    segments = len(_cuts(data, enc, per_part))
    return SegmentInfo(
        encoding=enc, data_coding=dcs, segments=segments, units=units, units_per_segment=per_part
    )


def _concat_header(
    method: ConcatMethod, reference: int, total: int, seq: int
) -> tuple[bytes, tuple[Tlv, ...]]:
    if method is ConcatMethod.UDH8:
        return bytes((0x05, 0x00, 0x03, reference, total, seq)), ()
    if method is ConcatMethod.UDH16:
        return bytes((0x06, 0x08, 0x04, reference >> 8, reference & 0xFF, total, seq)), ()
    return b"", (
        Tlv.from_int(TlvTag.SAR_MSG_REF_NUM, reference, 2),
        Tlv.from_int(TlvTag.SAR_TOTAL_SEGMENTS, total, 1),
        Tlv.from_int(TlvTag.SAR_SEGMENT_SEQNUM, seq, 1),
    )


def split_message(
    text: str,
    *,
    encoding: Encoding | str = "auto",
    method: ConcatMethod = ConcatMethod.UDH8,
    reference: int = 0,
) -> list[Part]:
    """Encode ``text`` and cut it into submit_sm-sized parts.

    A text that fits one SMS (160 septets / 140 octets / 70 UCS2 units) is one plain Part
    whatever the method. GSM7 stays unpacked, so a 153-septet UDH8 part is 6 + 153 = 159
    octets of short_message.

    Raises:
        TextEncodingError: ``text`` cannot be carried by the (chosen) encoding.
        ValueError: more than 255 parts (or more than 65535 octets for PAYLOAD), or
            ``reference`` outside 0..255 (UDH8) / 0..65535 (UDH16, SAR, PAYLOAD).
    """
    enc, data = _encode(text, encoding)
    if type(method) is not ConcatMethod:  # Enum's __call__ costs ~0.5 us: once per message
        method = ConcatMethod(method)
    if not 0 <= reference <= _MAX_REFERENCE[method]:
        raise ValueError(f"reference {reference} out of range 0..{_MAX_REFERENCE[method]} for {method.value}")
    dcs = _DATA_CODING[enc]
    if len(data) // _UNIT_OCTETS[enc] <= _SINGLE[enc]:
        # The one-part case is the hot path: one dict, not six frozen setattrs.
        return [build(Part, {"short_message": data, "esm_class": 0, "data_coding": dcs,
                             "tlvs": (), "part_number": 1, "total": 1})]  # fmt: skip
    if method is ConcatMethod.PAYLOAD:
        if len(data) > _MAX_PAYLOAD:
            raise ValueError(f"{len(data)} octets exceed the {_MAX_PAYLOAD}-octet message_payload")
        payload = (Tlv(TlvTag.MESSAGE_PAYLOAD, data),)
        return [Part(short_message=b"", esm_class=0, data_coding=dcs, tlvs=payload, part_number=1, total=1)]
    ends = _cuts(data, enc, _PER_PART[method][enc])
    total = len(ends)
    if total > _MAX_PARTS:
        raise ValueError(f"text needs {total} parts; at most {_MAX_PARTS} are possible")
    esm_class = 0 if method is ConcatMethod.SAR else int(EsmClass.UDHI)
    parts = []
    start = 0
    for seq, end in enumerate(ends, start=1):
        udh, tlvs = _concat_header(method, reference, total, seq)
        parts.append(
            Part(
                short_message=udh + data[start:end],
                esm_class=esm_class,
                data_coding=dcs,
                tlvs=tlvs,
                part_number=seq,
                total=total,
            )
        )
        start = end
    return parts
