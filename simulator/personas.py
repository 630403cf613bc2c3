"""Handsets that behave like people: per-number personas answering 2-way programmes and flows.

A handset reads the MT it was delivered (``simulator.prompts.read_prompt``, a simple
reading of its text) and answers like a person would: a "Reply YES or NO" gets yes or no
in the configured proportions, a "0-10" survey gets a score from the configured weights,
a numbered list ("1) Mon 10:00 2) Tue 14:30") or keyword options ("Reply CONFIRM or
RESCHEDULE") get one of the options, a question wanting words ("Why?") gets a sentence,
an offer is mostly ignored and sometimes answered STOP. Now and then a person answers
out of range (9 of 3 options, 11 of 0-10), writes free text, makes a typo, asks for
HELP, says "stop please" (in the middle of a flow too), or stays silent. The reply goes
back to the sender that texted the handset (``Handsets`` sends it: the MO's
destination_addr is the MT's source_addr) after the configured delay.

Each number is a person with a few traits of its own, fixed by (seed, number): how it
writes (``simulator.wording``: terse "Y", plain "yes", shouty "YES!", polite "Yes.",
chatty "yeah") and how quickly it answers (a factor on the delay). Which answer it gives
to its n-th question is drawn from a generator seeded by (seed, number, n), so a run is
reproducible by seed whatever the order in which MTs to different numbers arrive: a
handset following a flow answers each of its prompts as a person would, by seed.
``[[number]]`` tables give chosen numbers answers of their own ("this number always says
STOP").

In TOML (``[behaviour.personas]``, or ``smppsim --personas SEED`` for the defaults)::

    [behaviour.personas]
    seed = 7                     # default: the simulator's seed
    delay = { kind = "lognormal", p50 = 3.0, p99 = 30.0 }   # delivery -> reply
    yes_no = { yes = 60, no = 25, text = 3, typo = 4, help = 2, stop = 2, silence = 4 }
    score = { score = 82, out_of_range = 2, text = 4, typo = 2, help = 1, stop = 3, silence = 8 }
    choice = { pick = 80, out_of_range = 6, text = 3, help = 1, stop = 3, silence = 7 }
    question = { answer = 75, help = 1, stop = 2, silence = 22 }
    offer = { stop = 20, help = 3, text = 4, silence = 73 }
    other = { stop = 1, help = 1, silence = 98 }
    scores = [2, 1, 1, 2, 3, 6, 8, 14, 20, 18, 25]         # weights of 0 .. 10

    prefer = []                  # option keys a pick takes when offered ("CONFIRM")

    [[behaviour.personas.number]]
    numbers = ["447700900013"]   # or prefix = "4477009001"
    offer = { stop = 1 }         # what these numbers do (the rest as above)
    prefer = ["CONFIRM"]         # and which option they pick when offered
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import attrs

from simulator.dist import Dist, parse_dist
from simulator.prompts import Ask, Prompt, read_prompt, read_question
from simulator.wording import (
    ANSWER_TEXTS,
    HELP_TEXTS,
    STOP_TEXTS,
    STYLES,
    TEXTS,
    TYPOS,
    no_text,
    out_of_range,
    pick_text,
    score_text,
    yes_text,
)
from smppgw.core.reassembly import MalformedUdh, concat_info
from smppgw.core.text import decode_text
from smppgw.support.config import ConfigError, each, integer, number, string, table, unknown_keys

__all__ = [
    "ACTIONS",
    "HELP_TEXTS",
    "STOP_TEXTS",
    "Answer",
    "Ask",
    "Mt",
    "NumberRule",
    "PersonaConfig",
    "Personas",
    "answer",
    "personas_from_dict",
    "read_question",
]


# What a person may do with each kind of question.
ACTIONS: Final[dict[Ask, tuple[str, ...]]] = {
    Ask.YES_NO: ("yes", "no", "text", "typo", "help", "stop", "silence"),
    Ask.SCORE: ("score", "out_of_range", "text", "typo", "help", "stop", "silence"),
    Ask.CHOICE: ("pick", "out_of_range", "text", "help", "stop", "silence"),
    Ask.QUESTION: ("answer", "help", "stop", "silence"),
    Ask.OFFER: ("stop", "help", "text", "silence"),
    Ask.OTHER: ("stop", "help", "text", "silence"),
}
_DEFAULTS: Final[dict[Ask, dict[str, float]]] = {
    Ask.YES_NO: {"yes": 60, "no": 25, "text": 3, "typo": 4, "help": 2, "stop": 2, "silence": 4},
    Ask.SCORE: {"score": 82, "out_of_range": 2, "text": 4, "typo": 2, "help": 1, "stop": 3, "silence": 8},
    Ask.CHOICE: {"pick": 80, "out_of_range": 6, "text": 3, "help": 1, "stop": 3, "silence": 7},
    Ask.QUESTION: {"answer": 75, "help": 1, "stop": 2, "silence": 22},
    Ask.OFFER: {"stop": 20, "help": 3, "text": 4, "silence": 73},
    Ask.OTHER: {"stop": 1, "help": 1, "silence": 98},
}
_DEFAULT_SCORES: Final = (2.0, 1.0, 1.0, 2.0, 3.0, 6.0, 8.0, 14.0, 20.0, 18.0, 25.0)


# -- config ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NumberRule:
    """Chosen numbers with answers of their own: ``weights`` replace the kinds given."""

    numbers: frozenset[str] = frozenset()
    prefix: str | None = None
    weights: Mapping[Ask, tuple[tuple[str, float], ...]] = attrs.field(factory=dict)
    prefer: tuple[str, ...] | None = None  # None: the config's

    def matches(self, number: str) -> bool:
        return number in self.numbers or (self.prefix is not None and number.startswith(self.prefix))


@attrs.frozen(kw_only=True)
class PersonaConfig:
    seed: int | None = None  # None: the simulator's seed
    delay: Dist = Dist("lognormal", 3.0, 30.0)
    weights: Mapping[Ask, tuple[tuple[str, float], ...]] = attrs.field(
        factory=lambda: {ask: tuple(w.items()) for ask, w in _DEFAULTS.items()}
    )
    scores: tuple[float, ...] = _DEFAULT_SCORES
    # Options a pick takes when a list offers them ("CONFIRM": this person always keeps
    # the appointment), the first offered wins; none offered: any option.
    prefer: tuple[str, ...] = ()
    numbers: tuple[NumberRule, ...] = ()

    def describe(self) -> dict[str, Any]:
        """As the TOML has it (the control API shows it)."""
        out: dict[str, Any] = {"seed": self.seed, "delay": self.delay.describe(), "scores": list(self.scores)}
        out["prefer"] = list(self.prefer)
        out.update({ask.value: dict(pairs) for ask, pairs in self.weights.items()})
        out["number"] = [
            {
                "numbers": sorted(r.numbers),
                **({} if r.prefix is None else {"prefix": r.prefix}),
                **({} if r.prefer is None else {"prefer": list(r.prefer)}),
                **{a.value: dict(p) for a, p in r.weights.items()},
            }
            for r in self.numbers
        ]
        return out

    def weights_for(self, number: str, ask: Ask) -> tuple[tuple[str, float], ...]:
        for rule in self.numbers:
            if rule.matches(number) and ask in rule.weights:
                return rule.weights[ask]
        return self.weights[ask]

    def prefer_for(self, number: str) -> tuple[str, ...]:
        for rule in self.numbers:
            if rule.matches(number) and rule.prefer is not None:
                return rule.prefer
        return self.prefer


def _action_weights(v: Any, where: str, ask: Ask) -> tuple[tuple[str, float], ...]:
    t = table(v, where)
    unknown_keys(t, set(ACTIONS[ask]), where)
    pairs = tuple((k, number(w, f"{where}.{k}", ge=0)) for k, w in t.items())
    if sum(w for _, w in pairs) <= 0:
        raise ConfigError(f"{where}: needs an action with a positive weight (of {', '.join(ACTIONS[ask])})")
    return pairs


def _weights_of(t: Mapping[str, Any], where: str) -> dict[Ask, tuple[tuple[str, float], ...]]:
    return {ask: _action_weights(t[ask.value], f"{where}.{ask.value}", ask) for ask in Ask if ask.value in t}


def _number_rule(v: Any, where: str) -> NumberRule:
    t = table(v, where)
    unknown_keys(t, {"numbers", "prefix", "prefer", *(a.value for a in Ask)}, where)
    if "numbers" not in t and "prefix" not in t:
        raise ConfigError(f"{where}: needs numbers or prefix")
    return NumberRule(
        numbers=frozenset(each(t.get("numbers", []), f"{where}.numbers", string)),
        prefix=string(t["prefix"], f"{where}.prefix", min_len=1) if "prefix" in t else None,
        weights=_weights_of(t, where),
        prefer=_prefer(t["prefer"], f"{where}.prefer") if "prefer" in t else None,
    )


def _prefer(v: Any, where: str) -> tuple[str, ...]:
    """Option keys as a list shows them: "CONFIRM", "2", "B" (matched in capitals)."""
    return tuple(k.upper() for k in each(v, where, lambda x, w: string(x, w, min_len=1)))


def personas_from_dict(v: Any, where: str = "behaviour.personas") -> PersonaConfig:
    """``[behaviour.personas]``: weights per kind of question replace the defaults of
    that kind (a kind left out keeps its defaults).

    Raises:
        ConfigError: an unknown key or a bad value, named.
    """
    t = table(v, where)
    unknown_keys(t, {"seed", "delay", "scores", "prefer", "number", *(a.value for a in Ask)}, where)
    out: dict[str, Any] = {}
    if t.get("seed") is not None:
        out["seed"] = integer(t["seed"], f"{where}.seed", 0)
    if "delay" in t:
        try:
            out["delay"] = parse_dist(t["delay"], f"{where}.delay")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    weights = {ask: tuple(w.items()) for ask, w in _DEFAULTS.items()}
    weights.update(_weights_of(t, where))
    out["weights"] = weights
    if "scores" in t:
        scores = tuple(each(t["scores"], f"{where}.scores", lambda x, w: number(x, w, ge=0)))
        if len(scores) != len(_DEFAULT_SCORES) or sum(scores) <= 0:
            raise ConfigError(f"{where}.scores: 11 weights (of 0 .. 10), not all zero")
        out["scores"] = scores
    if "prefer" in t:
        out["prefer"] = _prefer(t["prefer"], f"{where}.prefer")
    if "number" in t:
        out["numbers"] = tuple(each(t["number"], f"{where}.number", _number_rule))
    return PersonaConfig(**out)


# -- answering ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Answer:
    """What a person does with one MT: ``text`` None is silence. ``prompt``: how the MT
    was read (the options a choice offered, a scale's ends)."""

    ask: Ask
    action: str  # one of ACTIONS[ask]
    text: str | None
    delay: float  # seconds from delivery
    prompt: Prompt | None = attrs.field(default=None, eq=False, repr=False)


def persona(seed: int, number: str) -> tuple[str, float]:
    """The traits of the person behind ``number``: how it writes and its pace (a factor on
    the delay, 0.5 to 2)."""
    rng = random.Random(f"persona:{seed}:{number}")  # a str seed is hashed (SHA-512): stable
    return rng.choice(STYLES), 2.0 ** rng.uniform(-1.0, 1.0)


def _score(config: PersonaConfig, prompt: Prompt, rng: random.Random) -> int:
    """A score from ``config.scores`` (weights of 0 .. 10), put on the prompt's scale."""
    drawn = rng.choices(range(len(config.scores)), config.scores)[0]
    return prompt.low + round(drawn * (prompt.high - prompt.low) / 10)


def answer(config: PersonaConfig, seed: int, number: str, n: int, mt_text: str) -> Answer:
    """The answer of the person behind ``number`` to its ``n``-th MT, ``mt_text``. Pure:
    the same arguments give the same answer."""
    prompt = read_prompt(mt_text)
    ask = prompt.ask
    style, pace = persona(seed, number)
    rng = random.Random(f"answer:{seed}:{number}:{n}")
    pairs = config.weights_for(number, ask)
    action = rng.choices([a for a, _ in pairs], [w for _, w in pairs])[0]
    text: str | None
    if action == "yes":
        text = yes_text(style)
    elif action == "no":
        text = no_text(style)
    elif action == "score":
        text = score_text(_score(config, prompt, rng), style, prompt.high)
    elif action == "pick":
        drawn = rng.choice(prompt.options)  # (drawn either way: the draws after stay the same)
        preferred = [k for k in config.prefer_for(number) if k in prompt.options]
        text = pick_text(preferred[0] if preferred else drawn, style)
    elif action == "out_of_range":
        text = out_of_range(prompt, style, rng)
    elif action == "answer":
        text = rng.choice(ANSWER_TEXTS)
    elif action == "typo":
        text = rng.choice(TYPOS[ask])
    elif action == "text":
        text = rng.choice(TEXTS[ask])
    elif action == "stop":
        text = rng.choice(STOP_TEXTS)
    elif action == "help":
        text = rng.choice(HELP_TEXTS)
    else:  # silence
        text = None
    delay = config.delay.sample(rng) * pace
    return Answer(ask=ask, action=action, text=text, delay=delay, prompt=prompt)


class Mt(Protocol):
    """What a person sees of an MT (``simulator.message_log.Message``)."""

    source_addr: str
    destination_addr: str
    esm_class: int
    data_coding: int
    payload: bytes


class Personas:
    """The people behind every destination. ``Handsets`` hands them each delivered MT no
    handset rule answered; ``reply(account, mt, text)``, called by ``call_later`` (the
    simulator's scheduler), sends the MO back to the MT's sender. (The account is passed
    through as it is.)"""

    MAX_NUMBERS: Final = 1_000_000  # numbers whose question count is kept (then started over)

    def __init__(
        self, seed: int, call_later: Callable[..., None], reply: Callable[[Any, Any, str], None]
    ) -> None:
        self.seed = seed
        self._call_later = call_later
        self._reply = reply
        self._asked: dict[str, int] = {}  # number -> MTs it has read
        # (number, sender, answer) of the latest answers, silences included: for tests
        # and for whoever inspects a run.
        self.answers: deque[tuple[str, str, Answer]] = deque(maxlen=10_000)

    def on_delivered(self, account: Any, config: PersonaConfig, m: Mt, delivered_after: float) -> None:
        """``m`` reaches its handset ``delivered_after`` seconds from now; a concatenated
        MT is read once, at its last part (where a question usually is)."""
        try:
            info, data = concat_info(m.payload, m.esm_class, ())
        except MalformedUdh:
            info, data = None, m.payload
        if info is not None and info.seqnum != info.total:
            return
        number = m.destination_addr
        if len(self._asked) >= self.MAX_NUMBERS and number not in self._asked:
            self._asked.clear()
        n = self._asked[number] = self._asked.get(number, 0) + 1
        seed = self.seed if config.seed is None else config.seed
        got = answer(config, seed, number, n, decode_text(data, m.data_coding))
        self.answers.append((number, m.source_addr, got))
        if got.text is not None:
            self._call_later(delivered_after + got.delay, self._reply, account, m, got.text)
