"""Encode and decode PDUs (SMPP 3.4 §3.2 header, chapter 4 bodies).

Theory of operation: each PDU class declares its body fields once (``smppgw.core.fields``).
At import time this module compiles, per class, a straight-line encoder and decoder
from that declaration (the technique attrs uses for ``__init__``): no per-field dispatch
on the hot path, only slicing, ``bytes.find`` for C-Octet Strings and one object
construction that skips validation the decoder has already done by bounds checks.

Decoding is strict on requests and liberal on responses: a response body that ends
early (an error response without a body, a 16-octet deliver_sm_resp) yields the default
values for the missing fields, as SMPP-REFERENCE §1.3 asks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from smppgw.core.constants import CommandId, CommandStatus, TlvTag
from smppgw.core.errors import InvalidCommandId, InvalidCommandLength, MalformedPdu
from smppgw.core.fields import FIELD_STATUS, InvalidField, WireField
from smppgw.core.pdu import (
    PDU_TYPES,
    DestAddress,
    DistributionList,
    Pdu,
    Request,
    UnsuccessSme,
    _CarriesText,
)
from smppgw.core.tlv import decode_tlvs, encode_tlvs

__all__ = ["HEADER_SIZE", "Header", "decode_as", "decode_body", "decode_header", "decode_pdu", "encode_pdu"]

HEADER_SIZE: Final = 16
_HEADER = struct.Struct(">IIII")


class Header(NamedTuple):
    """The 16-octet PDU header. ``command_id`` and ``command_status`` stay raw ints so
    unknown commands and vendor statuses (0x400-0x4FF) survive decoding. A NamedTuple,
    not attrs: one is built per PDU received, and this is four times cheaper."""

    command_length: int
    command_id: int
    command_status: int
    sequence_number: int

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x8000_0000)


def decode_header(frame: bytes) -> Header:
    """Raises InvalidCommandLength if ``frame`` is shorter than a header."""
    if len(frame) < HEADER_SIZE:
        raise InvalidCommandLength(f"a PDU needs {HEADER_SIZE} octets, got {len(frame)}")
    return Header._make(_HEADER.unpack_from(frame))


def encode_pdu(pdu: Pdu, sequence_number: int, command_status: int = 0) -> bytes:
    """The whole PDU on the wire: header + body + TLVs."""
    return _WHOLE[type(pdu)](pdu, sequence_number, command_status)


def pdu_encoders() -> dict[type[Pdu], Callable[[Pdu, int, int], bytes]]:
    """PDU class -> ``encode_pdu`` for it, minus a call and a lookup (for the session:
    two PDUs encoded per message on each side). Call as ``encoder(pdu, seq, status)``."""
    return dict(_WHOLE)


def decode_body(header: Header, frame: bytes) -> Pdu:
    """Decode the body of one complete ``frame`` whose header is ``header``.

    Raises:
        InvalidCommandId: the command_id is not an SMPP 3.4 command.
        MalformedPdu: the body does not match the command (carries the status to answer).
    """
    cls = PDU_TYPES.get(header.command_id)
    if cls is None:
        raise InvalidCommandId(f"unknown command_id 0x{header.command_id:08X}")
    return decode_as(cls, frame)


def decode_as(cls: type[Pdu], frame: bytes) -> Pdu:
    """``decode_body`` for a caller that has looked ``cls`` up already (the session,
    twice per message: no Header to build, no second lookup).

    Raises:
        MalformedPdu: the body does not match the command (carries the status to answer).
    """
    end = len(frame)
    if not cls.has_body:
        if end > HEADER_SIZE and issubclass(cls, Request):
            raise MalformedPdu(
                f"{cls.__name__} has no body but command_length is {end}",
                command_status=CommandStatus.ESME_RINVCMDLEN,
            )
        return _SINGLETONS[cls]
    return _DECODERS[cls](frame, HEADER_SIZE, end)


def body_decoders() -> dict[int, Callable[[bytes, int, int], Pdu]]:
    """command_id -> the compiled decoder of each command that has a body, called as
    ``decoder(frame, HEADER_SIZE, len(frame))``: ``decode_as`` minus a call and a lookup
    (for the session, which decodes two PDUs per message on each side)."""
    return {int(cls.command_id): _DECODERS[cls] for cls in PDU_TYPES.values() if cls.has_body}


def decode_pdu(frame: bytes) -> tuple[Header, Pdu]:
    header = decode_header(frame)
    if header.command_length != len(frame):
        raise InvalidCommandLength(f"command_length {header.command_length} != frame length {len(frame)}")
    return header, decode_body(header, frame)


# -- errors raised by the compiled decoders ----------------------------------------------


def _status(name: str) -> CommandStatus:
    return FIELD_STATUS.get(name, CommandStatus.ESME_RINVMSGLEN)


def _no_nul(cls: type, name: str, size: int) -> MalformedPdu:
    return MalformedPdu(f"{cls.__name__}.{name}: no NUL within {size} octets", command_status=_status(name))


def _short(cls: type, name: str) -> MalformedPdu:
    return MalformedPdu(
        f"{cls.__name__}.{name}: body ends before this field", command_status=CommandStatus.ESME_RINVCMDLEN
    )


def _bad_time(cls: type, name: str) -> MalformedPdu:
    return MalformedPdu(f"{cls.__name__}.{name}: time must be 1 or 17 octets", command_status=_status(name))


def _bad_sm(cls: type, length: int) -> MalformedPdu:
    return MalformedPdu(
        f"{cls.__name__}: sm_length {length} exceeds 254 or the body",
        command_status=CommandStatus.ESME_RINVMSGLEN,
    )


def _cross_check(pdu: Pdu) -> None:
    try:
        pdu._check()
    except InvalidField as exc:
        raise MalformedPdu(str(exc), command_status=exc.command_status) from None


def _cstring(buf: bytes, pos: int, end: int, size: int, cls: type, name: str) -> tuple[str, int]:
    i = buf.find(b"\x00", pos, min(pos + size, end))
    if i < 0:
        raise _no_nul(cls, name, size)
    return buf[pos:i].decode("latin-1"), i + 1


def _decode_dests(buf: bytes, pos: int, end: int, cls: type) -> tuple[tuple[Any, ...], int]:
    if pos >= end:
        raise _short(cls, "number_of_dests")
    count = buf[pos]
    pos += 1
    if count == 0 or count > 254:  # 3.4 §4.5.1: 1..254
        raise MalformedPdu(
            f"submit_multi: number_of_dests is {count}", command_status=CommandStatus.ESME_RINVNUMDESTS
        )
    dests: list[Any] = []
    for _ in range(count):
        if pos >= end:
            raise _short(cls, "dest_address")
        flag = buf[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > end:
                raise _short(cls, "dest_addr_ton")
            ton, npi = buf[pos], buf[pos + 1]
            addr, pos = _cstring(buf, pos + 2, end, 21, cls, "destination_addr")
            dests.append(_build(DestAddress, dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
        elif flag == 2:
            name, pos = _cstring(buf, pos, end, 21, cls, "dl_name")
            dests.append(_build(DistributionList, dl_name=name))
        else:
            raise MalformedPdu(
                f"submit_multi: dest_flag {flag}", command_status=CommandStatus.ESME_RINVDESTFLAG
            )
    return tuple(dests), pos


def _encode_dests(dests: tuple[Any, ...]) -> bytes:
    out = [bytes((len(dests),))]
    for d in dests:
        if isinstance(d, DestAddress):
            out.append(
                bytes((1, d.dest_addr_ton, d.dest_addr_npi)) + d.destination_addr.encode("latin-1") + b"\0"
            )
        else:
            out.append(b"\x02" + d.dl_name.encode("latin-1") + b"\0")
    return b"".join(out)


def _decode_unsuccess(buf: bytes, pos: int, end: int, cls: type) -> tuple[tuple[Any, ...], int]:
    if pos >= end:
        raise _short(cls, "no_unsuccess")
    count = buf[pos]
    pos += 1
    smes = []
    for _ in range(count):
        if pos + 2 > end:
            raise _short(cls, "unsuccess_sme")
        ton, npi = buf[pos], buf[pos + 1]
        addr, pos = _cstring(buf, pos + 2, end, 21, cls, "destination_addr")
        if pos + 4 > end:
            raise _short(cls, "error_status_code")
        code = int.from_bytes(buf[pos : pos + 4], "big")
        pos += 4
        smes.append(
            _build(
                UnsuccessSme,
                dest_addr_ton=ton,
                dest_addr_npi=npi,
                destination_addr=addr,
                error_status_code=code,
            )
        )
    return tuple(smes), pos


def _encode_unsuccess(smes: tuple[Any, ...]) -> bytes:
    out = [bytes((len(smes),))]
    for s in smes:
        out.append(bytes((s.dest_addr_ton, s.dest_addr_npi)) + s.destination_addr.encode("latin-1") + b"\0")
        out.append(s.error_status_code.to_bytes(4, "big"))
    return b"".join(out)


def _build(cls: type, **values: Any) -> Any:
    """Construct without re-running validators: the decoder checked every bound."""
    obj: Any = object.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    return obj


# -- the compiler -------------------------------------------------------------------------


def _compile_encoder(cls: type[Pdu]) -> Callable[[Pdu], bytes]:
    items: list[str] = []
    run: list[str] = []  # consecutive one-octet fields become one bytes((...)) call

    def flush() -> None:
        if run:
            items.append(f"bytes(({', '.join(run)},))")
            run.clear()

    for wf in cls.wire:
        a = f"p.{wf.name}"
        if wf.kind == "u8":
            run.append(a)
            continue
        flush()
        if wf.kind in ("cstr", "time"):
            items += [f"{a}.encode('latin-1')", "b'\\0'"]
        elif wf.kind in ("u16", "u32"):
            items.append(f"{a}.to_bytes({wf.size}, 'big')")
        elif wf.kind == "sm":
            items += [f"bytes((len({a}),))", a]
        elif wf.kind == "dests":
            items.append(f"_encode_dests({a})")
        elif wf.kind == "unsuccess":
            items.append(f"_encode_unsuccess({a})")
    flush()
    items.append("(encode_tlvs(p.tlvs) if p.tlvs else b'')")
    src = f"def encode(p):\n    return b''.join(({', '.join(items)},))\n"
    encoder: Callable[[Pdu], bytes] = _exec(src, "encode", cls)
    return encoder


def _compile_whole(cls: type[Pdu]) -> Callable[[Pdu, int, int], bytes]:
    """header + body in one function (``encode_pdu`` for ``cls``)."""
    cid = int(cls.command_id)
    if not cls.has_body:
        src = f"def whole(p, seq, status):\n    return _pack(16, {cid}, status, seq)\n"
    else:
        src = (
            "def whole(p, seq, status):\n"
            "    body = _body(p)\n"
            f"    return _pack(16 + len(body), {cid}, status, seq) + body\n"
        )
    whole: Callable[[Pdu, int, int], bytes] = _exec(
        src, "whole", cls, _body=_ENCODERS[cls], _pack=_HEADER.pack
    )
    return whole


def _decode_lines(wf: WireField, var: str) -> list[str]:
    n = repr(wf.name)
    if wf.kind == "cstr":
        return [
            f"i = buf.find(b'\\0', pos, min(pos + {wf.size}, end))",
            f"if i < 0: raise _no_nul(cls, {n}, {wf.size})",
            f"{var} = buf[pos:i].decode('latin-1'); pos = i + 1",
        ]
    if wf.kind == "time":
        return [
            f"if pos >= end: raise _short(cls, {n})",
            "if buf[pos] == 0:",
            f"    {var} = ''; pos += 1",
            "else:",
            f"    if pos + 17 > end or buf[pos + 16] != 0 or buf.find(b'\\0', pos, pos + 16) >= 0: "
            f"raise _bad_time(cls, {n})",
            f"    {var} = buf[pos:pos + 16].decode('latin-1'); pos += 17",
        ]
    if wf.kind in ("u8", "u16", "u32"):
        if wf.kind == "u8":
            get = "buf[pos]"
        else:
            get = f"int.from_bytes(buf[pos:pos + {wf.size}], 'big')"
        return [f"if pos + {wf.size} > end: raise _short(cls, {n})", f"{var} = {get}; pos += {wf.size}"]
    if wf.kind == "sm":
        return [
            "if pos >= end: raise _short(cls, 'sm_length')",
            "n = buf[pos]; pos += 1",
            "if n > 254 or pos + n > end: raise _bad_sm(cls, n)",
            f"{var} = buf[pos:pos + n]; pos += n",
        ]
    if wf.kind == "dests":
        return [f"{var}, pos = _decode_dests(buf, pos, end, cls)"]
    return [f"{var}, pos = _decode_unsuccess(buf, pos, end, cls)"]


def _compile_decoder(cls: type[Pdu]) -> Callable[[bytes, int, int], Pdu]:
    fields = cls.wire
    lenient = not issubclass(cls, Request)
    names = [wf.name for wf in fields] + ["tlvs"]
    # One dict for the instance (PDU classes are dict-based for exactly this).
    items = ", ".join(f"{nm!r}: v{i}" for i, nm in enumerate(names))
    build = ["o = _new(cls)", f"_set(o, '__dict__', {{{items}}})", "return o"]
    lines = ["def decode(buf, pos, end):"]
    i = 0
    while i < len(fields):
        wf = fields[i]
        if lenient:
            # A response body may stop at any field boundary: the rest takes defaults.
            lines.append("    if pos >= end:")
            lines += [f"        v{j} = _defaults[{j}]" for j in range(i, len(names))]
            lines += [f"        {b}" for b in build]
        run = 1
        while not lenient and i + run < len(fields) and wf.kind == fields[i + run].kind == "u8":
            run += 1
        if run > 1:
            # Consecutive one-octet fields: one bounds check, one slice unpacked. The error
            # still names the first field that is missing (end - pos octets are there).
            group = tuple(f.name for f in fields[i : i + run])
            targets = ", ".join(f"v{j}" for j in range(i, i + run))
            lines.append(f"    if pos + {run} > end: raise _short(cls, {group!r}[end - pos])")
            lines.append(f"    {targets} = buf[pos:pos + {run}]; pos += {run}")
            i += run
            continue
        lines += [f"    {line}" for line in _decode_lines(wf, f"v{i}")]
        i += 1
    lines.append(f"    v{len(fields)} = decode_tlvs(buf, pos, end) if pos < end else ()")
    if cls._check is not Pdu._check:
        # Cross-field rules (short_message XOR message_payload, 3.4 §5.3.2.32) hold for
        # received PDUs too: an invalid PDU cannot exist, whoever built it.
        check = "_cross_check(o)"
        if cls._check is _CarriesText._check:  # it can only fail with both present
            # ... and a message_payload TLV among them (a receipt has a text and TLVs):
            # looked for here, not through _check -> get_tlv -> find_tlv.
            sm, tlvs = f"v{names.index('short_message')}", f"v{len(fields)}"
            check = (
                f"if {sm} and {tlvs}:\n"
                f"        for t in {tlvs}:\n"
                f"            if t.tag == {int(TlvTag.MESSAGE_PAYLOAD)}: _cross_check(o)"
            )
        build = [*build[:-1], check, build[-1]]
    lines += [f"    {b}" for b in build]
    decoder: Callable[[bytes, int, int], Pdu] = _exec("\n".join(lines) + "\n", "decode", cls)
    return decoder


def _exec(src: str, name: str, cls: type[Pdu], **extra: Any) -> Any:
    namespace: dict[str, Any] = {
        **extra,
        "cls": cls,
        "_new": object.__new__,
        "_set": object.__setattr__,
        "_defaults": tuple(wf.default for wf in cls.wire) + ((),),
        "_no_nul": _no_nul,
        "_short": _short,
        "_bad_time": _bad_time,
        "_bad_sm": _bad_sm,
        "_cross_check": _cross_check,
        "_decode_dests": _decode_dests,
        "_encode_dests": _encode_dests,
        "_decode_unsuccess": _decode_unsuccess,
        "_encode_unsuccess": _encode_unsuccess,
        "decode_tlvs": decode_tlvs,
        "encode_tlvs": encode_tlvs,
    }
    exec(compile(src, f"<smppgw codec {cls.__name__}.{name}>", "exec"), namespace)
    return namespace[name]


def _encode_empty(pdu: Pdu) -> bytes:
    return b""


_ENCODERS: Final[dict[type[Pdu], Callable[[Pdu], bytes]]] = {}
_DECODERS: Final[dict[type[Pdu], Callable[[bytes, int, int], Pdu]]] = {}
_SINGLETONS: Final[dict[type[Pdu], Pdu]] = {}
_WHOLE: Final[dict[type[Pdu], Callable[[Pdu, int, int], bytes]]] = {}
for _cls in PDU_TYPES.values():
    if _cls.has_body:
        _ENCODERS[_cls] = _compile_encoder(_cls)
        _DECODERS[_cls] = _compile_decoder(_cls)
    else:
        _ENCODERS[_cls] = _encode_empty
        _SINGLETONS[_cls] = _cls()
    _WHOLE[_cls] = _compile_whole(_cls)
del _cls

assert set(_ENCODERS) == set(PDU_TYPES.values())
assert CommandId.GENERIC_NACK in PDU_TYPES
