"""Reading a reply as the answer a flow step expects (``twoway.flows``). Pure.

The reading is ``twoway.answers``'s, as tolerant: case, accents, punctuation and polite
words around the answer do not matter. A numbered option is picked by its number ("2",
"two", "option 2", "#2", "2."), its letter ("B", when no option's word is "b"), its label
or its words; a keyword option by its key, its label or its words. A number is "8",
"eight" or "8/10". A slot is picked by its number, or by the date and time it names
("Tue 10:30", "15 Dec", "10am", "2026-12-15T10:30+01:00": every part named must match,
and exactly one slot must).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from smppgw.twoway.answers import normalise, parse_answer
from smppgw.twoway.conversations import Expect as _Table
from smppgw.twoway.flow_model import Expect, Option, Step
from smppgw.twoway.flow_time import slot_label, slot_list, slots_named

__all__ = [
    "MAX_TEXT_ANSWER",
    "Reading",
    "choice_table",
    "on_target",
    "options_text",
    "range_key",
    "read",
    "slots_of",
]

MAX_TEXT_ANSWER: Final = 640  # characters of a free-text answer kept
_LEAD: Final = frozenset({"option", "number", "no", "nr", "num", "choice", "n", "the"})
_RANGE: Final = re.compile(r"\s*(?:(\d{1,6})\s*-\s*(\d{1,6})|(<=|>=|<|>)\s*(\d{1,6}))\s*")


# (value, label): the answer and how it reads ("2", "Router"); (None, None): not one
Reading = tuple[str | None, str | None]


def _letters(count: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(min(count, 26))]


def choice_table(options: Sequence[Option], *, numbered: bool) -> _Table:
    """The tolerant reading of ``options``: normalised reply -> option key. A key or
    word wins over a label, a label over a letter."""
    words: dict[str, str] = {}

    def add(word: str, key: str) -> None:
        norm = normalise(word)
        if norm and norm not in words:
            words[norm] = key

    for option in options:
        add(option.key, option.key)
        for word in option.words:
            add(word, option.key)
    for option in options:
        add(option.label, option.key)
    if numbered:
        for letter, option in zip(_letters(len(options)), options, strict=False):
            add(letter, option.key)
    return _Table(type="choice", words=words)


def _strip_lead(text: str) -> str:
    """``text`` without a leading "option", "number", "no." ("option 2" -> "2")."""
    words = normalise(text).split()
    while len(words) > 1 and words[0] in _LEAD:
        words = words[1:]
    return " ".join(words)


def _numbered(text: str, count: int) -> int | None:
    """The option number (1..count) ``text`` gives: "2", "two", "option 2", "#2"."""
    if count < 1:
        return None
    scale = _Table(type="score", min=1, max=count)
    for candidate in (text, _strip_lead(text)):
        value = parse_answer(scale, candidate)
        if value is not None:
            return int(value)
    return None


def _choice(expect: Expect, text: str) -> Reading:
    labels = {o.key: o.label or o.key for o in expect.options}
    table = expect.table or choice_table(expect.options, numbered=expect.numbered)
    for candidate in (text, _strip_lead(text)):
        key = parse_answer(table, candidate)
        if key is not None:
            return (key, labels[key])
    if expect.numbered and (n := _numbered(text, len(expect.options))) is not None:
        key = expect.options[n - 1].key
        return (key, labels[key])
    return (None, None)


def slots_of(expect: Expect, vars: Mapping[str, str]) -> list[str]:
    """The slots a step offers: its own, or those of its var."""
    if expect.slots_var is not None:
        return slot_list(vars.get(expect.slots_var, ""))
    return list(expect.slots)


def _slot(expect: Expect, vars: Mapping[str, str], text: str) -> Reading:
    slots = slots_of(expect, vars)
    named = slots_named(text, slots)
    if len(named) == 1:
        return (named[0], slot_label(named[0]))
    if (n := _numbered(text, len(slots))) is not None and not named:
        return (slots[n - 1], slot_label(slots[n - 1]))
    letters = dict(zip(_letters(len(slots)), slots, strict=False))
    picked = letters.get(_strip_lead(text))
    if picked is not None:
        return (picked, slot_label(picked))
    return (None, None)


def read(step: Step, text: str, vars: Mapping[str, str]) -> Reading:
    """The answer ``text`` gives at ``step``, or (None, None)."""
    expect = step.expect
    if expect.kind == "choice":
        return _choice(expect, text)
    if expect.kind == "number":
        value = parse_answer(_Table(type="score", min=expect.min, max=expect.max), text)
        if value is None and (stripped := _strip_lead(text)) != normalise(text):
            value = parse_answer(_Table(type="score", min=expect.min, max=expect.max), stripped)
        return (value, value)
    if expect.kind == "slot":
        return _slot(expect, vars, text)
    if expect.kind == "text":
        stripped = " ".join(text.split())[:MAX_TEXT_ANSWER]
        return (stripped or None, None)
    return (None, None)


def range_key(key: str) -> tuple[int, int] | None:
    """The integers an ``on`` key of a number step covers: "0-6", "<7", ">=7", "8";
    None: not a number key."""
    if key.strip().isdigit():
        n = int(key)
        return n, n
    m = _RANGE.fullmatch(key)
    if m is None:
        return None
    if m.group(1) is not None:
        return int(m.group(1)), int(m.group(2))
    n = int(m.group(4))
    return {"<": (-(10**9), n - 1), "<=": (-(10**9), n), ">": (n + 1, 10**9), ">=": (n, 10**9)}[m.group(3)]


def on_target(step: Step, value: str) -> str | None:
    """The step ``on`` names for the answer ``value`` (for a number, the first key
    whose range holds it), or None."""
    if value in step.on:
        return step.on[value]
    if step.expect.kind == "number" and value.isdigit():
        n = int(value)
        for key, target in step.on.items():
            bounds = range_key(key)
            if bounds is not None and bounds[0] <= n <= bounds[1]:
                return target
    return None


def options_text(expect: Expect, vars: Mapping[str, str]) -> str:
    """``{options}`` in a prompt: one line per option ("1) Router", "CONFIRM - keep it")
    or slot ("1) Tue 15 Dec 10:30")."""
    if expect.kind == "slot":
        return "\n".join(f"{i}) {slot_label(s)}" for i, s in enumerate(slots_of(expect, vars), 1))
    if expect.kind != "choice":
        return ""
    if expect.numbered:
        return "\n".join(f"{o.key}) {o.label or o.key}" for o in expect.options)
    return "\n".join(f"{o.key} - {o.label}" if o.label else o.key for o in expect.options)
