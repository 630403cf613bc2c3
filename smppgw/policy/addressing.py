"""Address kinds and TON/NPI (SMPP 3.4 §5.2.5-5.2.6; SMPP-REFERENCE §5.6, checklist 76).

International numbers travel as TON=1 NPI=1 without '+'; alphanumeric senders as TON=5
NPI=0 (at most 11 characters, the GSM TP-OA limit); short codes as TON=3 NPI=0 by
default (carriers differ: per-SMSC overrides).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from smppgw.core.constants import Npi, Ton

__all__ = ["AddressError", "AddressKind", "SmppAddress", "classify", "to_smpp"]

SHORT_CODE_MAX = 8  # 3-8 digits: short codes (US 5-6, elsewhere 3-8)
E164_MIN, E164_MAX = 7, 15


class AddressError(ValueError):
    """An address no SMSC would accept; the message names the problem."""


class AddressKind(enum.Enum):
    # Members are singletons: identity hashing is exact and cheaper than Enum's
    # name hash (these are dict/set keys on the per-message path).
    __hash__ = object.__hash__

    E164 = "e164"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"


@attrs.frozen(slots=False)  # dict-based: its attrs __init__ is the cheaper one (to_smpp: per message)
class SmppAddress:
    addr: str
    ton: int
    npi: int
    kind: AddressKind


_DEFAULT: Mapping[AddressKind, tuple[int, int]] = {
    AddressKind.E164: (Ton.INTERNATIONAL, Npi.ISDN),
    AddressKind.SHORT_CODE: (Ton.NETWORK_SPECIFIC, Npi.UNKNOWN),
    AddressKind.ALPHANUMERIC: (Ton.ALPHANUMERIC, Npi.UNKNOWN),
}
_E164, _SHORT_CODE, _ALPHANUMERIC = AddressKind.E164, AddressKind.SHORT_CODE, AddressKind.ALPHANUMERIC


def classify(address: str) -> AddressKind:
    """Raises AddressError for an empty or impossible address."""
    a = address.strip()
    if not a:
        raise AddressError("address is empty")
    digits = a[1:] if a.startswith("+") else a
    if not digits:
        raise AddressError(f"{address!r}: no digits after '+'")
    if digits.isascii() and digits.isdigit():
        if a.startswith("+") or len(digits) > SHORT_CODE_MAX:
            if not E164_MIN <= len(digits) <= E164_MAX:
                raise AddressError(f"{address!r}: an E.164 number has {E164_MIN}-{E164_MAX} digits")
            return _E164
        if len(digits) < 3:
            raise AddressError(f"{address!r}: too short for a short code")
        return _SHORT_CODE
    if not a.isascii() or not a.isprintable():
        raise AddressError(f"{address!r}: alphanumeric senders are printable ASCII")
    if len(a) > 11:
        raise AddressError(f"{address!r}: alphanumeric senders have at most 11 characters")
    return _ALPHANUMERIC


def to_smpp(address: str, overrides: Mapping[AddressKind, tuple[int, int]] | None = None) -> SmppAddress:
    """The wire form: digits without '+', TON/NPI by kind (per-SMSC ``overrides`` win)."""
    n = len(address)
    if address.isdigit() and address.isascii() and 3 <= n <= E164_MAX:
        # Bare digits (most addresses, once per message): classify's rules for them,
        # without its copies. Other lengths go through classify, which says what is wrong.
        kind, a = (_E164 if n > SHORT_CODE_MAX else _SHORT_CODE), address
    else:
        kind = classify(address)
        a = address.strip()
        if kind is not _ALPHANUMERIC:
            a = a.lstrip("+")
    pair = overrides.get(kind) if overrides else None
    ton, npi = _DEFAULT[kind] if pair is None else pair
    return SmppAddress(a, ton, npi, kind)
