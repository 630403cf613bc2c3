"""Frames as the suite sees them, and raw frame builders for negative cases.

Every PDU the suite receives becomes a ``Frame``: the raw octets, the header, and the
decoded PDU (or the reason it does not decode: a malformed PDU from the peer under test
is itself a finding, so decoding never raises here). ``describe`` renders a frame for
the transcript that reports carry.

Negative cases must put on the wire what ``Session`` and the PDU classes refuse to build
(DESIGN §2: "a negative case in conformance writes raw frames through core.codec"): a
well-formed PDU is encoded with ``encode_pdu`` and then bent with the helpers below.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, Final, cast

import attrs

from smppgw.core.codec import HEADER_SIZE, Header, decode_body, decode_header, encode_pdu
from smppgw.core.constants import CommandId, TlvTag, status_name
from smppgw.core.errors import InvalidCommandId, MalformedPdu
from smppgw.core.pdu import Pdu
from smppgw.core.tlv import TLV_SPECS, TlvKind

__all__ = [
    "HEADER_SIZE",
    "Frame",
    "command_name",
    "decode_frame",
    "describe_bytes",
    "describe_frame",
    "encode",
    "join_tlvs",
    "raw_header",
    "raw_pdu",
    "raw_tlv",
    "set_length",
    "with_extra",
]

_HEADER: Final = struct.Struct(">IIII")
_MAX_VALUE: Final = 40  # characters of one field value in a transcript line


def command_name(command_id: int) -> str:
    """``submit_sm_resp`` for a known id, ``0x00000077`` otherwise."""
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08X}"


@attrs.frozen
class Frame:
    """One whole PDU received (or sent): octets, header, and the PDU if it decodes."""

    raw: bytes
    header: Header
    pdu: Pdu | None = None
    error: str | None = None  # why the body did not decode
    error_status: int | None = None  # the command_status that answers that

    @property
    def command_id(self) -> int:
        return self.header.command_id

    @property
    def status(self) -> int:
        return self.header.command_status

    @property
    def seq(self) -> int:
        return self.header.sequence_number

    @property
    def is_response(self) -> bool:
        return self.header.is_response

    @property
    def name(self) -> str:
        return command_name(self.command_id)

    def field(self, name: str, default: object = None) -> object:
        return getattr(self.pdu, name, default) if self.pdu is not None else default

    def describe(self) -> str:
        return describe_frame(self)


def decode_frame(raw: bytes) -> Frame:
    """Decode one whole frame (its length is already known to be >= 16). Never raises."""
    header = decode_header(raw)
    if header.command_length != len(raw):
        return Frame(raw, header, None, f"command_length {header.command_length} != {len(raw)} octets")
    try:
        return Frame(raw, header, decode_body(header, raw))
    except (MalformedPdu, InvalidCommandId) as exc:
        return Frame(raw, header, None, str(exc), int(exc.command_status))


def _value(value: object) -> str:
    if isinstance(value, bytes):
        if value.isascii() and value.decode("ascii").isprintable():
            text = repr(value)
        elif len(value) <= 24:
            text = value.hex()
        else:
            text = f"{value[:20].hex()}...({len(value)} octets)"
        return text if len(text) <= _MAX_VALUE * 2 else text[: _MAX_VALUE * 2] + "..."
    if isinstance(value, tuple):
        text = "(" + ", ".join(_value(v) for v in value) + ")"
    else:
        text = repr(value)
    return text if len(text) <= _MAX_VALUE * 2 else text[: _MAX_VALUE * 2] + "..."


def _fields(pdu: Pdu) -> str:
    """The fields that differ from their defaults (secrets never shown)."""
    parts = []
    for a in attrs.fields(cast(Any, type(pdu))):
        if not a.repr:
            parts.append(f"{a.name}=***")
            continue
        value = getattr(pdu, a.name)
        if a.name == "tlvs":
            parts += [_tlv(t.tag, t.value) for t in value]
            continue
        if value == a.default:
            continue
        parts.append(f"{a.name}={_value(value)}")
    return " ".join(parts)


def _tlv(tag: int, value: bytes) -> str:
    try:
        name = TlvTag(tag).name.lower()
    except ValueError:
        name = f"tlv_0x{tag:04X}"
    spec = TLV_SPECS.get(tag)
    if spec is not None and spec.kind is TlvKind.INT and spec.min_len <= len(value) <= spec.max_len:
        return f"{name}={int.from_bytes(value, 'big'):#x}"
    return f"{name}={_value(value)}"


def describe_frame(frame: Frame) -> str:
    h = frame.header
    head = f"{frame.name} #{h.sequence_number}"
    if h.is_response or h.command_status:
        head += f" {status_name(h.command_status)}"
    if frame.pdu is not None:
        body = _fields(frame.pdu)
        return f"{head} {body}".rstrip()
    extra = f" body={frame.raw[HEADER_SIZE:][:32].hex()}" if len(frame.raw) > HEADER_SIZE else ""
    return f"{head} len={h.command_length} UNDECODABLE ({frame.error}){extra}"


def describe_bytes(data: bytes) -> str:
    """Raw octets that are not (or not only) a well-framed PDU: hex, cut at 48 octets."""
    shown = data[:48].hex()
    return f"raw {len(data)} octets {shown}{'...' if len(data) > 48 else ''}"


# -- building frames ---------------------------------------------------------------------


def encode(pdu: Pdu, seq: int, status: int = 0) -> bytes:
    return encode_pdu(pdu, sequence_number=seq, command_status=status)


def raw_header(command_id: int, seq: int, *, status: int = 0, length: int = HEADER_SIZE) -> bytes:
    return _HEADER.pack(length, command_id, status, seq)


def raw_pdu(
    command_id: int, seq: int, body: bytes = b"", *, status: int = 0, length: int | None = None
) -> bytes:
    """A frame with any command_id and body; ``length`` overrides command_length."""
    total = HEADER_SIZE + len(body) if length is None else length
    return _HEADER.pack(total, command_id, status, seq) + body


def set_length(frame: bytes, length: int) -> bytes:
    """``frame`` with its command_length field replaced (the octets are unchanged)."""
    return length.to_bytes(4, "big") + frame[4:]


def with_extra(frame: bytes, extra: bytes) -> bytes:
    """``frame`` with ``extra`` octets appended and command_length fixed to match."""
    return set_length(frame + extra, len(frame) + len(extra))


def raw_tlv(tag: int, value: bytes, *, length: int | None = None) -> bytes:
    """One TLV; ``length`` overrides its length field (to lie about it)."""
    n = len(value) if length is None else length
    return tag.to_bytes(2, "big") + n.to_bytes(2, "big") + value


def join_tlvs(tlvs: Iterable[tuple[int, bytes]]) -> bytes:
    return b"".join(raw_tlv(tag, value) for tag, value in tlvs)
