"""Handsets that follow a flow (simulator.personas answering simulator.prompts): their
answers are ones the gateway's tolerant reader takes (or, out of range, refuses), by
seed per number; and end to end, the gateway's prompts over loopback SMPP get the
replies the seed says, read by the gateway as the answers they are."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from simulator.message_log import text_of
from simulator.personas import ACTIONS, STOP_TEXTS, Ask, PersonaConfig, answer, personas_from_dict
from simulator.prompts import read_prompt
from smppgw.app import AppConfig
from smppgw.twoway.answers import parse_answer
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.conversations import Expect, expect_from
from tests.api.helpers import Api, app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.simulator.test_personas import _within

SLOTS = "Pick a slot:\n1) Tue 15 Dec 10:30\n2) Tue 15 Dec 14:00\n3) Wed 16 Dec 09:15"
REMINDER = "Reminder: Tue 15 Dec 10:30. Reply CONFIRM to keep it or RESCHEDULE to change it."
TRIAGE = "Which product? Reply 1 for Router, 2 for Phone, 3 for TV, 4 for Other"
LETTERS = "What kind of problem? A) Billing B) Login C) Other"
SURVEY = "How likely are you to recommend us, 0-10?"
STARS = "How would you rate your visit, 1 to 5?"
WHY = "Sorry to hear that. Why did you give that score?"
NUMBERS = [f"4477009{i:05}" for i in range(300)]


def _choice(*keys: str) -> Expect:
    return expect_from({"type": "choice", "choices": {k: [] for k in keys}})


EXPECTS: dict[str, tuple[Expect, set[str]]] = {
    SLOTS: (_choice("1", "2", "3"), {"1", "2", "3"}),
    REMINDER: (_choice("CONFIRM", "RESCHEDULE"), {"CONFIRM", "RESCHEDULE"}),
    TRIAGE: (_choice("1", "2", "3", "4"), {"1", "2", "3", "4"}),
    LETTERS: (_choice("A", "B", "C"), {"A", "B", "C"}),
    SURVEY: (expect_from({"type": "score", "min": 0, "max": 10}), {str(i) for i in range(11)}),
    STARS: (expect_from({"type": "score", "min": 1, "max": 5}), {str(i) for i in range(1, 6)}),
}


@pytest.mark.parametrize("prompt", list(EXPECTS))
def test_valid_answers_are_read_as_an_option_and_out_of_range_ones_are_not(prompt: str) -> None:
    """Every way a person writes a pick ("2", "2!", "2 please", "Confirm please", ...)
    is an answer the gateway reads; every option gets picked; an answer out of range
    ("9" of 3, MAYBE, "11/10") is read as none."""
    expect, valid = EXPECTS[prompt]
    ask = read_prompt(prompt).ask
    good = "score" if ask is Ask.SCORE else "pick"
    config = personas_from_dict({ask.value: {good: 1, "out_of_range": 1}})
    seen: Counter[str] = Counter()
    wrong: set[str] = set()
    for number in NUMBERS:
        got = answer(config, 3, number, 1, prompt)
        assert got.ask is ask and got.text is not None
        read = parse_answer(expect, got.text)
        if got.action == good:
            assert read in valid, (got.text, read)
            seen[read] += 1
        else:
            assert read is None, (got.text, read)
            wrong.add(got.text)
    assert set(seen) == valid  # each option (each score of the scale) picked by someone
    assert len(wrong) >= 3, wrong


def test_a_pick_is_written_in_the_numbers_own_way() -> None:
    config = personas_from_dict({"choice": {"pick": 1}})
    texts = {answer(config, 5, number, 1, REMINDER).text for number in NUMBERS}
    assert texts == {
        "confirm",
        "CONFIRM",
        "CONFIRM!",
        "Confirm please",
        "confirm thanks",
        "reschedule",
        "RESCHEDULE",
        "RESCHEDULE!",
        "Reschedule please",
        "reschedule thanks",
    }


def test_a_question_wanting_words_gets_a_sentence() -> None:
    config = personas_from_dict({"question": {"answer": 1}})
    texts = {answer(config, 1, number, 1, WHY).text for number in NUMBERS[:50]}
    assert len(texts) > 3 and all(t and len(t.split()) >= 3 for t in texts)


@pytest.mark.parametrize("ask", [Ask.CHOICE, Ask.QUESTION, Ask.SCORE])
def test_flow_actions_come_in_the_configured_proportions(ask: Ask) -> None:
    weights = {a: float(i + 1) for i, a in enumerate(ACTIONS[ask])}
    config = personas_from_dict({ask.value: weights})
    text = {Ask.CHOICE: SLOTS, Ask.QUESTION: WHY, Ask.SCORE: SURVEY}[ask]
    draws = 4000
    seen = Counter(answer(config, 11, f"1555{i:07}", 1, text).action for i in range(draws))
    total = sum(weights.values())
    for action, weight in weights.items():
        assert _within(seen[action], draws, weight / total), (action, seen)


def _walk(config: PersonaConfig, seed: int, number: str) -> list[tuple[str, str | None]]:
    """A handset through a booking and a survey: the n-th prompt is its n-th MT."""
    prompts = [SLOTS, "Booked: Tue 15 Dec 10:30.", REMINDER, SURVEY, WHY]
    return [
        (a.action, a.text) for a in (answer(config, seed, number, n, p) for n, p in enumerate(prompts, 1))
    ]


def test_a_handset_follows_a_flow_the_same_way_for_a_seed() -> None:
    config = PersonaConfig()
    walks = {number: _walk(config, 7, number) for number in NUMBERS[:100]}
    assert walks == {number: _walk(config, 7, number) for number in NUMBERS[:100]}
    assert walks != {number: _walk(config, 8, number) for number in NUMBERS[:100]}
    actions = Counter(action for walk in walks.values() for action, _ in walk)
    # The defaults: mostly valid answers, and now and then silence, out of range, STOP.
    assert actions["pick"] > 100 and actions["score"] > 50 and actions["answer"] > 40
    assert actions["silence"] and actions["out_of_range"] and actions["stop"], actions


def test_chosen_numbers_stop_in_the_middle_of_a_flow() -> None:
    config = personas_from_dict({"number": [{"numbers": ["447700900013"], "choice": {"stop": 1}}]})
    got = answer(config, 1, "447700900013", 3, REMINDER)
    assert got.action == "stop" and got.text in STOP_TEXTS
    assert answer(config, 1, "447700900013", 4, SURVEY).ask is Ask.SCORE  # other kinds: the defaults


def test_a_preferred_option_is_picked_when_offered() -> None:
    config = personas_from_dict(
        {"choice": {"pick": 1}, "prefer": ["2"], "number": [{"prefix": "44770090000", "prefer": ["confirm"]}]}
    )
    confirm, reminder = EXPECTS[REMINDER][0], NUMBERS[:10]  # 447700900000 ..09: CONFIRM
    assert {parse_answer(confirm, answer(config, 1, n, 1, REMINDER).text or "") for n in reminder} == {
        "CONFIRM"
    }
    slots = EXPECTS[SLOTS][0]
    # Not offered: any option; the others prefer "2".
    assert len({parse_answer(slots, answer(config, 1, n, 1, SLOTS).text or "") for n in reminder}) == 3
    assert {parse_answer(slots, answer(config, 1, n, 1, SLOTS).text or "") for n in NUMBERS[10:40]} == {"2"}
    assert personas_from_dict(config.describe()).describe() == config.describe()


@pytest.mark.parametrize(
    ("personas", "where"),
    [
        ({"choice": {"maybe": 1}}, "behaviour.personas.choice"),
        ({"question": {"pick": 1}}, "behaviour.personas.question"),
        ({"choice": {"pick": -1}}, "behaviour.personas.choice.pick"),
        ({"number": [{"prefix": "1", "question": {"answer": "x"}}]}, "behaviour.personas.number"),
        ({"prefer": "CONFIRM"}, "behaviour.personas.prefer"),
        ({"number": [{"prefix": "1", "prefer": [""]}]}, "behaviour.personas.number"),
    ],
)
def test_bad_flow_weights_are_named(personas: dict[str, Any], where: str) -> None:
    from simulator.config import ConfigError, build_behaviour

    with pytest.raises(ConfigError, match=f"^{where.replace('.', '[.]')}"):
        build_behaviour({"personas": personas})


# -- end to end: the gateway's prompts, the handsets' replies ------------------------------------

X, STOPPER = "447700900001", "447700900013"
PEOPLE: dict[str, Any] = {
    "delay": 0.0,
    "choice": {"pick": 1},
    "score": {"score": 1},
    "question": {"answer": 1},
    "number": [{"numbers": [STOPPER], "score": {"stop": 1}}],
}
STEPS: list[tuple[str, dict[str, Any]]] = [
    (SLOTS, {"type": "choice", "choices": {"1": [], "2": [], "3": []}}),
    (REMINDER, {"type": "choice", "choices": {"CONFIRM": [], "RESCHEDULE": []}}),
    (SURVEY, {"type": "score", "min": 0, "max": 10}),
    (WHY, {"type": "text"}),
]


def _config(sim: Any, db: Path) -> AppConfig:
    twoway = twoway_from_dict({"consent": {"brand": "Acme"}})
    return attrs.evolve(app_config([smsc(sim)], db), twoway=twoway)


async def _inbound_from(api: Api, number: str, count: int) -> list[dict[str, Any]]:
    with trio.fail_after(10):
        while True:
            items = (await api.get("/v1/inbound", params={"limit": 100})).json()["messages"]
            mine = [i for i in items if i["source"].lstrip("+") == number]  # oldest first
            if len(mine) >= count:
                return mine
            await trio.sleep(0.02)


async def test_a_handset_answers_the_gateways_prompts_as_its_seed_says(tmp_path: Path) -> None:
    """Each prompt goes out through the API with its ``expect``; the handset behind X
    replies over SMPP with the text ``answer`` gives for (seed, X, n), which the gateway
    reads as a valid answer; a handset told to STOP at a choice opts out there."""
    config = personas_from_dict(PEOPLE)
    async with (
        simulator(behaviour={"personas": PEOPLE}) as sim,
        serving(_config(sim, tmp_path / "db")) as api,
    ):
        seed = sim.handsets.personas.seed
        for n, (prompt, expect) in enumerate(STEPS, 1):
            r = await api.post("/v1/messages", {"to": X, "from": "12345", "text": prompt, "expect": expect})
            assert r.status_code == 202, r.text
            message_id = r.json()["id"]
            items = await _inbound_from(api, X, n)
            reply = next(i for i in items if i["in_reply_to"] == message_id)
            predicted = answer(config, seed, X, n, prompt)
            assert reply["text"] == predicted.text and reply["destination"] == "12345"
            assert reply["answer"] == parse_answer(expect_from(expect), predicted.text or "")
            assert reply["answer"] is not None, (prompt, reply)

        # Mid-flow: a slot picked, the booking confirmed, then STOP at the survey: opted out.
        for n, (prompt, expect) in enumerate(STEPS[:3], 1):
            r = await api.post(
                "/v1/messages", {"to": STOPPER, "from": "12345", "text": prompt, "expect": expect}
            )
            assert r.status_code == 202, r.text
            await _inbound_from(api, STOPPER, n)
        slot, confirm, stop = await _inbound_from(api, STOPPER, 3)
        assert (slot["answer"], confirm["answer"]) == (
            parse_answer(expect_from(STEPS[0][1]), slot["text"]),
            parse_answer(expect_from(STEPS[1][1]), confirm["text"]),
        )
        assert slot["answer"] in {"1", "2", "3"} and confirm["answer"] in {"CONFIRM", "RESCHEDULE"}
        assert stop["text"] in STOP_TEXTS and stop["answer"] is None
        consent = (await api.get(f"/v1/consent/{STOPPER}", params={"sender": "12345"})).json()
        assert consent["allowed"] is False
        r = await api.post("/v1/messages", {"to": STOPPER, "from": "12345", "text": WHY})
        assert (r.status_code, r.json()["status"]) == (202, "blocked")  # nothing more is sent
        # What reached the handset: the three prompts and the one opt-out confirmation.
        got = [
            text_of(m.payload, m.data_coding) for m in sim.store.select(destination_addr=STOPPER, limit=10)
        ]
        assert len(got) == 4 and WHY not in got and got[0] not in [p for p, _ in STEPS]


# -- the shipped flows, by the machine: handsets that pick follow each to its end -------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
FOLLOWERS: dict[str, Any] = {
    "choice": {"pick": 1},
    "score": {"score": 1},
    "question": {"answer": 1},
    "yes_no": {"yes": 1},
    "other": {"silence": 1},
}


def _follow(flow: Any, config: PersonaConfig, number: str, vars: dict[str, Any]) -> tuple[Any, list[str]]:
    """A run of ``flow`` (pure: ``twoway.flows``) with the handset ``number`` answering
    every prompt it gets; timers fired when nothing else is left. The end state and
    what the handset sent."""
    from smppgw.twoway import flows as machine
    from smppgw.twoway.flow_model import SendText

    now, n, sent = 1_000_000.0, 0, []
    outcome = machine.start(flow, vars=vars, now=now)
    for _ in range(50):  # bounded: a flow that loops fails the test
        if outcome.state.status != "active":
            break
        texts = [e.text for e in outcome.effects if isinstance(e, SendText) and e.at is None]
        reply = None
        for text in texts:  # each MT read in turn; the last one that gets an answer is sent
            n += 1
            reply = answer(config, 1, number, n, text).text or reply
        if reply is not None:
            sent.append(reply)
            now += 5
            outcome = machine.reply(flow, outcome.state, reply, now=now)
        else:  # nothing to answer: the next timer (a reminder) or the deadline
            times = [t.at for t in outcome.state.timers] + [outcome.state.deadline or math.inf]
            now = min(times)
            outcome = machine.due(flow, outcome.state, now=now)
    return outcome.state, sent


@pytest.mark.parametrize(
    ("name", "ends"), [("booking", {"completed"}), ("help-triage", {"handoff"}), ("survey", {"completed"})]
)
def test_handsets_that_pick_follow_each_shipped_flow_to_its_end(name: str, ends: set[str]) -> None:
    import tomllib

    from smppgw.twoway.flow_config import parse_flow

    flow = parse_flow(tomllib.loads((EXAMPLES / f"{name}.toml").read_text()), where=name)
    vars = {
        "slots": [datetime.fromtimestamp(1_000_000 + 3 * 86400 + i * 3600, UTC).isoformat() for i in range(3)]
    }
    config = personas_from_dict({**FOLLOWERS, "prefer": ["CONFIRM"]})
    steps: Counter[str] = Counter()
    for number in NUMBERS[:40]:
        state, sent = _follow(flow, config, number, vars if name == "booking" else {})
        assert state.status in ends, (number, state.status, state.reason, sent)
        assert state.attempts == 0 and all(a.value is not None for a in state.answers), sent  # no re-prompt
        steps.update(a.step for a in state.answers)
    if name == "booking":  # a slot picked, then CONFIRM at the reminder
        assert steps == {"pick": 40, "remind": 40}
    elif name == "survey":  # "why?" asked of those who scored below 7
        assert 0 < steps["why"] < 40
