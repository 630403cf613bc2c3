"""Delivery receipts: Appendix B parsing, real-world quirks (SMPP-REFERENCE §6.3), building, ids."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import MessageState, TlvTag
from smppgw.core.receipt import (
    IdBase,
    Receipt,
    format_receipt,
    format_smpp_date,
    id_forms,
    id_keys,
    ids_match,
    is_receipt,
    normalize_message_id,
    parse_receipt,
    parse_receipt_text,
    quick_receipt,
    receipt_tlvs,
)
from smppgw.core.tlv import Tlv, decode_tlvs, encode_tlvs

MS = MessageState
INTERIM = {MS.SCHEDULED, MS.ENROUTE, MS.ACCEPTED}


def assert_fields(receipt: Receipt | None, **expected: Any) -> None:
    assert receipt is not None
    actual = {name: getattr(receipt, name) for name in expected}
    assert actual == expected


# -- Appendix B ----------------------------------------------------------------------------------


def test_appendix_b_canonical_example() -> None:
    text = (
        "id:0123456789 sub:001 dlvrd:001 submit date:0305231200 done date:0305231205 "
        "stat:DELIVRD err:000 Text:Hello world"
    )
    assert parse_receipt_text(text) == Receipt(
        message_id="0123456789",
        text_id="0123456789",
        state=MS.DELIVERED,
        stat="DELIVRD",
        submitted=1,
        delivered=1,
        submit_date="0305231200",
        done_date="0305231205",
        error="000",
        text="Hello world",
    )
    assert parse_receipt_text(text).is_final


# -- a corpus of odd real-world receipts (SMPP-REFERENCE §6.3) ------------------------------------

BASE = "sub:001 dlvrd:001 submit date:2305011200 done date:2305011201"

CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "upper-case keys",
        "ID:12345 SUB:001 DLVRD:001 SUBMIT DATE:2305011200 DONE DATE:2305011201 STAT:DELIVRD ERR:000 TEXT:Hi",
        {"text_id": "12345", "state": MS.DELIVERED, "submit_date": "2305011200", "text": "Hi"},
    ),
    (
        "mixed-case keys",
        "Id:9 Sub:1 Dlvrd:0 Submit Date:2305011200 Done Date:2305011201 Stat:Expired Err:000 Text:x",
        {"text_id": "9", "state": MS.EXPIRED, "stat": "Expired", "delivered": 0, "done_date": "2305011201"},
    ),
    (
        "no text field",
        f"id:77 {BASE} stat:DELIVRD err:000",
        {"text_id": "77", "error": "000", "text": None, "extra": ()},
    ),
    ("empty text", f"id:77 {BASE} stat:DELIVRD err:000 text:", {"text": "", "error": "000"}),
    (
        "12-digit dates",
        "id:1 sub:001 dlvrd:001 submit date:230501120005 done date:230501120159 stat:DELIVRD err:000 text:",
        {"submit_date": "230501120005", "done_date": "230501120159"},
    ),
    (
        "14-digit dates",
        "id:1 sub:001 dlvrd:001 submit date:20230501120005 done date:20230501120159 stat:UNDELIV err:001",
        {"submit_date": "20230501120005", "done_date": "20230501120159", "state": MS.UNDELIVERABLE},
    ),
    (
        "unpadded sub/dlvrd/err",
        "id:5 sub:1 dlvrd:1 submit date:2305011200 done date:2305011201 stat:DELIVRD err:0 text:ok",
        {"submitted": 1, "delivered": 1, "error": "0"},
    ),
    ("hex err", f"id:5 {BASE} stat:UNDELIV err:0x1F text:", {"error": "0x1F", "state": MS.UNDELIVERABLE}),
    ("alphanumeric err", f"id:5 {BASE} stat:REJECTD err:E42B", {"error": "E42B", "state": MS.REJECTED}),
    (
        "vendor extra fields",
        f"id:5 {BASE} stat:DELIVRD err:000 mccmnc:310260 Route:r-1 price:0.0045 text:Hello",
        {"extra": (("mccmnc", "310260"), ("Route", "r-1"), ("price", "0.0045")), "text": "Hello"},
    ),
    (
        "text with colons and spaces",
        f"id:5 {BASE} stat:DELIVRD err:000 text:Code: 1234 at 12:30 id:999 stat:x",
        {"text": "Code: 1234 at 12:30 id:999 stat:x", "text_id": "5", "stat": "DELIVRD", "extra": ()},
    ),
    ("stat lower-case", f"id:5 {BASE} stat:delivrd err:000", {"state": MS.DELIVERED, "stat": "delivrd"}),
    ("BUFFRED interim", f"id:5 {BASE} stat:BUFFRED err:000", {"state": MS.ENROUTE, "is_final": False}),
    ("ACKED interim", f"id:5 {BASE} stat:ACKED err:000", {"state": MS.ENROUTE, "is_final": False}),
    ("ENROUTE interim", f"id:5 {BASE} stat:ENROUTE err:000", {"state": MS.ENROUTE, "is_final": False}),
    ("ACCEPTD interim", f"id:5 {BASE} stat:ACCEPTD err:000", {"state": MS.ACCEPTED, "is_final": False}),
    (
        "FAILED is a final failure",
        f"id:5 {BASE} stat:FAILED err:069",
        {"state": MS.UNDELIVERABLE, "stat": "FAILED", "is_final": True},
    ),
    (
        "unknown stat word is UNKNOWN, raw kept",
        f"id:5 {BASE} stat:NOROUTE err:000",
        {"state": MS.UNKNOWN, "stat": "NOROUTE", "is_final": True},
    ),
    ("hex id", f"id:1A2B3C4D {BASE} stat:DELIVRD err:000", {"message_id": "1A2B3C4D"}),
    ("decimal id with leading zeros", f"id:0439041101 {BASE} stat:DELIVRD", {"text_id": "0439041101"}),
    (
        "uuid id",
        f"id:3f2504e0-4f89-11d3-9a0c-0305e82c3301 {BASE} stat:DELIVRD err:000",
        {"message_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
    ),
    (
        "dates with separators stay raw",
        "id:1 sub:1 dlvrd:1 submit date:2023-05-01 12:00:05 done date:2023-05-01 12:01:59 stat:DELIVRD",
        {"submit_date": "2023-05-01 12:00:05", "done_date": "2023-05-01 12:01:59", "extra": ()},
    ),
    (
        "underscored date labels",
        "id:1 sub:1 dlvrd:1 submit_date:2305011200 done_date:2305011201 stat:DELIVRD",
        {"submit_date": "2305011200", "done_date": "2305011201"},
    ),
    (
        "extra whitespace",
        "  id:42   sub:001  dlvrd:001\tsubmit date:2305011200  done date:2305011201 stat:DELIVRD  err:000 ",
        {"text_id": "42", "submitted": 1, "error": "000", "done_date": "2305011201"},
    ),
    (
        "vendor prefix and a repeated label",
        f"DLR: id:8 {BASE} stat:DELIVRD err:000 stat:UNDELIV",
        {"extra": (("DLR", ""), ("stat", "UNDELIV")), "state": MS.DELIVERED},
    ),
    ("non-numeric sub", "id:8 sub:abc dlvrd: stat:DELIVRD", {"submitted": None, "delivered": None}),
    (
        "only fields in a different order",
        "stat:EXPIRED err:000 id:xyz",
        {"text_id": "xyz", "state": MS.EXPIRED},
    ),
    (
        "tabs and newlines between fields",
        "id:7\tsub:001\r\ndlvrd:001\nsubmit\tdate:2305011200 done  date:2305011201\nstat:DELIVRD\ttext:a\tb",
        {
            "text_id": "7",
            "delivered": 1,
            "submit_date": "2305011200",
            "done_date": "2305011201",
            "text": "a\tb",
        },
    ),
    (
        "colons inside values are not labels",
        "id:a:b:c stat:DELIVRD url:http://x.example/y?q=1 err:1:2",
        {"text_id": "a:b:c", "extra": (("url", "http://x.example/y?q=1"),), "error": "1:2"},
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_real_world_corpus(text: str, expected: dict[str, Any]) -> None:
    assert_fields(parse_receipt_text(text), **expected)
    # The same text through the PDU path, as short_message.
    assert_fields(parse_receipt(short_message=text.encode("latin-1"), tlvs=(), esm_class=0x04), **expected)


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 15


# -- PDU path: TLVs, message_payload, what is not a receipt ----------------------------------------

TEXT = (
    b"id:0439041101 sub:001 dlvrd:001 submit date:2305011200 done date:2305011201 stat:DELIVRD err:000 text:"
)


def test_message_payload_instead_of_short_message() -> None:
    receipt = parse_receipt(short_message=b"", tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, TEXT),), esm_class=0x04)
    assert_fields(receipt, message_id="0439041101", state=MS.DELIVERED, text="")


def test_tlv_only_receipt() -> None:
    receipt = parse_receipt(
        short_message=b"",
        tlvs=receipt_tlvs(message_id="1A2B3C4D", state=MS.UNDELIVERABLE, network_error_code=b"\x03\x00\x22"),
        esm_class=0x04,
    )
    assert receipt == Receipt(
        message_id="1A2B3C4D",
        tlv_id="1A2B3C4D",
        state=MS.UNDELIVERABLE,
        network_error_code=b"\x03\x00\x22",
    )


def test_tlv_id_differs_from_text_id_tlv_wins_both_kept() -> None:
    tlvs = (Tlv.from_str(TlvTag.RECEIPTED_MESSAGE_ID, "1A2B3C4D"),)
    receipt = parse_receipt(short_message=TEXT, tlvs=tlvs, esm_class=0x04)
    assert_fields(receipt, message_id="1A2B3C4D", tlv_id="1A2B3C4D", text_id="0439041101")
    assert receipt is not None and ids_match(receipt.tlv_id or "", receipt.text_id or "")


def test_message_state_tlv_wins_over_stat() -> None:
    tlvs = (Tlv.from_int(TlvTag.MESSAGE_STATE, MS.ENROUTE),)
    receipt = parse_receipt(short_message=TEXT, tlvs=tlvs)
    assert_fields(receipt, state=MS.ENROUTE, stat="DELIVRD", is_final=False)


@pytest.mark.parametrize(("text", "state"), [(TEXT, MS.DELIVERED), (b"id:1", MS.UNKNOWN), (b"", MS.UNKNOWN)])
def test_unreadable_message_state_tlv(text: bytes, state: MessageState) -> None:
    tlvs = (Tlv(TlvTag.MESSAGE_STATE, b"\x63"), Tlv(TlvTag.RECEIPTED_MESSAGE_ID, b"1\x00"))
    assert_fields(parse_receipt(short_message=text, tlvs=tlvs), state=state)


def test_empty_receipted_message_id_falls_back_to_text() -> None:
    tlvs = (Tlv(TlvTag.RECEIPTED_MESSAGE_ID, b"\x00"),)
    assert_fields(parse_receipt(short_message=TEXT, tlvs=tlvs), message_id="0439041101", tlv_id=None)


def test_trailing_nul_and_latin1_text() -> None:
    receipt = parse_receipt(short_message=TEXT + "Grüße: ok".encode("latin-1") + b"\x00", tlvs=())
    assert_fields(receipt, text="Grüße: ok")


@pytest.mark.parametrize("short_message", [b"", b"hello there", b"\xff\xfe\x00garbage", b"a:b c:d"])
def test_not_a_receipt(short_message: bytes) -> None:
    assert parse_receipt(short_message=short_message, tlvs=()) is None


def test_mo_esm_class_is_not_read_as_a_receipt_unless_tlvs_say_so() -> None:
    assert parse_receipt(short_message=TEXT, tlvs=()) is not None
    assert parse_receipt(short_message=TEXT, tlvs=(), esm_class=0x00) is None
    tlvs = receipt_tlvs(message_id="7", state=MS.DELIVERED)
    assert_fields(parse_receipt(short_message=b"", tlvs=tlvs, esm_class=0x00), message_id="7")


@given(esm_class=st.integers(0, 0xFF))
def test_is_receipt(esm_class: int) -> None:
    assert is_receipt(esm_class) == ((esm_class >> 2) & 0x0F in (0x01, 0x08))


@pytest.mark.parametrize(("esm_class", "expected"), [(0x04, True), (0x20, True), (0x44, True), (0x00, False)])
def test_is_receipt_examples(esm_class: int, expected: bool) -> None:
    assert is_receipt(esm_class) is expected


# -- finality ------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(MessageState))
def test_interim_states_are_never_final(state: MessageState) -> None:
    assert Receipt(state=state).is_final is (state not in INTERIM)
    receipt = parse_receipt(short_message=b"", tlvs=receipt_tlvs(message_id="1", state=state))
    assert_fields(receipt, state=state, is_final=state not in INTERIM)


@pytest.mark.parametrize(
    "word", ["SCHEDUL", "ENROUTE", "enroute", "ACCEPTD", "BUFFRED", "BUFFERD", "BUFFERED", "ACKED"]
)
def test_interim_words_are_never_final(word: str) -> None:
    assert not parse_receipt_text(f"id:1 stat:{word}").is_final


def test_no_state_is_not_final() -> None:
    assert not parse_receipt_text("id:1 sub:001").is_final


# -- robustness ------------------------------------------------------------------------------------

LABELS = [
    "id:",
    "ID:",
    "sub:",
    "dlvrd:",
    "submit date:",
    "done date:",
    "stat:",
    "err:",
    "text:",
    "Text:",
    "x:",
]
fragments = st.lists(st.one_of(st.sampled_from(LABELS), st.text(max_size=12)), max_size=20).map(" ".join)


@given(text=st.one_of(st.text(), fragments))
def test_parse_receipt_text_never_raises(text: str) -> None:
    receipt = parse_receipt_text(text)
    assert isinstance(receipt, Receipt)
    assert receipt.message_id == receipt.text_id


@given(
    short_message=st.binary(max_size=300),
    tlvs=st.lists(
        st.builds(
            Tlv,
            st.sampled_from(
                [TlvTag.RECEIPTED_MESSAGE_ID, TlvTag.MESSAGE_STATE, TlvTag.MESSAGE_PAYLOAD, 0x1400]
            ),
            st.binary(max_size=8),
        ),
        max_size=4,
    ),
    esm_class=st.one_of(st.none(), st.integers(0, 0xFF)),
)
def test_parse_receipt_never_raises(short_message: bytes, tlvs: list[Tlv], esm_class: int | None) -> None:
    receipt = parse_receipt(short_message=short_message, tlvs=tlvs, esm_class=esm_class)
    assert receipt is None or receipt.message_id is not None or receipt.state is not None


@pytest.mark.parametrize("space", [chr(c) for c in range(0x110000) if chr(c).isspace()])
def test_any_whitespace_separates_fields(space: str) -> None:
    receipt = parse_receipt_text(f"id:1{space}submit{space}date:2305011200{space}stat:DELIVRD")
    assert_fields(receipt, text_id="1", submit_date="2305011200", state=MS.DELIVERED)


def test_huge_numbers_do_not_raise() -> None:
    receipt = parse_receipt_text(f"id:{'F' * 5000} sub:{'9' * 5000} dlvrd:{'9' * 20}")
    assert (receipt.submitted, receipt.delivered) == (None, None)
    assert normalize_message_id("F" * 5000) == "F" * 5000


# -- building and round trips ---------------------------------------------------------------------


def test_format_receipt_default_layout() -> None:
    text = format_receipt(
        message_id="0123456789",
        state=MS.DELIVERED,
        submit_date="0305231200",
        done_date="030523120559",
        text="Hello world, this is longer than twenty",
    )
    assert text == (
        "id:0123456789 sub:001 dlvrd:001 submit date:0305231200 done date:0305231205 "
        "stat:DELIVRD err:000 text:Hello world, this is"
    )


def test_format_receipt_upper_keys_and_counts() -> None:
    text = format_receipt(
        message_id="9",
        state=MS.EXPIRED,
        submit_date="20230501120005",
        done_date="230501120159",
        error="0x1F",
        date_digits=12,
        lowercase_keys=False,
    )
    assert text == (
        "ID:9 SUB:001 DLVRD:000 SUBMIT DATE:230501120005 DONE DATE:230501120159 STAT:EXPIRED ERR:0x1F TEXT:"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"submit_date": "2305011200", "date_digits": 12}, "too few digits"),
        ({"submit_date": "23050112"}, "10, 12 or 14 digits"),
        ({"submit_date": "23O5011200"}, "10, 12 or 14 digits"),
        ({"date_digits": 8}, "date_digits"),
        ({"submitted": -1}, "negative"),
    ],
)
def test_format_receipt_rejects(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "message_id": "1",
        "state": MS.DELIVERED,
        "submit_date": "2305011200",
        "done_date": "2305011200",
    }
    with pytest.raises(ValueError, match=match):
        format_receipt(**(args | kwargs))


def test_format_smpp_date() -> None:
    assert format_smpp_date(2023, 5, 1, 9, 7, 3) == "2305010907"
    assert format_smpp_date(2023, 5, 1, 9, 7, 3, digits=12) == "230501090703"
    assert format_smpp_date(2023, 5, 1, 9, 7, 3, digits=14) == "20230501090703"
    for bad in [(2023, 13, 1, 0, 0, 0, 10), (2023, 1, 1, 24, 0, 0, 10), (2023, 1, 1, 0, 0, 60, 10)]:
        with pytest.raises(ValueError, match="invalid"):
            format_smpp_date(*bad)
    with pytest.raises(ValueError, match="digits"):
        format_smpp_date(2023, 1, 1, 0, 0, 0, digits=11)


ids = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=64)
dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


def smpp_date(value: datetime, digits: int) -> str:
    return format_smpp_date(
        value.year, value.month, value.day, value.hour, value.minute, value.second, digits=digits
    )


@given(
    message_id=ids,
    state=st.sampled_from(MessageState),
    submit=dates,
    done=dates,
    digits=st.sampled_from([10, 12]),
    submitted=st.integers(0, 999),
    delivered=st.one_of(st.none(), st.integers(0, 999)),
    error=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6),
    text=st.text(max_size=30),
    lowercase_keys=st.booleans(),
)
def test_format_then_parse_round_trips(
    message_id: str,
    state: MessageState,
    submit: datetime,
    done: datetime,
    digits: int,
    submitted: int,
    delivered: int | None,
    error: str,
    text: str,
    lowercase_keys: bool,
) -> None:
    submit_date, done_date = smpp_date(submit, digits), smpp_date(done, digits)
    formatted = format_receipt(
        message_id=message_id,
        state=state,
        submit_date=submit_date,
        done_date=done_date,
        submitted=submitted,
        delivered=delivered,
        error=error,
        text=text,
        date_digits=digits,
        lowercase_keys=lowercase_keys,
    )
    expected_delivered = delivered if delivered is not None else int(state is MS.DELIVERED)
    assert parse_receipt_text(formatted) == Receipt(
        message_id=message_id,
        text_id=message_id,
        state=state,
        stat=state.stat,
        submitted=submitted,
        delivered=expected_delivered,
        submit_date=submit_date,
        done_date=done_date,
        error=error,
        text=text[:20],
    )


@given(
    message_id=ids,
    state=st.sampled_from(MessageState),
    nec=st.one_of(st.none(), st.binary(min_size=3, max_size=3)),
)
def test_pdu_round_trip_through_the_tlv_codec(
    message_id: str, state: MessageState, nec: bytes | None
) -> None:
    wire = encode_tlvs(receipt_tlvs(message_id=message_id, state=state, network_error_code=nec))
    tlvs = decode_tlvs(wire, 0, len(wire))  # also checks the TLV lengths against the spec
    short_message = format_receipt(
        message_id=message_id, state=state, submit_date="2305011200", done_date="2305011201", text="hi"
    ).encode("latin-1")
    receipt = parse_receipt(short_message=short_message, tlvs=tlvs, esm_class=0x04)
    assert_fields(
        receipt,
        message_id=message_id,
        tlv_id=message_id,
        text_id=message_id,
        state=state,
        network_error_code=nec,
    )


def test_receipt_tlvs_reject() -> None:
    with pytest.raises(ValueError, match="3 octets"):
        receipt_tlvs(message_id="1", state=MS.DELIVERED, network_error_code=b"\x01")
    with pytest.raises(ValueError, match="at most 64"):
        receipt_tlvs(message_id="1" * 65, state=MS.DELIVERED)


# -- message id normalisation (SMPP-REFERENCE §6.3 item 1) ----------------------------------------


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        (" 000abc ", IdBase.AS_IS, "ABC"),
        ("000", IdBase.AS_IS, "0"),
        ("", IdBase.AUTO, ""),
        ("1A2B3C4D", IdBase.HEX, "439041101"),
        ("1a2b3c4d", IdBase.AUTO, "439041101"),
        ("0439041101", IdBase.DEC, "439041101"),
        ("0439041101", IdBase.AUTO, "439041101"),
        ("12345678", IdBase.HEX, "305419896"),
        ("12345678", IdBase.AUTO, "12345678"),
        ("xyz-1", IdBase.HEX, "XYZ-1"),
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", IdBase.AUTO, "3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
    ],
)
def test_normalize_message_id(raw: str, base: IdBase, expected: str) -> None:
    assert normalize_message_id(raw, base=base) == expected


@pytest.mark.parametrize(
    ("raw", "base", "forms"),
    [
        ("12345", IdBase.AUTO, ("12345", None)),  # the usual decimal id, as it came
        ("012345", IdBase.AUTO, ("12345", None)),
        ("12345", IdBase.HEX, ("74565", None)),  # a hex id is read as hex even without A-F
        ("1a", IdBase.AUTO, ("1A", "26")),  # unmistakably hex: decimal value as the alias
        ("10", IdBase.AUTO, ("10", None)),  # numeric: never reinterpreted in AUTO
        ("1a", IdBase.DEC, ("1A", None)),
        ("1a", IdBase.AS_IS, ("1A", None)),
        (" 00xyz ", IdBase.AUTO, ("XYZ", None)),
        ("abz", IdBase.AUTO, ("ABZ", None)),  # letters beyond F: opaque
        ("", IdBase.AUTO, ("", None)),
        ("0", IdBase.AUTO, ("0", None)),
        ("F" * 129, IdBase.AUTO, ("F" * 129, None)),  # too long to convert (int/str limit)
    ],
)
def test_id_forms(raw: str, base: IdBase, forms: tuple[str, str | None]) -> None:
    assert id_forms(raw, base) == forms


@given(raw=st.text(max_size=40) | st.from_regex(r"\s*0*[0-9a-fA-F]{1,30}\s*", fullmatch=True))
def test_normalize_is_the_alias_or_the_canonical_form(raw: str) -> None:
    for base in IdBase:
        canonical, alias = id_forms(raw, base)
        assert normalize_message_id(raw, base=base) == (alias or canonical)
        assert alias is None or base is IdBase.AUTO
        assert canonical == canonical.strip().upper() or not canonical.isascii()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1A2B3C4D", "439041101"),
        ("1A2B3C4D", "0439041101"),
        ("000123", "123"),
        ("abc", "ABC"),
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
    ],
)
def test_id_keys_match(a: str, b: str) -> None:
    assert id_keys(a) & id_keys(b)
    assert ids_match(a, b) and ids_match(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3302"),
        ("123", "124"),
        ("x1", "1"),
    ],
)
def test_different_ids_do_not_match(a: str, b: str) -> None:
    assert not ids_match(a, b)


@given(n=st.integers(0, 2**128), zeros_hex=st.integers(0, 5), zeros_dec=st.integers(0, 5))
def test_hex_and_decimal_ids_match(n: int, zeros_hex: int, zeros_dec: int) -> None:
    hex_id, dec_id = format(n, "X"), str(n)
    assert ids_match(hex_id, dec_id)
    assert ids_match("0" * zeros_hex + hex_id.lower(), "0" * zeros_dec + dec_id)
    assert ids_match(f" {hex_id.lower()} ", dec_id)
    assert normalize_message_id("0" * zeros_hex + hex_id.lower(), base=IdBase.HEX) == dec_id
    assert normalize_message_id("0" * zeros_dec + dec_id, base=IdBase.DEC) == dec_id


@given(a=st.text(max_size=80), b=st.text(max_size=80))
def test_ids_match_is_reflexive_and_symmetric(a: str, b: str) -> None:
    assert ids_match(a, a)
    assert ids_match(a, b) == ids_match(b, a)
    for base in IdBase:
        normalize_message_id(a, base=base)


# -- quick_receipt: the TLV fast path agrees with the full parse --------------------------------


@given(
    state=st.sampled_from(list(MessageState)),
    message_id=st.text(alphabet="0123456789abcdefABCDEF-", min_size=1, max_size=40),
    error=st.sampled_from(["000", "001", "0x1F", "7"]),
    upper=st.booleans(),
)
def test_quick_receipt_agrees_with_parse_receipt(
    state: MessageState, message_id: str, error: str, upper: bool
) -> None:
    text = format_receipt(
        message_id=message_id, state=state, submit_date="2611270000", done_date="2611270001",
        error=error, text="hello", lowercase_keys=not upper,
    ).encode()  # fmt: skip
    tlvs = receipt_tlvs(message_id=message_id, state=state)
    quick = quick_receipt(short_message=text, tlvs=tlvs)
    full = parse_receipt(short_message=text, tlvs=tlvs, esm_class=0x04)
    assert quick is not None and full is not None
    assert (quick.message_id, quick.state, quick.is_final, quick.error) == (
        full.message_id,
        full.state,
        full.is_final,
        full.error,
    )


def test_quick_receipt_needs_both_tlvs() -> None:
    text = b"id:1 sub:001 dlvrd:001 submit date:2611270000 done date:2611270000 stat:DELIVRD err:000 text:"
    only_id = receipt_tlvs(message_id="1", state=MessageState.DELIVERED)[:1]
    assert quick_receipt(short_message=text, tlvs=only_id) is None
    assert quick_receipt(short_message=text, tlvs=()) is None
    bad_state = (*only_id, Tlv(TlvTag.MESSAGE_STATE, b"\x63"))
    assert quick_receipt(short_message=text, tlvs=bad_state) is None


def _reference_id_and_error(id_value: bytes, short_message: bytes) -> tuple[str, str | None]:
    """What quick_receipt read with ``find`` before it used ``partition``: the same answers."""
    nul = id_value.find(b"\x00")
    message_id = (id_value if nul < 0 else id_value[:nul]).decode("latin-1").strip()
    error = None
    at = short_message.find(b"err:")
    if at < 0:
        at = short_message.find(b"ERR:")
    if at >= 0:
        end = short_message.find(b" ", at + 4)
        error = (
            short_message[at + 4 : end if end >= 0 else len(short_message)].strip().decode("latin-1") or None
        )
    return message_id, error


@given(
    id_value=st.binary(min_size=1, max_size=65)
    | st.sampled_from([b"123\x00", b" 0a1B \x00junk", b"42", b"\t7\x00"]),
    short_message=st.binary(max_size=60)
    | st.lists(
        st.sampled_from([b"err:", b"ERR:", b"err:000", b" ", b"\t", b"x", b"stat:DELIVRD", b"\x00"])
    ).map(b"".join),
)
def test_quick_receipt_reads_the_id_and_err_as_find_did(id_value: bytes, short_message: bytes) -> None:
    tlvs = (Tlv(TlvTag.RECEIPTED_MESSAGE_ID, id_value), Tlv(TlvTag.MESSAGE_STATE, b"\x02"))
    quick = quick_receipt(short_message=short_message, tlvs=tlvs)
    message_id, error = _reference_id_and_error(id_value, short_message)
    if not message_id:
        assert quick is None
        return
    assert quick is not None
    assert (quick.message_id, quick.tlv_id, quick.error) == (message_id, message_id, error)
    assert quick.stat == "DELIVRD" and quick.text_id is None and quick.extra == ()
