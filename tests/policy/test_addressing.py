"""Address kinds and TON/NPI (SMPP 3.4 §5.2.5-5.2.6, checklist 76)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import Npi, Ton
from smppgw.policy.addressing import AddressError, AddressKind, SmppAddress, classify, to_smpp

E164, SHORT, ALPHA = AddressKind.E164, AddressKind.SHORT_CODE, AddressKind.ALPHANUMERIC


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("+447700900001", E164),
        ("447700900001", E164),
        ("+1234567", E164),  # 7 digits: the shortest E.164 accepted
        ("123456789", E164),  # more than 8 digits without '+': a long code
        ("+123456789012345", E164),  # 15 digits: the longest
        ("12345", SHORT),
        ("123", SHORT),
        ("12345678", SHORT),  # 8 digits: still a short code
        ("Shop", ALPHA),
        ("MyShop 2024", ALPHA),  # 11 characters
        ("  12345 ", SHORT),
    ],
)
def test_classify(address: str, kind: AddressKind) -> None:
    assert classify(address) is kind


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12", "too short"),
        ("+123456", "7-15 digits"),
        ("+1234567890123456", "7-15 digits"),
        ("1234567890123456", "7-15 digits"),
        ("ABCDEFGHIJKL", "at most 11"),
        ("Shöp", "printable ASCII"),
        ("Sh\x00op", "printable ASCII"),
        ("+", "no digits"),
        ("١٢٣٤٥", "printable ASCII"),  # Arabic-Indic digits are not phone digits
    ],
)
def test_classify_errors(address: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        classify(address)


def test_to_smpp() -> None:
    assert to_smpp("+447700900001") == SmppAddress("447700900001", Ton.INTERNATIONAL, Npi.ISDN, E164)
    assert to_smpp("447700900001") == SmppAddress("447700900001", Ton.INTERNATIONAL, Npi.ISDN, E164)
    assert to_smpp("12345") == SmppAddress("12345", Ton.NETWORK_SPECIFIC, Npi.UNKNOWN, SHORT)
    assert to_smpp(" Shop ") == SmppAddress("Shop", Ton.ALPHANUMERIC, Npi.UNKNOWN, ALPHA)
    overrides = {SHORT: (0, 1)}
    assert to_smpp("12345", overrides) == SmppAddress("12345", 0, 1, SHORT)
    assert to_smpp("+447700900001", overrides).ton == Ton.INTERNATIONAL


@given(digits=st.text(alphabet="0123456789", min_size=7, max_size=15))
def test_e164_with_and_without_plus_are_the_same_address(digits: str) -> None:
    if len(digits) > 8:  # without '+' it is a long code only past short-code length
        assert to_smpp(digits) == to_smpp("+" + digits)
    address = to_smpp("+" + digits)
    assert (address.addr, address.kind, address.ton, address.npi) == (digits, E164, 1, 1)


@given(text=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=11))
def test_printable_ascii_up_to_11_is_always_some_kind(text: str) -> None:
    if not text.strip() or text.strip() == "+":
        return
    try:
        kind = classify(text)
    except AddressError as exc:  # only digit strings can be wrong at this length
        assert text.strip().lstrip("+").isdigit(), exc
        return
    address = to_smpp(text)
    assert len(address.addr) <= 11 and address.kind is kind


@given(address=st.one_of(st.text(alphabet="0123456789", max_size=20), st.text(max_size=20)))
def test_to_smpp_agrees_with_classify(address: str) -> None:
    # to_smpp reads bare digit strings without calling classify: same kind, same errors.
    try:
        kind = classify(address)
    except AddressError as exc:
        with pytest.raises(AddressError) as raised:
            to_smpp(address)
        assert str(raised.value) == str(exc)
        return
    address_ = to_smpp(address)
    assert address_.kind is kind
    assert address_.addr == (address.strip() if kind is ALPHA else address.strip().lstrip("+"))
