"""Codec: round trips for every PDU, wire layout spot checks, strict/lenient decoding, fuzzing."""

from __future__ import annotations

import struct
import subprocess
import sys
from typing import Any, cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smppgw.core.codec import HEADER_SIZE, Header, decode_body, decode_header, decode_pdu, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus, MessageState, TlvTag
from smppgw.core.errors import (
    InvalidCommandId,
    InvalidCommandLength,
    MalformedPdu,
    ProtocolError,
    RemoteProtocolError,
    SmppError,
)
from smppgw.core.fields import FIELD_STATUS, InvalidField
from smppgw.core.pdu import (
    PDU_TYPES,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionList,
    EnquireLink,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    Request,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnsuccessSme,
)
from smppgw.core.tlv import Tlv
from tests.core.factories import (
    ALL_CLASSES,
    REQUEST_CLASSES,
    UNKNOWN_TAGS,
    minimal,
    pdus,
    pdus_of,
    requests,
    tlv_lists,
)

sequence_numbers = st.integers(0, 0xFFFF_FFFF)
statuses = st.integers(0, 0xFFFF_FFFF)


def frame(command_id: int, body: bytes = b"", *, status: int = 0, seq: int = 1) -> bytes:
    """A PDU with a correct command_length around a hand-made body."""
    return struct.pack(">IIII", HEADER_SIZE + len(body), command_id, status, seq) + body


def status_of(raw: bytes) -> int:
    """The command_status carried by the MalformedPdu/InvalidCommandId ``raw`` raises."""
    with pytest.raises(RemoteProtocolError) as info:
        decode_pdu(raw)
    return info.value.command_status


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=25)
@given(data=st.data(), seq=sequence_numbers, status=statuses)
def test_every_pdu_class_round_trips(cls: type[Pdu], data: st.DataObject, seq: int, status: int) -> None:
    pdu = data.draw(pdus_of(cls))
    wire = encode_pdu(pdu, seq, status)
    header, decoded = decode_pdu(wire)
    assert header == Header(len(wire), cls.command_id, status, seq)
    assert type(decoded) is cls
    assert decoded == pdu


@settings(max_examples=120)
@given(pdu=pdus(), seq=sequence_numbers)
def test_reencoding_a_decoded_pdu_is_byte_exact(pdu: Pdu, seq: int) -> None:
    wire = encode_pdu(pdu, seq)
    assert encode_pdu(pdu, seq) == wire  # deterministic
    assert encode_pdu(attrs.evolve(cast(Any, pdu)), seq) == wire  # equal values, equal bytes
    _, decoded = decode_pdu(wire)
    assert encode_pdu(decoded, seq) == wire


@settings(max_examples=50)
@given(pdu=pdus())
def test_command_length_counts_the_whole_pdu(pdu: Pdu) -> None:
    wire = encode_pdu(pdu, 7)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert decode_header(wire) == Header(len(wire), pdu.command_id, 0, 7)
    if not pdu.has_body:
        assert len(wire) == HEADER_SIZE


def test_factories_cover_every_command() -> None:
    assert {c.command_id for c in ALL_CLASSES} == set(PDU_TYPES) == set(CommandId)


@settings(max_examples=100)
@given(
    tlvs=st.lists(
        st.tuples(st.integers(*UNKNOWN_TAGS), st.binary(max_size=300)),
        min_size=1,
        max_size=5,
    ),
    seq=st.integers(1, 0x7FFF_FFFF),
)
def test_unknown_tlvs_are_preserved_byte_for_byte(tlvs: list[tuple[int, bytes]], seq: int) -> None:
    raw_tlvs = b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs)
    base = encode_pdu(SubmitSm(destination_addr="4479"), seq)
    wire = struct.pack(">I", len(base) + len(raw_tlvs)) + base[4:] + raw_tlvs

    _, pdu = decode_pdu(wire)

    assert isinstance(pdu, SubmitSm)
    assert pdu.tlvs == tuple(Tlv(tag, value) for tag, value in tlvs)  # order and duplicates kept
    assert encode_pdu(pdu, seq) == wire


# -- wire layout spot checks (SMPP 3.4 chapter 4, hand-assembled) ----------------------------

SPOT_CHECKS = [
    pytest.param(
        BindTransmitter(system_id="smppclient1", password="password"),
        1,
        0,
        "0000002A 00000002 00000000 00000001"
        " 736D7070636C69656E743100"  # system_id "smppclient1"
        " 70617373776F726400"  # password "password"
        " 00"  # system_type ""
        " 34 00 00"  # interface_version 0x34, addr_ton, addr_npi
        " 00",  # address_range ""
        id="bind_transmitter",
    ),
    pytest.param(
        SubmitSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="12345",
            destination_addr="67890",
            registered_delivery=1,
            short_message=b"hello",
            tlvs=(Tlv(TlvTag.USER_MESSAGE_REFERENCE, b"\x00\x01"),),
        ),
        2,
        0,
        "00000036 00000004 00000000 00000002"
        " 00"  # service_type ""
        " 01 01 313233343500"  # source ton, npi, "12345"
        " 01 01 363738393000"  # dest ton, npi (defaults 1/1), "67890"
        " 00 00 00"  # esm_class, protocol_id, priority_flag
        " 00 00"  # schedule_delivery_time, validity_period
        " 01 00 00 00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        " 05 68656C6C6F"  # sm_length, short_message
        " 0204 0002 0001",  # user_message_reference TLV
        id="submit_sm+tlv",
    ),
    pytest.param(
        SubmitSmResp(message_id="abc"),
        7,
        0,
        "00000014 80000004 00000000 00000007 61626300",
        id="submit_sm_resp",
    ),
    pytest.param(EnquireLink(), 0x10, 0, "00000010 00000015 00000000 00000010", id="enquire_link"),
    pytest.param(GenericNack(), 5, 3, "00000010 80000000 00000003 00000005", id="generic_nack"),
    pytest.param(
        ReplaceSm(
            message_id="m1", source_addr_ton=1, source_addr_npi=1, source_addr="123", short_message=b"hi"
        ),
        3,
        0,
        "00000020 00000007 00000000 00000003"
        " 6D3100"  # message_id first: replace_sm has no service_type
        " 01 01 31323300"
        " 00 00"  # schedule_delivery_time, validity_period
        " 00 00"  # registered_delivery, sm_default_msg_id
        " 02 6869",
        id="replace_sm",
    ),
    pytest.param(
        SubmitMulti(
            dest_addresses=(DestAddress(destination_addr="123"), DistributionList(dl_name="list")),
        ),
        4,
        0,
        "0000002C 00000021 00000000 00000004"
        " 00 00 00 00"  # service_type, source ton, npi, source_addr
        " 02"  # number_of_dests
        " 01 01 01 31323300"  # dest_flag 1 (SME): ton, npi, "123"
        " 02 6C69737400"  # dest_flag 2 (distribution list): "list"
        " 00 00 00 00 00"  # esm_class, protocol_id, priority_flag, schedule, validity
        " 00 00 00 00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        " 00",  # sm_length
        id="submit_multi",
    ),
    pytest.param(
        QuerySmResp(message_id="m1", final_date="250314153000004+", message_state=MessageState.DELIVERED),
        9,
        0,
        "00000026 80000003 00000000 00000009"
        " 6D3100"
        " 323530333134313533303030303034 2B 00"  # final_date, 16 characters + NUL
        " 02 00",  # message_state DELIVERED, error_code
        id="query_sm_resp",
    ),
]


@pytest.mark.parametrize(("pdu", "seq", "status", "expected_hex"), SPOT_CHECKS)
def test_wire_bytes_match_the_spec_layout(pdu: Pdu, seq: int, status: int, expected_hex: str) -> None:
    expected = bytes.fromhex(expected_hex)
    assert encode_pdu(pdu, seq, status) == expected
    assert decode_pdu(expected) == (Header(len(expected), pdu.command_id, status, seq), pdu)


# -- lenient response decoding (SMPP-REFERENCE §1.3) -------------------------------------------


def test_error_submit_sm_resp_without_body_decodes_with_defaults() -> None:
    raw = frame(CommandId.SUBMIT_SM_RESP, status=CommandStatus.ESME_RTHROTTLED, seq=42)
    header, pdu = decode_pdu(raw)
    assert header == Header(16, CommandId.SUBMIT_SM_RESP, 0x58, 42)
    assert pdu == SubmitSmResp(message_id="")


def test_deliver_sm_resp_without_body_is_accepted() -> None:
    assert decode_pdu(frame(CommandId.DELIVER_SM_RESP, seq=3))[1] == DeliverSmResp()


@pytest.mark.parametrize(
    ("command_id", "body", "expected"),
    [
        (CommandId.SUBMIT_SM_RESP, b"\x00", SubmitSmResp()),
        (CommandId.BIND_TRANSMITTER_RESP, b"", BindTransmitterResp()),
        (CommandId.SUBMIT_MULTI_RESP, b"id\x00", SubmitMultiResp(message_id="id")),
        (CommandId.QUERY_SM_RESP, b"id\x00", QuerySmResp(message_id="id")),
        (CommandId.QUERY_SM_RESP, b"id\x00\x00\x06", QuerySmResp(message_id="id", message_state=6)),
    ],
)
def test_response_body_may_stop_at_any_field_boundary(command_id: int, body: bytes, expected: Pdu) -> None:
    assert decode_pdu(frame(command_id, body, status=0x45))[1] == expected


def test_response_field_without_nul_is_still_malformed() -> None:
    with pytest.raises(MalformedPdu):
        decode_pdu(frame(CommandId.SUBMIT_SM_RESP, b"abc"))


# -- strict request decoding -------------------------------------------------------------------

_HELLO = SubmitSm(destination_addr="4479", short_message=b"hello")


def _body(pdu: Pdu) -> bytes:
    return encode_pdu(pdu, 1)[HEADER_SIZE:]


def _submit_sm_with(old: bytes, new: bytes) -> bytes:
    """``_HELLO`` on the wire with one body fragment replaced and command_length fixed."""
    wire = encode_pdu(_HELLO, 1)
    assert wire.count(old) == 1
    body = wire[HEADER_SIZE:].replace(old, new)
    return frame(CommandId.SUBMIT_SM, body)


def test_destination_addr_without_nul_is_rinvdstadr() -> None:
    # 21 octets and no terminator: C-Octet String limit exceeded.
    raw = _submit_sm_with(b"4479\x00", b"4" * 21 + b"\x00")
    assert status_of(raw) == CommandStatus.ESME_RINVDSTADR


@pytest.mark.parametrize("sm_length", [6, 200, 255])
def test_sm_length_past_the_end_is_rinvmsglen(sm_length: int) -> None:
    raw = _submit_sm_with(b"\x05hello", bytes([sm_length]) + b"hello")
    assert status_of(raw) == CommandStatus.ESME_RINVMSGLEN


@pytest.mark.parametrize(
    ("field", "status"),
    [
        ("schedule_delivery_time", CommandStatus.ESME_RINVSCHED),
        ("validity_period", CommandStatus.ESME_RINVEXPIRY),
    ],
)
@pytest.mark.parametrize("bad", [b"25031415300000\x00", b"250314153000004+0\x00", b"2\x00"])
def test_time_field_of_wrong_length_gets_its_status(field: str, status: CommandStatus, bad: bytes) -> None:
    good = "250314153000004+"
    changes: dict[str, Any] = {field: good}
    wire = encode_pdu(attrs.evolve(_HELLO, **changes), 1)
    body = wire[HEADER_SIZE:].replace(good.encode() + b"\x00", bad)
    assert status_of(frame(CommandId.SUBMIT_SM, body)) == status


@pytest.mark.parametrize("stray", [b"\x14", b"\x14\x00", b"\x14\x00\x00"])
def test_stray_octets_after_the_last_tlv_are_rinvoptparstream(stray: bytes) -> None:
    raw = frame(CommandId.SUBMIT_SM, _body(_HELLO) + stray)
    assert status_of(raw) == CommandStatus.ESME_RINVOPTPARSTREAM == 0xC0


def test_tlv_length_past_the_end_is_rinvoptparstream() -> None:
    raw = frame(CommandId.SUBMIT_SM, _body(_HELLO) + bytes.fromhex("1400 0005 0102"))
    assert status_of(raw) == CommandStatus.ESME_RINVOPTPARSTREAM == 0xC0


@pytest.mark.parametrize(
    "tlv_hex",
    [
        "020E 0002 0001",  # sar_total_segments is 1 octet
        "0423 0002 0001",  # network_error_code is 3 octets
        "0202 0001 80",  # source_subaddress is 2..23 octets
        "001E 0000",  # receipted_message_id needs at least its NUL
    ],
)
def test_known_tlv_with_illegal_length_is_rinvparlen(tlv_hex: str) -> None:
    raw = frame(CommandId.SUBMIT_SM, _body(_HELLO) + bytes.fromhex(tlv_hex))
    assert status_of(raw) == CommandStatus.ESME_RINVPARLEN == 0xC2


_MULTI = SubmitMulti(dest_addresses=(DestAddress(destination_addr="123"),))
_MULTI_DESTS = b"\x01\x01\x01\x01123\x00"  # number_of_dests 1, dest_flag 1, ton, npi, "123"


def test_number_of_dests_zero_is_rinvnumdests() -> None:
    body = _body(_MULTI).replace(_MULTI_DESTS, b"\x00")
    assert status_of(frame(CommandId.SUBMIT_MULTI, body)) == CommandStatus.ESME_RINVNUMDESTS


@pytest.mark.parametrize("flag", [0, 3, 0xFF])
def test_unknown_dest_flag_is_rinvdestflag(flag: int) -> None:
    body = _body(_MULTI).replace(_MULTI_DESTS, b"\x01" + bytes([flag]) + b"\x01\x01123\x00")
    assert status_of(frame(CommandId.SUBMIT_MULTI, body)) == CommandStatus.ESME_RINVDESTFLAG


def test_number_of_dests_above_254_is_rinvnumdests() -> None:
    # SMPP 3.4 §4.5.1: number_of_dests is 1..254, and SubmitMulti refuses 255 at construction,
    # so the decoder must not build one from the wire either.
    dests = b"\x02L\x00" * 255
    body = _body(_MULTI).replace(_MULTI_DESTS, b"\xff" + dests)
    assert status_of(frame(CommandId.SUBMIT_MULTI, body)) == CommandStatus.ESME_RINVNUMDESTS


def test_received_submit_sm_with_short_message_and_message_payload_is_rejected() -> None:
    # SMPP-REFERENCE §1.3: "Sending both is a protocol error"; construction refuses it with
    # ESME_RINVMSGLEN, so a request decoded from the wire must not carry both either.
    payload = encode_pdu(SubmitSm(tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, b"world"),)), 1)[-9:]
    raw = frame(CommandId.SUBMIT_SM, _body(_HELLO) + payload)
    assert status_of(raw) == CommandStatus.ESME_RINVMSGLEN


@pytest.mark.parametrize("cls", [EnquireLink, Unbind], ids=lambda c: c.__name__)
def test_header_only_request_with_a_body_is_rinvcmdlen(cls: type[Pdu]) -> None:
    assert status_of(frame(cls.command_id, b"\x00")) == CommandStatus.ESME_RINVCMDLEN


@pytest.mark.parametrize("command_id", [0x0000_000A, 0x0000_0099, 0x0000_0111, 0x8000_0099, 0x7FFF_FFFF])
def test_unknown_command_id_is_invalid_command_id(command_id: int) -> None:
    with pytest.raises(InvalidCommandId) as info:
        decode_pdu(frame(command_id, b"\x00\x00"))
    assert info.value.command_status == CommandStatus.ESME_RINVCMDID


@pytest.mark.parametrize("cls", REQUEST_CLASSES, ids=lambda c: c.__name__)
def test_truncated_request_body_is_malformed(cls: type[Pdu]) -> None:
    body = _body(minimal(cls))
    for cut in range(len(body)):
        with pytest.raises(MalformedPdu):
            decode_pdu(frame(cls.command_id, body[:cut]))


def test_header_errors() -> None:
    with pytest.raises(InvalidCommandLength):
        decode_header(b"\x00" * 15)
    raw = encode_pdu(SubmitSmResp(message_id="x"), 1)
    with pytest.raises(InvalidCommandLength):
        decode_pdu(raw + b"\x00")  # command_length disagrees with the frame
    with pytest.raises(InvalidCommandLength):
        decode_pdu(raw[:-1])


def test_decode_body_uses_the_header_it_is_given() -> None:
    raw = encode_pdu(SubmitSmResp(message_id="x"), 1)
    assert decode_body(decode_header(raw), raw) == SubmitSmResp(message_id="x")


# -- the decoder only ever raises SmppError ------------------------------------------------------

_known_ids = st.sampled_from(sorted(PDU_TYPES))


@st.composite
def mutated_frames(draw: st.DrawFn, base: st.SearchStrategy[Pdu] | None = None) -> bytes:
    """A valid PDU with a few octets changed, cut or inserted, command_length usually fixed."""
    pdu = draw(base if base is not None else pdus())
    wire = bytearray(encode_pdu(pdu, draw(st.integers(0, 0xFFFF_FFFF))))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "cut", "insert", "truncate"]))
        pos = draw(st.integers(0, len(wire)))
        if op == "set" and pos < len(wire):
            wire[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del wire[pos : pos + draw(st.integers(1, 4))]
        elif op == "insert":
            wire[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "truncate":
            del wire[pos:]
    if len(wire) >= 4 and draw(st.booleans()):
        wire[:4] = len(wire).to_bytes(4, "big")
    return bytes(wire)


@st.composite
def random_bodies(draw: st.DrawFn) -> bytes:
    """A correct header for a known command around random octets."""
    return frame(
        draw(_known_ids), draw(st.binary(max_size=120)), status=draw(statuses), seq=draw(sequence_numbers)
    )


def _decode_or_smpp_error(raw: bytes) -> tuple[Header, Pdu] | None:
    try:
        return decode_pdu(raw)
    except SmppError as exc:
        if isinstance(exc, ProtocolError):
            assert isinstance(exc.command_status, int)
        return None


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=200), random_bodies(), mutated_frames()))
def test_decoder_raises_only_smpp_errors(raw: bytes) -> None:
    _decode_or_smpp_error(raw)  # anything else (IndexError, UnicodeError, ...) fails the test


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated_frames(requests()))
def test_a_decoded_request_is_a_valid_value_that_reencodes_exactly(raw: bytes) -> None:
    # Requests are decoded strictly: whatever is accepted must be a PDU that could have been
    # constructed (the validators agree with the decoder) and must re-encode to the same octets.
    result = _decode_or_smpp_error(raw)
    if result is None or not isinstance(result[1], Request):
        return  # about a quarter of the mutants still decode: those are the ones checked
    header, pdu = result
    assert attrs.evolve(cast(Any, pdu)) == pdu  # re-runs every validator
    assert encode_pdu(pdu, header.sequence_number, header.command_status) == raw


# -- construction validation -------------------------------------------------------------------

_CSTR_FIELDS = [
    pytest.param(cls, wf.name, wf.size, id=f"{cls.__name__}.{wf.name}")
    for cls in ALL_CLASSES
    for wf in cls.wire
    if wf.kind == "cstr"
]


def _valid_kwargs(cls: type[Pdu]) -> dict[str, object]:
    """The fields ``cls`` needs besides its defaults (submit_multi needs a destination)."""
    if cls is SubmitMulti:
        return {"dest_addresses": (DestAddress(destination_addr="447700900001"),)}
    return {}


@pytest.mark.parametrize(("cls", "name", "size"), _CSTR_FIELDS)
def test_too_long_string_gets_the_field_specific_status(cls: type[Pdu], name: str, size: int) -> None:
    cls(**_valid_kwargs(cls), **{name: "x" * (size - 1)})  # the longest legal value
    with pytest.raises(InvalidField) as info:
        cls(**_valid_kwargs(cls), **{name: "x" * size})
    assert info.value.command_status == FIELD_STATUS.get(name, CommandStatus.ESME_RINVMSGLEN)


def test_field_statuses_follow_table_5_2() -> None:
    expected: dict[tuple[type[Any], str], CommandStatus] = {
        (BindTransmitter, "system_id"): CommandStatus.ESME_RINVSYSID,
        (BindReceiver, "password"): CommandStatus.ESME_RINVPASWD,
        (BindTransceiver, "system_type"): CommandStatus.ESME_RINVSYSTYP,
        (SubmitSm, "service_type"): CommandStatus.ESME_RINVSERTYP,
        (SubmitSm, "source_addr"): CommandStatus.ESME_RINVSRCADR,
        (SubmitSm, "destination_addr"): CommandStatus.ESME_RINVDSTADR,
        (QuerySm, "message_id"): CommandStatus.ESME_RINVMSGID,
    }
    for (cls, name), status in expected.items():
        size = next(wf.size for wf in cls.wire if wf.name == name)
        with pytest.raises(InvalidField) as info:
            cls(**{name: "9" * size})
        assert info.value.command_status == status, (cls, name)


@pytest.mark.parametrize(
    ("field", "status"),
    [
        ("schedule_delivery_time", CommandStatus.ESME_RINVSCHED),
        ("validity_period", CommandStatus.ESME_RINVEXPIRY),
    ],
)
@pytest.mark.parametrize("value", ["1", "25031415300000+", "250314153000004+0"])
def test_time_of_wrong_length_is_rejected(field: str, status: CommandStatus, value: str) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(InvalidField) as info:
        SubmitSm(**kwargs)
    assert info.value.command_status == status


@pytest.mark.parametrize(
    "value",
    [b"abc", 5, None, "a\x00b", "\u20ac"],
    ids=["bytes", "int", "None", "inner-NUL", "not-latin-1"],
)
def test_string_fields_reject_non_octet_strings(value: object) -> None:
    with pytest.raises(InvalidField):
        SubmitSm(destination_addr=value)  # type: ignore[arg-type]


def test_latin_1_strings_are_octet_strings() -> None:
    pdu = SubmitSm(source_addr="Caf\xe9")
    assert decode_pdu(encode_pdu(pdu, 1))[1] == pdu


_INT_FIELDS = [
    pytest.param(cls, wf, id=f"{cls.__name__}.{wf.name}")
    for cls in ALL_CLASSES
    for wf in cls.wire
    if wf.kind in ("u8", "u16", "u32")
]


@pytest.mark.parametrize(("cls", "wf"), _INT_FIELDS)
def test_int_fields_reject_out_of_range_values(cls: type[Pdu], wf: object) -> None:
    name, size = wf.name, wf.size  # type: ignore[attr-defined]
    top = (1 << (8 * size)) - 1
    assert getattr(cls(**_valid_kwargs(cls), **{name: top}), name) == top
    for bad in (-1, top + 1, True, 1.0, "1"):
        with pytest.raises(InvalidField):
            cls(**_valid_kwargs(cls), **{name: bad})


def test_short_message_is_at_most_254_octets() -> None:
    assert SubmitSm(short_message=b"x" * 254).short_message == b"x" * 254
    with pytest.raises(InvalidField):
        SubmitSm(short_message=b"x" * 255)
    with pytest.raises(InvalidField):
        SubmitSm(short_message="text")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [SubmitSm, DeliverSm, SubmitMulti], ids=lambda c: c.__name__)
def test_short_message_and_message_payload_are_exclusive(cls: type[Any]) -> None:
    payload = (Tlv(TlvTag.MESSAGE_PAYLOAD, b"x" * 300),)
    kwargs = _valid_kwargs(cls)
    with_payload = cls(**kwargs, tlvs=payload)
    assert with_payload.payload == b"x" * 300
    with pytest.raises(InvalidField) as info:
        cls(**kwargs, short_message=b"hi", tlvs=payload)
    assert info.value.command_status == CommandStatus.ESME_RINVMSGLEN


def test_data_sm_payload_comes_from_message_payload() -> None:
    assert DataSm().payload == b""
    assert DataSm(tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, b"abc"),)).payload == b"abc"


def test_submit_multi_needs_a_destination() -> None:
    with pytest.raises(InvalidField) as info:
        SubmitMulti()
    assert info.value.command_status == CommandStatus.ESME_RINVNUMDESTS
    with pytest.raises(InvalidField):
        SubmitMulti(dest_addresses=("447700900001",))  # type: ignore[arg-type]
    with pytest.raises(InvalidField):
        SubmitMulti(dest_addresses=[DestAddress(destination_addr="1")])  # type: ignore[arg-type]


def test_tlvs_must_be_a_tuple_of_tlv() -> None:
    with pytest.raises(InvalidField):
        SubmitSm(tlvs=[Tlv(0x1400, b"")])  # type: ignore[arg-type]
    with pytest.raises(InvalidField):
        SubmitSm(tlvs=((0x1400, b""),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SubmitMulti(dest_addresses=(DestAddress(dest_addr_ton=256, destination_addr="1"),)),
        lambda: SubmitMulti(dest_addresses=(DestAddress(dest_addr_npi=-1, destination_addr="1"),)),
        lambda: SubmitMulti(dest_addresses=(DestAddress(destination_addr="\u20ac"),)),
        lambda: SubmitMulti(dest_addresses=(DestAddress(destination_addr="1\x002"),)),
        lambda: SubmitMulti(dest_addresses=(DistributionList(dl_name="\u20ac"),)),
        lambda: SubmitMultiResp(
            unsuccess_smes=(UnsuccessSme(destination_addr="1", error_status_code=1 << 32),)
        ),
        lambda: SubmitMultiResp(unsuccess_smes=("447700900001",)),  # type: ignore[arg-type]
        lambda: SubmitSm(tlvs=(Tlv(0x1400, "text"),)),  # type: ignore[arg-type]
    ],
    ids=[
        "dest-ton-256",
        "dest-npi-negative",
        "dest-addr-not-latin-1",
        "dest-addr-inner-NUL",
        "dl-name-not-latin-1",
        "unsuccess-status-2**32",
        "unsuccess-not-UnsuccessSme",
        "tlv-value-str",
    ],
)
def test_nested_values_are_validated_at_construction(make: object) -> None:
    # "An invalid PDU cannot exist" (STYLE 3.2): a PDU that constructs must encode; these
    # nested values are accepted today and blow up in encode_pdu with ValueError/TypeError.
    with pytest.raises(InvalidField):
        pdu = make()  # type: ignore[operator]
        encode_pdu(pdu, 1)


def test_too_long_dest_address_gets_rinvdstadr() -> None:
    with pytest.raises(InvalidField) as info:
        DestAddress(destination_addr="1" * 21)
    assert info.value.command_status == CommandStatus.ESME_RINVDSTADR


@pytest.mark.parametrize(
    "cls", [BindTransmitter, BindReceiver, BindTransceiver, Outbind], ids=lambda c: c.__name__
)
def test_passwords_stay_out_of_repr(cls: type[Any]) -> None:
    pdu = cls(system_id="esme1", password="s3cr3t")
    assert pdu.password == "s3cr3t"
    assert "esme1" in repr(pdu)
    assert "s3cr3t" not in repr(pdu)
    assert "s3cr3t" not in str(pdu)


def test_error_response_has_the_default_body() -> None:
    assert SubmitSm().error_response() == SubmitSmResp()
    with pytest.raises(InvalidField):
        Outbind().error_response()


@settings(max_examples=50)
@given(tlvs=tlv_lists())
def test_generated_tlvs_survive_any_pdu_with_tlvs(tlvs: tuple[Tlv, ...]) -> None:
    pdu = DataSm(destination_addr="1", tlvs=tlvs)
    assert decode_pdu(encode_pdu(pdu, 1))[1].tlvs == tlvs  # type: ignore[attr-defined]


@given(pdu=pdus())
def test_trusted_construction_equals_the_validated_one(pdu: Pdu) -> None:
    """``Pdu.trusted_from`` (the hot-path constructor) builds the same value, byte for byte."""
    fields = {a.name: getattr(pdu, a.name) for a in attrs.fields(type(pdu))}
    copy = type(pdu).trusted_from(fields)
    assert copy == pdu
    assert encode_pdu(copy, 7) == encode_pdu(pdu, 7)


def test_trusted_fills_defaults() -> None:
    assert SubmitSm.trusted_from({"destination_addr": "4479"}) == SubmitSm(destination_addr="4479")


def test_pdu_classes_work_imported_from_their_own_modules() -> None:
    # smppgw.core.pdu finishes the classes declared in pdu_session / pdu_message; the
    # package imports it, so a fresh process may import them from anywhere.
    code = (
        "from smppgw.core.pdu_message import SubmitSm\n"
        "from smppgw.core.pdu_session import EnquireLink\n"
        "assert SubmitSm(source_addr='1', destination_addr='2').destination_addr == '2'\n"
        "assert EnquireLink().response_type is not None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
