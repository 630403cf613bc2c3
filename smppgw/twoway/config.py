"""``[twoway]``: the 2-way settings, parsed into ``TwowayConfig``.

Each concern parses its own sub-table (keywords, consent, conversations, quiet hours);
this module composes them and rejects unknown keys. Errors are ``ConfigError`` naming
the key (``twoway.keywords.opt_out``, ``twoway.flow[0].steps.confirm.on.2``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from smppgw.support.config import ConfigError, boolean, each, integer, number, string, table, unknown_keys
from smppgw.twoway import wordsets
from smppgw.twoway.consent import Consent
from smppgw.twoway.consent_config import SECTIONS as CONSENT_SECTIONS
from smppgw.twoway.consent_config import consent_from_dict
from smppgw.twoway.flow_config import flows_from_config
from smppgw.twoway.flow_model import Flow
from smppgw.twoway.keyword_config import KeywordConfig, keywords_from_dict
from smppgw.twoway.pools import Pool, pools_from_dict
from smppgw.twoway.quiet import QuietRules, quiet_from_list
from smppgw.twoway.text import words

__all__ = ["TwowayConfig", "twoway_from_dict"]


@attrs.frozen(kw_only=True)
class TwowayConfig:
    keywords: KeywordConfig = KeywordConfig()
    consent: Consent = Consent()  # [twoway.consent], [twoway.programmes], [twoway.texts]
    quiet_hours: QuietRules = QuietRules()  # [[twoway.quiet_hours]]
    pools: tuple[Pool, ...] = ()  # [[twoway.pool]]: sender pools (twoway.pools)
    flows: tuple[Flow, ...] = ()  # [[twoway.flow]] and the files of flows_dir (twoway.flows)
    threads: bool = True  # a thread per (number, sender) pair that answered (store.threads)
    thread_backfill: int = 100  # a new thread's earlier MT messages, at most
    thread_backfill_days: float = 30.0  # and none older than this


_SECTIONS: frozenset[str] = (
    frozenset({"keywords", "rule", "quiet_hours", "programmes", "pool", "flow", "flows_dir", "threads"})
    | {"thread_backfill", "thread_backfill_days"}
    | CONSENT_SECTIONS
)


def twoway_from_dict(data: Any, *, base: Path | None = None) -> TwowayConfig:
    """``data``: the ``[twoway]`` table (or None: the defaults). ``base``: the directory
    a relative ``flows_dir`` is in (the config file's)."""
    if data is None:
        return TwowayConfig()
    t = table(data, "twoway")
    unknown_keys(t, set(_SECTIONS), "twoway")
    out: dict[str, Any] = {"consent": consent_from_dict(t)}
    programmes = table(t.get("programmes", {}), "twoway.programmes")
    senders = {
        name: each(numbers, f"twoway.programmes.{name}", string) for name, numbers in programmes.items()
    }
    out["keywords"] = keywords_from_dict(t.get("keywords"), t.get("rule"), senders)  # and [[twoway.rule]]
    if "quiet_hours" in t:
        out["quiet_hours"] = _resolved(quiet_from_list(t["quiet_hours"]), t.get("programmes", {}))
    out["pools"] = pools_from_dict(t.get("pool"))  # [[twoway.pool]]
    if "threads" in t:
        out["threads"] = boolean(t["threads"], "twoway.threads")
    if "thread_backfill" in t:
        out["thread_backfill"] = integer(t["thread_backfill"], "twoway.thread_backfill", 0, 10_000)
    if "thread_backfill_days" in t:
        out["thread_backfill_days"] = number(
            t["thread_backfill_days"], "twoway.thread_backfill_days", gt=0, le=3650
        )
    out["consent"] = attrs.evolve(out["consent"], pools=tuple(frozenset(p.numbers) for p in out["pools"]))
    out["flows"] = flows_from_config(
        t.get("flow"), t.get("flows_dir"), taken=_taken(out["keywords"]), base=base
    )
    return TwowayConfig(**out)


def _taken(keywords: KeywordConfig) -> dict[str, str]:
    """The words a flow's keyword may not be (folded -> what they are): the opt-out and
    opt-in words (consent wins over a flow), the custom rules' keywords. HELP may be:
    a flow started by HELP is the triage flow."""
    out: dict[str, str] = {}
    for lang in keywords.languages:
        strong, weak = wordsets.OPT_OUT[lang]
        for word in (*strong, *weak, *keywords.opt_out):
            out.setdefault(" ".join(words(word)), "an opt-out keyword")
        for word in (*wordsets.OPT_IN[lang], *keywords.opt_in):
            out.setdefault(" ".join(words(word)), "an opt-in keyword")
    for word in keywords.exclude:
        out.pop(" ".join(words(word)), None)
    for rule in keywords.rules:
        if rule.keyword is not None:
            out[" ".join(words(rule.keyword))] = f"the keyword of [[twoway.rule]] {rule.name!r}"
    return out


def _resolved(rules: QuietRules, programmes: Any) -> QuietRules:
    """The quiet-hours rules with their programmes' senders ([twoway.programmes])."""
    for i, rule in enumerate(rules.rules):
        for name in sorted(rule.programmes):
            if not isinstance(programmes, dict) or name not in programmes:
                raise ConfigError(
                    f"twoway.quiet_hours[{i}].programmes: unknown programme {name!r} (define it in [twoway.programmes])"
                )
    return rules.resolve(
        {name: each(senders, f"twoway.programmes.{name}", string) for name, senders in programmes.items()}
        if isinstance(programmes, dict) else {}
    )  # fmt: skip
