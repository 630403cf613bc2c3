"""How the people behind the simulator's numbers write (``simulator.personas``).

Each number has a style, fixed by its seed: terse ("Y", "2", "confirm"), plain ("yes",
"2", "CONFIRM"), shouty ("YES!", "2!"), polite ("Yes.", "8/10", "2 please") or chatty
("yeah", "eight", "2 thanks"). Every wording of a valid answer is one a tolerant reader
takes (the gateway's ``twoway.answers``: case, punctuation and polite words around the
answer do not matter); the texts of the other actions are what people send instead.
"""

from __future__ import annotations

import random
from typing import Final

from simulator.prompts import Ask, Prompt

__all__ = [
    "ANSWER_TEXTS",
    "HELP_TEXTS",
    "STOP_TEXTS",
    "STYLES",
    "TEXTS",
    "TYPOS",
    "no_text",
    "out_of_range",
    "pick_text",
    "score_text",
    "yes_text",
]

STYLES: Final = ("terse", "plain", "shouty", "polite", "chatty")
_YES: Final = {"terse": "Y", "plain": "yes", "shouty": "YES!", "polite": "Yes.", "chatty": "yeah"}
_NO: Final = {"terse": "N", "plain": "no", "shouty": "NO!", "polite": "No.", "chatty": "no"}
_NUMBERS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
TYPOS: Final[dict[Ask, tuple[str, ...]]] = {
    Ask.YES_NO: ("yse", "ues", "yesss", "ys", "noo", "nk", "bo"),
    Ask.SCORE: ("8o", "*9", "1O", "7.", "ten/"),
}  # (an offer or a notice gets no typo: ACTIONS)
TEXTS: Final[dict[Ask, tuple[str, ...]]] = {
    Ask.YES_NO: (
        "Can we make it Thursday instead?",
        "what time was it again",
        "Who is this?",
        "I'll be 10 min late",
    ),
    Ask.SCORE: ("it was fine", "The nurse was lovely", "too long a wait", "why do you need to know"),
    Ask.CHOICE: (
        "none of those work for me",
        "which one is earliest?",
        "not sure",
        "can I call you instead?",
    ),
    Ask.OFFER: ("how much is it?", "is this a scam?", "maybe later"),
    Ask.OTHER: ("thanks", "Who is this?", "ok"),
}
# What a question wanting words gets ("Why?", "Tell us what went wrong").
ANSWER_TEXTS: Final = (
    "The wait was far too long",
    "nobody called me back",
    "Parking was a nightmare",
    "it was ok I guess",
    "The receptionist was rude to me",
    "Too expensive for what it is",
    "my router keeps dropping the connection",
    "I was charged twice this month",
)
STOP_TEXTS: Final = (
    "STOP",
    "stop please",
    "Stop.",
    "STOP!!",
    "Stop. Thank you",
    "please stop texting me",
    "unsubscribe",
)
HELP_TEXTS: Final = ("HELP", "help", "Help?", "info")
# Keyword answers no list offers.
_WRONG_WORDS: Final = ("MAYBE", "LATER", "TOMORROW", "WHATEVER", "OTHER")


def yes_text(style: str) -> str:
    return _YES[style]


def no_text(style: str) -> str:
    return _NO[style]


def score_text(score: int, style: str, high: int = 10) -> str:
    if style == "polite":
        return f"{score}/{high}"
    if style == "chatty" and 0 <= score < len(_NUMBERS):
        return _NUMBERS[score]
    if style == "shouty":
        return f"{score}!"
    return str(score)


def pick_text(key: str, style: str) -> str:
    """An option's key ("2", "B", "CONFIRM") as the person writes it."""
    if style == "terse":
        return key.lower()
    if style == "shouty":
        return f"{key.upper()}!"
    if style == "polite":
        return f"{key.capitalize()} please"
    if style == "chatty":
        return f"{key.lower()} thanks"
    return key


def out_of_range(prompt: Prompt, style: str, rng: random.Random) -> str:
    """An answer the prompt does not offer: 9 of 3 options, "E" of A-D, MAYBE of CONFIRM
    or RESCHEDULE, 11 or 100 of 0-10."""
    if prompt.ask is Ask.SCORE:
        wrong = [prompt.high + 1, prompt.high + 2, prompt.high * 10]
        if prompt.low > 0:
            wrong.append(prompt.low - 1)
        return score_text(rng.choice(wrong), style, prompt.high)
    options = prompt.options
    if prompt.numbered and options[0].isdigit():
        last = int(options[-1])
        wrong = [n for n in (*range(last + 1, 10), 0, last + 10) if str(n) not in options]
        return pick_text(str(rng.choice(wrong)), style)
    if prompt.numbered:
        after = chr(ord(options[-1]) + 1)
        return pick_text(rng.choice((after, "Z")), style)
    return pick_text(rng.choice([w for w in _WRONG_WORDS if w not in options] or ["NOPE"]), style)
