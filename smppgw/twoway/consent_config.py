"""``[twoway.consent]``, ``[twoway.programmes]`` and ``[twoway.texts]``: parsed into
``twoway.consent.Consent``. Errors are ``ConfigError`` naming the key.

    [twoway.consent]
    scope = "pair"            # what a STOP covers: "pair" (that sender), "programme", "account"
    brand = "Acme Dental"
    contact = "help@acme.example"
    frequency = "Up to 4 msgs/month"

    [twoway.programmes]       # named groups of senders
    promo = ["12345", "+447700900100"]

    [twoway.texts]            # the defaults; {brand} {contact} {frequency} are filled in
    opt_out = "You are unsubscribed from {brand} messages. No more messages will be sent. Reply START to resubscribe."
    [twoway.texts.promo]      # a programme's (or a sender's) own
    help = "{brand} offers: {frequency}. Help: {contact}. Msg&data rates may apply. Reply STOP to opt out."
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from smppgw.support.config import ConfigError, choice, each, string, table, unknown_keys
from smppgw.twoway.consent import Consent, ReplyTexts

__all__ = ["SECTIONS", "consent_from_dict"]

#: The ``[twoway]`` sub-tables parsed here.
SECTIONS: Final = frozenset({"consent", "programmes", "texts"})
_SCOPES: Final = ("pair", "programme", "account")
_KINDS: Final = ("opt_out", "opt_in", "help")
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_FIELDS: Final = {"brand": "", "contact": "", "frequency": ""}


def consent_from_dict(t: dict[str, Any]) -> Consent:
    """``t``: the ``[twoway]`` table (its consent sections are read here)."""
    out: dict[str, Any] = {}
    if "consent" in t:
        c = table(t["consent"], "twoway.consent")
        unknown_keys(c, {"scope", "brand", "contact", "frequency"}, "twoway.consent")
        if "scope" in c:
            out["scope"] = choice(c["scope"], "twoway.consent.scope", _SCOPES)
        for key in ("brand", "contact", "frequency"):
            if key in c:
                out[key] = string(c[key], f"twoway.consent.{key}", min_len=1, max_len=160)
    programmes: dict[str, frozenset[str]] = {}
    owner: dict[str, str] = {}
    for name, senders in table(t.get("programmes", {}), "twoway.programmes").items():
        where = f"twoway.programmes.{name}"
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: a programme name is 1-40 of A-Z a-z 0-9 _ . -")
        numbers = [
            s.lstrip("+") for s in each(senders, where, lambda v, w: string(v, w, min_len=1, max_len=20))
        ]
        for i, sender in enumerate(numbers):
            if sender in owner:
                raise ConfigError(f"{where}[{i}]: {sender} is in programme {owner[sender]} already")
            owner[sender] = name
        programmes[name] = frozenset(numbers)
    out["programmes"] = programmes
    if "texts" in t:
        texts = table(t["texts"], "twoway.texts")
        own = {k: v for k, v in texts.items() if k not in _KINDS}
        out["texts"] = _texts({k: v for k, v in texts.items() if k in _KINDS}, "twoway.texts", ReplyTexts())
        out["texts_for"] = {
            key.lstrip("+"): _texts(table(v, f"twoway.texts.{key}"), f"twoway.texts.{key}", out["texts"])
            for key, v in own.items()
        }
        for key in own:
            if key not in programmes and not key.lstrip("+").isdigit():
                raise ConfigError(
                    f"twoway.texts.{key}: not a programme of twoway.programmes nor a sender number "
                    f"(or one of {', '.join(_KINDS)})"
                )
    return Consent(**out)


def _texts(t: dict[str, Any], where: str, base: ReplyTexts) -> ReplyTexts:
    unknown_keys(t, set(_KINDS), where)
    given = {k: string(v, f"{where}.{k}", min_len=1, max_len=640) for k, v in t.items()}
    for key, text in given.items():
        try:
            text.format(**_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"{where}.{key}: only {{brand}}, {{contact}} and {{frequency}} may be filled in ({exc!r})"
            ) from None
    return attrs.evolve(base, **given)
