"""Addresses where they enter the API: ``to`` and ``from`` of a message, the listing's
filters, an opt-out's number."""

from __future__ import annotations

from smppgw.policy.addressing import AddressKind, to_smpp
from smppgw.support.phone import normalise

__all__ = ["address"]


def address(value: str, region: str | None, *, destination: bool) -> str:
    """A ``to`` (``destination``) or ``from`` as the gateway takes it: a phone number as
    E.164 digits (``support.phone.normalise``), a short code or an alphanumeric sender as
    given. Raises ValueError (``NumberError``, ``AddressError``) saying what is wrong."""
    a = normalise(value, region)
    if a.isdigit() and a.isascii():
        return a  # E.164 or a short code: to_smpp takes it as it is (the fast path)
    kind = to_smpp(a).kind  # an impossible sender raises here, named, not later in the gateway
    if destination and kind is AddressKind.ALPHANUMERIC:
        raise ValueError(f"{value!r} is not a phone number")
    return a
