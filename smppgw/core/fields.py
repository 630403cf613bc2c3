"""Wire field declarations for PDU classes (SMPP 3.4 §3.1 data types).

A PDU class declares its mandatory body fields with the helpers below, in wire order;
``smppgw.core.codec`` compiles an encoder and a decoder from that declaration, and
``compile_validator`` builds the check run at construction. One declaration, three uses, so the
field order, the maximum lengths and the validation can never drift apart.

Sizes follow the spec's convention: ``cstr(16)`` is a C-Octet String of at most 16
octets *including* the NUL, so it carries at most 15 characters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from smppgw.core.constants import CommandStatus
from smppgw.core.errors import LocalProtocolError

__all__ = [
    "FIELD_STATUS",
    "InvalidField",
    "WireField",
    "compile_validator",
    "cstr",
    "dest_list",
    "smpp_time",
    "short_message",
    "u8",
    "u16",
    "u32",
    "unsuccess_list",
    "wire_fields",
]

_WIRE: Final = "smpp_wire"


@attrs.frozen
class WireField:
    """How one attrs field travels: ``kind`` in cstr/time/u8/u16/u32/sm/dests/unsuccess."""

    name: str
    kind: str
    size: int
    default: Any


class InvalidField(LocalProtocolError, ValueError):
    """A PDU was constructed with a value its wire field cannot carry."""


# The status that answers a bad value in this field (SMPP 3.4 §5.1.3); RINVMSGLEN else.
S = CommandStatus
FIELD_STATUS: Final[dict[str, CommandStatus]] = {
    "system_id": S.ESME_RINVSYSID,
    "password": S.ESME_RINVPASWD,
    "system_type": S.ESME_RINVSYSTYP,
    "service_type": S.ESME_RINVSERTYP,
    "source_addr": S.ESME_RINVSRCADR,
    "destination_addr": S.ESME_RINVDSTADR,
    "esme_addr": S.ESME_RINVDSTADR,
    "dl_name": S.ESME_RINVDLNAME,
    "message_id": S.ESME_RINVMSGID,
    "schedule_delivery_time": S.ESME_RINVSCHED,
    "validity_period": S.ESME_RINVEXPIRY,
    "number_of_dests": S.ESME_RINVNUMDESTS,
    "dest_address": S.ESME_RINVDESTFLAG,
    "address_range": S.ESME_RINVSRCADR,
}
del S


def _field(kind: str, size: int, default: Any, *, secret: bool = False) -> Any:
    return attrs.field(default=default, repr=not secret, metadata={_WIRE: (kind, size)})


def cstr(max_len: int, default: str = "", *, secret: bool = False) -> Any:
    """C-Octet String of at most ``max_len`` octets including the NUL.

    ``secret`` keeps the value out of ``repr`` (passwords never reach a log).
    """
    return _field("cstr", max_len, default, secret=secret)


def smpp_time(default: str = "") -> Any:
    """Fixed C-Octet String F(1|17): empty, or 16 characters ``YYMMDDhhmmsstnnp`` (3.4 §7.1.1)."""
    return _field("time", 17, default)


def u8(default: int = 0) -> Any:
    return _field("u8", 1, int(default))


def u16(default: int = 0) -> Any:
    return _field("u16", 2, int(default))


def u32(default: int = 0) -> Any:
    return _field("u32", 4, int(default))


def short_message() -> Any:
    """sm_length (I1) followed by short_message O(0..254) (3.4 §4.4.1)."""
    return _field("sm", 254, b"")


def dest_list() -> Any:
    """submit_multi number_of_dests + dest_address list (3.4 §4.5.1)."""
    return _field("dests", 254, ())


def unsuccess_list() -> Any:
    """submit_multi_resp no_unsuccess + unsuccess_sme list (3.4 §4.5.2)."""
    return _field("unsuccess", 255, ())


def wire_fields(cls: type) -> tuple[WireField, ...]:
    """The wire-carried fields of an attrs PDU class, in wire order (excluding tlvs)."""
    out = []
    for a in attrs.fields(cls):
        spec = a.metadata.get(_WIRE)
        if spec is not None:
            out.append(WireField(a.name, spec[0], spec[1], a.default))
    return tuple(out)


def _fail(cls: type, name: str, msg: str) -> InvalidField:
    status = FIELD_STATUS.get(name, CommandStatus.ESME_RINVMSGLEN)
    return InvalidField(f"{cls.__name__}.{name}: {msg}", command_status=status)


def _octets_ok(value: str) -> bool:
    """Encodable as one octet per character, with no NUL inside."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _check_lines(wf: WireField) -> list[str]:
    """Inline checks for one field; each failing branch calls ``_fail``."""
    v, n = f"o.{wf.name}", repr(wf.name)
    if wf.kind in ("cstr", "time"):
        if wf.kind == "time":
            length_ok, msg = f"len({v}) in (0, 16)", "must be empty or 16 characters"
        else:
            length_ok, msg = f"len({v}) < {wf.size}", f"at most {wf.size - 1} characters"
        return [
            f"if type({v}) is not str: raise _fail(cls, {n}, 'expected str')",
            f"if not {length_ok}: raise _fail(cls, {n}, {msg!r} + f', got {{len({v})}}')",
            f"if not ({v}.isascii() and '\\x00' not in {v}) and not _octets_ok({v}): "
            f"raise _fail(cls, {n}, 'not an octet string without NUL')",
        ]
    if wf.kind in ("u8", "u16", "u32"):
        limit = 1 << (8 * wf.size)
        return [
            f"if type({v}) is not int and not (isinstance({v}, int) and not isinstance({v}, bool)): "
            f"raise _fail(cls, {n}, 'expected int')",
            f"if not 0 <= {v} < {limit}: raise _fail(cls, {n}, f'{{{v}}} does not fit in {wf.size} octet(s)')",
        ]
    if wf.kind == "sm":
        return [
            f"if type({v}) is not bytes: raise _fail(cls, {n}, 'expected bytes')",
            f"if len({v}) > 254: raise _fail(cls, {n}, f'at most 254 octets (use message_payload), got {{len({v})}}')",
        ]
    return [
        f"if type({v}) is not tuple: raise _fail(cls, {n}, 'expected a tuple')",
        f"if len({v}) > {wf.size}: raise _fail(cls, {n}, 'at most {wf.size} entries')",
    ]


def compile_validator(cls: type, fields: Sequence[WireField]) -> Callable[[Any], None]:
    """A straight-line validator for ``cls`` (construction is on the hot path)."""
    lines = (
        ["def validate(o):"]
        + [f"    {line}" for wf in fields for line in _check_lines(wf)]
        + ["    return None"]
    )
    namespace: dict[str, Any] = {"cls": cls, "_fail": _fail, "_octets_ok": _octets_ok}
    exec(compile("\n".join(lines) + "\n", f"<smppgw validate {cls.__name__}>", "exec"), namespace)
    validator: Callable[[Any], None] = namespace["validate"]
    return validator
