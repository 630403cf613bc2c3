"""Phone numbers at the edges (the HTTP API, ``smppgw send``), read with the phonenumbers
library (Google's libphonenumber metadata) and written as the gateway sends them: the
E.164 digits without '+' (TON 1, NPI 1; ``policy.addressing.to_smpp``).

``normalise("07700 900001", "GB")`` is ``"447700900001"``; so is ``"+44 7700 900001"``
with no region. With no default region a number must be international (a leading '+',
or bare digits of E.164 length without a trunk 0). What is not written like a phone
number (an alphanumeric sender, a short code of 3-8 bare digits) comes back as given,
stripped: ``to_smpp`` classifies it.

Theory of operation: most numbers arrive as bare E.164 digits, and a full parse costs
tens of microseconds (the README gives the measurement), so digits of E.164 length not
starting with 0 skip it; the parse is for national forms, separators and '+' with spaces.
A parsed number must be *possible* (a known country code and a length its plan allows),
not *valid*: validity follows number-range metadata that changes every few months, and
a gateway that refused a newly opened range would be worse than one that lets the
carrier say so. This module is the only user of phonenumbers; ``policy/`` stays pure.
"""

from __future__ import annotations

import functools

import phonenumbers
import phonenumbers.timezone

__all__ = ["NumberError", "check_region", "normalise", "time_zones"]

SHORT_CODE = range(3, 9)  # bare digits of these lengths are short codes (addressing.SHORT_CODE_MAX)
E164_DIGITS = range(7, 16)  # ITU-T E.164: at most 15 digits with the country code
_MAX_ZONES = 10  # more: a plan-wide answer, treated as unknown (time_zones)
_PHONE_CHARS = frozenset("+0123456789 -().\t\u00a0/")  # what people write numbers with
_WHY = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no known country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


class NumberError(ValueError):
    """Written like a phone number, but not a possible one; the message says why."""


def check_region(region: str) -> str:
    """A default region as phonenumbers knows it: an ISO 3166-1 alpha-2 code, upper case.

    Raises:
        ValueError: not a region phonenumbers has metadata for.
    """
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"not a region code with numbering metadata (ISO 3166-1 alpha-2, e.g. GB): {region!r}"
        )
    return code


def normalise(address: str, region: str | None) -> str:
    """The E.164 digits (no '+') of a phone number written any common way; anything not
    written like a phone number comes back as given (stripped). ``region``: the default
    region for national numbers (``check_region``), None: numbers must be international.

    Raises:
        NumberError: looks like a phone number but is none (too short or long, no known
            country code, a national number with no region).
    """
    a = address.strip()
    plus = a[:1] == "+"
    digits = a[1:] if plus else a
    if digits.isascii() and digits.isdigit():
        n = len(digits)
        if digits[0] != "0" and n in E164_DIGITS and (plus or n not in SHORT_CODE):
            return digits  # already E.164: the fast path
        if not plus and n in SHORT_CODE:
            return a  # a short code
        if n > E164_DIGITS.stop - 1:
            raise NumberError(f"{a!r}: too long (E.164 numbers have at most 15 digits)")
    elif not a or not _PHONE_CHARS.issuperset(a):
        return a  # alphanumeric (or empty): not a phone number
    return _parse(a, region)


def _parse(a: str, region: str | None) -> str:
    if region is None and not a.startswith(("+", "00")) and a.lstrip(" (")[:1] == "0":
        raise NumberError(
            f"{a!r}: a national number; write it with its country code (+44...) or set a region"
        )
    try:
        number = phonenumbers.parse(a, region)
    except phonenumbers.NumberParseException as exc:
        why = _WHY.get(exc.error_type, "not a phone number")
        if (
            region is None
            and a[:1] != "+"
            and exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
        ):
            why = "no country code (write +CC..., or set a region)"
        raise NumberError(f"{a!r}: {why}") from None
    if not phonenumbers.is_possible_number(number):
        raise NumberError(f"{a!r}: not a possible number for country code +{number.country_code}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


@functools.lru_cache(maxsize=4096)
def time_zones(number: str) -> tuple[str, ...]:
    """The IANA time zones of an E.164 number (digits, '+' optional), from libphonenumber's
    time zone data: one for most numbers, several for a country-level answer (Australian
    mobiles), () when unknown (a short code, a range with no geography). Cached: the
    quiet hours ask once per marketing message, and prefixes repeat."""
    digits = number.lstrip("+")
    if not digits.isdigit() or len(digits) not in E164_DIGITS:
        return ()
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return ()
    zones = phonenumbers.timezone.time_zones_for_number(parsed)
    if zones == (phonenumbers.timezone.UNKNOWN_TIMEZONE,) or not zones:
        zones = _country_zones(parsed)  # a range with no geography (mobiles, drama ranges)
    zones = tuple(z for z in zones if z != phonenumbers.timezone.UNKNOWN_TIMEZONE)
    # A whole numbering plan's zones (+1 toll-free: Guam to Newfoundland) say nothing.
    return zones if len(zones) <= _MAX_ZONES else ()


def _country_zones(parsed: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    return () if example is None else tuple(phonenumbers.timezone.time_zones_for_number(example))
