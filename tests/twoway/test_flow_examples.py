"""The shipped example flows (examples/flows/*.toml): they parse, match the published
JSON Schema, and walk through as their comments say, on the pure machine."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from smppgw.twoway import flows as fl
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.flow_schema import SCHEMA, schema_json
from tests.twoway.flowkit import EXAMPLES, Run, example, finished, steps, texts, ts

DOCS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "flow.schema.json"
NAMES = ["booking", "help-triage", "survey", "voucher"]


def test_docs_schema_is_the_one_in_the_code() -> None:
    assert DOCS_SCHEMA.read_text(encoding="utf-8") == schema_json(), (
        "regenerate: python -m smppgw.twoway.flow_schema > docs/flow.schema.json"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema_rs.meta.validate(SCHEMA)


@pytest.mark.parametrize("name", NAMES)
def test_example_matches_the_schema_and_parses(name: str) -> None:
    data = tomllib.loads((EXAMPLES / f"{name}.toml").read_text(encoding="utf-8"))
    validator = jsonschema_rs.Draft202012Validator(json.loads(DOCS_SCHEMA.read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(data)] == []
    assert example(name).name == name


def test_every_example_is_tested() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.toml")) == sorted(NAMES)


def test_examples_load_as_flows_dir_of_the_config() -> None:
    config = twoway_from_dict({"flows_dir": str(EXAMPLES)})
    assert [f.name for f in config.flows] == sorted(NAMES)
    assert fl.flow_for_keyword(config.flows, "book please") is config.flows[0]
    assert fl.flow_for_keyword(config.flows, "Help!").name == "help-triage"  # type: ignore[union-attr]
    assert fl.flow_for_keyword(config.flows, "Help!", exclude=["HELP"]) is None


def test_schema_rejects_what_the_parser_rejects_by_shape() -> None:
    validator = jsonschema_rs.Draft202012Validator(SCHEMA)
    bad: dict[str, Any]
    for bad in (
        {"steps": {}},
        {"steps": {"a": {"expect": "choice"}}},  # no options
        {"steps": {"a": {"expect": "number", "options": ["x"]}}},
        {"steps": {"a": {"actions": [{"send": "hi", "emit": "x"}]}}},
        {"steps": {"a": {"actions": [{"end": "expired"}]}}},
        {"steps": {"a": {}}, "colour": "red"},
    ):
        assert not validator.is_valid(bad), bad


# -- booking -----------------------------------------------------------------------------------

SLOT_2 = "2027-03-15T14:00:00+00:00"


def test_booking_pick_confirm_remind_confirm() -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    first = run.start()
    assert steps(first) == ["pick"]
    assert texts(first) == [
        "Acme Dental: reply with the number of a time to book:\n"
        "1) Mon 15 Mar 09:30\n2) Mon 15 Mar 14:00\n3) Tue 16 Mar 11:00"
    ]
    assert texts(run.reply("7")) == [
        "Sorry, please reply with a number from the list:\n" + texts(first)[0].split("\n", 1)[1]
    ]
    booked = run.reply("2")
    assert steps(booked) == ["booked"]
    assert fl.EmitEvent(type="booking.booked", data={"slot": SLOT_2}) in booked
    assert texts(booked) == [
        "Booked: Acme Dental, Mon 15 Mar 14:00. We will remind you 2 days before. Reply STOP to opt out."
    ]
    assert run.state.vars["slot"] == SLOT_2 and run.state.active
    assert run.state.next_due == ts(SLOT_2) - 2 * 86400  # the reminder
    assert (
        run.reply("thanks").__len__() == 0 and run.last is not None and not run.last.handled
    )  # not the flow's
    reminder = run.due()
    assert steps(reminder) == ["remind"]
    assert texts(reminder) == [
        "Reminder: Acme Dental, Mon 15 Mar 14:00. Reply CONFIRM to keep it or RESCHEDULE to pick another time."
    ]
    done = run.reply("yes please")
    assert steps(done) == ["confirmed"] and finished(done) == ["completed"]
    assert texts(done) == ["Thank you, see you Mon 15 Mar 14:00 at Acme Dental."]
    assert [(a.step, a.value) for a in run.state.answers] == [
        ("pick", None),
        ("pick", SLOT_2),
        ("remind", "CONFIRM"),
    ]


def test_booking_reschedule_at_the_reminder_moves_the_one_reminder() -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    run.start()
    run.reply("mon 9:30")
    run.due()
    again = run.reply("RESCHEDULE")
    assert steps(again) == ["pick"]
    run.reply("Tue 16 Mar 11am")
    assert run.state.vars["slot"] == "2027-03-16T11:00:00+00:00"
    assert [t.at for t in run.state.timers] == [ts("2027-03-14T11:00:00+00:00")]


def test_booking_with_slots_from_the_api_and_a_slot_too_close_for_a_reminder() -> None:
    run = Run(example("booking"), now=ts("2027-05-01T08:00:00+02:00"))
    first = run.start(slots=["2027-05-02T10:00:00+02:00", "2027-05-09T10:00:00+02:00"], clinic="Acme Lyon")
    assert texts(first)[0].endswith("1) Sun 2 May 10:00\n2) Sun 9 May 10:00")
    assert finished(run.reply("1")) == ["completed"]  # tomorrow: no reminder, the run is done


def test_booking_unanswered_reminder_ends_unconfirmed() -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    run.start()
    run.reply("3")
    run.due()
    late = run.due()
    assert steps(late) == ["unconfirmed"] and finished(late) == ["completed"]


def test_booking_silence_at_the_first_step_expires() -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    run.start()
    assert finished(run.due()) == ["expired"]
    assert run.reply("2") == [] and run.last is not None and not run.last.handled


# -- help triage -------------------------------------------------------------------------------


def test_help_triage_hands_off_to_the_right_queue() -> None:
    run = Run(example("help-triage"), now=1_800_000_000.0)
    first = run.start()
    assert texts(first) == [
        "Acme support. Which product is it about? Reply with its number:\n1) Broadband\n2) Mobile\n3) TV"
    ]
    assert texts(run.reply("two")) == [
        "What kind of problem with your Mobile?\n1) Billing\n2) It is not working\n3) Something else"
    ]
    last = run.reply("B")
    assert texts(last) == ["Thanks. A Mobile engineer will text you back here shortly."]
    assert fl.HandOff(queue="technical", note="Mobile: It is not working") in last
    assert finished(last) == ["handoff"] and run.state.status == "handoff"


def test_help_triage_unreadable_answers_go_to_a_human_anyway() -> None:
    run = Run(example("help-triage"), now=1_800_000_000.0)
    run.start()
    assert texts(run.reply("my wifi")) == ["Please reply with a number from 1 to 3."]
    assert texts(run.reply("??")) == ["Please reply with a number from 1 to 3."]
    last = run.reply("it just doesn't work")
    assert fl.HandOff(queue="support", note=" ") in last and run.state.status == "handoff"


# -- survey ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "why"), [("9", False), ("7", False), ("6 out of 10", True), ("zero", True)]
)
def test_survey_asks_why_only_below_7(score: str, why: bool) -> None:
    run = Run(example("survey"), now=1_800_000_000.0)
    run.start()
    after = run.reply(score)
    if why:
        assert steps(after) == ["why"]
        assert texts(after)[0].startswith("Sorry to hear that. Why did you give us ")
        after = run.reply("The app keeps crashing")
    assert steps(after)[-1] == "thanks" and finished(after) == ["completed"]
    event = next(e for e in after if isinstance(e, fl.EmitEvent))
    assert event.type == "survey.answered"
    assert event.data["reason"] == ("The app keeps crashing" if why else "")


def test_survey_out_of_range_gets_one_reprompt_then_ends_invalid() -> None:
    run = Run(example("survey"), now=1_800_000_000.0)
    run.start()
    assert texts(run.reply("11")) == ["Please reply with a number from 0 to 10."]
    assert finished(run.reply("-3")) == ["invalid"]


# -- voucher -----------------------------------------------------------------------------------


def test_voucher_keyword_gives_a_code() -> None:
    run = Run(example("voucher"), now=1_800_000_000.0)
    first = run.start()
    assert first == [fl.StepEntered(step="give"), fl.NeedVoucher(pool="spring", var="code")]
    assert run.state.resume == 0 and run.state.next_due is None
    assert run.reply("hello") == []  # paused: not the flow's text yet
    done = run.voucher("SPRING-0001")
    assert texts(done) == [
        "Your Acme code: SPRING-0001. Show it at the till by 31 May. Reply STOP to opt out."
    ]
    assert finished(done) == ["completed"] and run.state.vars["code"] == "SPRING-0001"


def test_voucher_pool_empty() -> None:
    run = Run(example("voucher"), now=1_800_000_000.0)
    run.start()
    done = run.voucher(None)
    assert steps(done) == ["none_left"] and finished(done) == ["completed"]
    assert texts(done) == ["Sorry, all the spring codes have gone. Watch this space!"]
