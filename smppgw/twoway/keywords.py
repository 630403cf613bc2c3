"""Keywords of inbound texts: opt-out (STOP ...), opt-in (START ...), HELP, custom rules.

The interface the inbound path uses is ``Keywords.classify``: one inbound text (and the
number it was sent to) in, a ``KeywordMatch`` or None out. Pure: no I/O, no clock.

The rule (``[twoway.keywords] matching``)
------------------------------------------
A text is first folded and cut into words (``twoway.text``): case, accents, apostrophes,
punctuation, emoji and spacing do not count ("Stop!!", " stop. ", "ARRÊT", "Opt-Out 🙏").

``strict``
    The words are exactly a keyword's ("STOP", "stop.", "Opt-out!"), or a keyword and
    the name of a configured programme ("STOP PROMO").
``standard`` (the default)
    A keyword with polite words around it, and nothing else: "please stop", "STOP
    please", "Stop. Thank you", "stop texting me", "pls stop", "remove me from your
    list", "ok stop". Before a *strong* opt-out word (STOP, UNSUBSCRIBE, OPT OUT, ...;
    ``twoway.wordsets``) request wordings count too ("I want to unsubscribe", "can you
    please stop texting me"), and one word after it is its argument ("STOP PROMO",
    "STOP 12345"). A sentence that merely contains the word is not a keyword: "don't
    stop the reminders", "we have got to STOP this bill", "stop by the office at 5",
    "cancel my appointment". A strong opt-out is also one as the last clause of a
    longer text, after . ! ? , ; or a line break: "Wrong number. Stop", "No thanks,
    STOP", "Who is this? Stop texting me" (but not "Yes, cancel"). Misspellings of the
    common opt-out words count ("stpo", "sotp", "unsubscibe"; in this mode only). Texts
    of more than 12 words are never keywords.
``custom``
    ``strict``, then each of ``patterns``: regular expressions matched against the whole
    folded text (lower-case words separated by single spaces: ``please stop texting me``),
    with a ``(?P<keyword>...)`` group naming where the keyword is and an optional
    ``(?P<argument>...)`` group. Write them without nested repetition (``(a+)+``):
    Python's ``re`` backtracks, and the text is the subscriber's.

An argument that names a programme (``[twoway.programmes]``, case-insensitive) makes it a
programme-level keyword (``KeywordMatch.programme``); any other argument is kept in
``KeywordMatch.argument`` but the keyword is a plain one for the whole sender. STOP ALL
and STOPALL are ``all_senders``.

Built-in words (opt-out, opt-in, help) come first; then custom rules (``[[twoway.rule]]``,
in config order, those of the number texted): a rule's keyword is matched like a built-in
one (any one-word argument allowed), a rule's pattern is searched in the text stripped of
surrounding spaces, case-insensitively. Texts over 640 characters are never keywords.
Everything is looked up in tables built once; a text costs one pass over it and at most
a few dozen dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Final

import attrs

from smppgw.twoway.keyword_config import Entry, KeywordConfig, Kind, Rule, build_table
from smppgw.twoway.text import words
from smppgw.twoway.wordsets import NOT_ARGUMENT, POLITE_PREFIX, REQUEST_PREFIX, SUFFIX

__all__ = ["KeywordConfig", "KeywordMatch", "Keywords", "Kind", "Rule"]

MAX_CHARS: Final = 640  # a keyword message is a few words; a longer text is never one
MAX_WORDS: Final = 12
_NOTHING: Final[frozenset[str]] = frozenset()
_CLAUSE_MARKS: Final = ".!?,;\n"


@attrs.frozen(kw_only=True)
class KeywordMatch:
    kind: Kind
    keyword: str  # the canonical keyword matched, upper case ("STOP", "HELP", a rule's keyword)
    argument: str | None = None  # "STOP PROMO" -> "PROMO" (a programme, where configured)
    all_senders: bool = False  # STOP ALL / STOPALL: every sender and programme
    rule: str | None = None  # Kind.CUSTOM: the rule's name
    programme: str | None = None  # the configured programme ``argument`` names, as configured


class Keywords:
    def __init__(
        self,
        config: KeywordConfig | None = None,
        *,
        programmes: Collection[str] | Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """``programmes``: the configured programme names (an argument naming one makes a
        programme-level keyword); a mapping name -> its senders also scopes the rules
        that name a programme. By default, those of ``config`` (``[twoway.programmes]``).

        Raises:
            ConfigError: a conflict in ``config`` or a rule naming an unknown programme,
                naming its key.
        """
        self.config = config or KeywordConfig()
        if programmes is None:
            programmes = dict(self.config.programmes or ())
        self._table = build_table(self.config, programmes)
        self._tolerant = self.config.matching == "standard"

    def rule(self, name: str) -> Rule:
        """The custom rule ``name`` (a ``KeywordMatch.rule``). Raises KeyError."""
        for rule in self.config.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def classify(self, text: str, *, sender: str | None = None) -> KeywordMatch | None:
        """The keyword ``text`` is, or None (an ordinary message). ``sender``: the number
        it was sent to (custom rules may be per sender)."""
        if len(text) > MAX_CHARS:
            return None
        sender = sender.lstrip("+") if sender is not None else None
        found = words(text)
        match = None
        if 0 < len(found) <= MAX_WORDS:
            match = self._words(found, sender)
            if match is None and self._tolerant:
                match = self._last_clause(text, sender)
            if match is None and self._table.patterns:
                match = self._patterns(found, sender)
        if match is None and self._table.rule_patterns:
            match = self._rule_patterns(text.strip(), sender)
        return match

    def _last_clause(self, text: str, sender: str | None) -> KeywordMatch | None:
        """``standard``: "Wrong number. Stop", "No thanks, STOP": a strong opt-out after
        the last . ! ? , ; or line break."""
        body = text.rstrip(_CLAUSE_MARKS + " \t\r")
        cut = max(body.rfind(mark) for mark in _CLAUSE_MARKS)
        if cut < 0:
            return None
        ws = words(body[cut + 1 :])
        return self._words(ws, sender, strong_opt_out=True) if 0 < len(ws) <= MAX_WORDS else None

    def _words(
        self, ws: list[str], sender: str | None, *, strong_opt_out: bool = False
    ) -> KeywordMatch | None:
        """A keyword at ``start`` (after allowed prefix words), then allowed suffix words.
        ``strong_opt_out``: only a strong opt-out word."""
        tolerant, phrases = self._tolerant, self._table.phrases
        n = len(ws)
        for start in range(n):
            if start and not (tolerant and ws[start - 1] in REQUEST_PREFIX):
                return None
            for length in range(min(self._table.longest, n - start), 0, -1):
                entry = phrases.get(ws[start] if length == 1 else " ".join(ws[start : start + length]))
                if entry is None or (start and not _prefix_ok(ws[:start], entry)):
                    continue
                if strong_opt_out and not (entry.strong and entry.kind is Kind.OPT_OUT):
                    continue
                rule = self._rule_for(entry, sender)
                if entry.kind is Kind.CUSTOM and rule is None:
                    continue
                rest = ws[start + length :]
                while tolerant and rest[:length] == ws[start : start + length]:
                    rest = rest[length:]  # said again: "stop stop stop", "STOP STOP"
                match = self._tail(entry, rest, rule)
                if match is not None:
                    return match
        return None

    def _tail(self, entry: Entry, rest: Sequence[str], rule: Rule | None) -> KeywordMatch | None:
        """The match if ``rest`` (the words after the keyword) is allowed after it."""
        suffix = SUFFIX if self._tolerant else _NOTHING
        if not rest:
            return _match(entry, rule, None, None)
        first = rest[0]
        programme = self._table.programmes.get(first)
        if all(w in suffix for w in rest[1:]):
            if programme is not None:
                return _match(entry, rule, first.upper(), programme)
            if self._tolerant and first in suffix:
                return _match(entry, rule, None, None)
            if self._tolerant and entry.strong and first not in NOT_ARGUMENT:
                return _match(entry, rule, first.upper(), None)
        return None

    def _rule_for(self, entry: Entry, sender: str | None) -> Rule | None:
        """Kind.CUSTOM: the first of the entry's rules that applies to ``sender``."""
        for i in entry.rules:
            senders = self._table.rule_senders[i]
            if senders is None or (sender is not None and sender in senders):
                return self.config.rules[i]
        return None

    def _patterns(self, ws: list[str], sender: str | None) -> KeywordMatch | None:
        """``matching = "custom"``: the configured patterns over the folded text."""
        folded = " ".join(ws)
        for pattern in self._table.patterns:
            m = pattern.fullmatch(folded)
            if m is None or m.group("keyword") is None:
                continue
            entry = self._table.phrases.get(" ".join(words(m.group("keyword"))))
            if entry is None:
                continue
            rule = self._rule_for(entry, sender)
            if entry.kind is Kind.CUSTOM and rule is None:
                continue
            argument = m.groupdict().get("argument")
            argument = argument.strip().upper() if argument and argument.strip() else None
            programme = self._table.programmes.get(argument.lower()) if argument else None
            return _match(entry, rule, argument, programme)
        return None

    def _rule_patterns(self, text: str, sender: str | None) -> KeywordMatch | None:
        for i, pattern in self._table.rule_patterns:
            senders = self._table.rule_senders[i]
            if senders is not None and (sender is None or sender not in senders):
                continue
            m = pattern.search(text)
            if m is not None:
                rule = self.config.rules[i]
                argument = m.groupdict().get("argument")
                return KeywordMatch(
                    kind=Kind.CUSTOM, keyword=rule.name.upper(), argument=argument, rule=rule.name
                )
        return None


def _prefix_ok(prefix: Sequence[str], entry: Entry) -> bool:
    allowed = REQUEST_PREFIX if entry.strong else POLITE_PREFIX
    return all(w in allowed for w in prefix)


def _match(entry: Entry, rule: Rule | None, argument: str | None, programme: str | None) -> KeywordMatch:
    return KeywordMatch(
        kind=entry.kind, keyword=entry.keyword, argument=argument, all_senders=entry.all_senders,
        rule=rule.name if rule is not None else None, programme=programme,
    )  # fmt: skip
