"""Reading a reply as an answer to a conversation's ``expect`` (``twoway.conversations``).

Tolerant: case, accents, punctuation and polite words around the answer do not matter
("Yes please", "no thanks", "hi, YES", "Oui!"); a score may be "8", "8/10", "8 out of
10", "eight" or " 9!". A reply that merely contains an answer ("yes but later") is not
one. Pure: text in, answer out.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smppgw.twoway.conversations import Expect

__all__ = ["normalise", "parse_answer"]

# Words around an answer that do not change it (either end): "yes please", "no thanks",
# "hi, yes", "ok thank you". Only stripped when the whole reply is not an answer itself.
_POLITE = frozenset(
    [
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "cheers",
        "hi",
        "hello",
        "hey",
        "dear",
        "merci",
        "gracias",
        "danke",
        "bitte",
        "por",
        "favor",
        "sil",
        "vous",
        "plait",
        "svp",
    ]
)
_NUMBERS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NOT_WORD = re.compile(r"[^0-9a-z/]+")
_NEGATIVE = re.compile(r"-\s*\d")
_SCORE = re.compile(r"(\d{1,4})(?:(?: ?/ ?| out of | of )(\d{1,4}))?")


def normalise(text: str) -> str:
    """Lower case, accents dropped, punctuation to spaces, spaces collapsed ("Oui!" ->
    "oui", "  Ça va " -> "ca va"); "/" kept (8/10)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c)).replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def _unwrapped(words: list[str]) -> list[str]:
    """``words`` without polite words at either end (all of them, if that is all)."""
    lo, hi = 0, len(words)
    while lo < hi and words[lo] in _POLITE:
        lo += 1
    while hi > lo and words[hi - 1] in _POLITE:
        hi -= 1
    return words[lo:hi]


def parse_answer(expect: Expect, text: str) -> str | None:
    """The answer ``text`` gives (a choice's name, a score as digits, the text itself),
    or None: not a valid answer."""
    if expect.type == "text":
        stripped = text.strip()
        return stripped or None
    words = normalise(text).split()
    if expect.type == "choice":
        return _choice(expect, words)
    if _NEGATIVE.search(text):
        return None  # "-1": not "1"
    return _score(expect, words)


def _choice(expect: Expect, words: list[str]) -> str | None:
    table = expect.words
    for candidate in (words, _unwrapped(words)):
        if not candidate:
            continue
        found = table.get(" ".join(candidate))
        if found is not None:
            return found
        # "yes yes", "ok yes": every word the same choice
        names = {table.get(w) for w in candidate}
        if len(names) == 1 and None not in names:
            return names.pop()
    return None


def _score(expect: Expect, words: list[str]) -> str | None:
    digits = [str(_NUMBERS[w]) if w in _NUMBERS else w for w in _unwrapped(words)]
    m = _SCORE.fullmatch(" ".join(digits))
    if m is None:
        return None
    value = int(m.group(1))
    if m.group(2) is not None and int(m.group(2)) != expect.max:
        return None  # "4/5" to a 0-10 question: not on its scale
    return str(value) if expect.min <= value <= expect.max else None
