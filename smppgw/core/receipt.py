"""Delivery receipts: parse and correlate (SMPP 3.4 Appendix B; SMPP-REFERENCE §5.9, §6).

Theory of operation
-------------------
A receipt is a deliver_sm (or data_sm) whose esm_class message type is 0x04, or 0x20 for an
intermediate notification. Its facts come from two places. The TLVs receipted_message_id,
message_state and network_error_code are structured, so they win whenever they are present.
The Appendix B text in short_message (or in message_payload) is "vendor specific" and parsed
tolerantly, because carriers vary it in every way they can (SMPP-REFERENCE §6.3):

* Labels are found by key, not by position, and keys may be in any case. The value of a
  label runs until the next label, as cloudhopper does. A label is ``word:`` at the start of
  the text or after whitespace, so ``submit date:13-05-05 08:26`` stays one value: ``08:``
  begins with a digit and is not a label.
* ``text:`` runs to the end of the string. It may hold spaces and colons, and it may be
  empty or missing.
* Labels we do not know are vendor fields and are kept in ``Receipt.extra``. A repeat of a
  known label goes there too, and the first occurrence wins.
* Nothing raises. Bad numbers become None; an unknown ``stat:`` word becomes UNKNOWN (a
  final failure) with the raw word kept.

Message ids are compared through ``id_keys``. The same id may arrive as hex in the
submit_sm_resp and as decimal in the receipt, with leading zeros and in another case
(§6.3 item 1), so each raw id maps to every canonical form it could stand for.

Building receipts (the SMSC side: ``format_receipt``, ``format_smpp_date``,
``receipt_tlvs``) lives in ``smppgw.core.receipt_format``; those names are re-exported
here, so this module stays the one import for receipts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final

import attrs

from smppgw.core._construct import build
from smppgw.core.constants import EsmClass, MessageState, TlvTag
from smppgw.core.receipt_format import format_receipt, format_smpp_date, receipt_tlvs
from smppgw.core.tlv import Tlv

__all__ = [
    "INTERIM_STATES",
    "IdBase",
    "Receipt",
    "format_receipt",
    "format_smpp_date",
    "id_forms",
    "id_keys",
    "ids_match",
    "is_receipt",
    "normalize_message_id",
    "parse_receipt",
    "quick_receipt",
    "parse_receipt_text",
    "receipt_tlvs",
]

# Interim by policy: ACCEPTD is final in the spec, but many carriers send it for "accepted
# by the network" before the real outcome (SMPP-REFERENCE §5.9, §6.3 item 4).
#: States a later receipt may still change (``Receipt.is_final`` is False for these).
INTERIM_STATES: Final = frozenset({MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.ACCEPTED})


@attrs.frozen(kw_only=True, slots=False)  # dict-based: quick_receipt builds one per message
class Receipt:
    """What one delivery receipt says. Raw text values are kept as received, for diagnosis."""

    message_id: str | None = None  # tlv_id if present, else text_id
    text_id: str | None = None  # `id:` from the text
    tlv_id: str | None = None  # receipted_message_id TLV
    state: MessageState | None = None  # message_state TLV if valid, else from `stat:`
    stat: str | None = None  # `stat:` word, original case
    submitted: int | None = None  # `sub:`; None when missing or not numeric
    delivered: int | None = None  # `dlvrd:`
    submit_date: str | None = None  # raw: usually 10, 12 or 14 digits, MC local time
    done_date: str | None = None
    error: str | None = None  # `err:` raw; may be hex or alphanumeric
    network_error_code: bytes | None = None  # raw TLV value (3 octets per the spec)
    text: str | None = None  # everything after `text:`; None when there is no such label
    extra: tuple[tuple[str, str], ...] = ()  # unrecognised (key, value) fields, in order

    @property
    def is_final(self) -> bool:
        """True when no later receipt should change the outcome. No state at all is not final."""
        state = self.state
        return state is not None and state not in INTERIM_STATES


# -- parsing ----------------------------------------------------------------------------------

# Label finding runs on a copy of the text with every whitespace character made a space
# (same length, so positions carry over); `str.isprintable` is False for any other whitespace.
_WHITESPACE: Final = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch != " ")
_TO_SPACE: Final = str.maketrans(_WHITESPACE, " " * len(_WHITESPACE))
_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Lower-cased label -> field. Dates also come as "submit_date" or "submitdate".
_KNOWN: Final[dict[str, str]] = {key: key for key in ("id", "sub", "dlvrd", "stat", "err", "text")} | {
    f"{word}{sep}date": f"{word}_date" for word in ("submit", "done") for sep in (" ", "_", "")
}
_STATES: Final[dict[int, MessageState]] = {int(state): state for state in MessageState}
_STATES_BY_STAT: Final[dict[str, MessageState]] = {state.stat: state for state in MessageState}
# Plain ints: these are compared once per TLV / per PDU on the hot path.
_TAG_ID: Final = int(TlvTag.RECEIPTED_MESSAGE_ID)
_TAG_STATE: Final = int(TlvTag.MESSAGE_STATE)
_TAG_NEC: Final = int(TlvTag.NETWORK_ERROR_CODE)
_TAG_PAYLOAD: Final = int(TlvTag.MESSAGE_PAYLOAD)
_TYPE_MASK: Final = int(EsmClass.TYPE_MASK)
_RECEIPT_TYPES: Final = (int(EsmClass.SMSC_DELIVERY_RECEIPT), int(EsmClass.INTERMEDIATE_NOTIFICATION))
_MAX_COUNT_DIGITS: Final = 9


def _scan(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split receipt text into known fields (by canonical name) and vendor extras.

    Hot path: one ``find`` and one ``rfind`` per colon, no regex.
    """
    probe = text if text.isprintable() else text.translate(_TO_SPACE)
    find, rfind = probe.find, probe.rfind
    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    canon: str | None = None
    raw_key = ""
    value_start = -1
    pos = find(":")
    while pos >= 0:
        start = rfind(" ", 0, pos) + 1
        key = text[start:pos]
        # A label starts the text or follows whitespace and begins with a letter, so the
        # "08:" of "done date:2305011200 08:26" and the "b:" of "a:b:c" are not labels.
        if key and key[0] in _LETTERS and ":" not in key:
            lower = key.lower()
            if lower == "date" and start > 1:  # "submit date", "done  date"
                word_end = len(probe[:start].rstrip(" "))
                word_start = rfind(" ", 0, word_end) + 1
                word = probe[word_start:word_end].lower()
                if word in ("submit", "done"):
                    start, key, lower = word_start, text[word_start:pos], word + " date"
            if value_start >= 0:
                value = text[value_start:start].strip()
                if canon is None or canon in fields:  # vendor field, or a repeat: first wins
                    extra.append((raw_key, value))
                else:
                    fields[canon] = value
            raw_key = key
            canon = _KNOWN.get(lower)
            value_start = pos + 1
            if canon == "text":
                # §6.3 item 5: the text is everything after the label, colons and spaces included.
                fields["text"] = text[value_start:]
                return fields, extra
        pos = find(":", pos + 1)
    if value_start >= 0:
        value = text[value_start:].strip()
        if canon is None or canon in fields:
            extra.append((raw_key, value))
        else:
            fields[canon] = value
    return fields, extra


def _count(value: str | None) -> int | None:
    """``sub:``/``dlvrd:`` as an int: "1" and "001" are both 1; anything else is None."""
    if value and len(value) <= _MAX_COUNT_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return None


def _build(
    fields: dict[str, str],
    extra: list[tuple[str, str]],
    *,
    tlv_id: str | None = None,
    tlv_state: MessageState | None = None,
    fallback_state: MessageState | None = None,
    network_error_code: bytes | None = None,
) -> Receipt:
    get = fields.get
    text_id = get("id") or None
    stat = get("stat") or None
    state = tlv_state
    if state is None:
        if stat is not None:
            # §6.3 item 12: an unrecognised word is a final failure; the raw word is kept.
            state = _STATES_BY_STAT.get(stat)  # the usual exact spelling, before from_stat
            if state is None:  # not `or`: SCHEDULED is 0 and falsy
                state = MessageState.from_stat(stat)
                if state is None:
                    state = MessageState.UNKNOWN
        else:
            state = fallback_state
    return Receipt(
        message_id=tlv_id or text_id,
        text_id=text_id,
        tlv_id=tlv_id,
        state=state,
        stat=stat,
        submitted=_count(get("sub")),
        delivered=_count(get("dlvrd")),
        submit_date=get("submit_date") or None,
        done_date=get("done_date") or None,
        error=get("err") or None,
        network_error_code=network_error_code,
        text=get("text"),
        extra=tuple(extra),
    )


def parse_receipt_text(text: str) -> Receipt:
    """Parse Appendix B receipt text alone. Never raises; missing fields are None.

    The result may carry neither an id nor a state: ``parse_receipt`` decides whether a
    PDU is a receipt at all.
    """
    fields, extra = _scan(text)
    return _build(fields, extra)


def is_receipt(esm_class: int) -> bool:
    """esm_class message type (bits 5-2) is an MC delivery receipt or an intermediate notification."""
    return (esm_class & _TYPE_MASK) in _RECEIPT_TYPES


def parse_receipt(
    *, short_message: bytes, tlvs: Sequence[Tlv], esm_class: int | None = None
) -> Receipt | None:
    """Read a receipt from a deliver_sm/data_sm body. Never raises.

    TLVs win over the text (§6.1): receipted_message_id over ``id:`` and message_state over
    ``stat:``. The text comes from message_payload when short_message is empty, decoded as
    Latin-1. With ``esm_class`` given and not a receipt type, only a PDU that carries
    receipt TLVs is read as one; pass None to sniff carriers that mark receipts as plain MO.
    Returns None when there is neither an id nor a state.
    """
    id_tlv = state_tlv = nec_tlv = payload_tlv = None
    for tlv in tlvs:  # one pass; the first of each tag wins, as with find_tlv
        tag = tlv.tag
        if tag == _TAG_ID:
            id_tlv = id_tlv or tlv
        elif tag == _TAG_STATE:
            state_tlv = state_tlv or tlv
        elif tag == _TAG_NEC:
            nec_tlv = nec_tlv or tlv
        elif tag == _TAG_PAYLOAD:
            payload_tlv = payload_tlv or tlv
    if esm_class is not None and not is_receipt(esm_class) and id_tlv is None and state_tlv is None:
        return None

    raw = short_message or (payload_tlv.value if payload_tlv is not None else b"")
    if raw:
        fields, extra = _scan(raw.decode("latin-1").rstrip("\x00"))
    else:
        fields, extra = {}, []

    tlv_id = (id_tlv.as_str().strip() or None) if id_tlv is not None else None
    tlv_state = fallback = None
    if state_tlv is not None:
        value = state_tlv.value
        tlv_state = _STATES.get(value[0]) if len(value) == 1 else None
        if tlv_state is None:
            fallback = MessageState.UNKNOWN  # a state we cannot read is still a state
    receipt = _build(
        fields,
        extra,
        tlv_id=tlv_id,
        tlv_state=tlv_state,
        fallback_state=fallback,
        network_error_code=nec_tlv.value if nec_tlv is not None else None,
    )
    if receipt.message_id is None and receipt.state is None:
        return None
    return receipt


def quick_receipt(*, short_message: bytes, tlvs: Sequence[Tlv]) -> Receipt | None:
    """The correlation-relevant part of a receipt, cheaply, when the TLVs carry it.

    A receipt with valid receipted_message_id *and* message_state TLVs (SMPP 3.4 §4.6.1:
    "should be present") needs no text scan to be correlated: the id and the state come
    from the TLVs (which ``parse_receipt`` prefers anyway), ``stat`` is the state's
    word and ``err`` is read with two ``partition`` calls. Returns None when the TLVs are not
    both there and valid: call ``parse_receipt`` then. Never raises.
    """
    id_tlv = state_tlv = None
    for tlv in tlvs:
        tag = tlv.tag
        if tag == _TAG_ID:
            id_tlv = id_tlv or tlv
        elif tag == _TAG_STATE:
            state_tlv = state_tlv or tlv
    if id_tlv is None or state_tlv is None or len(state_tlv.value) != 1:
        return None
    state = _STATES.get(state_tlv.value[0])
    # ``partition``, not ``find`` (as ``Tlv.as_str``): bytes.find parses its arguments
    # the slow way (~600 instructions a call); the ``err:`` value runs up to a space.
    message_id = id_tlv.as_str().strip()
    if state is None or not message_id:
        return None
    error = None
    if short_message:
        _, found, tail = short_message.partition(b"err:")
        if not found:
            _, found, tail = short_message.partition(b"ERR:")
        if found:
            error = tail.partition(b" ")[0].strip().decode("latin-1") or None
    # One dict instead of 14 frozen setattrs (no validators to skip: values only), as the
    # codec builds PDUs; a copy of the defaults, then the five values (no merge).
    values = _RECEIPT_DEFAULTS.copy()
    values["message_id"] = values["tlv_id"] = message_id
    values["state"], values["stat"], values["error"] = state, _STAT_OF[state], error
    return build(Receipt, values)


_RECEIPT_DEFAULTS: Final = {a.name: a.default for a in attrs.fields(Receipt)}
_STAT_OF: Final = {state: state.stat for state in MessageState}  # no property call per receipt


# -- message id normalisation (§6.3 item 1) ---------------------------------------------------


class IdBase(enum.Enum):
    """How a carrier writes a message_id (Kannel msg-id-type, Jasmin dlr_msg_id_bases)."""

    AS_IS = "as_is"  # opaque: strip, upper-case, drop leading zeros
    DEC = "dec"  # decimal: the stripped form is already canonical
    HEX = "hex"  # hex: canonical form is the decimal value
    AUTO = "auto"  # all digits: decimal; else all hex digits: hex; else opaque


_HEX_DIGITS: Final = "0123456789ABCDEF"
_HEX_LETTERS: Final = frozenset("ABCDEF")
_AUTO, _HEX = IdBase.AUTO, IdBase.HEX
# Far above any real id (<= 64 chars); keeps int() and str() cheap and under CPython's
# int/str digit limit whatever a peer sends.
_MAX_CONVERT: Final = 128


def _canonical(message_id: str) -> str:
    upper = message_id.strip().upper()
    return upper.lstrip("0") or ("0" if upper else "")


def _hex_value(canonical: str) -> str | None:
    """Decimal value of an all-hex-digit id, else None."""
    if canonical and len(canonical) <= _MAX_CONVERT and not canonical.strip(_HEX_DIGITS):
        return str(int(canonical, 16))
    return None


def id_forms(message_id: str, base: IdBase = IdBase.AUTO) -> tuple[str, str | None]:
    """(canonical form, alias or None) of a message_id written in ``base``. Never raises.

    ``HEX``: the decimal value (the AS_IS form if the id is not hex digits). ``DEC`` and
    ``AS_IS``: the AS_IS form. ``AUTO``: the AS_IS form, and for an id that is
    unmistakably hex (hex digits with at least one of A-F) its decimal value as the
    alias; purely numeric ids are never reinterpreted, because "10" read as hex is 16.
    An index keeps the two apart (``smppgw.policy.correlation``: an exact form wins).
    """
    if base is not _HEX and message_id.isdigit() and message_id.isascii() and message_id[0] != "0":
        return message_id, None  # the usual decimal id is already canonical: no copies
    canonical = _canonical(message_id)
    if base is _HEX:
        return _hex_value(canonical) or canonical, None
    if base is _AUTO and not _HEX_LETTERS.isdisjoint(canonical):
        return canonical, _hex_value(canonical)
    return canonical, None


def normalize_message_id(message_id: str, *, base: IdBase = IdBase.AUTO) -> str:
    """Canonical form of a message_id under the carrier's id base (``id_forms``: the
    alias if there is one). Never raises.

    An id that does not fit the declared base (``HEX`` but not hex digits) keeps its
    AS_IS form rather than failing.
    """
    canonical, alias = id_forms(message_id, base)
    return alias or canonical


def id_keys(message_id: str) -> frozenset[str]:
    """Every canonical key a raw id may match: its AS_IS form and, if hex, its hex value.

    Index a submitted id under all its keys and look a receipt id up by any of its keys.
    A decimal id's value is its AS_IS form, so "1A2B3C4D" and "0439041101" share
    "439041101". Short numeric ids are ambiguous ("10" read as hex is 16): look up the
    AS_IS form first, or use ``normalize_message_id`` with the carrier's ``IdBase``.
    """
    canonical = _canonical(message_id)
    value = _hex_value(canonical)
    return frozenset((canonical,) if value is None else (canonical, value))


def ids_match(a: str, b: str) -> bool:
    """True when the two raw ids could be the same message (see ``id_keys``)."""
    return a == b or not id_keys(a).isdisjoint(id_keys(b))
