"""The simulated SMSC's message validation: one test per rule, the rule order, strict vs lenient."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.validate import (
    DEFAULT_DCS,
    GSM7_DCS,
    UCS2_DCS,
    ValidationPolicy,
    submit_multi_failures,
    validate_cancel,
    validate_query,
    validate_replace,
    validate_submit,
)
from smppgw.core.codec import decode_pdu, encode_pdu
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.pdu import (
    CancelSm,
    DataSm,
    DestAddress,
    DistributionList,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
)
from smppgw.core.text import ConcatMethod, Encoding, split_message
from smppgw.core.tlv import TLV_SPECS, Tlv
from tests.core.factories import pdus_of, smpp_times

S = CommandStatus
LENIENT = ValidationPolicy()
STRICT = ValidationPolicy(strict=True)
BOTH = pytest.mark.parametrize("policy", [LENIENT, STRICT], ids=["lenient", "strict"])

PAYLOAD = TlvTag.MESSAGE_PAYLOAD


def submit(**overrides: Any) -> SubmitSm:
    """A submit_sm every policy accepts, with ``overrides``."""
    values: dict[str, Any] = {
        "source_addr_ton": 1,
        "source_addr_npi": 1,
        "source_addr": "447700900000",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "447700900001",
        "short_message": b"hello",
    }
    return SubmitSm(**(values | overrides))


def data_sm(**overrides: Any) -> DataSm:
    values: dict[str, Any] = {
        "source_addr": "Acme",
        "source_addr_ton": 5,
        "destination_addr": "447700900001",
        "tlvs": (Tlv(PAYLOAD, b"hello"),),
    }
    return DataSm(**(values | overrides))


def multi(*dests: DestAddress | DistributionList, **overrides: Any) -> SubmitMulti:
    if not dests:
        dests = (DestAddress(destination_addr="447700900001"),)
    return SubmitMulti(dest_addresses=dests, short_message=b"hello", **overrides)


def decoded(pdu: Pdu, *extra: Tlv) -> Any:
    """``pdu`` as decoded from the wire, with ``extra`` TLVs appended *unvalidated*.

    The decoder itself refuses a short_message together with a message_payload (so does
    the constructor); the validator keeps its own rule as defence in depth, and this is
    how a test hands it such a PDU.
    """
    base = decode_pdu(encode_pdu(pdu, sequence_number=1))[1]
    return _unvalidated(base, tlvs=base.tlvs + extra)


def _unvalidated(pdu: Pdu, **changes: Any) -> Any:
    copy = object.__new__(type(pdu))
    object.__setattr__(copy, "__dict__", {**pdu.__dict__, **changes})
    return copy


def sar(ref: int = 7, total: int = 2, seq: int = 1) -> tuple[Tlv, ...]:
    return (
        Tlv.from_int(TlvTag.SAR_MSG_REF_NUM, ref, 2),
        Tlv.from_int(TlvTag.SAR_TOTAL_SEGMENTS, total, 1),
        Tlv.from_int(TlvTag.SAR_SEGMENT_SEQNUM, seq, 1),
    )


UDH8 = bytes((0x05, 0x00, 0x03, 0x2A, 0x02, 0x01))  # 6 octets: concat, 8-bit reference
UDH16 = bytes((0x06, 0x08, 0x04, 0x01, 0x2A, 0x02, 0x01))  # 7 octets: concat, 16-bit reference

# -- baseline ----------------------------------------------------------------------------------


@BOTH
def test_valid_pdus_are_accepted(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(), policy) == S.ESME_ROK
    assert validate_submit(decoded(submit()), policy) == S.ESME_ROK
    assert validate_submit(data_sm(), policy) == S.ESME_ROK
    assert validate_submit(multi(), policy) == S.ESME_ROK
    assert validate_query(QuerySm(message_id="1"), policy) == S.ESME_ROK
    assert validate_cancel(CancelSm(message_id="1"), policy) == S.ESME_ROK
    assert validate_replace(ReplaceSm(message_id="1", short_message=b"new"), policy) == S.ESME_ROK


@BOTH
def test_common_real_world_submits_are_accepted(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(source_addr_ton=5, source_addr_npi=0, source_addr="Acme"), policy) == 0
    assert validate_submit(submit(source_addr_ton=3, source_addr="12345", esm_class=0x03), policy) == 0
    assert validate_submit(submit(source_addr="", registered_delivery=0x01), policy) == 0
    assert validate_submit(submit(validity_period="000001000000000R"), policy) == 0
    assert validate_submit(submit(schedule_delivery_time="250314153000004+"), policy) == 0
    assert validate_submit(submit(short_message=b""), policy) == 0


# -- rules 1-4: addresses ------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("ton", [7, 8, 255])
def test_source_ton_out_of_range(policy: ValidationPolicy, ton: int) -> None:
    assert validate_submit(submit(source_addr_ton=ton), policy) == S.ESME_RINVSRCTON


@BOTH
@pytest.mark.parametrize("npi", [2, 5, 7, 11, 19, 255])
def test_source_npi_not_a_known_plan(policy: ValidationPolicy, npi: int) -> None:
    assert validate_submit(submit(source_addr_npi=npi), policy) == S.ESME_RINVSRCNPI


@BOTH
@pytest.mark.parametrize("ton", [7, 255])
def test_dest_ton_out_of_range(policy: ValidationPolicy, ton: int) -> None:
    assert validate_submit(submit(dest_addr_ton=ton), policy) == S.ESME_RINVDSTTON


@BOTH
@pytest.mark.parametrize("npi", [2, 15, 255])
def test_dest_npi_not_a_known_plan(policy: ValidationPolicy, npi: int) -> None:
    assert validate_submit(submit(dest_addr_npi=npi), policy) == S.ESME_RINVDSTNPI


@BOTH
def test_empty_destination(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(destination_addr=""), policy) == S.ESME_RINVDSTADR
    assert validate_submit(data_sm(destination_addr=""), policy) == S.ESME_RINVDSTADR


@BOTH
@pytest.mark.parametrize("ton", [1, 2, 4])
@pytest.mark.parametrize("addr", ["4477009O0001", "44 7700", "4477-0090", "+", "++447", "¹²³", "44²"])
def test_numeric_ton_destination_must_be_ascii_digits(policy: ValidationPolicy, ton: int, addr: str) -> None:
    assert validate_submit(submit(dest_addr_ton=ton, destination_addr=addr), policy) == S.ESME_RINVDSTADR


@BOTH
@pytest.mark.parametrize("ton", [0, 3, 5, 6])
def test_other_tons_accept_any_destination_characters(policy: ValidationPolicy, ton: int) -> None:
    assert validate_submit(submit(dest_addr_ton=ton, destination_addr="Info-Line 2"), policy) == S.ESME_ROK


def test_leading_plus_on_destination_is_lenient_only() -> None:
    pdu = submit(destination_addr="+447700900001")
    assert validate_submit(pdu, LENIENT) == S.ESME_ROK
    assert validate_submit(pdu, STRICT) == S.ESME_RINVDSTADR


def test_alphanumeric_source_over_eleven_characters_is_strict_only() -> None:
    eleven = submit(source_addr_ton=5, source_addr_npi=0, source_addr="ElevenChars")
    twelve = submit(source_addr_ton=5, source_addr_npi=0, source_addr="TwelveChars!")
    assert validate_submit(eleven, STRICT) == S.ESME_ROK
    assert validate_submit(twelve, STRICT) == S.ESME_RINVSRCADR
    assert validate_submit(twelve, LENIENT) == S.ESME_ROK


@pytest.mark.parametrize("addr", ["+447700900000", "44770090000x", "44¹"])
def test_international_source_with_non_digits_is_strict_only(addr: str) -> None:
    pdu = submit(source_addr_ton=1, source_addr=addr)
    assert validate_submit(pdu, STRICT) == S.ESME_RINVSRCADR
    assert validate_submit(pdu, LENIENT) == S.ESME_ROK


def test_empty_source_is_accepted_even_when_strict() -> None:
    assert validate_submit(submit(source_addr=""), STRICT) == S.ESME_ROK


def test_data_sm_addresses_follow_the_same_rules() -> None:
    assert validate_submit(data_sm(source_addr_ton=7), LENIENT) == S.ESME_RINVSRCTON
    assert validate_submit(data_sm(dest_addr_npi=2), LENIENT) == S.ESME_RINVDSTNPI
    assert validate_submit(data_sm(source_addr="TwelveChars!"), STRICT) == S.ESME_RINVSRCADR


# -- rules 5-11: single fields ----------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("esm_class", [0x04, 0x0C, 0x14, 0x18, 0x20, 0x24, 0x3C, 0x44])
def test_esm_class_message_type_an_esme_cannot_send(policy: ValidationPolicy, esm_class: int) -> None:
    assert validate_submit(submit(esm_class=esm_class), policy) == S.ESME_RINVESMCLASS
    assert validate_submit(data_sm(esm_class=esm_class), policy) == S.ESME_RINVESMCLASS


@BOTH
@pytest.mark.parametrize("esm_class", [0x00, 0x01, 0x02, 0x03, 0x08, 0x10, 0x13, 0x80, 0x83])
def test_esm_class_any_mode_and_esme_message_type_accepted(policy: ValidationPolicy, esm_class: int) -> None:
    assert validate_submit(submit(esm_class=esm_class), policy) == S.ESME_ROK


@BOTH
def test_priority_flag_above_three(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(priority_flag=3), policy) == S.ESME_ROK
    assert validate_submit(submit(priority_flag=4), policy) == S.ESME_RINVPRTFLG
    assert validate_submit(multi(priority_flag=255), policy) == S.ESME_RINVPRTFLG


@BOTH
@pytest.mark.parametrize(
    "value", ["251314153000004+", "250314153000049+", "000002123000100R", "250314153000004X"]
)
def test_bad_schedule_delivery_time(policy: ValidationPolicy, value: str) -> None:
    assert validate_submit(submit(schedule_delivery_time=value), policy) == S.ESME_RINVSCHED


@BOTH
@pytest.mark.parametrize(
    "value", ["250230000000000+", "250314153000049-", "000002123000010R", "0000021230000A0R"]
)
def test_bad_validity_period(policy: ValidationPolicy, value: str) -> None:
    assert validate_submit(submit(validity_period=value), policy) == S.ESME_RINVEXPIRY


@BOTH
@pytest.mark.parametrize("registered_delivery", [0x20, 0x40, 0x80, 0xE1, 0x21])
def test_registered_delivery_reserved_high_bits(policy: ValidationPolicy, registered_delivery: int) -> None:
    pdu = submit(registered_delivery=registered_delivery)
    assert validate_submit(pdu, policy) == S.ESME_RINVREGDLVFLG


def test_registered_delivery_receipt_value_three_is_strict_only() -> None:
    # 3.4 reserves 0b11 in bits 1-0; v5.0 made it "receipt on success only".
    assert validate_submit(submit(registered_delivery=0x03), STRICT) == S.ESME_RINVREGDLVFLG
    assert validate_submit(submit(registered_delivery=0x1F), STRICT) == S.ESME_RINVREGDLVFLG
    assert validate_submit(submit(registered_delivery=0x03), LENIENT) == S.ESME_ROK
    assert validate_submit(submit(registered_delivery=0x1F), LENIENT) == S.ESME_ROK
    assert validate_submit(submit(registered_delivery=0x1D), STRICT) == S.ESME_ROK


@BOTH
def test_replace_if_present_flag_above_one(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(replace_if_present_flag=1), policy) == S.ESME_ROK
    assert validate_submit(submit(replace_if_present_flag=2), policy) == S.ESME_RINVREPFLAG


@BOTH
@pytest.mark.parametrize(
    "dcs", [0x05, 0x06, 0x07, 0x09, 0x0D, 0x0E, 0x0F, 0x1C, 0x1F, 0x20, 0xC0, 0xE0, 0xF8, 0xFF]
)
def test_unsupported_data_coding(policy: ValidationPolicy, dcs: int) -> None:
    assert validate_submit(submit(data_coding=dcs), policy) == S.ESME_RINVDCS


@pytest.mark.parametrize("dcs", sorted(DEFAULT_DCS))
def test_default_data_codings_are_accepted(dcs: int) -> None:
    assert validate_submit(submit(data_coding=dcs, short_message=b"hi"), LENIENT) == S.ESME_ROK


def test_invalid_dcs_status_and_supported_set_are_configurable() -> None:
    carrier_34 = ValidationPolicy(invalid_dcs_status=S.ESME_RSUBMITFAIL, supported_data_codings={0, 8})
    assert validate_submit(submit(data_coding=0x03), carrier_34) == S.ESME_RSUBMITFAIL
    assert validate_submit(submit(data_coding=0x08, short_message=b"\x00h"), carrier_34) == S.ESME_ROK
    assert isinstance(carrier_34.supported_data_codings, frozenset)


# -- rules 12-18: user data ------------------------------------------------------------------


@BOTH
def test_short_message_with_message_payload(policy: ValidationPolicy) -> None:
    pdu = decoded(submit(short_message=b"hi"), Tlv(PAYLOAD, b"there"))
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN
    pdu = decoded(multi(), Tlv(PAYLOAD, b"there"))
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN


def test_short_message_with_message_payload_status_is_configurable() -> None:
    policy = ValidationPolicy(payload_with_short_message_status=S.ESME_RSUBMITFAIL)
    pdu = decoded(submit(short_message=b"hi"), Tlv(PAYLOAD, b"there"))
    assert validate_submit(pdu, policy) == S.ESME_RSUBMITFAIL


@BOTH
def test_message_payload_with_empty_short_message_is_fine_and_unbounded(policy: ValidationPolicy) -> None:
    pdu = submit(short_message=b"", tlvs=(Tlv(PAYLOAD, b"x" * 2000),))
    assert validate_submit(pdu, policy) == S.ESME_ROK


def test_data_sm_without_payload_is_strict_only() -> None:
    pdu = data_sm(tlvs=())
    assert validate_submit(pdu, STRICT) == S.ESME_RMISSINGOPTPARAM
    assert validate_submit(pdu, LENIENT) == S.ESME_ROK
    assert validate_submit(data_sm(tlvs=(Tlv(PAYLOAD, b""),)), STRICT) == S.ESME_ROK


@BOTH
@pytest.mark.parametrize("missing", [0, 1, 2])
def test_sar_tlvs_all_or_none(policy: ValidationPolicy, missing: int) -> None:
    tlvs = sar()[:missing] + sar()[missing + 1 :]
    assert validate_submit(submit(tlvs=tlvs), policy) == S.ESME_RMISSINGOPTPARAM
    assert validate_submit(submit(tlvs=tlvs[:1]), policy) == S.ESME_RMISSINGOPTPARAM


@BOTH
@pytest.mark.parametrize(("total", "seq"), [(0, 0), (0, 1), (2, 0), (2, 3), (1, 255)])
def test_sar_values_out_of_range(policy: ValidationPolicy, total: int, seq: int) -> None:
    pdu = submit(tlvs=sar(total=total, seq=seq))
    assert validate_submit(pdu, policy) == S.ESME_RINVOPTPARAMVAL


@BOTH
@pytest.mark.parametrize(("total", "seq"), [(1, 1), (2, 2), (255, 255)])
def test_sar_values_in_range(policy: ValidationPolicy, total: int, seq: int) -> None:
    assert validate_submit(submit(tlvs=sar(total=total, seq=seq)), policy) == S.ESME_ROK


@BOTH
def test_sar_tlv_with_a_wrong_length_does_not_crash(policy: ValidationPolicy) -> None:
    tlvs = (*sar()[:2], Tlv(TlvTag.SAR_SEGMENT_SEQNUM, b""))  # as_int() of b"" is 0
    assert validate_submit(submit(tlvs=tlvs), policy) == S.ESME_RINVOPTPARAMVAL


@BOTH
@pytest.mark.parametrize("short_message", [b"", b"\x05\x00\x03\x2a", b"\x07" + UDH8[1:] + b"x"])
def test_udh_must_fit_in_the_user_data(policy: ValidationPolicy, short_message: bytes) -> None:
    pdu = submit(esm_class=0x40, short_message=short_message)
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN


@BOTH
def test_udh_in_message_payload_must_fit_too(policy: ValidationPolicy) -> None:
    pdu = submit(esm_class=0x40, short_message=b"", tlvs=(Tlv(PAYLOAD, b"\x09\x00\x03"),))
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN
    pdu = submit(esm_class=0x40, short_message=b"", tlvs=(Tlv(PAYLOAD, UDH8 + b"x" * 500),))
    assert validate_submit(pdu, policy) == S.ESME_ROK


@BOTH
@pytest.mark.parametrize("dcs", sorted(UCS2_DCS))
def test_ucs2_with_odd_octet_count(policy: ValidationPolicy, dcs: int) -> None:
    everything = ValidationPolicy(strict=policy.strict, supported_data_codings=range(256))
    assert (
        validate_submit(submit(data_coding=dcs, short_message=b"\x00h\x00"), everything) == S.ESME_RINVMSGLEN
    )
    assert validate_submit(submit(data_coding=dcs, short_message=b"\x00h\x00i"), everything) == S.ESME_ROK


@BOTH
def test_ucs2_parity_counts_the_text_after_the_udh(policy: ValidationPolicy) -> None:
    assert validate_submit(submit(data_coding=8, esm_class=0x40, short_message=UDH8 + b"\x00h"), policy) == 0
    pdu = submit(data_coding=8, esm_class=0x40, short_message=UDH8 + b"\x00h\x00")
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN
    pdu = submit(data_coding=8, esm_class=0x40, short_message=UDH16 + b"\x00h")  # 7 + 2 octets
    assert validate_submit(pdu, policy) == S.ESME_ROK


@BOTH
def test_ucs2_odd_message_payload(policy: ValidationPolicy) -> None:
    pdu = submit(data_coding=8, short_message=b"", tlvs=(Tlv(PAYLOAD, b"\x00" * 301),))
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN


@BOTH
@pytest.mark.parametrize(
    ("dcs", "limit"),
    [(0x00, 160), (0x01, 160), (0x10, 160), (0xF0, 160), (0xF3, 160),
     (0x02, 140), (0x03, 140), (0x04, 140), (0x14, 140), (0xF4, 140), (0x08, 140), (0x18, 140)],
)  # fmt: skip
def test_single_sms_length_limit(policy: ValidationPolicy, dcs: int, limit: int) -> None:
    assert validate_submit(submit(data_coding=dcs, short_message=b"\x00" * limit), policy) == S.ESME_ROK
    too_long = limit + (2 if dcs in UCS2_DCS else 1)
    pdu = submit(data_coding=dcs, short_message=b"\x00" * too_long)
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN


@BOTH
@pytest.mark.parametrize(
    ("udh", "dcs", "text_limit"),
    [(UDH8, 0x00, 153), (UDH16, 0x00, 152), (UDH8, 0x04, 134), (UDH16, 0x04, 133), (UDH8, 0x08, 134)],
)
def test_length_limit_with_udh(policy: ValidationPolicy, udh: bytes, dcs: int, text_limit: int) -> None:
    fits = submit(esm_class=0x40, data_coding=dcs, short_message=udh + b"\x00" * text_limit)
    assert validate_submit(fits, policy) == S.ESME_ROK
    step = 2 if dcs in UCS2_DCS else 1
    over = submit(esm_class=0x40, data_coding=dcs, short_message=udh + b"\x00" * (text_limit + step))
    assert validate_submit(over, policy) == S.ESME_RINVMSGLEN


@BOTH
def test_gsm7_length_with_a_large_udh(policy: ValidationPolicy) -> None:
    # A 140-octet UDH uses all 1120 bits: only the UDH itself fits.
    udh = bytes([139]) + b"\x00" * 139
    assert validate_submit(submit(esm_class=0x40, short_message=udh), policy) == S.ESME_ROK
    assert validate_submit(submit(esm_class=0x40, short_message=udh + b"x"), policy) == S.ESME_RINVMSGLEN


@BOTH
@pytest.mark.parametrize(("dcs", "limit"), [(0x00, 153), (0x03, 134), (0x08, 134)])
def test_length_limit_with_sar(policy: ValidationPolicy, dcs: int, limit: int) -> None:
    assert validate_submit(submit(data_coding=dcs, short_message=b"\x00" * limit, tlvs=sar()), policy) == 0
    step = 2 if dcs in UCS2_DCS else 1
    pdu = submit(data_coding=dcs, short_message=b"\x00" * (limit + step), tlvs=sar())
    assert validate_submit(pdu, policy) == S.ESME_RINVMSGLEN


def test_dcs_groups_are_consistent() -> None:
    assert not GSM7_DCS & UCS2_DCS
    assert {0x00, 0x10, 0xF0, 0xF1, 0xF2, 0xF3} <= GSM7_DCS
    assert {0x08, 0x18, 0x1B, 0xE0, 0xEF} <= UCS2_DCS
    assert not {0x02, 0x04, 0x14, 0xF4, 0xF7} & (GSM7_DCS | UCS2_DCS)


# -- submit_multi ----------------------------------------------------------------------------


@BOTH
def test_submit_multi_distribution_list_not_allowed_by_default(policy: ValidationPolicy) -> None:
    pdu = multi(DestAddress(destination_addr="447700900001"), DistributionList(dl_name="staff"))
    assert validate_submit(pdu, policy) == S.ESME_RCNTSUBDL


def test_submit_multi_distribution_list_when_allowed() -> None:
    policy = ValidationPolicy(allow_distribution_lists=True)
    assert validate_submit(multi(DistributionList(dl_name="staff")), policy) == S.ESME_ROK
    assert validate_submit(multi(DistributionList(dl_name="")), policy) == S.ESME_RINVDLNAME


def _with_dest_count(count: int) -> SubmitMulti:
    """A submit_multi with ``count`` destinations (the decoder refuses 255 itself, with
    ESME_RINVNUMDESTS; the validator's own rule is defence in depth)."""
    dests = tuple(DestAddress(destination_addr="447700900001") for _ in range(count))
    pdu: SubmitMulti = _unvalidated(multi(), dest_addresses=dests)
    return pdu


@BOTH
def test_submit_multi_number_of_dests(policy: ValidationPolicy) -> None:
    assert validate_submit(_with_dest_count(254), policy) == S.ESME_ROK
    assert validate_submit(_with_dest_count(255), policy) == S.ESME_RINVNUMDESTS


@BOTH
def test_submit_multi_per_destination_failures(policy: ValidationPolicy) -> None:
    good = DestAddress(destination_addr="447700900001")
    bad_ton = DestAddress(dest_addr_ton=9, destination_addr="447700900002")
    bad_npi = DestAddress(dest_addr_npi=2, destination_addr="447700900003")
    bad_addr = DestAddress(destination_addr="4477OO")
    empty = DestAddress(destination_addr="")
    pdu = multi(bad_ton, good, bad_npi, bad_addr, empty)
    assert validate_submit(pdu, policy) == S.ESME_ROK
    assert submit_multi_failures(pdu, policy) == [
        (bad_ton, S.ESME_RINVDSTTON),
        (bad_npi, S.ESME_RINVDSTNPI),
        (bad_addr, S.ESME_RINVDSTADR),
        (empty, S.ESME_RINVDSTADR),
    ]
    assert submit_multi_failures(multi(good), policy) == []


def test_submit_multi_plus_prefix_fails_per_destination_only_when_strict() -> None:
    plus = DestAddress(destination_addr="+447700900001")
    pdu = multi(plus, DestAddress(destination_addr="447700900002"))
    assert submit_multi_failures(pdu, LENIENT) == []
    assert submit_multi_failures(pdu, STRICT) == [(plus, S.ESME_RINVDSTADR)]


@BOTH
def test_submit_multi_where_every_destination_fails(policy: ValidationPolicy) -> None:
    pdu = multi(DestAddress(destination_addr="x1"), DestAddress(dest_addr_ton=8, destination_addr="1"))
    assert validate_submit(pdu, policy) == S.ESME_RINVDSTADR


@BOTH
def test_submit_multi_message_rules_apply(policy: ValidationPolicy) -> None:
    assert validate_submit(multi(esm_class=0x04), policy) == S.ESME_RINVESMCLASS
    assert validate_submit(multi(source_addr_ton=7), policy) == S.ESME_RINVSRCTON
    assert validate_submit(multi(validity_period="000002123000100R"), policy) == S.ESME_RINVEXPIRY


# -- query_sm / cancel_sm / replace_sm -----------------------------------------------------------


@BOTH
def test_query(policy: ValidationPolicy) -> None:
    assert validate_query(QuerySm(message_id=""), policy) == S.ESME_RINVMSGID
    assert validate_query(QuerySm(message_id="", source_addr_ton=9), policy) == S.ESME_RINVMSGID
    assert validate_query(QuerySm(message_id="12", source_addr_ton=9), policy) == S.ESME_RINVSRCTON
    assert validate_query(QuerySm(message_id="12", source_addr_npi=2), policy) == S.ESME_RINVSRCNPI


@BOTH
def test_cancel_by_message_id(policy: ValidationPolicy) -> None:
    assert validate_cancel(CancelSm(message_id="12", source_addr="447700900000"), policy) == S.ESME_ROK
    assert validate_cancel(CancelSm(message_id="12", dest_addr_ton=8), policy) == S.ESME_RINVDSTTON
    assert validate_cancel(CancelSm(message_id="12", source_addr_npi=7), policy) == S.ESME_RINVSRCNPI
    pdu = CancelSm(message_id="12", dest_addr_ton=1, destination_addr="44x")
    assert validate_cancel(pdu, policy) == S.ESME_RINVDSTADR


@BOTH
def test_cancel_by_address_needs_both_addresses(policy: ValidationPolicy) -> None:
    both = CancelSm(source_addr="447700900000", destination_addr="447700900001")
    assert validate_cancel(both, policy) == S.ESME_ROK
    assert validate_cancel(CancelSm(source_addr="447700900000"), policy) == S.ESME_RINVMSGID
    assert validate_cancel(CancelSm(destination_addr="447700900001"), policy) == S.ESME_RINVMSGID
    assert validate_cancel(CancelSm(), policy) == S.ESME_RINVMSGID


@BOTH
def test_replace(policy: ValidationPolicy) -> None:
    assert validate_replace(ReplaceSm(message_id=""), policy) == S.ESME_RINVMSGID
    assert validate_replace(ReplaceSm(message_id="1", source_addr_ton=7), policy) == S.ESME_RINVSRCTON
    pdu = ReplaceSm(message_id="1", schedule_delivery_time="250314153000049+")
    assert validate_replace(pdu, policy) == S.ESME_RINVSCHED
    assert validate_replace(ReplaceSm(message_id="1", validity_period="0" * 16), policy) == S.ESME_RINVEXPIRY
    assert (
        validate_replace(ReplaceSm(message_id="1", registered_delivery=0x80), policy) == S.ESME_RINVREGDLVFLG
    )
    assert validate_replace(ReplaceSm(message_id="1", short_message=b"x" * 160), policy) == S.ESME_ROK
    assert validate_replace(ReplaceSm(message_id="1", short_message=b"x" * 161), policy) == S.ESME_RINVMSGLEN
    both = ReplaceSm(message_id="1", short_message=b"x", tlvs=(Tlv(PAYLOAD, b"y"),))
    assert validate_replace(both, policy) == S.ESME_RINVMSGLEN
    payload_only = ReplaceSm(message_id="1", tlvs=(Tlv(PAYLOAD, b"y" * 300),))
    assert validate_replace(payload_only, policy) == S.ESME_ROK


def test_replace_registered_delivery_three_is_strict_only() -> None:
    pdu = ReplaceSm(message_id="1", registered_delivery=0x03)
    assert validate_replace(pdu, STRICT) == S.ESME_RINVREGDLVFLG
    assert validate_replace(pdu, LENIENT) == S.ESME_ROK


# -- rule order: the first failing rule wins ---------------------------------------------------

# In the documented order. Breaking rules i..end together must give rule i's status.
ORDERED_BREAKAGES: list[tuple[dict[str, Any], int]] = [
    ({"source_addr_ton": 7}, S.ESME_RINVSRCTON),
    ({"source_addr_npi": 2}, S.ESME_RINVSRCNPI),
    ({"source_addr": "+44"}, S.ESME_RINVSRCADR),  # strict only
    ({"dest_addr_ton": 7}, S.ESME_RINVDSTTON),
    ({"dest_addr_npi": 2}, S.ESME_RINVDSTNPI),
    ({"destination_addr": ""}, S.ESME_RINVDSTADR),
    ({"esm_class": 0x04 | 0x40}, S.ESME_RINVESMCLASS),
    ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
    ({"schedule_delivery_time": "251314153000004+"}, S.ESME_RINVSCHED),
    ({"validity_period": "000002123000100R"}, S.ESME_RINVEXPIRY),
    ({"registered_delivery": 0x20}, S.ESME_RINVREGDLVFLG),
    ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
    ({"data_coding": 0x05}, S.ESME_RINVDCS),
    ({"tlvs": sar(total=2, seq=3)[1:]}, S.ESME_RMISSINGOPTPARAM),
    ({"tlvs": sar(total=2, seq=3)}, S.ESME_RINVOPTPARAMVAL),
    ({"esm_class": 0x40, "short_message": b"\x09\x00"}, S.ESME_RINVMSGLEN),
    ({"data_coding": 0x08, "short_message": b"\x00" * 141}, S.ESME_RINVMSGLEN),
    ({"short_message": b"\x00" * 161}, S.ESME_RINVMSGLEN),
]


@pytest.mark.parametrize("index", range(len(ORDERED_BREAKAGES)))
def test_first_failing_rule_wins(index: int) -> None:
    overrides: dict[str, Any] = {}
    for changes, _ in reversed(ORDERED_BREAKAGES[index:]):
        overrides |= changes  # earlier rules' values win where two rules touch one field
    assert validate_submit(submit(**overrides), STRICT) == ORDERED_BREAKAGES[index][1]


def test_message_payload_conflict_comes_before_other_content_rules() -> None:
    pdu = decoded(
        submit(data_coding=0x08, esm_class=0x40, short_message=b"\xff\x00\x00", tlvs=sar(seq=0)),
        Tlv(PAYLOAD, b"x"),
    )
    assert validate_submit(pdu, LENIENT) == S.ESME_RINVMSGLEN
    policy = ValidationPolicy(payload_with_short_message_status=S.ESME_RSUBMITFAIL)
    assert validate_submit(pdu, policy) == S.ESME_RSUBMITFAIL


def test_distribution_list_is_judged_at_the_destination_position() -> None:
    pdu = multi(DistributionList(dl_name="staff"), esm_class=0x04)
    assert validate_submit(pdu, LENIENT) == S.ESME_RCNTSUBDL
    assert (
        validate_submit(multi(DistributionList(dl_name="x"), source_addr_ton=7), LENIENT) == S.ESME_RINVSRCTON
    )


# -- properties --------------------------------------------------------------------------------

_STATUSES = frozenset(int(s) for s in CommandStatus)
_tlv = st.builds(
    Tlv,
    st.sampled_from(
        [PAYLOAD, TlvTag.SAR_MSG_REF_NUM, TlvTag.SAR_TOTAL_SEGMENTS, TlvTag.SAR_SEGMENT_SEQNUM, 0x1400]
    ),
    st.binary(max_size=4) | st.binary(max_size=300),
)
_times = (
    st.just("")
    | smpp_times()
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=16, max_size=16)
)
_octet = st.integers(0, 255)
_addr = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20) | st.text(
    "0123456789", max_size=20
)


def _mostly(*valid: int) -> st.SearchStrategy[int]:
    """Any octet, but 7 times in 8 a valid one, so that the later rules are reached too."""
    return st.integers(0, 7).flatmap(lambda i: _octet if i == 7 else st.sampled_from(valid))


# Every one-octet field; the valid values steer draws past the early rules.
_OCTET_FIELDS: dict[str, st.SearchStrategy[int]] = {
    "source_addr_ton": _mostly(0, 1, 5),
    "source_addr_npi": _mostly(0, 1),
    "dest_addr_ton": _mostly(0, 1, 3),
    "dest_addr_npi": _mostly(0, 1),
    "esm_class": _mostly(0x00, 0x03, 0x40, 0x43),
    "protocol_id": _octet,
    "priority_flag": _mostly(0, 3),
    "registered_delivery": _mostly(0, 1, 3, 0x11),
    "replace_if_present_flag": _mostly(0, 1),
    "data_coding": _mostly(0x00, 0x03, 0x04, 0x08, 0x18, 0xF0),
    "sm_default_msg_id": _octet,
}


@st.composite
def arbitrary_submits(draw: st.DrawFn) -> SubmitSm:
    """Any in-range submit_sm, its TLVs unchecked; both short_message and payload via the wire."""
    tlvs = tuple(draw(st.lists(_tlv, max_size=5)))
    short_message = draw(st.binary(max_size=254))
    fields = {name: draw(strategy) for name, strategy in _OCTET_FIELDS.items()}
    pdu = SubmitSm(
        source_addr=draw(_addr),
        destination_addr=draw(_addr),
        schedule_delivery_time=draw(_times),
        validity_period=draw(_times),
        short_message=b"" if any(t.tag == PAYLOAD for t in tlvs) else short_message,
        tlvs=tlvs,
        **fields,
    )
    if short_message and draw(st.booleans()):
        # Through the wire: the decoder refuses known TLVs of a wrong length, so drop those.
        wire_ok = tuple(t for t in tlvs if t.tag not in TLV_SPECS or _length_ok(t))
        sent = attrs.evolve(pdu, tlvs=(), short_message=short_message)
        return decoded(sent, *wire_ok, Tlv(PAYLOAD, draw(st.binary(max_size=50))))  # type: ignore[no-any-return]
    return pdu


def _length_ok(tlv: Tlv) -> bool:
    spec = TLV_SPECS[tlv.tag]
    return spec.min_len <= len(tlv.value) <= spec.max_len


@given(pdu=arbitrary_submits(), strict=st.booleans(), allow_dl=st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_validate_submit_never_raises(pdu: SubmitSm, strict: bool, allow_dl: bool) -> None:
    policy = ValidationPolicy(strict=strict, allow_distribution_lists=allow_dl)
    assert validate_submit(pdu, policy) in _STATUSES


@given(
    pdu=st.one_of(pdus_of(SubmitSm), pdus_of(DataSm), pdus_of(SubmitMulti)),
    strict=st.booleans(),
    allow_dl=st.booleans(),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_every_submit_type_never_raises(pdu: Any, strict: bool, allow_dl: bool) -> None:
    policy = ValidationPolicy(strict=strict, allow_distribution_lists=allow_dl)
    assert validate_submit(pdu, policy) in _STATUSES
    if isinstance(pdu, SubmitMulti):
        failures = submit_multi_failures(pdu, policy)
        assert all(status in _STATUSES and status != 0 for _, status in failures)
        assert all(dest in pdu.dest_addresses for dest, _ in failures)


@given(pdu=st.one_of(pdus_of(QuerySm), pdus_of(CancelSm), pdus_of(ReplaceSm)), strict=st.booleans())
def test_message_management_validation_never_raises(pdu: Any, strict: bool) -> None:
    policy = ValidationPolicy(strict=strict)
    if isinstance(pdu, QuerySm):
        status = validate_query(pdu, policy)
    elif isinstance(pdu, CancelSm):
        status = validate_cancel(pdu, policy)
    else:
        status = validate_replace(pdu, policy)
    assert status in _STATUSES


@given(
    text=st.text(max_size=600),
    encoding=st.sampled_from(["auto", Encoding.UCS2]),
    method=st.sampled_from([ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR, ConcatMethod.PAYLOAD]),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_every_part_our_gateway_sends_is_accepted(text: str, encoding: Any, method: ConcatMethod) -> None:
    for part in split_message(text, encoding=encoding, method=method, reference=42):
        pdu = submit(
            short_message=part.short_message,
            esm_class=part.esm_class,
            data_coding=part.data_coding,
            tlvs=part.tlvs,
        )
        assert validate_submit(pdu, STRICT) == S.ESME_ROK, part
