"""``[twoway]``: the 2-way settings, parsed into ``TwowayConfig``.

Each concern parses its own sub-table (keywords, consent, conversations, quiet hours);
this module composes them and rejects unknown keys. Errors are ``ConfigError`` naming
the key (``twoway.keywords.opt_out``)."""

from __future__ import annotations

from typing import Any

import attrs

from smppgw.support.config import table, unknown_keys
from smppgw.twoway.consent import Consent
from smppgw.twoway.consent_config import SECTIONS as CONSENT_SECTIONS
from smppgw.twoway.consent_config import consent_from_dict
from smppgw.twoway.keywords import KeywordConfig

__all__ = ["TwowayConfig", "twoway_from_dict"]


@attrs.frozen(kw_only=True)
class TwowayConfig:
    keywords: KeywordConfig = KeywordConfig()
    consent: Consent = Consent()  # [twoway.consent], [twoway.programmes], [twoway.texts]


_SECTIONS: frozenset[str] = frozenset({"keywords"}) | CONSENT_SECTIONS


def twoway_from_dict(data: Any) -> TwowayConfig:
    """``data``: the ``[twoway]`` table (or None: the defaults)."""
    if data is None:
        return TwowayConfig()
    t = table(data, "twoway")
    unknown_keys(t, set(_SECTIONS), "twoway")
    return TwowayConfig(consent=consent_from_dict(t))
