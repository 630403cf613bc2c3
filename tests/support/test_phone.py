"""Phone numbers at the edges (support.phone): national forms with a region, separators,
'+', the fast path for E.164 digits, and what is not a phone number left alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.policy.addressing import AddressKind, to_smpp
from smppgw.support.phone import NumberError, check_region, normalise


@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("07700900001", "GB", "447700900001"),  # the trunk 0 goes, the country code comes
        ("07700 900001", "GB", "447700900001"),
        ("+44 7700 900001", None, "447700900001"),  # spaces after '+': parsed
        ("+44 (0)7700 900001", None, "447700900001"),
        ("0044 7700 900001", "GB", "447700900001"),  # the region's international prefix
        ("+1 (415) 555-0100", None, "14155550100"),
        ("(415) 555-0100", "US", "14155550100"),
        ("+447700900001", None, "447700900001"),  # fast path: '+' and E.164 digits
        ("447700900001", None, "447700900001"),  # fast path: bare E.164 digits
        ("447700900001", "US", "447700900001"),  # a region does not touch international digits
        (" 447700900001 ", None, "447700900001"),
        ("+4915123456789", "GB", "4915123456789"),
    ],
)
def test_phone_numbers_become_e164_digits(written: str, region: str | None, e164: str) -> None:
    assert normalise(written, region) == e164


@pytest.mark.parametrize(
    ("written", "region"),
    [("12345", None), ("12345", "GB"), ("0800", "GB"), ("ACME", "GB"), ("Shop-42", None), ("HELLO", None)],
)
def test_short_codes_and_alphanumerics_are_left_as_given(written: str, region: str | None) -> None:
    assert normalise(written, region) == written


@pytest.mark.parametrize(
    ("written", "region", "why"),
    [
        ("07700900001", None, "a national number"),  # no region: it must be international
        ("07700 900001", None, "a national number"),
        ("+44 12", None, "not a possible number for country code +44"),
        ("12", "GB", "not a possible number"),
        ("+999 1234567", None, "no known country code"),
        ("1" * 20, None, "too long"),
        ("+", None, "not a phone number"),
        ("0044 7700 900001", None, "no country code"),
    ],
)
def test_impossible_numbers_are_refused_saying_why(written: str, region: str | None, why: str) -> None:
    with pytest.raises(NumberError, match=re.escape(why)):
        normalise(written, region)


def test_a_region_is_checked_and_upper_cased() -> None:
    assert check_region("gb") == "GB"
    with pytest.raises(ValueError, match="ISO 3166-1"):
        check_region("UK")  # the United Kingdom's code is GB


@given(digits=st.from_regex(r"\A[1-9][0-9]{8,14}\Z"), plus=st.booleans())
def test_the_fast_path_agrees_with_addressing(digits: str, plus: bool) -> None:
    """E.164 digits come back as to_smpp would send them, with no parse."""
    written = "+" + digits if plus else digits
    assert normalise(written, None) == to_smpp(written).addr == digits
    assert to_smpp(digits).kind is AddressKind.E164
