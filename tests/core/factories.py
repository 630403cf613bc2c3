"""Hypothesis strategies for valid PDUs, built generically from each class's ``wire``.

One strategy per wire kind (``smppgw.core.fields``), so a new PDU class or field is covered
without touching this file. ``pdus()`` samples every class in ``PDU_TYPES``;
``pdus_of(cls)`` draws one class; ``minimal(cls)`` is the smallest valid instance (for
tests that need *a* PDU of a type, not an arbitrary one).
"""

from __future__ import annotations

from typing import Any, Final, cast

import attrs
from hypothesis import strategies as st

from smppgw.core.constants import TlvTag
from smppgw.core.fields import WireField
from smppgw.core.pdu import (
    PDU_TYPES,
    DestAddress,
    DistributionList,
    Pdu,
    Request,
    Response,
    SubmitMulti,
    UnsuccessSme,
)
from smppgw.core.tlv import TLV_SPECS, Tlv, TlvKind

__all__ = [
    "ALL_CLASSES",
    "REQUEST_CLASSES",
    "RESPONSE_CLASSES",
    "dest_entries",
    "field_values",
    "known_tlvs",
    "minimal",
    "pdus",
    "pdus_of",
    "requests",
    "responses",
    "smpp_times",
    "tlv_lists",
    "unknown_tlvs",
    "unsuccess_entries",
]

ALL_CLASSES: Final[tuple[type[Pdu], ...]] = tuple(sorted(PDU_TYPES.values(), key=lambda c: c.command_id))
REQUEST_CLASSES: Final[tuple[type[Request], ...]] = tuple(c for c in ALL_CLASSES if issubclass(c, Request))
RESPONSE_CLASSES: Final[tuple[type[Response], ...]] = tuple(c for c in ALL_CLASSES if issubclass(c, Response))

# Vendor-specific TLV range (SMPP 3.4 §5.3): never a key of TLV_SPECS.
UNKNOWN_TAGS: Final = (0x1400, 0x3FFF)
assert not any(UNKNOWN_TAGS[0] <= tag <= UNKNOWN_TAGS[1] for tag in TLV_SPECS)

# Keep generated PDUs small: long values add run time, not coverage.
_MAX_TLV_VALUE: Final = 80

_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_printable, max_size=max_size)


def _two_digits(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda n: f"{n:02d}")


def _join(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


def smpp_times() -> st.SearchStrategy[str]:
    """A 16-character ``YYMMDDhhmmsstnnp`` (SMPP 3.4 §7.1.1), absolute or relative."""
    absolute = _join(
        _two_digits(0, 99),
        _two_digits(1, 12),
        _two_digits(1, 28),
        _two_digits(0, 23),
        _two_digits(0, 59),
        _two_digits(0, 59),
        st.integers(0, 9).map(str),
        _two_digits(0, 48),
        st.sampled_from("+-"),
    )
    # Relative: a duration; tenths and the UTC offset must be 0 (SMPP-REFERENCE §5.7).
    relative = _join(*(_two_digits(0, 99) for _ in range(6)), st.just("000R"))
    return st.one_of(absolute, relative)


def dest_entries() -> st.SearchStrategy[DestAddress | DistributionList]:
    address = st.builds(
        DestAddress,
        dest_addr_ton=st.integers(0, 255),
        dest_addr_npi=st.integers(0, 255),
        destination_addr=_text(20),
    )
    return st.one_of(address, st.builds(DistributionList, dl_name=_text(20)))


def unsuccess_entries() -> st.SearchStrategy[UnsuccessSme]:
    return st.builds(
        UnsuccessSme,
        dest_addr_ton=st.integers(0, 255),
        dest_addr_npi=st.integers(0, 255),
        destination_addr=_text(20),
        error_status_code=st.integers(0, 0xFFFF_FFFF),
    )


def field_values(wf: WireField) -> st.SearchStrategy[Any]:
    """Any value the wire field ``wf`` can carry."""
    kind = wf.kind
    if kind == "cstr":
        return _text(wf.size - 1)
    if kind == "time":
        return st.one_of(st.just(""), smpp_times())
    if kind in ("u8", "u16", "u32"):
        return st.integers(0, (1 << (8 * wf.size)) - 1)
    if kind == "sm":
        return st.binary(max_size=254)
    if kind == "dests":
        return st.lists(dest_entries(), min_size=1, max_size=5).map(tuple)
    if kind == "unsuccess":
        return st.lists(unsuccess_entries(), max_size=5).map(tuple)
    raise AssertionError(f"no strategy for wire kind {kind!r}")


def _known_value(tag: int) -> st.SearchStrategy[bytes]:
    spec = TLV_SPECS[tag]
    hi = min(spec.max_len, _MAX_TLV_VALUE)
    if spec.kind is TlvKind.CSTRING:
        # NUL-terminated text; the NUL counts in the length.
        return _text(hi - 1).map(lambda s: s.encode("ascii") + b"\x00")
    return st.binary(min_size=spec.min_len, max_size=max(spec.min_len, hi))


def known_tlvs(tags: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Tlv]:
    """TLVs with a tag of ``TLV_SPECS`` and a length the spec allows."""
    tag_strategy = tags if tags is not None else st.sampled_from(sorted(TLV_SPECS))
    return tag_strategy.flatmap(lambda tag: _known_value(tag).map(lambda value: Tlv(tag, value)))


def unknown_tlvs() -> st.SearchStrategy[Tlv]:
    """Vendor TLVs (0x1400-0x3FFF) with arbitrary values: the codec must carry them opaquely."""
    return st.builds(Tlv, st.integers(*UNKNOWN_TAGS), st.binary(max_size=_MAX_TLV_VALUE))


def tlv_lists(*, allow_payload: bool = True) -> st.SearchStrategy[tuple[Tlv, ...]]:
    """0..4 TLVs, known and unknown mixed (duplicates allowed: order is preserved)."""
    tags = sorted(TLV_SPECS)
    if not allow_payload:
        tags.remove(TlvTag.MESSAGE_PAYLOAD)
    one = st.one_of(known_tlvs(st.sampled_from(tags)), unknown_tlvs())
    return st.lists(one, max_size=4).map(tuple)


def _has_tlvs(cls: type[Pdu]) -> bool:
    return any(a.name == "tlvs" for a in attrs.fields(cast(Any, cls)))


@st.composite
def _draw_pdu(draw: st.DrawFn, cls: type[Pdu]) -> Pdu:
    values = {wf.name: draw(field_values(wf)) for wf in cls.wire}
    if _has_tlvs(cls):
        tlvs = draw(tlv_lists())
        # Cross-field rule (3.4 §5.3.2.32): short_message XOR message_payload.
        if values.get("short_message") and any(t.tag == TlvTag.MESSAGE_PAYLOAD for t in tlvs):
            values["short_message"] = b""
        values["tlvs"] = tlvs
    return cls(**values)


def pdus_of(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    """Valid instances of one PDU class."""
    if not cls.has_body:
        return st.just(cls())
    return _draw_pdu(cls)


def pdus() -> st.SearchStrategy[Pdu]:
    """Valid instances of every class in ``PDU_TYPES``."""
    return st.sampled_from(ALL_CLASSES).flatmap(pdus_of)


def requests() -> st.SearchStrategy[Pdu]:
    return st.sampled_from(REQUEST_CLASSES).flatmap(pdus_of)


def responses() -> st.SearchStrategy[Pdu]:
    return st.sampled_from(RESPONSE_CLASSES).flatmap(pdus_of)


def minimal(cls: type[Pdu]) -> Pdu:
    """The smallest valid instance of ``cls`` (every field at its default)."""
    if cls is SubmitMulti:
        return SubmitMulti(dest_addresses=(DestAddress(destination_addr="447700900001"),))
    return cls()
