"""Conversations: a message that expects a reply, and what the replies make of it. Pure.

Theory of operation
-------------------
A message may carry an ``expect`` spec (``expect_from``: checked once, at the edge,
every error naming its field, e.g. ``choices.NO[1]``):

    {"type": "choice", "choices": {"YES": ["yes", "y", "ok"], "NO": ["no", "n"]},
     "timeout": "24h", "reprompt": "Please reply YES or NO", "max_reprompts": 1}
    {"type": "score", "min": 0, "max": 10}
    {"type": "text"}

Sending it opens a conversation between its sender (our number) and its recipient. A
reply from that number to that sender before the deadline is linked to it (``link``):
``exact`` when that (sender, number) pair had exactly one open conversation, ``latest``
(the most recently opened) when several were open, ``none`` when none was (a plain
inbound message, not an error).

``parse_answer`` reads the reply tolerantly: case, accents, punctuation, surrounding
polite words ("yes please", "Oui!", "no thanks", "8/10", "eight", "10 out of 10"). A
choice's name is always one of its own synonyms. A reply that is not a valid answer
gets the re-prompt while re-prompts are left, then ends the conversation ``invalid``.

The lifecycle is one table (``TRANSITIONS``); anything not in it raises
``ConversationClosed``::

    open --valid answer--------------> answered
    open --invalid, re-prompts left--> open (a re-prompt is sent)
    open --invalid, none left--------> invalid
    open --deadline passed-----------> expired
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from smppgw.twoway.answers import normalise, parse_answer

__all__ = [
    "DEFAULT_TIMEOUT",
    "TRANSITIONS",
    "ConversationClosed",
    "Expect",
    "ExpectError",
    "Input",
    "Linked",
    "OpenRef",
    "State",
    "Step",
    "expect_from",
    "link",
    "normalise",
    "parse_answer",
    "parse_duration",
    "step",
    "transition",
]

DEFAULT_TIMEOUT: Final = 24 * 3600.0
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 30 * 86400.0
MAX_REPROMPTS = 5
MAX_CHOICES, MAX_SYNONYMS = 20, 20
MAX_NAME, MAX_WORD = 32, 64  # characters of a choice name, of a synonym
MAX_SCORE = 1000
MAX_REPROMPT_TEXT = 612  # four GSM 7-bit parts


class State(enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    INVALID = "invalid"
    EXPIRED = "expired"


class Input(enum.Enum):
    VALID = "valid answer"
    INVALID_REPROMPT = "invalid answer, re-prompts left"
    INVALID_LAST = "invalid answer, no re-prompt left"
    TIMEOUT = "deadline passed"


TRANSITIONS: Final[Mapping[tuple[State, Input], State]] = {
    (State.OPEN, Input.VALID): State.ANSWERED,
    (State.OPEN, Input.INVALID_REPROMPT): State.OPEN,
    (State.OPEN, Input.INVALID_LAST): State.INVALID,
    (State.OPEN, Input.TIMEOUT): State.EXPIRED,
}


class ConversationClosed(ValueError):
    """An input a closed conversation cannot take (answered, invalid or expired)."""


def transition(state: State, event: Input) -> State:
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise ConversationClosed(f"a {state.value} conversation takes no {event.value}") from None


class ExpectError(ValueError):
    """An ``expect`` spec that cannot be used; ``errors``: (field path, why), the path
    relative to the spec (``choices.NO[1]``, ``timeout``)."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {why}" for path, why in errors))
        self.errors = list(errors)


@attrs.frozen(kw_only=True)
class Expect:
    """A checked ``expect`` spec (``expect_from``)."""

    type: str  # "choice" | "score" | "text"
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, synonyms as given)
    min: int = 0
    max: int = 10
    timeout: float = DEFAULT_TIMEOUT  # seconds
    reprompt: str = ""
    max_reprompts: int = 1
    # normalised synonym -> choice name (the names included)
    words: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """As given back by the API and stored (``expect_from`` reads it again)."""
        out: dict[str, Any] = {"type": self.type}
        if self.type == "choice":
            out["choices"] = {name: list(words) for name, words in self.choices}
        elif self.type == "score":
            out.update(min=self.min, max=self.max)
        out.update(timeout=self.timeout, reprompt=self.reprompt, max_reprompts=self.max_reprompts)
        return out


_DURATION = re.compile(r"(\d{1,7}(?:\.\d{1,6})?)([dhms])")
_DURATIONS = re.compile(r"(?:\d{1,7}(?:\.\d{1,6})?[dhms]){1,4}")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> float:
    """``"24h"``, ``"90m"``, ``"1h30m"``, ``"45s"``, ``"2d"`` or a number of seconds.
    Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 24h, 30m or 90s, or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.replace(" ", "").lower()
        if not _DURATIONS.fullmatch(text):
            raise ValueError(f"a duration such as 24h, 30m, 1h30m or 90s, got {value!r}")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    else:
        raise ValueError("a duration such as 24h, 30m or 90s, or a number of seconds")
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        raise ValueError(f"between {MIN_TIMEOUT:g} second and {MAX_TIMEOUT / 86400:g} days, got {value!r}")
    return seconds


def expect_from(data: Mapping[str, Any]) -> Expect:
    """Check an ``expect`` spec (a JSON object; a None value is an absent key).
    Raises ExpectError naming every bad field."""
    given = {k: v for k, v in data.items() if v is not None}
    errors: list[tuple[str, str]] = []
    kind = given.get("type")
    if kind not in ("choice", "score", "text"):
        raise ExpectError([("type", f"one of choice, score, text; got {kind!r}")])
    known = {"type", "timeout", "reprompt", "max_reprompts"} | {
        "choice": {"choices"},
        "score": {"min", "max"},
    }.get(kind, set())
    errors += [(key, f"not a field of a {kind} expect") for key in sorted(set(given) - known)]
    out: dict[str, Any] = {"type": kind}
    if kind == "choice":
        out["choices"], out["words"] = _choices(given.get("choices"), errors)
    elif kind == "score":
        out["min"], out["max"] = _bounds(given, errors)
    if "timeout" in given:
        try:
            out["timeout"] = parse_duration(given["timeout"])
        except ValueError as exc:
            errors.append(("timeout", str(exc)))
    reprompts = given.get("max_reprompts", 1)
    if isinstance(reprompts, bool) or not isinstance(reprompts, int) or not 0 <= reprompts <= MAX_REPROMPTS:
        errors.append(("max_reprompts", f"an integer from 0 to {MAX_REPROMPTS}"))
    else:
        out["max_reprompts"] = reprompts
    reprompt = given.get("reprompt")
    if reprompt is not None and (not isinstance(reprompt, str) or not reprompt.strip()):
        errors.append(("reprompt", "a text to send"))
    elif isinstance(reprompt, str) and len(reprompt) > MAX_REPROMPT_TEXT:
        errors.append(("reprompt", f"at most {MAX_REPROMPT_TEXT} characters"))
    if errors:
        raise ExpectError(errors)
    expect = Expect(**out)
    return attrs.evolve(expect, reprompt=reprompt.strip() if reprompt else _default_reprompt(expect))


def _choices(
    value: Any, errors: list[tuple[str, str]]
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], dict[str, str]]:
    if not isinstance(value, Mapping) or not value:
        errors.append(("choices", 'at least one choice is needed: {"YES": ["yes", "y"], ...}'))
        return (), {}
    if len(value) > MAX_CHOICES:
        errors.append(("choices", f"at most {MAX_CHOICES} choices"))
        return (), {}
    words: dict[str, str] = {}
    seen_at: dict[str, str] = {}
    out = []
    for name, synonyms in value.items():
        if len(str(name)) > MAX_NAME:
            errors.append(
                (f"choices.{str(name)[:MAX_NAME]}...", f"a choice name of at most {MAX_NAME} characters")
            )
            continue
        at = f"choices.{name}"
        if not normalise(str(name)):
            errors.append((at, "a choice name needs a letter or digit"))
            continue
        if not isinstance(synonyms, list) or len(synonyms) > MAX_SYNONYMS:
            errors.append((at, f"a list of at most {MAX_SYNONYMS} synonyms"))
            continue
        for where, word in [(at, name), *((f"{at}[{i}]", w) for i, w in enumerate(synonyms))]:
            norm = normalise(word) if isinstance(word, str) and len(word) <= MAX_WORD else ""
            if isinstance(word, str) and len(word) > MAX_WORD:
                errors.append((where, f"a synonym of at most {MAX_WORD} characters"))
            elif not norm:
                errors.append((where, "a synonym needs a letter or digit"))
            elif words.get(norm, name) != name:
                errors.append((where, f"{word!r} is also a synonym of {words[norm]} ({seen_at[norm]})"))
            elif norm not in words:
                words[norm], seen_at[norm] = name, where
        out.append((name, tuple(synonyms)))
    return tuple(out), words


def _bounds(given: Mapping[str, Any], errors: list[tuple[str, str]]) -> tuple[int, int]:
    bounds = []
    for key, default in (("min", 0), ("max", 10)):
        v = given.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SCORE:
            errors.append((key, f"an integer from 0 to {MAX_SCORE}"))
            v = default
        bounds.append(v)
    lo, hi = bounds
    if lo >= hi:
        errors.append(("min", f"must be less than max ({hi}), got {lo}"))
    return lo, hi


def _default_reprompt(expect: Expect) -> str:
    if expect.type == "choice":
        names = [name for name, _ in expect.choices]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"Please reply {listed}"
    if expect.type == "score":
        return f"Please reply with a number from {expect.min} to {expect.max}"
    return "Please reply with a text"


# -- linking and the lifecycle ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OpenRef:
    """An open conversation, as linking sees it."""

    id: str
    opened_at: float
    deadline: float


@attrs.frozen(kw_only=True)
class Linked:
    conversation_id: str | None
    linked_by: str | None  # "exact" | "latest" | None


def link(candidates: Sequence[OpenRef], now: float) -> Linked:
    """Which of the open conversations of one (sender, number) pair a reply at ``now``
    answers: the only one (``exact``), the most recently opened of several (``latest``),
    or none (one past its deadline is not open any more)."""
    live = [c for c in candidates if c.deadline > now]
    if not live:
        return Linked(conversation_id=None, linked_by=None)
    latest = max(live, key=lambda c: c.opened_at)
    return Linked(conversation_id=latest.id, linked_by="exact" if len(live) == 1 else "latest")


@attrs.frozen(kw_only=True)
class Step:
    state: State
    reprompt: str | None = None  # to send back (the conversation stays open)


def step(expect: Expect, state: State, invalid_before: int, answer: str | None) -> Step:
    """What one linked reply does. ``invalid_before``: invalid replies so far (each got a
    re-prompt). Raises ConversationClosed for a closed conversation."""
    if answer is not None:
        return Step(state=transition(state, Input.VALID))
    if invalid_before < expect.max_reprompts:
        return Step(state=transition(state, Input.INVALID_REPROMPT), reprompt=expect.reprompt)
    return Step(state=transition(state, Input.INVALID_LAST))
