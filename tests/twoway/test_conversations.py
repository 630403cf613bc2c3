"""Conversations, pure (``twoway.conversations``): the expect spec and its errors, tolerant
answers, linking, and the lifecycle table against every (state, input) pair."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.twoway.conversations import (
    TRANSITIONS,
    ConversationClosed,
    Expect,
    ExpectError,
    Input,
    OpenRef,
    State,
    expect_from,
    link,
    normalise,
    parse_answer,
    parse_duration,
    step,
    transition,
)

YES_NO = {
    "type": "choice",
    "choices": {"YES": ["yes", "y", "yeah", "ok", "confirm"], "NO": ["no", "n"]},
    "timeout": "24h",
    "reprompt": "Please reply YES or NO",
    "max_reprompts": 1,
}
SCORE = {"type": "score", "min": 0, "max": 10}


def errors(spec: dict[str, object]) -> list[str]:
    with pytest.raises(ExpectError) as caught:
        expect_from(spec)
    return [path for path, _ in caught.value.errors]


# -- the spec ---------------------------------------------------------------------------------------


def test_the_issue_examples_are_read_as_given() -> None:
    choice = expect_from(YES_NO)
    assert choice.type == "choice" and choice.timeout == 86400 and choice.max_reprompts == 1
    assert dict(choice.choices)["NO"] == ("no", "n") and choice.reprompt == "Please reply YES or NO"
    score = expect_from(SCORE)
    assert (score.min, score.max, score.timeout) == (0, 10, 86400)
    assert score.reprompt == "Please reply with a number from 0 to 10"
    assert expect_from({"type": "text"}).type == "text"
    # what is stored is read back the same
    assert expect_from(choice.to_dict()) == choice and expect_from(score.to_dict()) == score


def test_a_default_reprompt_names_the_choices() -> None:
    spec = expect_from({"type": "choice", "choices": {"A": [], "B": [], "C": []}})
    assert spec.reprompt == "Please reply A, B or C"


@pytest.mark.parametrize(
    ("spec", "paths"),
    [
        ({"type": "choice", "choices": {}}, ["choices"]),
        ({"type": "choice"}, ["choices"]),
        ({"type": "choice", "choices": {"YES": ["y", "ok"], "NO": ["no", "OK"]}}, ["choices.NO[1]"]),
        ({"type": "choice", "choices": {"YES": ["Oui"], "NO": ["oui!"]}}, ["choices.NO[0]"]),  # normalised
        ({"type": "choice", "choices": {"YES": ["no"], "NO": []}}, ["choices.NO"]),  # a name is a synonym
        ({"type": "choice", "choices": {"YES": ["!!"]}}, ["choices.YES[0]"]),
        ({"type": "score", "min": 5, "max": 1}, ["min"]),
        ({"type": "score", "min": 3, "max": 3}, ["min"]),
        ({"type": "score", "max": -1}, ["max"]),
        ({"type": "text", "timeout": "soon"}, ["timeout"]),
        ({"type": "text", "timeout": "0s"}, ["timeout"]),
        ({"type": "text", "timeout": "31d"}, ["timeout"]),
        ({"type": "text", "max_reprompts": 9}, ["max_reprompts"]),
        ({"type": "text", "reprompt": "  "}, ["reprompt"]),
        ({"type": "text", "min": 1}, ["min"]),
        ({"type": "score", "choices": {"A": []}}, ["choices"]),
        ({"type": "vote"}, ["type"]),
        (
            {"type": "score", "min": 9, "max": 2, "timeout": "x", "max_reprompts": -1},
            ["min", "timeout", "max_reprompts"],
        ),
    ],
)
def test_a_bad_spec_names_each_bad_field(spec: dict[str, object], paths: list[str]) -> None:
    assert errors(spec) == paths


@pytest.mark.parametrize(
    ("given_", "seconds"),
    [
        ("24h", 86400),
        ("30m", 1800),
        ("1h30m", 5400),
        ("90s", 90),
        ("2d", 172800),
        (" 1h 15m ", 4500),
        (60, 60),
    ],
)
def test_durations(given_: object, seconds: float) -> None:
    assert parse_duration(given_) == seconds


@pytest.mark.parametrize("bad", ["", "h", "24", "1x", "-1h", "1h-", True, None, [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|between"):
        parse_duration(bad)


# -- answers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("YES", "YES"), ("yes", "YES"), (" Yes! ", "YES"), ("y", "YES"), ("Yeah.", "YES"), ("OK", "YES"),
        ("yes please", "YES"), ("Yes, thank you", "YES"), ("hi, yes", "YES"), ("ok yes", "YES"),
        ("confirm", "YES"), ("NO", "NO"), ("no thanks", "NO"), ("No!!", "NO"), ("n", "NO"),
        ("maybe", None), ("yes no", None), ("", None), ("please", None), ("no idea", None),
        ("don't know", None), ("yes but later", None),
    ],
)  # fmt: skip
def test_choices_are_read_tolerantly(text: str, answer: str | None) -> None:
    assert parse_answer(expect_from(YES_NO), text) == answer


def test_accents_and_case_do_not_matter() -> None:
    spec = expect_from({"type": "choice", "choices": {"OUI": ["oui", "d'accord"], "NON": ["non"]}})
    assert [parse_answer(spec, t) for t in ("OUÍ", "D'ACCORD", "Non.", "daccord")] == [
        "OUI",
        "OUI",
        "NON",
        "OUI",
    ]
    assert normalise("  Ça  VA ! ") == "ca va"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("8", "8"), ("8/10", "8"), ("8 / 10", "8"), ("eight", "8"), (" 9!", "9"), ("10 out of 10", "10"),
        ("Ten", "10"), ("0", "0"), ("7 of 10", "7"), ("6 please", "6"), ("seven out of ten", "7"),
        ("11", None), ("4/5", None), ("8.5", None), ("great", None), ("8 9", None), ("-1", None),
    ],
)  # fmt: skip
def test_scores(text: str, answer: str | None) -> None:
    assert parse_answer(expect_from(SCORE), text) == answer


@given(
    value=st.integers(0, 10),
    form=st.sampled_from(["{}", "{}/10", " {}! ", "{} out of 10", "{} of 10", "{}/10 thanks"]),
)
def test_every_score_form_in_range_is_read(value: int, form: str) -> None:
    assert parse_answer(expect_from(SCORE), form.format(value)) == str(value)


@given(value=st.integers(11, 9999))
def test_a_score_out_of_range_is_not_an_answer(value: int) -> None:
    assert parse_answer(expect_from(SCORE), str(value)) is None


@given(text=st.text(max_size=200))
def test_any_text_is_read_without_error(text: str) -> None:
    for spec in (YES_NO, SCORE, {"type": "text"}):
        answer = parse_answer(expect_from(spec), text)
        assert answer is None or isinstance(answer, str)


def test_a_text_answer_is_the_text() -> None:
    spec = expect_from({"type": "text"})
    assert parse_answer(spec, "  See you at 5  ") == "See you at 5"
    assert parse_answer(spec, "   ") is None


# -- linking --------------------------------------------------------------------------------------------


def test_linking_exact_latest_none() -> None:
    a = OpenRef(id="a", opened_at=1.0, deadline=100.0)
    b = OpenRef(id="b", opened_at=2.0, deadline=50.0)
    assert (link([a], 10.0).conversation_id, link([a], 10.0).linked_by) == ("a", "exact")
    assert (link([a, b], 10.0).conversation_id, link([b, a], 10.0).linked_by) == ("b", "latest")
    assert (link([a, b], 60.0).conversation_id, link([a, b], 60.0).linked_by) == ("a", "exact")  # b expired
    assert (link([a, b], 100.0).conversation_id, link([], 1.0).linked_by) == (None, None)


# -- the lifecycle ------------------------------------------------------------------------------------------


@given(state=st.sampled_from(State), event=st.sampled_from(Input))
def test_transition_is_total_or_raises(state: State, event: Input) -> None:
    try:
        new = transition(state, event)
    except ConversationClosed:
        assert (state, event) not in TRANSITIONS
        assert state is not State.OPEN
    else:
        assert TRANSITIONS[state, event] is new


def test_invalid_answers_get_reprompts_then_end_invalid() -> None:
    spec: Expect = expect_from({**YES_NO, "max_reprompts": 2})
    assert step(spec, State.OPEN, 0, None).reprompt == "Please reply YES or NO"
    assert step(spec, State.OPEN, 1, None).state is State.OPEN
    assert step(spec, State.OPEN, 2, None) == step(spec, State.OPEN, 2, None)
    assert step(spec, State.OPEN, 2, None).state is State.INVALID
    assert step(spec, State.OPEN, 2, None).reprompt is None
    assert step(spec, State.OPEN, 2, "YES").state is State.ANSWERED
    assert step(expect_from({**YES_NO, "max_reprompts": 0}), State.OPEN, 0, None).state is State.INVALID
    with pytest.raises(ConversationClosed):
        step(spec, State.ANSWERED, 0, "NO")
