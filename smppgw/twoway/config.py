"""``[twoway]``: the 2-way settings, parsed into ``TwowayConfig``.

Each concern parses its own sub-table (keywords, consent, conversations, quiet hours);
this module composes them and rejects unknown keys. Errors are ``ConfigError`` naming
the key (``twoway.keywords.opt_out``)."""

from __future__ import annotations

from typing import Any

import attrs

from smppgw.support.config import table, unknown_keys
from smppgw.twoway.keywords import KeywordConfig
from smppgw.twoway.pools import Pool, pools_from_dict

__all__ = ["TwowayConfig", "twoway_from_dict"]


@attrs.frozen(kw_only=True)
class TwowayConfig:
    keywords: KeywordConfig = KeywordConfig()
    pools: tuple[Pool, ...] = ()  # [[twoway.pool]]: sender pools (twoway.pools)


_SECTIONS: frozenset[str] = frozenset({"keywords", "pool"})


def twoway_from_dict(data: Any) -> TwowayConfig:
    """``data``: the ``[twoway]`` table (or None: the defaults)."""
    if data is None:
        return TwowayConfig()
    t = table(data, "twoway")
    unknown_keys(t, set(_SECTIONS), "twoway")
    out: dict[str, Any] = {}
    out["pools"] = pools_from_dict(t.get("pool"))  # [[twoway.pool]]
    return TwowayConfig(**out)
