"""GSM 03.38 / Latin-1 / UCS2 encoding, data_coding decoding, segment counting and splitting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.errors import TextEncodingError
from smppgw.core.text import (
    ConcatMethod,
    Encoding,
    Part,
    choose_encoding,
    count_segments,
    decode_text,
    encode_text,
    fits_gsm7,
    gsm7_decode,
    gsm7_encode,
    gsm7_length,
    gsm7_pack,
    gsm7_unpack,
    split_message,
)
from smppgw.core.tlv import Tlv

# The 23.038 basic table as printed in SMPP-REFERENCE §5.4, one row per high nibble.
# "\x1b" marks 0x1B (ESC), which is not a character.
BASIC_ROWS = [
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
]
BASIC = {char: row * 16 + col for row, chars in enumerate(BASIC_ROWS) for col, char in enumerate(chars)}
del BASIC["\x1b"]
EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
}
EXTENSION["€"] = 0x65

GSM_BASIC_CHARS = "".join(BASIC)
GSM_EXT_CHARS = "".join(EXTENSION)
NON_GSM_CHARS = "`ç“”\u2018\u2019\u2013—жщ中ÿ\x00\t"  # curly quotes, en/em dash
EMOJI = "😀👍🎉"

gsm_text = st.text(alphabet=st.sampled_from(GSM_BASIC_CHARS + GSM_EXT_CHARS), max_size=500)
mixed_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_BASIC_CHARS),
        st.sampled_from(GSM_EXT_CHARS),
        st.sampled_from(NON_GSM_CHARS),
        st.sampled_from(EMOJI),
    ),
    max_size=700,
)
encodings = st.sampled_from(["auto", Encoding.GSM7, Encoding.LATIN1, Encoding.UCS2])
methods = st.sampled_from(list(ConcatMethod))


# -- GSM 03.38 vectors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("char", "septets"),
    [
        ("@", "00"),
        ("$", "02"),
        ("_", "11"),
        ("!", "21"),
        ("|", "1b40"),
        ("€", "1b65"),
        ("^", "1b14"),
        ("{", "1b28"),
        ("}", "1b29"),
        ("[", "1b3c"),
        ("]", "1b3e"),
        ("~", "1b3d"),
        ("\\", "1b2f"),
        ("\f", "1b0a"),
        ("£", "01"),
        ("¥", "03"),
        ("è", "04"),
        ("é", "05"),
        ("Ç", "09"),
        ("\n", "0a"),
        ("\r", "0d"),
        ("Ä", "5b"),
        ("Ö", "5c"),
        ("Ñ", "5d"),
        ("Ü", "5e"),
        ("§", "5f"),
        ("¿", "60"),
        ("à", "7f"),
        ("Δ", "10"),
        ("Φ", "12"),
        ("Ω", "15"),
        ("Ξ", "1a"),
        ("ß", "1e"),
        ("¡", "40"),
        ("¤", "24"),
    ],
)
def test_gsm7_vectors(char: str, septets: str) -> None:
    assert gsm7_encode(char) == bytes.fromhex(septets)
    assert gsm7_decode(bytes.fromhex(septets)) == char
    assert gsm7_length(char) == len(septets) // 2
    assert choose_encoding(char) is Encoding.GSM7


def test_whole_basic_and_extension_tables() -> None:
    for char, septet in BASIC.items():
        assert gsm7_encode(char) == bytes([septet]), char
    for char, code in EXTENSION.items():
        assert gsm7_encode(char) == bytes([0x1B, code]), char
    text = GSM_BASIC_CHARS + GSM_EXT_CHARS
    assert gsm7_decode(gsm7_encode(text)) == text
    assert gsm7_length(text) == len(BASIC) + 2 * len(EXTENSION)


@pytest.mark.parametrize("char", ["`", "ç", "“", "\u2019", "—", "ж", "\x1b", "\t", "\x80", "😀"])
def test_non_gsm_characters_force_ucs2(char: str) -> None:
    text = "ok " + char + " tail"
    assert not fits_gsm7(text)
    assert choose_encoding(text) is Encoding.UCS2
    assert encode_text(text)[1] == 0x08
    with pytest.raises(TextEncodingError, match=r"at index 3 ") as info:
        gsm7_encode(text)
    assert repr(char) in str(info.value)
    assert info.value.command_status is CommandStatus.ESME_RINVDCS
    assert isinstance(info.value, ValueError)
    with pytest.raises(TextEncodingError):
        gsm7_length(text)


def test_error_names_first_bad_character_after_wide_gsm_chars() -> None:
    with pytest.raises(TextEncodingError, match=r"'ç' \(U\+00E7\) at index 2"):
        gsm7_encode("Δ€ç`")


def test_emoji_is_a_surrogate_pair_in_ucs2() -> None:
    assert encode_text("😀") == (bytes.fromhex("d83dde00"), 0x08)
    assert encode_text("a😀", Encoding.UCS2) == (bytes.fromhex("0061d83dde00"), 0x08)


def test_encode_text_data_codings() -> None:
    assert encode_text("hi €") == (bytes.fromhex("68692" + "01b65"), 0x00)
    assert encode_text("hi", "gsm7") == (b"hi", 0x00)
    assert encode_text("héllo", Encoding.LATIN1) == ("héllo".encode("latin-1"), 0x03)
    assert encode_text("hé", "latin1") == (b"h\xe9", 0x03)
    assert encode_text("hi", Encoding.UCS2) == (b"\x00h\x00i", 0x08)


def test_encode_text_rejects_what_the_encoding_cannot_carry() -> None:
    with pytest.raises(TextEncodingError, match=r"index 1 cannot be sent as Latin-1"):
        encode_text("aΔ", Encoding.LATIN1)
    with pytest.raises(TextEncodingError, match="UCS2"):
        encode_text("a\ud800", Encoding.UCS2)  # lone surrogate
    with pytest.raises(TextEncodingError):
        encode_text("ç", Encoding.GSM7)
    with pytest.raises(ValueError, match="not a valid Encoding"):
        encode_text("a", "utf8")


@given(gsm_text)
def test_gsm7_round_trip(text: str) -> None:
    encoded = gsm7_encode(text)
    assert encoded.isascii()
    assert len(encoded) == gsm7_length(text) == len(text) + sum(c in EXTENSION for c in text)
    assert gsm7_decode(encoded) == text
    assert fits_gsm7(text)


@given(mixed_text)
def test_fits_gsm7_agrees_with_gsm7_encode(text: str) -> None:
    try:
        gsm7_encode(text)
    except TextEncodingError:
        fits = False
    else:
        fits = True
    assert fits_gsm7(text) is fits
    assert choose_encoding(text) is (Encoding.GSM7 if fits else Encoding.UCS2)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("1b41", "A"),  # unknown extension code: the base-table character (23.038 fallback)
        ("1b0d", "\r"),
        ("1b1b41", " A"),  # ESC ESC: a space
        ("411b", "A"),  # trailing lone ESC: dropped
        ("1b", ""),
        ("c1", "A"),  # high bit masked
        ("9be5", "€"),  # ESC with the high bit set, then 0x65 with the high bit set
        ("1b1b1b28", " {"),
        ("1b281b", "{"),
    ],
)
def test_gsm7_decode_tolerates_odd_input(data: str, text: str) -> None:
    assert gsm7_decode(bytes.fromhex(data)) == text


@given(st.binary(max_size=400))
def test_gsm7_decode_never_raises(data: bytes) -> None:
    text = gsm7_decode(data)
    assert isinstance(text, str)
    assert gsm7_decode(bytes(b & 0x7F for b in data)) == text
    assert len(text) <= len(data)


# -- decode_text by data_coding ----------------------------------------------------------
@pytest.mark.parametrize("dcs", [0x00, 0x10, 0x11, 0x12, 0x13, 0xF0, 0xF1, 0xF2, 0xF3, 0xC0, 0xD0])
def test_decode_text_gsm7_codings(dcs: int) -> None:
    assert decode_text(gsm7_encode("@£ {€}"), dcs) == "@£ {€}"


@pytest.mark.parametrize("dcs", [0x08, 0x18, 0x19, 0xE0, 0xEF])
def test_decode_text_ucs2_codings(dcs: int) -> None:
    assert decode_text("ж😀".encode("utf-16-be"), dcs) == "ж😀"


@pytest.mark.parametrize("dcs", [0x02, 0x03, 0x04, 0x05, 0x14, 0xF4, 0xF5, 0xF6, 0x7F, 0xBF])
def test_decode_text_8bit_codings_are_lossless_latin1(dcs: int) -> None:
    data = bytes(range(256))
    assert decode_text(data, dcs).encode("latin-1") == data


def test_decode_text_ia5_and_default_alphabet_setting() -> None:
    assert decode_text(b"Hello @$", 0x01) == "Hello @$"
    assert decode_text(b"\x00\x02", 0x00) == "@$"
    assert decode_text(b"\x00\x02", 0x00, default_alphabet=Encoding.LATIN1) == "\x00\x02"
    assert decode_text(b"\x00h", 0x00, default_alphabet=Encoding.UCS2) == "h"


def test_decode_text_bad_ucs2_becomes_replacement_char() -> None:
    assert decode_text(b"\x00h\x00", 0x08) == "h\ufffd"
    assert decode_text(b"\xd8\x3d\x00h", 0x08) == "\ufffdh"  # lone high surrogate


@given(st.binary(max_size=300), st.integers(0, 255), st.sampled_from(list(Encoding)))
def test_decode_text_never_raises(data: bytes, dcs: int, default: Encoding) -> None:
    assert isinstance(decode_text(data, dcs, default_alphabet=default), str)


# -- packing -----------------------------------------------------------------------------
def test_gsm7_pack_known_vector() -> None:
    septets = gsm7_encode("hellohello")
    packed = gsm7_pack(septets)
    assert packed == bytes.fromhex("e8329bfd4697d9ec37")
    assert gsm7_unpack(packed, 10) == septets


@pytest.mark.parametrize(("count", "octets"), [(0, 0), (1, 1), (7, 7), (8, 7), (9, 8), (15, 14), (16, 14)])
def test_gsm7_pack_length_at_the_7_8_boundary(count: int, octets: int) -> None:
    septets = bytes(range(0x41, 0x41 + count))
    packed = gsm7_pack(septets)
    assert len(packed) == octets
    assert gsm7_unpack(packed, count) == septets


def test_gsm7_pack_eight_septets_fill_seven_octets() -> None:
    # 8 x 0x7F: every bit of the 7 octets is set.
    assert gsm7_pack(b"\x7f" * 8) == b"\xff" * 7
    assert gsm7_pack(b"\x7f" * 7) == b"\xff" * 6 + b"\x01"


def test_gsm7_pack_fill_bits() -> None:
    assert gsm7_pack(b"\x41", fill_bits=1) == b"\x82"
    assert gsm7_unpack(b"\x82", 1, fill_bits=1) == b"\x41"
    assert len(gsm7_pack(b"\x41" * 153, fill_bits=1)) == 134  # 6-octet UDH + 134 = 140


@given(st.binary(max_size=300).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_gsm7_pack_unpack_round_trip(septets: bytes, fill_bits: int) -> None:
    packed = gsm7_pack(septets, fill_bits)
    assert len(packed) == (7 * len(septets) + fill_bits + 7) // 8
    assert gsm7_unpack(packed, len(septets), fill_bits) == septets


def test_gsm7_pack_unpack_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="septets"):
        gsm7_pack(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7_pack(b"a", fill_bits=7)
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7_unpack(b"a", 1, fill_bits=-1)
    with pytest.raises(ValueError, match="cannot hold"):
        gsm7_unpack(b"\x00" * 7, 9)


# -- segment counts ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "encoding", "method", "segments", "units", "per_segment"),
    [
        ("", "auto", ConcatMethod.UDH8, 1, 0, 160),
        ("a" * 160, "auto", ConcatMethod.UDH8, 1, 160, 160),
        ("a" * 161, "auto", ConcatMethod.UDH8, 2, 161, 153),
        ("a" * 306, "auto", ConcatMethod.UDH8, 2, 306, 153),
        ("a" * 307, "auto", ConcatMethod.UDH8, 3, 307, 153),
        ("a" * 159 + "€", "auto", ConcatMethod.UDH8, 2, 161, 153),
        ("a" * 158 + "€", "auto", ConcatMethod.UDH8, 1, 160, 160),
        ("a" * 306, "auto", ConcatMethod.SAR, 2, 306, 153),
        ("a" * 307, "auto", ConcatMethod.SAR, 3, 307, 153),
        ("a" * 304, "auto", ConcatMethod.UDH16, 2, 304, 152),
        ("a" * 305, "auto", ConcatMethod.UDH16, 3, 305, 152),
        ("ж" * 70, "auto", ConcatMethod.UDH8, 1, 70, 70),
        ("ж" * 71, "auto", ConcatMethod.UDH8, 2, 71, 67),
        ("ж" * 134, "auto", ConcatMethod.UDH8, 2, 134, 67),
        ("ж" * 135, "auto", ConcatMethod.UDH8, 3, 135, 67),
        ("ж" * 132, "auto", ConcatMethod.UDH16, 2, 132, 66),
        ("ж" * 133, "auto", ConcatMethod.UDH16, 3, 133, 66),
        ("😀" * 35, "auto", ConcatMethod.UDH8, 1, 70, 70),
        ("a" * 140, Encoding.LATIN1, ConcatMethod.UDH8, 1, 140, 140),
        ("a" * 141, Encoding.LATIN1, ConcatMethod.UDH8, 2, 141, 134),
        ("a" * 268, Encoding.LATIN1, ConcatMethod.UDH8, 2, 268, 134),
        ("a" * 269, Encoding.LATIN1, ConcatMethod.UDH8, 3, 269, 134),
        ("a" * 266, Encoding.LATIN1, ConcatMethod.UDH16, 2, 266, 133),
        ("a" * 267, Encoding.LATIN1, ConcatMethod.UDH16, 3, 267, 133),
        ("a" * 1000, "auto", ConcatMethod.PAYLOAD, 1, 1000, 0xFFFF),
        ("ж" * 1000, "auto", ConcatMethod.PAYLOAD, 1, 1000, 0x7FFF),
        ("a" * 100, Encoding.UCS2, ConcatMethod.UDH8, 2, 100, 67),
    ],
)
def test_count_segments_at_the_boundaries(
    text: str, encoding: Encoding | str, method: ConcatMethod, segments: int, units: int, per_segment: int
) -> None:
    info = count_segments(text, encoding, method)
    assert (info.segments, info.units, info.units_per_segment) == (segments, units, per_segment)
    assert len(split_message(text, encoding=encoding, method=method)) == segments


def test_count_segments_reports_encoding_and_data_coding() -> None:
    gsm = count_segments("hello")
    assert (gsm.encoding, gsm.data_coding) == (Encoding.GSM7, 0x00)
    ucs2 = count_segments("hello ç")
    assert (ucs2.encoding, ucs2.data_coding) == (Encoding.UCS2, 0x08)
    latin1 = count_segments("hello ç", Encoding.LATIN1)
    assert (latin1.encoding, latin1.data_coding) == (Encoding.LATIN1, 0x03)
    with pytest.raises(TextEncodingError):
        count_segments("ç", Encoding.GSM7)


def test_escape_pair_at_a_boundary_costs_a_part() -> None:
    # Septet 153 would be the ESC of the euro sign: part 1 carries 152 septets instead.
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, naively 2 parts
    assert count_segments(text).segments == 3
    parts = split_message(text)
    assert [len(p.short_message) - 6 for p in parts] == [152, 153, 1]
    assert parts[1].short_message[6:8] == b"\x1b\x65"


def test_surrogate_pair_at_a_boundary_costs_a_part() -> None:
    text = "ж" * 66 + "😀" + "ж" * 66  # 134 UTF-16 units, naively 2 parts
    assert count_segments(text).segments == 3
    parts = split_message(text)
    assert [(len(p.short_message) - 6) // 2 for p in parts] == [66, 67, 1]
    assert parts[1].short_message[6:10] == "😀".encode("utf-16-be")


def _payload(part: Part) -> bytes:
    if part.esm_class & 0x40:
        return part.short_message[part.short_message[0] + 1 :]
    if part.short_message:
        return part.short_message
    return part.tlvs[0].value if part.tlvs else b""


@given(mixed_text, encodings, methods, st.integers(0, 255))
def test_count_segments_matches_split_message(
    text: str, encoding: Encoding | str, method: ConcatMethod, reference: int
) -> None:
    try:
        info = count_segments(text, encoding, method)
    except TextEncodingError:
        with pytest.raises(TextEncodingError):
            split_message(text, encoding=encoding, method=method, reference=reference)
        return
    parts = split_message(text, encoding=encoding, method=method, reference=reference)
    assert info.segments == len(parts)
    assert [(p.part_number, p.total) for p in parts] == [(i, len(parts)) for i in range(1, len(parts) + 1)]
    assert {p.data_coding for p in parts} == {info.data_coding}
    width = 2 if info.encoding is Encoding.UCS2 else 1
    payloads = [_payload(p) for p in parts]
    assert sum(len(p) for p in payloads) == info.units * width
    for payload in payloads:
        assert len(payload) <= info.units_per_segment * width
    # Each part decodes on its own (no ESC pair or surrogate pair is cut) ...
    if info.encoding is Encoding.GSM7:
        assert all(not p.endswith(b"\x1b") for p in payloads)
        decoded = [gsm7_decode(p) for p in payloads]
    elif info.encoding is Encoding.UCS2:
        decoded = [p.decode("utf-16-be", "strict") for p in payloads]
    else:
        decoded = [p.decode("latin-1") for p in payloads]
    # ... and the chunks add up to the original text.
    assert "".join(decoded) == text


# -- split_message wire format -----------------------------------------------------------
def test_split_udh8_bytes() -> None:
    parts = split_message("a" * 200, reference=0x42)
    assert [p.short_message[:6] for p in parts] == [
        bytes.fromhex("050003420201"),
        bytes.fromhex("050003420202"),
    ]
    assert [p.esm_class for p in parts] == [0x40, 0x40]
    assert [p.tlvs for p in parts] == [(), ()]
    assert len(parts[0].short_message) == 6 + 153 == 159
    assert parts[1].short_message[6:] == b"a" * 47


def test_split_udh16_bytes() -> None:
    parts = split_message("ж" * 100, method=ConcatMethod.UDH16, reference=0x1234)
    assert [p.short_message[:7] for p in parts] == [
        bytes.fromhex("06080412340201"),
        bytes.fromhex("06080412340202"),
    ]
    assert all(p.esm_class == 0x40 and p.data_coding == 0x08 for p in parts)
    assert len(parts[0].short_message) == 7 + 66 * 2


def test_split_sar_tlvs() -> None:
    parts = split_message("a" * 400, method=ConcatMethod.SAR, reference=0xBEEF)
    assert len(parts) == 3
    for seq, part in enumerate(parts, start=1):
        assert part.esm_class == 0
        assert part.tlvs == (
            Tlv(TlvTag.SAR_MSG_REF_NUM, b"\xbe\xef"),
            Tlv(TlvTag.SAR_TOTAL_SEGMENTS, b"\x03"),
            Tlv(TlvTag.SAR_SEGMENT_SEQNUM, bytes([seq])),
        )
    assert [p.short_message for p in parts] == [b"a" * 153, b"a" * 153, b"a" * 94]


def test_split_payload_is_one_pdu() -> None:
    text = "long " * 100 + "€"
    [part] = split_message(text, method=ConcatMethod.PAYLOAD)
    assert part == Part(
        short_message=b"",
        esm_class=0,
        data_coding=0x00,
        tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, gsm7_encode(text)),),
        part_number=1,
        total=1,
    )


@pytest.mark.parametrize("method", list(ConcatMethod))
def test_short_text_is_one_plain_part_for_every_method(method: ConcatMethod) -> None:
    assert split_message("Hello {world}", method=method, reference=7) == [
        Part(
            short_message=gsm7_encode("Hello {world}"),
            esm_class=0,
            data_coding=0x00,
            tlvs=(),
            part_number=1,
            total=1,
        )
    ]
    assert split_message("", method=method)[0].short_message == b""


def test_split_part_limit() -> None:
    assert len(split_message("a" * 153 * 255)) == 255
    with pytest.raises(ValueError, match="256 parts"):
        split_message("a" * (153 * 255 + 1))
    with pytest.raises(ValueError, match="parts"):
        split_message("ж" * (66 * 255 + 1), method=ConcatMethod.UDH16)
    assert count_segments("a" * (153 * 255 + 1)).segments == 256  # counting never refuses


def test_split_payload_limit() -> None:
    assert len(split_message("a" * 0xFFFF, method=ConcatMethod.PAYLOAD)[0].tlvs[0].value) == 0xFFFF
    with pytest.raises(ValueError, match="message_payload"):
        split_message("a" * 0x10000, method=ConcatMethod.PAYLOAD)


@pytest.mark.parametrize(
    ("method", "good", "bad"),
    [
        (ConcatMethod.UDH8, 255, 256),
        (ConcatMethod.UDH16, 65535, 65536),
        (ConcatMethod.SAR, 65535, 65536),
    ],
)
def test_split_reference_range(method: ConcatMethod, good: int, bad: int) -> None:
    assert len(split_message("a" * 200, method=method, reference=good)) == 2
    for reference in (bad, -1):
        with pytest.raises(ValueError, match="reference"):
            split_message("a" * 200, method=method, reference=reference)
        with pytest.raises(ValueError, match="reference"):
            split_message("short", method=method, reference=reference)  # checked even for one part


def test_split_rejects_text_the_encoding_cannot_carry() -> None:
    with pytest.raises(TextEncodingError):
        split_message("ç" * 200, encoding=Encoding.GSM7)
    with pytest.raises(TextEncodingError):
        split_message("€", encoding=Encoding.LATIN1)


def test_split_accepts_method_and_encoding_values_as_strings() -> None:
    parts = split_message("a" * 200, encoding="gsm7", method=ConcatMethod("udh16"), reference=1)
    assert parts[0].short_message[:3] == b"\x06\x08\x04"


@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=400),  # the one-pass path
        st.text(max_size=200),
    )
)
def test_auto_is_choose_encoding_then_that_encoding(text: str) -> None:
    """split_message's one-pass "auto" for ASCII text agrees with choose_encoding followed
    by the chosen encoding, control characters (which GSM 03.38 lacks) included."""
    try:
        expected = split_message(text, encoding=choose_encoding(text))
    except ValueError:  # too many parts either way
        with pytest.raises(ValueError):
            split_message(text, encoding="auto")
        return
    assert split_message(text, encoding="auto") == expected
    assert count_segments(text, "auto") == count_segments(text, choose_encoding(text))
