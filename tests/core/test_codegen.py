"""Generated decoders: the regular-expression fast path agrees with the step-by-step decoder.

The fast path (``smppgw.core.codegen``) must accept exactly the bodies the step-by-step
decoder accepts, build the same PDU from them (the same values of the same types), and
leave every malformed body to the step-by-step decoder so that the error (type, status,
message) is the one it has always been.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smppgw.core.codec import HEADER_SIZE, encode_pdu
from smppgw.core.codegen import Decoder, compile_decoder, compile_step_decoder, fast_pattern, has_fast_path
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.errors import MalformedPdu, ProtocolError
from smppgw.core.pdu import (
    DeliverSm,
    DeliverSmResp,
    Pdu,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
)
from smppgw.core.tlv import Tlv, decode_tlvs, encode_tlvs
from tests.core.factories import ALL_CLASSES, REQUEST_CLASSES, pdus_of

FAST_CLASSES = [cls for cls in REQUEST_CLASSES if has_fast_path(cls)]
_FAST = {cls: compile_decoder(cls) for cls in FAST_CLASSES}
_STEP = {cls: compile_step_decoder(cls) for cls in FAST_CLASSES}


def _outcome(decoder: Decoder, buf: bytes | bytearray, end: int) -> Any:
    """What a decoder makes of ``buf[16:end]``: the fields with their types, or the error."""
    try:
        pdu = decoder(buf, HEADER_SIZE, end)
    except ProtocolError as exc:
        return (type(exc), exc.command_status, str(exc))
    except Exception as exc:  # not expected from either: still, both must agree
        return (type(exc), str(exc))
    return (type(pdu), {name: (type(value), value) for name, value in vars(pdu).items()})


@st.composite
def mutated_bodies(draw: st.DrawFn, cls: type[Pdu]) -> bytes | bytearray:
    """A valid PDU of ``cls`` with a few octets changed, cut, inserted or cut off. NULs and
    high octets are drawn often: they are what C-Octet Strings and times turn on."""
    wire = bytearray(encode_pdu(draw(pdus_of(cls)), 1))
    octets = st.one_of(st.just(0), st.integers(1, 255), st.sampled_from([0x30, 0xFF]))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["set", "cut", "insert", "truncate", "append"]))
        pos = draw(st.integers(HEADER_SIZE, len(wire)))
        if op == "set" and pos < len(wire):
            wire[pos] = draw(octets)
        elif op == "cut":
            del wire[pos : pos + draw(st.integers(1, 17))]
        elif op == "insert":
            wire[pos:pos] = bytes(draw(st.lists(octets, min_size=1, max_size=17)))
        elif op == "truncate":
            del wire[pos:]
        elif op == "append":
            wire += bytes(draw(st.lists(octets, min_size=1, max_size=6)))
    return wire if draw(st.booleans()) else bytes(wire)


# 100 mutated bodies per class and run (a thousand in all, each class's PDUs drawn anew
# every run): 300 made this the suite's costliest unit test for little more assurance.
@pytest.mark.parametrize("cls", FAST_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_agrees_with_the_step_by_step_decoder(cls: type[Pdu], data: st.DataObject) -> None:
    buf = data.draw(mutated_bodies(cls))
    # The decoders take an ``end``: a body may stop before the end of the buffer.
    end = data.draw(st.one_of(st.just(len(buf)), st.integers(HEADER_SIZE, len(buf))))
    assert _outcome(_FAST[cls], buf, end) == _outcome(_STEP[cls], buf, end)


@pytest.mark.parametrize("cls", FAST_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=80))
def test_fast_path_agrees_on_random_bodies(cls: type[Pdu], body: bytes) -> None:
    buf = bytes(HEADER_SIZE) + body
    assert _outcome(_FAST[cls], buf, len(buf)) == _outcome(_STEP[cls], buf, len(buf))


def test_the_hot_requests_have_a_fast_path_and_the_lenient_responses_do_not() -> None:
    assert {DeliverSm, SubmitSm} <= set(FAST_CLASSES)
    assert not has_fast_path(SubmitMulti)  # dest_address list: variable layout
    for cls in ALL_CLASSES:
        if not issubclass(cls, tuple(REQUEST_CLASSES)):
            assert not has_fast_path(cls), cls  # a response body may stop at any field


def test_fast_pattern_of_submit_sm_follows_section_4_4_1() -> None:
    # service_type C(6), ton, npi, source_addr C(21), ton, npi, destination_addr C(21),
    # esm_class, protocol_id, priority_flag, two times F(1|17), four octets + sm_length.
    assert fast_pattern(SubmitSm).pattern == (
        rb"([^\x00]{0,5})\x00(.{2})([^\x00]{0,20})\x00(.{2})([^\x00]{0,20})\x00(.{3})"
        rb"(?:\x00|([^\x00]{16})\x00)(?:\x00|([^\x00]{16})\x00)(.{5})"
    )


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda b: b[:-1], CommandStatus.ESME_RINVMSGLEN, "DeliverSm: sm_length 4 exceeds 254 or the body"),
        (  # 255 octets are there, but 3.4 §4.4.1 allows at most 254
            lambda b: b[:-5] + b"\xff" + bytes(255),
            CommandStatus.ESME_RINVMSGLEN,
            "DeliverSm: sm_length 255 exceeds 254 or the body",
        ),
        (lambda b: b[:18], CommandStatus.ESME_RINVCMDLEN, "DeliverSm.source_addr_npi: body ends"),
        (
            lambda b: b.replace(
                b"\x04\x00\x00\x00", b"\x04\x00\x00\x30"
            ),  # esm_class, protocol_id, priority_flag, schedule_delivery_time
            CommandStatus.ESME_RINVSCHED,
            "DeliverSm.schedule_delivery_time: time must be 1 or 17 octets",
        ),
    ],
    ids=["sm-length", "sm-length-255", "short", "time"],
)
def test_malformed_deliver_sm_gets_the_step_by_step_error(mutate: Any, status: int, message: str) -> None:
    wire = mutate(encode_pdu(DeliverSm(source_addr="4479", esm_class=4, short_message=b"stat"), 1))
    with pytest.raises(MalformedPdu) as info:
        _FAST[DeliverSm](wire, HEADER_SIZE, len(wire))
    assert info.value.command_status == status
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("cls", [SubmitSmResp, DeliverSmResp], ids=lambda c: c.__name__)
def test_responses_keep_the_lenient_decoder(cls: type[Pdu]) -> None:
    decode = compile_decoder(cls)
    assert decode(bytes(HEADER_SIZE), HEADER_SIZE, HEADER_SIZE) == cls()


# -- decode_tlvs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_tlv_values_are_bytes_whatever_the_buffer(kind: Any) -> None:
    tlvs = (Tlv.from_str(TlvTag.RECEIPTED_MESSAGE_ID, "abc"), Tlv.from_int(TlvTag.MESSAGE_STATE, 2))
    wire = b"xx" + encode_tlvs(tlvs)
    decoded = decode_tlvs(kind(wire), 2, len(wire))
    assert decoded == tlvs
    assert all(type(t) is Tlv and type(t.value) is bytes for t in decoded)


def test_tlv_of_illegal_length_names_the_allowed_range() -> None:
    wire = struct.pack(">HH", TlvTag.RECEIPTED_MESSAGE_ID, 66) + bytes(66)
    with pytest.raises(MalformedPdu) as info:
        decode_tlvs(wire, 0, len(wire))
    assert info.value.command_status == CommandStatus.ESME_RINVPARLEN
    assert str(info.value) == "TLV 0x001E has length 66, allowed 1..65"
