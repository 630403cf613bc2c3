"""Alphabets for short messages: GSM 03.38, Latin-1 and UCS-2, by ``Encoding`` and by data_coding.

The GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table are precomputed
as octet tables at import time, so encoding a GSM text is ``str.encode("latin-1")`` plus
``bytes.translate`` (and one ``bytes.replace`` per extension character present), about
0.5 µs for 160 ASCII characters. GSM7 travels *unpacked* (one septet per octet,
SMPP-REFERENCE §5.4); ``gsm7_pack``/``gsm7_unpack`` exist for carriers that want packed
septets.

This is the character half of the text API; counting and splitting into parts live in
``smppgw.core.text``, which re-exports every public name here (import from there).
"""

from __future__ import annotations

import codecs
import enum
import re
from collections.abc import Callable
from typing import Final

from smppgw.core.constants import DataCoding
from smppgw.core.errors import TextEncodingError

__all__ = [
    "Encoding",
    "choose_encoding",
    "decode_text",
    "encode_text",
    "fits_gsm7",
    "gsm7_decode",
    "gsm7_encode",
    "gsm7_length",
    "gsm7_pack",
    "gsm7_unpack",
]


class Encoding(enum.Enum):
    """Alphabet a text is sent in. Functions taking ``Encoding | str`` also accept "auto"."""

    # Members are singletons: identity hashing is exact and cheaper than Enum's
    # name hash (dict keys on the per-message path: split_message).
    __hash__ = object.__hash__

    GSM7 = "gsm7"
    LATIN1 = "latin1"
    UCS2 = "ucs2"


# -- GSM 03.38 tables (3GPP TS 23.038 §6.2.1, SMPP-REFERENCE §5.4) -------------------------
_ESC: Final = 0x1B
# Index == septet. Index 0x1B is the escape to the extension table, not a character: it
# is skipped when building the encoder and handled separately by the decoder.
_GSM_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final[dict[int, str]] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
_EXT_CODE: Final = {char: code for code, char in _GSM_EXTENSION.items()}
_GSM_CHARS: Final = frozenset(_GSM_BASIC.replace("\x1b", "") + "".join(_EXT_CODE))
# GSM characters above U+00FF (Greek capitals, euro sign). Encoding swaps them for C1
# controls, which are never GSM, so that every GSM text goes through an octet table.
_WIDE_SUBST: Final = {
    char: chr(0x80 + i) for i, char in enumerate(sorted(c for c in _GSM_CHARS if c > "\xff"))
}
_C1_RE: Final = re.compile(f"[\x80-{chr(0x7F + len(_WIDE_SUBST))}]")
_BAD: Final = 0xFF  # octet-table marker: "not a GSM character"


def _octet_table(substitutes: dict[str, str]) -> bytes:
    """bytes.translate table: octet -> septet, ESC placeholder 0x80|code, or _BAD."""
    table = bytearray([_BAD] * 256)
    for char in _GSM_CHARS:
        octet = ord(substitutes.get(char, char))
        if octet <= 0xFF:
            code = _EXT_CODE.get(char)
            table[octet] = _GSM_BASIC.index(char) if code is None else 0x80 | code
    return bytes(table)


_LATIN1_ENCODE: Final = _octet_table({})
_WIDE_ENCODE: Final = _octet_table(_WIDE_SUBST)
_ESCAPES: Final = tuple((bytes([0x80 | code]), bytes([_ESC, code])) for code in _GSM_EXTENSION)
# Octet -> char for charmap_decode; octets >= 0x80 decode as if masked to 7 bits.
_DECODE: Final = "".join(_GSM_BASIC[octet & 0x7F] for octet in range(256))
_MASK7: Final = bytes(octet & 0x7F for octet in range(256))
# (ESC + base-table char, extension char): applied with str.replace after charmap_decode.
_EXT_PAIRS: Final = tuple(("\x1b" + _GSM_BASIC[code], char) for code, char in _GSM_EXTENSION.items())
_ESCAPE_RE: Final = re.compile(rb"\x1b([\x00-\x7f]?)")
_EXT_DECODE: Final[dict[bytes, str]] = {
    **{bytes([code]): char for code, char in _GSM_EXTENSION.items()},
    b"": "",  # a trailing lone ESC is dropped
    b"\x1b": " ",  # 23.038: ESC ESC (escape to a further extension table) shows as a space
}


def _not_gsm(text: str) -> TextEncodingError:
    index, char = next((i, c) for i, c in enumerate(text) if c not in _GSM_CHARS)
    return TextEncodingError(
        f"character {char!r} (U+{ord(char):04X}) at index {index} is not in the GSM 03.38 alphabet"
    )


def _encode_wide(text: str) -> bytes:
    """Octet-table encoding of text that is not Latin-1 (or raise)."""
    if _C1_RE.search(text) is None:
        swapped = text
        for char, c1 in _WIDE_SUBST.items():
            if char in swapped:
                swapped = swapped.replace(char, c1)
        try:
            return swapped.encode("latin-1").translate(_WIDE_ENCODE)
        except UnicodeEncodeError:
            pass
    raise _not_gsm(text)


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM 03.38 septets, one per octet; extension chars become ESC + code.

    Raises:
        TextEncodingError: a character is in neither table (names it and its index).
    """
    try:
        out = text.encode("latin-1").translate(_LATIN1_ENCODE)
    except UnicodeEncodeError:  # Greek capitals, euro sign, or not GSM at all
        out = _encode_wide(text)
    if out.isascii():
        return out
    if _BAD in out:
        raise _not_gsm(text)
    for placeholder, pair in _ESCAPES:
        out = out.replace(placeholder, pair)
    return out


def gsm7_decode(data: bytes) -> str:
    """Unpacked septets to text. Never raises.

    Octets >= 0x80 are masked to 7 bits. An unknown code after ESC decodes as the
    base-table character (23.038 §6.2.1.1 fallback), ESC ESC as a space, and a trailing
    lone ESC is dropped.
    """
    text: str = codecs.charmap_decode(data, "strict", _DECODE)[0]
    if "\x1b" not in text:
        return text
    if "\x1b\x1b" not in text:  # pairs cannot overlap, so plain replaces are exact
        for pair, char in _EXT_PAIRS:
            text = text.replace(pair, char)
        return text.replace("\x1b", "")  # unknown code: keep the base char; lone ESC: drop
    if not data.isascii():
        data = data.translate(_MASK7)
    # Rare: ESC ESC. Walk the escapes left to right so each ESC pairs with the next septet.
    pieces = _ESCAPE_RE.split(data)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(codecs.charmap_decode(piece, "strict", _DECODE)[0])
        else:
            ext = _EXT_DECODE.get(piece)
            out.append(ext if ext is not None else _GSM_BASIC[piece[0]])
    return "".join(out)


def gsm7_pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets 8-in-7 (23.038 §6.1.2.1), after ``fill_bits`` zero bits (0..6).

    ``fill_bits`` is the padding that puts the first septet on a septet boundary after a
    UDH in the packed user data (23.040 §9.2.3.24).

    Raises:
        ValueError: an octet above 0x7F, or ``fill_bits`` outside 0..6.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    if not septets.isascii():
        raise ValueError("septets must be 0x00..0x7F")
    acc = 0
    for i, septet in enumerate(septets):
        acc |= septet << (7 * i)
    nbits = 7 * len(septets) + fill_bits
    return (acc << fill_bits).to_bytes((nbits + 7) // 8, "little")


def gsm7_unpack(data: bytes, septet_count: int, fill_bits: int = 0) -> bytes:
    """Inverse of ``gsm7_pack``: the first ``septet_count`` septets after ``fill_bits`` bits.

    Raises:
        ValueError: ``data`` is too short for ``septet_count`` septets, or bad ``fill_bits``.
    """
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    if septet_count < 0 or 7 * septet_count + fill_bits > 8 * len(data):
        raise ValueError(f"{len(data)} octets cannot hold {septet_count} septets after {fill_bits} fill bits")
    acc = int.from_bytes(data, "little") >> fill_bits
    return bytes((acc >> (7 * i)) & 0x7F for i in range(septet_count))


def fits_gsm7(text: str) -> bool:
    """True if every character is in the GSM 03.38 basic or extension table."""
    if text.isascii():  # O(1) for str
        return _BAD not in text.encode("ascii").translate(_LATIN1_ENCODE)
    return _GSM_CHARS.issuperset(text)


def gsm7_length(text: str) -> int:
    """Septets needed for ``text``; extension characters count 2.

    Raises:
        TextEncodingError: ``text`` does not fit GSM 03.38.
    """
    return len(gsm7_encode(text))


def choose_encoding(text: str) -> Encoding:
    """GSM7 if every character fits the basic + extension tables, else UCS2 (§5.4)."""
    return Encoding.GSM7 if fits_gsm7(text) else Encoding.UCS2


def _resolve(text: str, encoding: Encoding | str) -> Encoding:
    if encoding == "auto":
        return choose_encoding(text)
    return Encoding(encoding)  # accepts the members and their values ("gsm7", ...)


def _encode_as(text: str, encoding: Encoding) -> bytes:
    if encoding is Encoding.GSM7:
        return gsm7_encode(text)
    codec, name = ("latin-1", "Latin-1") if encoding is Encoding.LATIN1 else ("utf-16-be", "UCS2")
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        raise TextEncodingError(
            f"character {char!r} (U+{ord(char):04X}) at index {exc.start} cannot be sent as {name}"
        ) from None


# The data_coding each Encoding is sent with (``text`` reads it per message, too).
_DATA_CODING: Final[dict[Encoding, int]] = {
    Encoding.GSM7: int(DataCoding.SMSC_DEFAULT),
    Encoding.LATIN1: int(DataCoding.LATIN_1),
    Encoding.UCS2: int(DataCoding.UCS2),
}


def encode_text(text: str, encoding: Encoding | str = "auto") -> tuple[bytes, int]:
    """Encode ``text``; return ``(octets, data_coding)``: GSM7 0x00, LATIN1 0x03, UCS2 0x08.

    UCS2 is UTF-16BE, so characters outside the BMP become surrogate pairs.

    Raises:
        TextEncodingError: ``text`` cannot be carried by the (chosen) encoding.
        ValueError: ``encoding`` is not "auto" or an ``Encoding``.
    """
    enc = _resolve(text, encoding)
    return _encode_as(text, enc), _DATA_CODING[enc]


# -- decoding by data_coding (SMPP-REFERENCE §5.3, 23.038 §4 DCS groups) -------------------
def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


def _ucs2(data: bytes) -> str:
    return data.decode("utf-16-be", "replace")


def _decoder_for(dcs: int) -> Callable[[bytes], str]:
    # 0x01 IA5: ASCII is a subset of Latin-1, so stray high octets survive instead of
    # becoming U+FFFD. Binary and unknown codings decode as Latin-1 (lossless).
    if dcs == DataCoding.UCS2:
        return _ucs2
    if 0x10 <= dcs <= 0x1F:  # general data coding, uncompressed: bits 3-2 pick the alphabet
        return {0: gsm7_decode, 2: _ucs2}.get((dcs >> 2) & 0x03, _latin1)
    if 0xC0 <= dcs <= 0xDF:  # message waiting, discard / store: default alphabet
        return gsm7_decode
    if 0xE0 <= dcs <= 0xEF:  # message waiting, store, UCS2
        return _ucs2
    if dcs >= 0xF0:  # message class group: bit 2 clear = GSM7, set = 8-bit
        return _latin1 if dcs & 0x04 else gsm7_decode
    return _latin1


_DECODERS: Final = tuple(_decoder_for(dcs) for dcs in range(256))
_DEFAULT_DECODERS: Final[dict[Encoding, Callable[[bytes], str]]] = {
    Encoding.GSM7: gsm7_decode,
    Encoding.LATIN1: _latin1,
    Encoding.UCS2: _ucs2,
}


def decode_text(data: bytes, data_coding: int, *, default_alphabet: Encoding = Encoding.GSM7) -> str:
    """Decode a short_message / message_payload. Never raises.

    ``default_alphabet`` is what the carrier means by data_coding 0 (SMPP-REFERENCE §9).
    Undecodable UCS2 becomes U+FFFD; binary and unknown codings decode as Latin-1.
    """
    if data_coding == 0:
        return _DEFAULT_DECODERS[default_alphabet](data)
    if 0 < data_coding < 256:
        return _DECODERS[data_coding](data)
    return _latin1(data)
