"""``[twoway.keywords]`` and ``[[twoway.rule]]``: the keyword settings, and the tables the
matcher (``twoway.keywords``) looks words up in.

``keywords_from_dict`` checks types and values and builds the tables once, so every
mistake is a ``ConfigError`` naming its key when the config is read: an unknown
language, a word with no letters, a word in two sets (``twoway.keywords.help[0]: "STOP"
is already an opt-out keyword``), a custom rule's keyword equal to a built-in
(``twoway.rule[1].keyword``), an invalid regular expression
(``twoway.keywords.patterns[2]``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Final

import attrs

from smppgw.support.config import ConfigError, array, boolean, each, string, table, unknown_keys
from smppgw.twoway import wordsets
from smppgw.twoway.text import typos, words

__all__ = [
    "POOL_NAME",
    "Entry",
    "KeywordConfig",
    "Kind",
    "Rule",
    "Table",
    "build_table",
    "keywords_from_dict",
]

MATCHING: Final = ("strict", "standard", "custom")
MAX_WORDS: Final = 4  # in one keyword ("DO NOT CONTACT")
_TAG: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # as a message's tags (api.bodies)
_ALL: Final = ("stopall", "stop all")  # STOP ALL: every sender and programme
_KEYS: Final = {"matching", "languages", "opt_out", "opt_in", "help", "exclude", "patterns"}
_RULE_KEYS: Final = {"name", "keyword", "pattern", "reply", "tag", "event", "senders", "programme", "voucher",
                     "exhausted"}  # fmt: skip
#: A voucher pool's name (``voucher = "POOL"``; the API's ``/v1/vouchers/pools/{pool}``).
POOL_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Kind(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CUSTOM = "custom"


_LABEL: Final = {
    Kind.OPT_OUT: "an opt-out",
    Kind.OPT_IN: "an opt-in",
    Kind.HELP: "a help",
    Kind.CUSTOM: "a rule's",
}


@attrs.frozen(kw_only=True)
class Rule:
    """A ``[[twoway.rule]]``: a keyword (matched as the built-in ones are) or a regular
    expression (searched in the text, case-insensitive) -> a reply, a tag, an event."""

    name: str
    keyword: str | None = None
    pattern: str | None = None
    reply: str | None = None  # sent back to the subscriber from the number texted
    tag: str | None = None  # on the reply and the event
    event: bool = False  # a keyword.matched event through the outbox
    senders: tuple[str, ...] = ()  # our numbers it applies to (without +); none: every number
    programme: str | None = None  # or the senders of this programme
    voucher: str | None = None  # a voucher pool: the reply carries the number's code ({code})
    exhausted: str | None = None  # the reply when that pool has no code left


@attrs.frozen(kw_only=True)
class KeywordConfig:
    matching: str = "standard"  # "strict" | "standard" | "custom" (see twoway.keywords)
    languages: tuple[str, ...] = wordsets.LANGUAGES  # the built-in sets used
    opt_out: tuple[str, ...] = ()  # words added to the built-in sets
    opt_in: tuple[str, ...] = ()  # ("YES" makes YES an opt-in, before any conversation)
    help: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # built-in words taken out
    patterns: tuple[str, ...] = ()  # matching = "custom"
    rules: tuple[Rule, ...] = ()
    # [twoway.programmes]: name -> its senders, when the config named them (None: not read)
    programmes: tuple[tuple[str, tuple[str, ...]], ...] | None = None


@attrs.frozen(kw_only=True)
class Entry:
    """What a word (or phrase) is: its kind, its canonical spelling, how tolerant."""

    kind: Kind
    keyword: str  # upper case, as configured ("ARRÊT"); a typo's is the word it misspells
    strong: bool = False  # request wordings and any argument allowed (twoway.wordsets)
    all_senders: bool = False  # STOP ALL
    rules: tuple[int, ...] = ()  # Kind.CUSTOM: the rules with this keyword, in config order


@attrs.define
class Table:
    phrases: dict[str, Entry] = attrs.field(factory=dict)  # folded words joined by " "
    longest: int = 1  # words in the longest phrase
    programmes: dict[str, str] = attrs.field(factory=dict)  # folded one-word name -> name
    rule_senders: list[frozenset[str] | None] = attrs.field(factory=list)  # per rule; None: all
    rule_patterns: list[tuple[int, re.Pattern[str]]] = attrs.field(factory=list)
    patterns: list[re.Pattern[str]] = attrs.field(factory=list)  # matching = "custom"


def _words(v: Any, where: str) -> str:
    s = string(v, where, min_len=1, max_len=64)
    if not 1 <= len(words(s)) <= MAX_WORDS:
        raise ConfigError(f"{where}: 1 to {MAX_WORDS} words of letters or digits, got {s!r}")
    return s


def _regex(v: Any, where: str, flags: int = 0) -> re.Pattern[str]:
    s = string(v, where, min_len=1, max_len=500)
    try:
        return re.compile(s, flags)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regular expression: {exc}") from None


def keywords_from_dict(
    data: Any, rules: Any = None, programmes: Collection[str] | Mapping[str, Collection[str]] | None = None
) -> KeywordConfig:
    """``data``: the ``[twoway.keywords]`` table; ``rules``: the ``[[twoway.rule]]``
    array (either may be None); ``programmes``: the configured programmes (as
    ``build_table`` takes them), or None: a rule's ``programme`` is checked later, by
    ``Keywords``. Raises ConfigError naming the first bad key."""
    t = table(data if data is not None else {}, "twoway.keywords")
    unknown_keys(t, _KEYS, "twoway.keywords")
    out: dict[str, Any] = {}
    if "matching" in t:
        out["matching"] = string(t["matching"], "twoway.keywords.matching", choices=MATCHING)
    if "languages" in t:
        langs = wordsets.LANGUAGES
        out["languages"] = tuple(
            string(v, w, choices=langs) for v, w in _items(t["languages"], "twoway.keywords.languages")
        )
    for key in ("opt_out", "opt_in", "help", "exclude"):
        if key in t:
            out[key] = tuple(each(t[key], f"twoway.keywords.{key}", _words))
    if "patterns" in t:
        out["patterns"] = tuple(each(t["patterns"], "twoway.keywords.patterns", string))
    out["rules"] = tuple(
        _rule(table(r, f"twoway.rule[{i}]"), f"twoway.rule[{i}]")
        for i, r in enumerate(array(rules if rules is not None else [], "twoway.rule"))
    )
    if programmes is not None:
        out["programmes"] = tuple(
            (name, tuple(programmes[name]) if isinstance(programmes, Mapping) else ()) for name in programmes
        )
    config = KeywordConfig(**out)
    build_table(config, programmes)  # every conflict named now, not at the first inbound message
    return config


def _items(v: Any, where: str) -> list[tuple[Any, str]]:
    return [(item, f"{where}[{i}]") for i, item in enumerate(array(v, where))]


def _rule(t: dict[str, Any], where: str) -> Rule:
    unknown_keys(t, _RULE_KEYS, where)
    if ("keyword" in t) == ("pattern" in t):
        raise ConfigError(f"{where}: a keyword or a pattern (one of them)")
    out: dict[str, Any] = {}
    if "keyword" in t:
        out["keyword"] = _words(t["keyword"], f"{where}.keyword")
    else:
        out["pattern"] = _regex(t["pattern"], f"{where}.pattern", re.IGNORECASE).pattern
        if "name" not in t:
            raise ConfigError(f"{where}.name: missing (a pattern rule needs a name)")
    out["name"] = (
        string(t["name"], f"{where}.name", min_len=1, max_len=64) if "name" in t else out["keyword"].upper()
    )
    if "reply" in t:
        out["reply"] = string(t["reply"], f"{where}.reply", min_len=1, max_len=1600)
    if "tag" in t:
        tag = string(t["tag"], f"{where}.tag")
        if not _TAG.fullmatch(tag):
            raise ConfigError(f"{where}.tag: 1-64 of A-Z a-z 0-9 _ . : -, got {tag!r}")
        out["tag"] = tag
    if "event" in t:
        out["event"] = boolean(t["event"], f"{where}.event")
    if "senders" in t and "programme" in t:
        raise ConfigError(f"{where}.programme: senders or a programme, not both")
    if "senders" in t:
        out["senders"] = tuple(
            string(v, w, min_len=1, max_len=21).lstrip("+")
            for v, w in _items(t["senders"], f"{where}.senders")
        )
        if not out["senders"]:
            raise ConfigError(f"{where}.senders: at least one number (or leave it out: every number)")
    if "programme" in t:
        out["programme"] = string(t["programme"], f"{where}.programme", min_len=1, max_len=64)
    if "voucher" in t or "exhausted" in t:
        out.update(_voucher(t, out.get("reply"), where))
    return Rule(**out)


def _voucher(t: dict[str, Any], reply: str | None, where: str) -> dict[str, str]:
    """A rule's ``voucher`` pool, its reply with ``{code}`` and the ``exhausted`` text."""
    if "voucher" not in t:
        raise ConfigError(f"{where}.exhausted: only with voucher (a pool the rule gives codes from)")
    pool = string(t["voucher"], f"{where}.voucher")
    if not POOL_NAME.fullmatch(pool):
        raise ConfigError(
            f"{where}.voucher: 1-64 of A-Z a-z 0-9 _ . - (a letter or digit first), got {pool!r}"
        )
    if reply is not None and "{code}" not in reply:
        raise ConfigError(f"{where}.reply: a voucher rule's reply carries the code: put {{code}} in it")
    exhausted = "Sorry, there are no codes left."
    if "exhausted" in t:
        exhausted = string(t["exhausted"], f"{where}.exhausted", min_len=1, max_len=1600)
    return {"voucher": pool, "reply": reply or "Your code: {code}", "exhausted": exhausted}


def build_table(
    config: KeywordConfig, programmes: Collection[str] | Mapping[str, Collection[str]] | None
) -> Table:
    """The lookup tables of ``config``. ``programmes``: the programme names (a mapping:
    name -> its senders, which programme rules apply to); None: not checked yet.
    Raises ConfigError naming the key of the first conflict."""
    out = Table()
    if programmes is not None:
        out.programmes = {_key(name): name for name in programmes if len(words(name)) == 1}
    builtin = list(_builtins(config.languages))
    excluded = set()
    for i, word in enumerate(config.exclude):
        if _key(word) not in {_key(e.keyword) for e in builtin}:
            raise ConfigError(
                f"twoway.keywords.exclude[{i}]: {word!r} is not a built-in keyword of the languages chosen"
            )
        excluded.add(_key(word))
    for entry in builtin:
        if _key(entry.keyword) not in excluded:
            _add(out, _key(entry.keyword), entry, "")
    for kind in (Kind.OPT_OUT, Kind.OPT_IN, Kind.HELP):
        for i, word in enumerate(getattr(config, kind.value)):
            _add(
                out, _key(word), Entry(kind=kind, keyword=word.upper()), f"twoway.keywords.{kind.value}[{i}]"
            )
    _add_rules(out, config.rules, programmes)
    if config.matching == "standard":
        _add_typos(out)
    for i, p in enumerate(config.patterns):
        where = f"twoway.keywords.patterns[{i}]"
        pattern = _regex(p, where)
        if "keyword" not in pattern.groupindex:
            raise ConfigError(f"{where}: needs a (?P<keyword>...) group: where the keyword is")
        out.patterns.append(pattern)
    if config.patterns and config.matching != "custom":
        raise ConfigError('twoway.keywords.patterns: only with matching = "custom"')
    if config.matching == "custom" and not config.patterns:
        raise ConfigError('twoway.keywords.patterns: missing (matching = "custom" needs at least one)')
    return out


def _key(word: str) -> str:
    """A word's or phrase's key in ``Table.phrases``: its folded words."""
    return " ".join(words(word))


def _builtins(languages: tuple[str, ...]) -> Iterator[Entry]:
    for lang in languages:
        strong, weak = wordsets.OPT_OUT[lang]
        for word in strong:
            yield Entry(kind=Kind.OPT_OUT, keyword=word, strong=True, all_senders=_key(word) in _ALL)
        for kind, words_ in (
            (Kind.OPT_OUT, weak),
            (Kind.OPT_IN, wordsets.OPT_IN[lang]),
            (Kind.HELP, wordsets.HELP[lang]),
        ):
            yield from (Entry(kind=kind, keyword=word) for word in words_)


def _add(out: Table, key: str, entry: Entry, where: str) -> None:
    have = out.phrases.get(key)
    if have is not None and have.kind is not entry.kind:
        raise ConfigError(
            f"{where}: {entry.keyword!r} is already {_LABEL[have.kind]} keyword ({have.keyword})"
        )
    if have is None:  # the first spelling stays (a word in two languages is one entry)
        out.phrases[key] = entry
        out.longest = max(out.longest, key.count(" ") + 1)


def _add_rules(
    out: Table, rules: tuple[Rule, ...], programmes: Collection[str] | Mapping[str, Collection[str]] | None
) -> None:
    for i, rule in enumerate(rules):
        where = f"twoway.rule[{i}]"
        senders: frozenset[str] | None = frozenset(rule.senders) if rule.senders else None
        if rule.programme is not None and programmes is None:  # its senders not known yet
            senders = frozenset({f"programme:{rule.programme}"})
        elif rule.programme is not None and programmes is not None:
            if rule.programme not in programmes:
                known = ", ".join(sorted(programmes)) or "none configured"
                raise ConfigError(f"{where}.programme: unknown programme {rule.programme!r} ({known})")
            found = programmes[rule.programme] if isinstance(programmes, Mapping) else ()
            senders = frozenset(s.lstrip("+") for s in found)
        if any(r.name == rule.name for r in rules[:i]):
            raise ConfigError(f"{where}.name: {rule.name!r} is taken (give each rule its own name)")
        out.rule_senders.append(senders)
        if rule.pattern is not None:
            out.rule_patterns.append((i, re.compile(rule.pattern, re.IGNORECASE)))
            continue
        assert rule.keyword is not None
        key = _key(rule.keyword)
        have = out.phrases.get(key)
        if have is not None and have.kind is Kind.CUSTOM:
            if any(out.rule_senders[j] == senders for j in have.rules):
                raise ConfigError(
                    f"{where}.keyword: {rule.keyword!r} for the same senders as an earlier rule"
                )
            out.phrases[key] = attrs.evolve(have, rules=(*have.rules, i))
            continue
        _add(
            out,
            key,
            Entry(kind=Kind.CUSTOM, keyword=rule.keyword.upper(), strong=True, rules=(i,)),
            f"{where}.keyword",
        )


def _add_typos(out: Table) -> None:
    """Near misses of the tolerant opt-out words, weak; a misspelling of two words, or
    a word of its own, is left out."""
    found: dict[str, Entry | None] = {}
    for word, level in wordsets.TYPO_TOLERANT.items():
        entry = out.phrases.get(word)
        if entry is None or entry.kind is not Kind.OPT_OUT:
            continue
        for typo in typos(word, level):
            if typo not in out.phrases:
                found[typo] = None if typo in found else attrs.evolve(entry, strong=False)
    for typo, typo_entry in found.items():
        if typo_entry is not None:
            out.phrases[typo] = typo_entry
