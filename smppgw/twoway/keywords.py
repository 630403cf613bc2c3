"""Keywords of inbound texts: opt-out (STOP ...), opt-in (START ...), HELP, custom rules.

The interface the inbound path uses is ``Keywords.classify``: one inbound text (and the
number it was sent to) in, a ``KeywordMatch`` or None out. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["KeywordConfig", "KeywordMatch", "Keywords", "Kind"]


class Kind(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CUSTOM = "custom"


@attrs.frozen(kw_only=True)
class KeywordMatch:
    kind: Kind
    keyword: str  # the canonical keyword matched, upper case ("STOP", "HELP", a rule's keyword)
    argument: str | None = None  # "STOP PROMO" -> "PROMO" (a programme, where configured)
    all_senders: bool = False  # STOP ALL / STOPALL: every sender and programme
    rule: str | None = None  # Kind.CUSTOM: the rule's name


@attrs.frozen(kw_only=True)
class KeywordConfig:
    opt_out: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
    opt_in: tuple[str, ...] = ("START", "UNSTOP", "RESUME")
    help: tuple[str, ...] = ("HELP", "INFO")


class Keywords:
    def __init__(self, config: KeywordConfig | None = None) -> None:
        self.config = config or KeywordConfig()
        self._words: dict[str, Kind] = {}
        for kind, words in (
            (Kind.OPT_OUT, self.config.opt_out),
            (Kind.OPT_IN, self.config.opt_in),
            (Kind.HELP, self.config.help),
        ):
            for word in words:
                self._words[word.upper()] = kind

    def classify(self, text: str, *, sender: str | None = None) -> KeywordMatch | None:
        """The keyword ``text`` is, or None (an ordinary message). ``sender``: the number
        it was sent to (custom rules may be per sender)."""
        word = text.strip().upper()
        kind = self._words.get(word)
        if kind is None:
            return None
        return KeywordMatch(kind=kind, keyword=word, all_senders=word == "STOPALL")
