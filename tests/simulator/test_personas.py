"""Handsets that behave like people (simulator.personas): what an MT asks, the answers a
seed gives (the same every time, in the configured proportions), and, over loopback
TCP, that each reply goes to the sender that texted the handset and silence sends
nothing."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
import trio

from simulator.cli import build_config
from simulator.config import ConfigError, build_behaviour
from simulator.personas import (
    ACTIONS,
    HELP_TEXTS,
    STOP_TEXTS,
    Ask,
    PersonaConfig,
    answer,
    personas_from_dict,
    read_question,
)
from tests.simulator.helpers import SOURCE, bound, running, sms

YES_NO = "Your appointment is on Tue 10:00. Reply YES to confirm or NO to cancel."
SURVEY = "How likely are you to recommend us, 0 to 10?"
OFFER = "20% off all week with voucher SPRING. Reply STOP to opt out"


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        (YES_NO, Ask.YES_NO),
        ("Please confirm: Y/N", Ask.YES_NO),
        ("Please reply YES or NO", Ask.YES_NO),
        (SURVEY, Ask.SCORE),
        ("Rate your visit 0-10", Ask.SCORE),
        ("How was it? Reply with a score out of 10", Ask.SCORE),
        (OFFER, Ask.OFFER),
        ("Our summer sale starts today", Ask.OFFER),
        ("You have been unsubscribed and will receive no more messages.", Ask.OTHER),
        ("Acme: help at acme.example. Msg&data rates may apply.", Ask.OTHER),
        ("Your code is 4821", Ask.OTHER),
    ],
)
def test_an_mt_is_read_as_the_question_it_asks(text: str, ask: Ask) -> None:
    assert read_question(text) is ask


def _answers(config: PersonaConfig, seed: int, numbers: int = 50, text: str = YES_NO) -> list[Any]:
    return [answer(config, seed, f"4477009{i:05}", n, text) for i in range(numbers) for n in (1, 2)]


def test_answers_are_reproducible_by_seed() -> None:
    config = PersonaConfig()
    assert _answers(config, 7) == _answers(config, 7)
    assert _answers(config, 7) != _answers(config, 8)
    # the n-th question to a number gets its own draw: a re-prompt may get another answer
    firsts = [answer(config, 7, f"4477009{i:05}", 1, YES_NO).text for i in range(50)]
    seconds = [answer(config, 7, f"4477009{i:05}", 2, YES_NO).text for i in range(50)]
    assert firsts != seconds


def test_a_number_is_one_person_with_its_own_way_of_writing() -> None:
    config = personas_from_dict({"yes_no": {"yes": 1}})
    for i in range(20):
        texts = {answer(config, 3, f"4477009{i:05}", n, YES_NO).text for n in range(1, 6)}
        assert len(texts) == 1  # always "yes" the same way: "Y", "yes", "YES!", "Yes." or "yeah"
    assert len({answer(config, 3, f"4477009{i:05}", 1, YES_NO).text for i in range(200)}) == 5


def _within(count: int, draws: int, p: float) -> bool:
    """``count`` of ``draws`` is within 4 standard deviations of a binomial with ``p``:
    a fixed seed makes this deterministic; a wrong weight misses it by far."""
    return abs(count - draws * p) <= 4 * math.sqrt(draws * p * (1 - p)) + 1


@pytest.mark.parametrize("ask", [Ask.YES_NO, Ask.SCORE, Ask.OFFER])
def test_actions_come_in_the_configured_proportions(ask: Ask) -> None:
    weights = {a: float(i + 1) for i, a in enumerate(ACTIONS[ask])}  # 1, 2, 3 ... : all different
    config = personas_from_dict({"seed": 11, ask.value: weights})
    text = {Ask.YES_NO: YES_NO, Ask.SCORE: SURVEY, Ask.OFFER: OFFER}[ask]
    draws = 4000
    seen = Counter(answer(config, 11, f"1555{i:07}", 1, text).action for i in range(draws))
    total = sum(weights.values())
    for action, weight in weights.items():
        assert _within(seen[action], draws, weight / total), (action, seen)


def test_scores_come_from_their_weights_in_every_style() -> None:
    scores = [0.0] * 11
    scores[3], scores[9] = 1.0, 3.0
    config = personas_from_dict({"score": {"score": 1}, "scores": scores})
    words = {"three": 3, "nine": 9}
    seen: Counter[int] = Counter()
    for i in range(2000):
        text = answer(config, 5, f"1555{i:07}", 1, SURVEY).text
        assert text is not None
        seen[words.get(text) or int(text.removesuffix("/10").removesuffix("!"))] += 1
    assert set(seen) == {3, 9}
    assert _within(seen[9], 2000, 0.75), seen


def test_stop_help_and_silence() -> None:
    config = personas_from_dict({"offer": {"stop": 1, "help": 1, "silence": 1}})
    got = [answer(config, 2, f"1555{i:07}", 1, OFFER) for i in range(300)]
    assert {a.text for a in got if a.action == "stop"} == set(STOP_TEXTS)  # "stop please", "STOP!!", ...
    assert {a.text for a in got if a.action == "help"} == set(HELP_TEXTS)
    assert all(a.text is None for a in got if a.action == "silence")


def test_chosen_numbers_answer_as_configured() -> None:
    config = personas_from_dict({"number": [{"numbers": ["447700900013"], "yes_no": {"stop": 1}}]})
    assert answer(config, 1, "447700900013", 1, YES_NO).action == "stop"
    assert answer(config, 1, "447700900013", 1, SURVEY).ask is Ask.SCORE  # other kinds: the defaults


def test_the_config_is_shown_as_written() -> None:
    raw = {
        "seed": 4,
        "delay": 1.5,
        "offer": {"stop": 1.0},
        "number": [{"prefix": "1555", "yes_no": {"no": 1.0}}],
    }
    shown = personas_from_dict(raw).describe()
    assert personas_from_dict(shown).describe() == shown
    assert (
        shown["offer"] == {"stop": 1.0}
        and shown["delay"] == 1.5
        and shown["number"][0]["yes_no"] == {"no": 1.0}
    )


def test_delays_follow_the_distribution_times_the_persons_pace() -> None:
    config = personas_from_dict({"delay": 2.0})
    delays = {answer(config, 1, f"1555{i:07}", 1, YES_NO).delay for i in range(100)}
    assert min(delays) >= 1.0 and max(delays) <= 4.0 and len(delays) > 50


@pytest.mark.parametrize(
    ("personas", "where"),
    [
        ({"yes_no": {"maybe": 1}}, "behaviour.personas.yes_no"),
        ({"offer": {"stop": 0, "silence": 0}}, "behaviour.personas.offer"),
        ({"offer": {"stop": -1}}, "behaviour.personas.offer.stop"),
        ({"scores": [1, 2, 3]}, "behaviour.personas.scores"),
        ({"delay": {"kind": "normal"}}, "behaviour.personas.delay.kind"),
        ({"seed": "x"}, "behaviour.personas.seed"),
        ({"number": [{"yes_no": {"yes": 1}}]}, "behaviour.personas.number[0]"),
        ({"colour": "blue"}, "behaviour.personas"),
    ],
)
def test_bad_personas_config_is_named(personas: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=f"^{where.replace('[', '.').replace(']', '.')}"):
        build_behaviour({"personas": personas})


def test_the_personas_flag_seeds_the_defaults_or_a_files_personas(tmp_path: Any) -> None:
    config = build_config(personas=5)
    persona = config.behaviour_for(config.accounts[0]).personas
    assert persona is not None and persona.seed == 5
    path = tmp_path / "sim.toml"
    path.write_text("[behaviour.personas]\nseed = 1\noffer = { stop = 1 }\n")
    config = build_config(config_file=str(path), personas=9)
    persona = config.behaviour_for(config.accounts[0]).personas
    assert persona is not None and persona.seed == 9 and persona.weights[Ask.OFFER] == (("stop", 1.0),)
    with pytest.raises(ConfigError, match=r"^--personas"):
        build_config(personas=-1)


# -- over loopback TCP -----------------------------------------------------------------------------

PEOPLE = {
    "delay": 0.0,
    "yes_no": {"yes": 1},
    "number": [{"numbers": ["447700900009"], "yes_no": {"silence": 1}}],
}


async def test_each_reply_goes_to_the_sender_that_texted_the_handset() -> None:
    no_receipt = 0  # (registered_delivery: no receipt)
    with trio.fail_after(5):
        async with running(behaviour={"personas": PEOPLE}) as sim, bound(sim) as esme:
            await esme.ok(sms("447700900001", YES_NO.encode(), registered_delivery=no_receipt))
            await esme.ok(
                sms("447700900001", YES_NO.encode(), registered_delivery=no_receipt, source_addr="12345")
            )
            replies = await esme.wait_for(2)
            assert sorted((mo.source_addr, mo.destination_addr) for mo in replies) == [
                ("447700900001", "12345"),
                ("447700900001", SOURCE),
            ]
            assert {mo.short_message for mo in replies} <= {b"Y", b"yes", b"YES!", b"Yes.", b"yeah"}
            assert sim.handsets.replies_sent == 2


async def test_silence_sends_nothing() -> None:
    no_receipt = 0  # (registered_delivery: no receipt)
    with trio.fail_after(5):
        async with running(behaviour={"personas": PEOPLE}) as sim, bound(sim) as esme:
            await esme.ok(sms("447700900009", YES_NO.encode(), registered_delivery=no_receipt))
            # A later question to a talkative number: its answer is due after the silent
            # one's would have been (both without delay), so once it is here the silent
            # number has had its turn.
            await esme.ok(sms("447700900001", YES_NO.encode(), registered_delivery=no_receipt))
            [reply] = await esme.wait_for(1)
            assert reply.source_addr == "447700900001"
            answers = [(number, a.action, a.text) for number, _, a in sim.handsets.personas.answers]
            assert answers[0] == ("447700900009", "silence", None)
            assert answers[1][:2] == ("447700900001", "yes")
            assert len(esme.received) == 1 and sim.handsets.replies_sent == 1


def test_the_readme_example_is_a_valid_config() -> None:
    import tomllib
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("#### Handsets that behave like people") :]
    example = section[section.index("```toml\n") + 8 : section.index("```\n", section.index("```toml\n") + 8)]
    behaviour = build_behaviour(tomllib.loads(example)["behaviour"])
    assert behaviour.personas is not None and behaviour.personas.seed == 7
    assert answer(behaviour.personas, 7, "447700900013", 1, OFFER).action == "stop"


def test_the_two_way_profile_has_people_behind_the_numbers() -> None:
    config = build_config(profile="two-way")
    persona = config.behaviour_for(config.accounts[0]).personas
    assert persona is not None and persona.seed == 1
    config = build_config(profile="two-way", personas=3)  # the default personas, seeded 3
    persona = config.behaviour_for(config.accounts[0]).personas
    assert persona is not None and persona.seed == 3


def test_a_numbers_answers_do_not_depend_on_other_numbers_traffic() -> None:
    """The n-th MT to a number gets the same answer whatever else arrives in between."""
    import attrs

    from simulator.personas import Personas

    @attrs.define
    class Mt:
        destination_addr: str
        source_addr: str = SOURCE
        esm_class: int = 0
        data_coding: int = 0
        payload: bytes = YES_NO.encode()

    def run(order: list[str]) -> dict[str, list[str | None]]:
        people = Personas(9, lambda *args: None, lambda *args: None)
        config = personas_from_dict({"delay": 0})
        for number in order:
            people.on_delivered(None, config, Mt(number), 0.0)
        out: dict[str, list[str | None]] = {}
        for number, _, got in people.answers:
            out.setdefault(number, []).append(got.text)
        return out

    a, b = "447700900001", "447700900002"
    assert run([a, a, a, b, b, b]) == run([b, a, b, a, b, a]) == run([a, b, b, b, a, a])
