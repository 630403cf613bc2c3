"""Inbound text as the keyword matcher sees it: folded and cut into words.

``fold`` removes what a subscriber's keyboard varies and the meaning does not: case
(``casefold``: ß is ss), accents (NFKD, combining marks dropped: ARRÊT is ARRET, full-width
letters are letters), apostrophes inside words (don't is dont). ``words`` then keeps the
runs of letters and digits; everything else (spaces, punctuation, emoji, hyphens) only
separates words, so "OPT-OUT", "opt out" and " Opt   out!! 🙏" are the same two words.
Both run in one pass over the text (O(length)).

``typos`` lists the near misses of a word that still count as it (``wordsets.TYPO_TOLERANT``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

__all__ = ["fold", "typos", "words"]

_APOSTROPHES: Final = {ord(c): None for c in "'\u2019\u2018\u02bc`\u00b4"}
_WORD: Final = re.compile(r"[^\W_]+")
_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"


def fold(text: str) -> str:
    """``text`` without case, accents or apostrophes."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    if decomposed.isascii():
        return decomposed.casefold()
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The words of ``text``, folded. Letters typed one by one ("S T O P", "s.t.o.p")
    are one word."""
    found = _WORD.findall(fold(text))
    if len(found) >= 3 and all(len(w) == 1 for w in found):
        return ["".join(found)]
    return found


@functools.cache
def typos(word: str, level: str) -> frozenset[str]:
    """The misspellings of the folded ``word`` that count as it. ``level``: "swap" (one
    swap of neighbouring letters, one doubled letter) or "edit" (also one letter
    missing, wrong or extra; for words of 7 letters or more)."""
    out: set[str] = set()
    n = len(word)
    if n < 4:  # END, OPT: too short to tell a typo from another word
        return frozenset()
    for i in range(n - 1):
        out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    for i in range(n):
        out.add(word[: i + 1] + word[i:])
    if level == "edit" and n >= 7:
        for i in range(n):
            out.add(word[:i] + word[i + 1 :])
            out.update(word[:i] + c + word[i + 1 :] for c in _LETTERS)
        for i in range(n + 1):
            out.update(word[:i] + c + word[i:] for c in _LETTERS)
    out.discard(word)
    return frozenset(out)
