"""Optional parameters (TLVs), SMPP 3.4 §5.3.

A ``Tlv`` keeps its value as the raw octets it had on the wire, so every TLV (known or
not) re-encodes byte for byte; typed access goes through ``TLV_SPECS``. Decoding checks
the length of known tags (§5.3.1: a known tag with an illegal length is
ESME_RINVPARLEN) and skips unknown tags by their length (v5.0 §3.2.4: a receiver must
ignore TLVs it does not know).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from typing import Final

import attrs

from smppgw.core._construct import blank, slot_setter
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.errors import MalformedPdu
from smppgw.core.fields import InvalidField

__all__ = ["TLV_SPECS", "Tlv", "TlvKind", "TlvSpec", "decode_tlvs", "encode_tlvs", "find_tlv", "trusted_tlv"]


class TlvKind(enum.Enum):
    INT = "int"  # big-endian unsigned, length fixed by the spec
    CSTRING = "cstring"  # C-Octet String, NUL included in the length
    OCTETS = "octets"  # opaque
    EMPTY = "empty"  # presence is the value (alert_on_message_delivery in 3.4)


@attrs.frozen
class TlvSpec:
    kind: TlvKind
    min_len: int
    max_len: int


def _int(n: int) -> TlvSpec:
    return TlvSpec(TlvKind.INT, n, n)


T = TlvTag
TLV_SPECS: Final[dict[int, TlvSpec]] = {
    T.DEST_ADDR_SUBUNIT: _int(1),
    T.DEST_NETWORK_TYPE: _int(1),
    T.DEST_BEARER_TYPE: _int(1),
    T.DEST_TELEMATICS_ID: _int(2),
    T.SOURCE_ADDR_SUBUNIT: _int(1),
    T.SOURCE_NETWORK_TYPE: _int(1),
    T.SOURCE_BEARER_TYPE: _int(1),
    # 1 octet in 3.4, 2 in v5.0: accept either.
    T.SOURCE_TELEMATICS_ID: TlvSpec(TlvKind.INT, 1, 2),
    T.QOS_TIME_TO_LIVE: _int(4),
    T.PAYLOAD_TYPE: _int(1),
    T.ADDITIONAL_STATUS_INFO_TEXT: TlvSpec(TlvKind.CSTRING, 1, 256),
    T.RECEIPTED_MESSAGE_ID: TlvSpec(TlvKind.CSTRING, 1, 65),
    T.MS_MSG_WAIT_FACILITIES: _int(1),
    T.PRIVACY_INDICATOR: _int(1),
    T.SOURCE_SUBADDRESS: TlvSpec(TlvKind.OCTETS, 2, 23),
    T.DEST_SUBADDRESS: TlvSpec(TlvKind.OCTETS, 2, 23),
    T.USER_MESSAGE_REFERENCE: _int(2),
    T.USER_RESPONSE_CODE: _int(1),
    T.SOURCE_PORT: _int(2),
    T.DESTINATION_PORT: _int(2),
    T.SAR_MSG_REF_NUM: _int(2),
    T.LANGUAGE_INDICATOR: _int(1),
    T.SAR_TOTAL_SEGMENTS: _int(1),
    T.SAR_SEGMENT_SEQNUM: _int(1),
    T.SC_INTERFACE_VERSION: _int(1),
    T.CALLBACK_NUM_PRES_IND: _int(1),
    T.CALLBACK_NUM_ATAG: TlvSpec(TlvKind.OCTETS, 0, 65),
    T.NUMBER_OF_MESSAGES: _int(1),
    T.CALLBACK_NUM: TlvSpec(TlvKind.OCTETS, 4, 19),
    T.DPF_RESULT: _int(1),
    T.SET_DPF: _int(1),
    T.MS_AVAILABILITY_STATUS: _int(1),
    T.NETWORK_ERROR_CODE: TlvSpec(TlvKind.OCTETS, 3, 3),
    T.MESSAGE_PAYLOAD: TlvSpec(TlvKind.OCTETS, 0, 0xFFFF),
    T.DELIVERY_FAILURE_REASON: _int(1),
    T.MORE_MESSAGES_TO_SEND: _int(1),
    T.MESSAGE_STATE: _int(1),
    T.CONGESTION_STATE: _int(1),
    T.USSD_SERVICE_OP: _int(1),
    T.DISPLAY_TIME: _int(1),
    T.SMS_SIGNAL: _int(2),
    T.MS_VALIDITY: TlvSpec(TlvKind.INT, 1, 4),
    T.ALERT_ON_MESSAGE_DELIVERY: TlvSpec(TlvKind.OCTETS, 0, 1),
    T.ITS_REPLY_TYPE: _int(1),
    T.ITS_SESSION_INFO: _int(2),
}
del T


def _check_value(value: object) -> None:
    if type(value) is not bytes or len(value) > 0xFFFF:
        raise InvalidField(f"Tlv.value: bytes of at most 65535 octets, got {type(value).__name__}")


@attrs.frozen
class Tlv:
    """One optional parameter: ``tag`` and the raw ``value`` octets."""

    tag: int = attrs.field(
        validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(0xFFFF))
    )
    value: bytes = attrs.field(default=b"", validator=lambda inst, attr, v: _check_value(v))

    # -- typed constructors -------------------------------------------------------------
    @classmethod
    def from_int(cls, tag: int, value: int, size: int | None = None) -> Tlv:
        """An integer TLV; ``size`` defaults to the spec's length for known tags (the
        SMPP 3.4 length where v5.0 allows a longer one: ms_validity, source_telematics_id)."""
        if size is None:
            spec = TLV_SPECS.get(tag)
            size = spec.min_len if spec is not None and spec.kind is TlvKind.INT else 1
        return cls(tag, value.to_bytes(size, "big"))

    @classmethod
    def from_str(cls, tag: int, value: str) -> Tlv:
        return cls(tag, value.encode("latin-1") + b"\x00")

    # -- typed accessors ----------------------------------------------------------------
    def as_int(self) -> int:
        return int.from_bytes(self.value, "big")

    def as_str(self) -> str:
        """C-Octet String value without its NUL (tolerates a missing NUL)."""
        # partition, not find: bytes.find parses its arguments the slow way (~600
        # instructions a call), and this runs once per receipt (quick_receipt).
        return self.value.partition(b"\x00")[0].decode("latin-1")

    def typed(self) -> int | str | bytes:
        spec = TLV_SPECS.get(self.tag)
        if spec is None or spec.kind in (TlvKind.OCTETS, TlvKind.EMPTY):
            return self.value
        return self.as_int() if spec.kind is TlvKind.INT else self.as_str()

    def __repr__(self) -> str:
        try:
            name = TlvTag(self.tag).name.lower()
        except ValueError:
            name = f"0x{self.tag:04X}"
        return f"Tlv({name}, {self.value!r})"


def find_tlv(tlvs: Iterable[Tlv], tag: int) -> Tlv | None:
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv
    return None


def encode_tlvs(tlvs: Iterable[Tlv]) -> bytes:
    parts = []
    pack = _TAG_LENGTH  # one struct call, not two int.to_bytes and a concatenation
    for tlv in tlvs:
        value = tlv.value
        parts.append(pack(tlv.tag, len(value)))
        parts.append(value)
    return b"".join(parts)


_TAG_LENGTH = struct.Struct(">HH").pack


# Lengths each known tag allows (3.4 §5.3.2), as ranges: ``in`` is one C call, and an
# unknown tag gets every length (v5.0 §3.2.4: skip it by its length).
_ALLOWED: Final[dict[int, range]] = {int(t): range(s.min_len, s.max_len + 1) for t, s in TLV_SPECS.items()}
_ANY_LENGTH: Final = range(0x10000)
_TAG_AND_LENGTH = struct.Struct(">HH").unpack_from
# Tlv is a slotted attrs class: its slots' own setters skip the frozen __setattr__ and
# the validators (the bounds were checked on the wire), cheaper than object.__setattr__.
_SET_TAG = slot_setter(Tlv, "tag")
_SET_VALUE = slot_setter(Tlv, "value")


def trusted_tlv(tag: int, value: bytes) -> Tlv:
    """A ``Tlv`` without its validators: for a tag and value known to be in bounds
    (a tag of 0..0xFFFF, bytes of at most 65535 octets)."""
    tlv: Tlv = blank(Tlv)
    _SET_TAG(tlv, tag)
    _SET_VALUE(tlv, value)
    return tlv


def decode_tlvs(buf: bytes, pos: int, end: int) -> tuple[Tlv, ...]:
    """Decode the TLV area ``buf[pos:end]``.

    Raises:
        MalformedPdu: 1-3 stray octets or a length past the end (ESME_RINVOPTPARSTREAM),
            or a known tag with an illegal length (ESME_RINVPARLEN).
    """
    if type(buf) is not bytes:
        buf = bytes(buf)  # a value must be bytes, not a view of the caller's buffer
    out = []
    new = blank
    while pos < end:
        if end - pos < 4:
            raise MalformedPdu(
                f"{end - pos} stray octet(s) after the last TLV",
                command_status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag, length = _TAG_AND_LENGTH(buf, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise MalformedPdu(
                f"TLV 0x{tag:04X} length {length} runs past the end of the PDU",
                command_status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        allowed = _ALLOWED.get(tag, _ANY_LENGTH)
        if length not in allowed:
            raise MalformedPdu(
                f"TLV 0x{tag:04X} has length {length}, allowed {allowed.start}..{allowed.stop - 1}",
                command_status=CommandStatus.ESME_RINVPARLEN,
            )
        tlv = new(Tlv)
        _SET_TAG(tlv, tag)
        _SET_VALUE(tlv, buf[pos:stop])  # a slice of bytes is bytes: no copy of a copy
        out.append(tlv)
        pos = stop
    return tuple(out)
