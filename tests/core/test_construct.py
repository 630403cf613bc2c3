"""The construction helper (``smppgw.core._construct``): each way of building a value
without its ``__init__`` gives the value the normal constructor gives."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given

from smppgw.core._construct import NAMESPACE, build, build_lines, build_tuple, slot_setter
from smppgw.core.codec import encode_pdu
from smppgw.core.events import ResponseReceived
from smppgw.core.pdu import EnquireLink, EnquireLinkResp, Pdu, SubmitSm
from smppgw.core.text import Part
from smppgw.core.tlv import Tlv, trusted_tlv
from smppgw.core.window import InFlight
from tests.core.factories import pdus


def _fields(value: Any) -> dict[str, Any]:
    return {a.name: getattr(value, a.name) for a in attrs.fields(type(value))}


@given(pdu=pdus())
def test_build_equals_the_constructor_for_every_pdu(pdu: Pdu) -> None:
    copy = build(type(pdu), _fields(pdu))
    assert copy == pdu
    assert encode_pdu(copy, 3) == encode_pdu(pdu, 3)


def test_build_takes_the_dict_over_and_skips_validation() -> None:
    values = {
        "short_message": b"hi",
        "esm_class": 0,
        "data_coding": 0,
        "tlvs": (),
        "part_number": 1,
        "total": 1,
    }
    part = build(Part, values)
    assert part == Part(**values)
    assert vars(part) is values  # taken over, not copied
    # Nothing is checked: the caller vouches for the values (the constructor would refuse).
    assert build(SubmitSm, {**_fields(SubmitSm()), "esm_class": 999}).esm_class == 999


def test_build_lines_build_what_build_builds() -> None:
    namespace: dict[str, Any] = {**NAMESPACE, "cls": ResponseReceived}
    values = "{'sequence_number': 7, 'request': rq, 'response': rs, 'status': 0, 'round_trip': 0.5}"
    source = "\n".join(["def make(rq, rs):", *(f"    {line}" for line in build_lines("o", "cls", values))])
    exec(source + "\n    return o\n", namespace)
    made = namespace["make"](EnquireLink(), EnquireLinkResp())
    expected = ResponseReceived(
        sequence_number=7, request=EnquireLink(), response=EnquireLinkResp(), status=0, round_trip=0.5
    )
    assert made == expected


def test_slot_setter_and_trusted_tlv_build_a_normal_tlv() -> None:
    assert trusted_tlv(0x001E, b"abc\x00") == Tlv(0x001E, b"abc\x00")
    set_value = slot_setter(Tlv, "value")
    tlv = trusted_tlv(0x0427, b"\x02")
    set_value(tlv, b"\x05")  # the slot's own setter: past the frozen __setattr__
    assert tlv == Tlv(0x0427, b"\x05")


def test_build_tuple_builds_the_named_tuple() -> None:
    request = EnquireLink()
    assert build_tuple(InFlight, (5, request, 1.0, 31.0)) == InFlight(5, request, 1.0, 31.0)
    assert build_tuple(InFlight, (5, request, 1.0, 31.0)).expires_at == 31.0
