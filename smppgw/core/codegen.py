"""Compile the PDU body decoders (SMPP 3.4 chapter 4) from each class's wire declaration.

Theory of operation: ``smppgw.core.codec`` asks this module, once per PDU class at import,
for a ``decode(buf, pos, end)`` function. Two are generated from the same declaration
(``cls.wire``), the technique attrs uses for ``__init__``:

* the *step-by-step* decoder reads one field at a time, with a bounds check per field, and
  raises a ``MalformedPdu`` that names the first field in error and carries the status to
  answer it with (SMPP 3.4 §5.1.3). Every class has one, and it is the whole decoder of
  responses (which may stop at any field boundary, SMPP-REFERENCE §1.3) and of classes
  with variable-length lists (submit_multi);
* the *fast path*, for requests whose fields before ``short_message`` are C-Octet Strings,
  one-octet integers and times: one precompiled regular expression matches all those fields
  at once (the C engine does the NUL scans and the length limits that Python code did field
  by field). It accepts exactly what the step-by-step decoder accepts; when it does not
  match, or the sm_length is bad, the step-by-step decoder runs from the start of the body
  and raises its usual error. Malformed input costs one failed match more; valid input
  costs a third less.

The decoders build the PDU without re-running validators: the bounds checks here are the
validation (an invalid PDU cannot exist, but a decoded one was checked on the wire).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from smppgw.core._construct import NAMESPACE, build, build_lines
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.errors import MalformedPdu
from smppgw.core.fields import FIELD_STATUS, InvalidField, WireField
from smppgw.core.pdu import DestAddress, DistributionList, Pdu, Request, UnsuccessSme, _CarriesText
from smppgw.core.tlv import decode_tlvs

__all__ = ["Decoder", "compile_decoder", "compile_step_decoder", "fast_pattern", "has_fast_path"]

Decoder = Callable[[bytes, int, int], Pdu]

# Field kinds the fast path can match; ``sm`` only as the last field (its length octet
# ends the match, the octets after it are sliced).
_FAST_KINDS: Final = frozenset({"cstr", "u8", "time", "sm"})


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


# -- the list fields of submit_multi and submit_multi_resp (3.4 §4.5.1, §4.5.2) -----------


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
            values = {"dest_addr_ton": ton, "dest_addr_npi": npi, "destination_addr": addr}
            dests.append(build(DestAddress, values))
        elif flag == 2:
            name, pos = _cstring(buf, pos, end, 21, cls, "dl_name")
            dests.append(build(DistributionList, {"dl_name": name}))
        else:
            raise MalformedPdu(
                f"submit_multi: dest_flag {flag}", command_status=CommandStatus.ESME_RINVDESTFLAG
            )
    return tuple(dests), pos


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
        values = {"dest_addr_ton": ton, "dest_addr_npi": npi, "destination_addr": addr}
        smes.append(build(UnsuccessSme, {**values, "error_status_code": code}))
    return tuple(smes), pos


# -- the step-by-step decoder -------------------------------------------------------------


def _decode_lines(wf: WireField, var: str) -> list[str]:
    n = repr(wf.name)
    if wf.kind == "cstr":
        # The first NUL in [pos, end) is the first in [pos, pos + size) if there is one
        # there: no min() call, the same outcome. Empty strings (service_type, a NULL
        # message_id) skip the slice and the decode.
        return [
            "i = buf.find(b'\\0', pos, end)",
            f"if i < 0 or i >= pos + {wf.size}: raise _no_nul(cls, {n}, {wf.size})",
            f"{var} = buf[pos:i].decode('latin-1') if i > pos else ''; pos = i + 1",
        ]
    if wf.kind == "time":
        # 3.4 §7.1.1: a time is a single NUL, or 16 non-NUL octets and a NUL.
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


def _build_lines(cls: type[Pdu], pos: str) -> list[str]:
    """Decode the TLVs after ``pos``, build the PDU, apply the cross-field rules."""
    fields = cls.wire
    names = [wf.name for wf in fields] + ["tlvs"]
    tlvs = f"v{len(fields)}"
    # One dict for the instance (PDU classes are dict-based for exactly this: _construct).
    items = ", ".join(f"{nm!r}: v{i}" for i, nm in enumerate(names))
    lines = [
        f"{tlvs} = decode_tlvs(buf, {pos}, end) if {pos} < end else ()",
        *build_lines("o", "cls", f"{{{items}}}"),
    ]
    if cls._check is not Pdu._check:
        # Cross-field rules (short_message XOR message_payload, 3.4 §5.3.2.32) hold for
        # received PDUs too: an invalid PDU cannot exist, whoever built it.
        if cls._check is _CarriesText._check:  # it can only fail with both present
            # ... and a message_payload TLV among them (a receipt has a text and TLVs):
            # looked for here, not through _check -> get_tlv -> find_tlv.
            sm = f"v{names.index('short_message')}"
            lines += [
                f"if {sm} and {tlvs}:",
                f"    for t in {tlvs}:",
                f"        if t.tag == {int(TlvTag.MESSAGE_PAYLOAD)}: _cross_check(o)",
            ]
        else:
            lines.append("_cross_check(o)")
    return [*lines, "return o"]


def _defaults_lines(cls: type[Pdu], first: int) -> list[str]:
    """A response body that stops before field ``first``: the rest takes defaults."""
    fields = cls.wire
    names = [wf.name for wf in fields] + ["tlvs"]
    values = [f"v{j}" if j < first else f"_defaults[{j}]" for j in range(len(names))]
    items = ", ".join(f"{nm!r}: {v}" for nm, v in zip(names, values, strict=True))
    return [*build_lines("o", "cls", f"{{{items}}}"), "return o"]


def compile_step_decoder(cls: type[Pdu]) -> Decoder:
    """The field-by-field decoder of ``cls``: exact errors, and the whole decoder of
    classes without a fast path. Public for the tests that compare the two paths."""
    fields = cls.wire
    lenient = not issubclass(cls, Request)
    lines = ["def decode(buf, pos, end):"]
    i = 0
    while i < len(fields):
        wf = fields[i]
        if lenient:
            # A response body may stop at any field boundary: the rest takes defaults.
            lines.append("    if pos >= end:")
            lines += [f"        {line}" for line in _defaults_lines(cls, i)]
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
    lines += [f"    {line}" for line in _build_lines(cls, "pos")]
    return _exec(lines, "decode", cls)


# -- the fast path ------------------------------------------------------------------------


def has_fast_path(cls: type[Pdu]) -> bool:
    """Whether ``cls`` gets the regular-expression decoder (see the module docstring)."""
    kinds = [wf.kind for wf in cls.wire]
    return (
        issubclass(cls, Request)  # strict: a body that stops early is an error, not defaults
        and bool(kinds)
        and set(kinds) <= _FAST_KINDS
        and "sm" not in kinds[:-1]
    )


def _runs(fields: Sequence[WireField]) -> list[list[int]]:
    """Field indexes grouped: a run of u8 fields (with the sm_length octet that may end
    it) is one group, any other field is a group of its own."""
    groups: list[list[int]] = []
    for i, wf in enumerate(fields):
        one_octet = wf.kind in ("u8", "sm")
        if one_octet and groups and fields[groups[-1][-1]].kind == "u8":
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def fast_pattern(cls: type[Pdu]) -> re.Pattern[bytes]:
    """The regular expression for every field of ``cls`` up to and including sm_length.

    A C-Octet String of size N (3.4 §3.1) is up to N - 1 non-NUL octets and a NUL; a
    time (3.4 §7.1.1) is a NUL alone or 16 non-NUL octets and a NUL; a run of one-octet
    integers is one group of that many octets (unpacked to ints by iteration).
    """
    parts = []
    for run in _runs(cls.wire):
        wf = cls.wire[run[0]]
        if wf.kind == "cstr":
            parts.append(b"([^\\x00]{0,%d})\\x00" % (wf.size - 1))
        elif wf.kind == "time":
            parts.append(b"(?:\\x00|([^\\x00]{16})\\x00)")
        else:
            parts.append(b"(.{%d})" % len(run))
    return re.compile(b"".join(parts), re.DOTALL)


def _fast_lines(cls: type[Pdu]) -> list[str]:
    fields = cls.wire
    runs = _runs(fields)
    groups = ", ".join(f"g{k}" for k in range(len(runs)))
    lines = [
        "m = _match(buf, pos, end)",
        "if m is None: return _step(buf, pos, end)",
        f"{groups}, = m.groups()",
    ]
    for k, run in enumerate(runs):
        wf = fields[run[0]]
        if wf.kind == "cstr":
            lines.append(f"v{run[0]} = g{k}.decode('latin-1') if g{k} else ''")
        elif wf.kind == "time":
            lines.append(f"v{run[0]} = '' if g{k} is None else g{k}.decode('latin-1')")
        else:
            targets = ", ".join("n" if fields[i].kind == "sm" else f"v{i}" for i in run)
            lines.append(f"{targets}, = g{k}")
    lines.append("p = m.end()")
    if fields[-1].kind == "sm":
        # sm_length above 254 or past the body: the step-by-step decoder says which.
        lines += [
            "if n > 254 or p + n > end: return _step(buf, pos, end)",
            f"v{len(fields) - 1} = buf[p:p + n]; p += n",
        ]
    return lines + _build_lines(cls, "p")


def compile_decoder(cls: type[Pdu]) -> Decoder:
    """The decoder of ``cls``: the fast path where it applies, else the step-by-step one.

    Raises (the returned function):
        MalformedPdu: the body does not match ``cls`` (carries the status to answer).
    """
    step = compile_step_decoder(cls)
    if not has_fast_path(cls):
        return step
    lines = ["def decode(buf, pos, end):", *(f"    {line}" for line in _fast_lines(cls))]
    return _exec(lines, "decode", cls, _match=fast_pattern(cls).match, _step=step)


def _exec(lines: list[str], name: str, cls: type[Pdu], **extra: Any) -> Decoder:
    namespace: dict[str, Any] = {
        **extra,
        **NAMESPACE,
        "cls": cls,
        "_defaults": tuple(wf.default for wf in cls.wire) + ((),),
        "_no_nul": _no_nul,
        "_short": _short,
        "_bad_time": _bad_time,
        "_bad_sm": _bad_sm,
        "_cross_check": _cross_check,
        "_decode_dests": _decode_dests,
        "_decode_unsuccess": _decode_unsuccess,
        "decode_tlvs": decode_tlvs,
    }
    src = "\n".join(lines) + "\n"
    exec(compile(src, f"<smppgw codec {cls.__name__}.{name}>", "exec"), namespace)
    decoder: Decoder = namespace[name]
    return decoder
