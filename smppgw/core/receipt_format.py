"""Delivery receipts, SMSC side: the Appendix B text and the receipt TLVs (SMPP 3.4
Appendix B, §5.3.2; SMPP-REFERENCE §6.1).

What a simulated or test SMSC sends: ``format_receipt`` writes the receipt text (the
caller formats the dates, since the core reads no clock) and ``receipt_tlvs`` the
receipted_message_id / message_state / network_error_code TLVs. Reading receipts is the
other half, in ``smppgw.core.receipt``, which re-exports these names.
"""

from __future__ import annotations

from typing import Final

from smppgw.core.constants import MessageState, TlvTag
from smppgw.core.tlv import Tlv, trusted_tlv

__all__ = ["format_receipt", "format_smpp_date", "receipt_tlvs"]

# Module globals for receipt_tlvs, which runs once per message in the simulator.
_TAG_ID: Final = int(TlvTag.RECEIPTED_MESSAGE_ID)
_STATE_TLVS: Final = {state: Tlv.from_int(TlvTag.MESSAGE_STATE, int(state)) for state in MessageState}

_LOWER_TEMPLATE: Final = "id:{} sub:{:03d} dlvrd:{:03d} submit date:{} done date:{} stat:{} err:{} text:{}"
_UPPER_TEMPLATE: Final = "ID:{} SUB:{:03d} DLVRD:{:03d} SUBMIT DATE:{} DONE DATE:{} STAT:{} ERR:{} TEXT:{}"
_DATE_DIGITS: Final = (10, 12, 14)
_MAX_MESSAGE_ID: Final = 64  # receipted_message_id is C-Octet String(65), NUL included


def format_smpp_date(y: int, mo: int, d: int, h: int, mi: int, s: int, digits: int = 10) -> str:
    """A receipt date: YYMMDDhhmm (10), YYMMDDhhmmss (12) or YYYYMMDDhhmmss (14).

    Raises:
        ValueError: a field out of range, or ``digits`` not 10, 12 or 14.
    """
    if digits not in _DATE_DIGITS:
        raise ValueError(f"digits must be 10, 12 or 14, not {digits}")
    if not (0 <= y <= 9999 and 1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h <= 23 and 0 <= mi <= 59):
        raise ValueError(f"invalid date {y}-{mo}-{d} {h}:{mi}")
    if not 0 <= s <= 59:
        raise ValueError(f"invalid seconds {s}")
    year = f"{y:04d}" if digits == 14 else f"{y % 100:02d}"
    out = f"{year}{mo:02d}{d:02d}{h:02d}{mi:02d}"
    return out + f"{s:02d}" if digits > 10 else out


def _fit_date(name: str, value: str, digits: int) -> str:
    """Check a caller-formatted date and cut it to ``digits`` (dropping seconds or century)."""
    size = len(value)
    if size not in _DATE_DIGITS or not (value.isascii() and value.isdigit()):
        raise ValueError(f"{name} must be 10, 12 or 14 digits, not {value!r}")
    if size == digits:
        return value
    if size == 14:  # YYYYMMDDhhmmss -> YYMMDDhhmm[ss]
        return value[2 : 2 + digits]
    if size == 12 and digits == 10:
        return value[:10]
    raise ValueError(f"{name} {value!r} has too few digits for date_digits={digits}")


def format_receipt(
    *,
    message_id: str,
    state: MessageState,
    submit_date: str,
    done_date: str,
    submitted: int = 1,
    delivered: int | None = None,
    error: str = "000",
    text: str = "",
    date_digits: int = 10,
    lowercase_keys: bool = True,
) -> str:
    """Appendix B receipt text. The caller formats the dates (the core reads no clock).

    ``delivered`` defaults to 1 for DELIVERED and 0 otherwise; ``text`` is cut to 20
    characters; ``lowercase_keys=False`` writes every label in upper case.

    Raises:
        ValueError: a bad date or ``date_digits``, or a negative count.
    """
    if date_digits not in _DATE_DIGITS:
        raise ValueError(f"date_digits must be 10, 12 or 14, not {date_digits}")
    if delivered is None:
        delivered = 1 if state is MessageState.DELIVERED else 0
    if submitted < 0 or delivered < 0:
        raise ValueError("submitted and delivered must not be negative")
    sub = _fit_date("submit_date", submit_date, date_digits)
    done = _fit_date("done_date", done_date, date_digits)
    template = _LOWER_TEMPLATE if lowercase_keys else _UPPER_TEMPLATE
    return template.format(message_id, submitted, delivered, sub, done, state.stat, error, text[:20])


def receipt_tlvs(
    *, message_id: str, state: MessageState, network_error_code: bytes | None = None
) -> tuple[Tlv, ...]:
    """receipted_message_id, message_state and optionally network_error_code (§6.1).

    Raises:
        ValueError: message_id over 64 characters, or network_error_code not 3 octets.
    """
    if len(message_id) > _MAX_MESSAGE_ID:
        raise ValueError(f"message_id is {len(message_id)} characters, at most {_MAX_MESSAGE_ID}")
    # Hot path (one receipt per message in the simulator): the state TLV is shared (Tlv
    # is frozen) and the id TLV skips the attrs validators, whose bounds (tag in range,
    # value bytes of at most 65535 octets) hold by construction here.
    id_tlv = trusted_tlv(_TAG_ID, message_id.encode("latin-1") + b"\x00")
    state_tlv = _STATE_TLVS.get(state) or Tlv.from_int(TlvTag.MESSAGE_STATE, int(state))
    tlvs = (id_tlv, state_tlv)
    if network_error_code is None:
        return tlvs
    if len(network_error_code) != 3:
        raise ValueError(f"network_error_code must be 3 octets, not {len(network_error_code)}")
    return (*tlvs, Tlv(TlvTag.NETWORK_ERROR_CODE, network_error_code))
