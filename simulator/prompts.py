"""What an MT asks of the person who reads it: a simple, pure reading of its text.

A handset (``simulator.personas``) answers a flow's prompts as it answers any MT: it
reads the text the way a person skims it, then picks an answer. The reading knows:

- a numbered list: "1) Mon 10:00 2) Tue 14:30", "1. Billing", "(1) yes", "1 - Mon",
  "1=Mon", "Reply 1 for Mon, 2 for Tue", "Text 1 to confirm or 2 to cancel" (and
  lettered ones: "A) Billing B) Login");
- keyword options: "Reply CONFIRM or RESCHEDULE", "Text BOOK, CANCEL or MOVE" (words in
  capitals or in quotes after reply/text/send/answer; STOP, HELP and the like are the
  consent footer, not options; YES and NO alone are a yes/no question);
- a scale: "0-10", "0 to 10", "out of 10", "8/10", "1-5" or "1 to 5" when a rating
  word says so ("rate", "scale", "likely", ...);
- a question expecting free text: "Why did you give that score?", "Tell us what went
  wrong", "Please describe the problem";
- an offer ("% off", "voucher", ...) and anything else (a notice, a confirmation).
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs

__all__ = ["Ask", "Prompt", "read_prompt", "read_question"]


class Ask(enum.Enum):
    """What an MT asks of the person who reads it."""

    YES_NO = "yes_no"
    SCORE = "score"
    CHOICE = "choice"
    QUESTION = "question"
    OFFER = "offer"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class Prompt:
    """The reading of one MT. ``options``: the answers a choice offers ("1", "2" ... or
    "CONFIRM", "RESCHEDULE"), with their ``labels`` as shown; ``numbered``: picked by
    number (or letter). ``low``..``high``: a scale's ends."""

    ask: Ask
    options: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    numbered: bool = False
    low: int = 0
    high: int = 10


# -- numbered and lettered lists ---------------------------------------------------------------

# "1) Mon", "1. Mon", "1: Mon", "1 - Mon", "1=Mon", "(1) Mon", "[1] Mon". A dot or a colon
# must be followed by a space, a dash by no digit, so "1:30", "1.5" and "1-10" are not items.
_ITEM: Final = re.compile(
    r"(?:^|(?<=[\s,;(\[])|(?<=[^\d\s]:))"
    r"(?:[(\[]\s*(\d{1,2})\s*[)\]]\s*|(\d{1,2})\s*(?:[)=]\s*|[.:]\s+|-(?!\s*\d)\s*|\u2013(?!\s*\d)\s*))"
    r"(?=\S)([^\n]*?)(?=\s*(?:[,;]\s*(?:or\s+)?)?(?:\s[(\[]?\d{1,2}\s*(?:[).:\]\-\u2013]\s|=)|$))",
    re.MULTILINE,
)
# "Reply 1 for Mon, 2 for Tue", "Text 1 to confirm or 2 to cancel", "Press 1 for sales".
_FOR: Final = re.compile(
    r"\b(\d{1,2})\s+(?:for|to|if|=)\s+(?!\d)([^,;.!?\n]+?)(?=\s*(?:,|;|\bor\b|\band\b|[.!?](?:\s|$)|\n|$))",
    re.IGNORECASE,
)
_LETTER: Final = re.compile(
    r"(?:^|(?<=\s))([A-H])\)\s*(?=\S)([^\n]*?)(?=\s*(?:[,;]\s*(?:or\s+)?)?(?:\b[A-H]\)\s|$|\n))",
    re.MULTILINE,
)


def _run(pairs: list[tuple[str, str]], keys: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The longest run of ``keys`` in order from the first (1, 2, 3 ... or A, B, C ...)
    among ``pairs`` (key, label): the options a list offers, or () if fewer than two."""
    found: dict[str, str] = {}
    for key, label in pairs:
        # "Wed 09:15. Reply STOP to opt out": the label ends with its sentence
        found.setdefault(key, _SENTENCE_END.split(label, maxsplit=1)[0].strip(" .,;:-"))
    options: list[str] = []
    for key in keys:
        if key not in found:
            break
        options.append(key)
    if len(options) < 2:
        return (), ()
    return tuple(options), tuple(found[k] for k in options)


_SENTENCE_END: Final = re.compile(r"[.!?]\s+(?=[A-Z])")
_DIGITS: Final = [str(i) for i in range(1, 100)]
_LETTERS: Final = [chr(c) for c in range(ord("A"), ord("I"))]


def _numbered(text: str) -> Prompt | None:
    pairs = [(m.group(1) or m.group(2), m.group(3)) for m in _ITEM.finditer(text)]
    pairs += [(m.group(1), m.group(2)) for m in _FOR.finditer(text)]
    numbers = [(str(int(k)), v) for k, v in pairs]
    # From 1, or from 0 ("0) Other" first): the longer run.
    options, labels = max(
        (_run(numbers, keys) for keys in (_DIGITS, ["0", *_DIGITS])), key=lambda r: len(r[0])
    )
    if options:
        return Prompt(ask=Ask.CHOICE, options=options, labels=labels, numbered=True)
    options, labels = _run([(m.group(1), m.group(2)) for m in _LETTER.finditer(text)], _LETTERS)
    if options:
        return Prompt(ask=Ask.CHOICE, options=options, labels=labels, numbered=True)
    return None


# -- keyword options ---------------------------------------------------------------------------

_VERB: Final = re.compile(r"\b(?:reply|text|txt|send|answer|respond|type|say|choose|pick)\b", re.IGNORECASE)
# A keyword: a word in capitals (two letters or more, digits allowed after) or a quoted word.
_KEYWORD: Final = re.compile(r"\b([A-Z][A-Z0-9]+)\b|[\"'\u201c\u2018]([A-Za-z][A-Za-z0-9]*)[\"'\u201d\u2019]")
# The consent words a footer offers ("Reply STOP to opt out", "HELP for help"): not options.
_CONSENT: Final = frozenset(
    {"STOP", "HELP", "START", "UNSTOP", "END", "QUIT", "CANCEL ALL", "UNSUBSCRIBE", "INFO"}
)
_YES_NO_WORDS: Final = frozenset({"YES", "NO", "Y", "N"})
_SENTENCE: Final = re.compile(r"[^.!?\n]+[.!?]*")
# A keyword list one option a line: "CONFIRM - keep it", "RESCHEDULE = another time",
# "LATER". (Not "ACME: ...": that is how a brand starts a text.)
_KEY_LINE: Final = re.compile(
    r"^[ \t]*([A-Z][A-Z0-9]+)[ \t]*(?:(?:-|\u2013|=)[ \t]*\S[^\n]*)?$", re.MULTILINE
)


def _keywords(text: str) -> tuple[str, ...]:
    """The keywords offered after a reply verb, in order, each once (consent words left out)."""
    found: list[str] = []
    lines = [m.group(1) for m in _KEY_LINE.finditer(text) if m.group(1) not in _CONSENT]
    if len(lines) >= 2:
        found.extend(dict.fromkeys(lines))
    for sentence in _SENTENCE.findall(text):
        verb = _VERB.search(sentence)
        if verb is None:
            continue
        for m in _KEYWORD.finditer(sentence, verb.end()):
            word = (m.group(1) or m.group(2)).upper()
            if word not in _CONSENT and word not in found:
                found.append(word)
    return tuple(found)


# -- scales, yes/no, offers, questions ---------------------------------------------------------

_SCALE_TEN: Final = re.compile(r"\b([01])\s*(?:-|\u2013|to)\s*(10)\b|\bout of (10)\b|/(10)\b", re.IGNORECASE)
_SCALE_SHORT: Final = re.compile(
    r"\b([01])\s*(?:-|\u2013|to)\s*([3-9])\b|\bout of ([3-9])\b|/([3-9])\b", re.IGNORECASE
)
_RATING: Final = re.compile(
    r"\b(?:rate|rating|score|scale|likely|satisf\w*|recommend|stars?|how (?:was|did|would))\b", re.IGNORECASE
)
_YES_NO_RE: Final = re.compile(
    r"\byes\b[^.?!]{0,20}\bno\b|\by\s*/\s*n\b|\breply\s+(?:with\s+)?(?:yes|y)\b|\bconfirm\b", re.IGNORECASE
)
_OFFER_RE: Final = re.compile(
    r"\boffer\b|\bvoucher\b|\bdiscount\b|\bsale\b|\bpromo|\bdeal\b|\d+\s*%\s*off\b|\bcoupon\b", re.IGNORECASE
)
# A question that wants words back: a wh-question, or an ask for a description.
_WH_QUESTION: Final = re.compile(
    r"\b(?:why|what|which|how|where|when|who|anything|could you|can you|would you|do you|is there)\b"
    r"[^.!?\n]*\?",
    re.IGNORECASE,
)
_ASK_WORDS: Final = re.compile(
    r"\b(?:tell us|let us know|describe|in a few words|in your own words|explain|"
    r"reply with (?:your|a short|a few|the|a text|a message|some words)|send us (?:your|a))\b",
    re.IGNORECASE,
)


def _scale(text: str) -> tuple[int, int] | None:
    m = _SCALE_TEN.search(text)
    if m is not None:
        return (int(m.group(1)) if m.group(1) else 0), 10
    m = _SCALE_SHORT.search(text)
    if m is not None and _RATING.search(text):
        high = next(int(g) for g in m.groups()[1:] if g)
        return (int(m.group(1)) if m.group(1) else 1), high
    return None


def read_prompt(text: str) -> Prompt:
    """The reading of an MT's text: a list to pick from, a scale, a yes/no question, a
    question wanting words, an offer, or anything else. Pure."""
    choice = _numbered(text)
    if choice is not None:
        return choice
    words = _keywords(text)
    if len(words) >= 2 and not set(words) <= _YES_NO_WORDS:
        return Prompt(ask=Ask.CHOICE, options=words, labels=words)
    scale = _scale(text)
    if scale is not None:
        return Prompt(ask=Ask.SCORE, low=scale[0], high=scale[1])
    if (words and set(words) <= _YES_NO_WORDS) or _YES_NO_RE.search(text):
        return Prompt(ask=Ask.YES_NO, options=("YES", "NO"), labels=("YES", "NO"))
    if _OFFER_RE.search(text):
        return Prompt(ask=Ask.OFFER)
    if _WH_QUESTION.search(text) or _ASK_WORDS.search(text):
        return Prompt(ask=Ask.QUESTION)
    return Prompt(ask=Ask.OTHER)


def read_question(text: str) -> Ask:
    """What ``text`` asks (``read_prompt(text).ask``)."""
    return read_prompt(text).ask
