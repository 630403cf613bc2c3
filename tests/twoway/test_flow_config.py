"""Flows as written (``twoway.flow_config``) and in ``[twoway]``: every bad flow is
refused with an error naming the key or the step."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.flow_config import FlowError, parse_flow
from smppgw.twoway.flow_model import Goto, Send, When
from tests.twoway.flowkit import Run

OK = {"a": {"prompt": "hi"}}


def error(data: dict[str, Any], where: str = "") -> str:
    with pytest.raises(FlowError) as info:
        parse_flow(data, where=where)
    assert str(info.value).startswith(info.value.path)
    return str(info.value)


def test_the_path_names_the_config_key_or_the_api_field() -> None:
    bad = {
        "name": "t",
        "steps": {"confirm": {"expect": "choice", "options": ["a", "b"], "on": {"2": "nowhere"}}},
    }
    assert (
        error(bad, "twoway.flow[0]")
        == "twoway.flow[0].steps.confirm.on.2: no step 'nowhere' (steps: confirm)"
    )
    assert error(bad) == "steps.confirm.on.2: no step 'nowhere' (steps: confirm)"
    with pytest.raises(FlowError) as info:
        parse_flow(bad)
    assert info.value.path == "steps.confirm.on.2"


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        # unknown targets
        ({"a": {"next": "b"}}, "steps.a.next: no step 'b'"),
        ({"a": {"expect": "text", "timeout": 5, "on_timeout": "zz"}}, "steps.a.on_timeout: no step 'zz'"),
        ({"a": {"expect": "text", "on_invalid": "zz"}}, "steps.a.on_invalid: no step 'zz'"),
        (
            {"a": {"actions": [{"voucher": "p", "on_empty": "zz"}]}},
            "steps.a.actions[0].on_empty: no step 'zz'",
        ),
        # a timer with no step
        ({"a": {"actions": [{"goto": "later", "at": "+1d"}]}}, "steps.a.actions[0].goto: no step 'later'"),
        (
            {"a": {"actions": [{"goto": "a", "at": "1d before {slot}"}]}},
            "steps.a.actions[0].at: unknown var {slot}",
        ),
        # unreachable
        ({"a": {}, "b": {}}, "steps.b: unreachable: no path from the start step 'a' leads here"),
        # cycles with no way out
        (
            {
                "a": {"expect": "text", "next": "b"},
                "b": {"expect": "choice", "options": ["x"], "on": {"1": "a"}},
            },
            "steps.a: in a cycle with no way out (a -> b -> a)",
        ),
        ({"a": {"next": "b"}, "b": {"next": "a"}}, "steps.a: in a cycle with no way out"),
        (
            {"a": {"next": "b"}, "b": {"actions": [{"goto": "a"}]}},
            "steps.a: in a cycle with no way out",
        ),
        (
            {"a": {"expect": "number", "min": 0, "max": 2, "on": {"0-1": "a", "2": "a"}}},
            "steps.a: in a cycle with no way out (a -> a)",
        ),
        (  # a message-only step's timeout always goes to its on_timeout: "hi" every hour
            {"a": {"prompt": "hi", "timeout": "1h", "on_timeout": "a"}},
            "steps.a: in a cycle with no way out (a -> a)",
        ),
        (
            {"a": {"timeout": "1h", "on_timeout": "b"}, "b": {"timeout": "1d", "on_timeout": "a"}},
            "steps.a: in a cycle with no way out (a -> b -> a)",
        ),
        # on keys
        ({"a": {"expect": "choice", "options": ["x", "y"], "on": {"3": "a"}}}, "steps.a.on.3: not an option"),
        ({"a": {"expect": "number", "on": {"11-12": "a"}}}, "steps.a.on.11-12: a number or range"),
        ({"a": {"expect": "number", "on": {"lots": "a"}}}, "steps.a.on.lots: a number or range"),
        ({"a": {"expect": "text", "on": {"x": "a"}}}, "steps.a.on: a text step goes to next"),
        ({"a": {"on": {"x": "a"}}}, "steps.a.on: a message-only step"),
        ({"a": {"var": "x"}}, "steps.a.var: a message-only step"),
        ({"a": {"expect": "text", "on_timeout": "a"}}, "steps.a.on_timeout: needs a timeout"),
        # actions
        (
            {"a": {"actions": [{"end": "completed"}, {"send": "x"}]}},
            "steps.a.actions[0]: ends the step: it must be",
        ),
        (
            {"a": {"expect": "text", "actions": [{"handoff": "q"}]}},
            "steps.a.actions[0]: ends the step, which expects",
        ),
        ({"a": {"actions": [{"send": "x", "emit": "y"}]}}, "steps.a.actions[0]: exactly one of send, emit"),
        ({"a": {"actions": [{"send": "x", "note": "y"}]}}, "steps.a.actions[0].note: unknown key"),
        ({"a": {"actions": [{"end": "expired"}]}}, "steps.a.actions[0].end: one of completed, cancelled"),
        ({"a": {"actions": [{"send": "x", "at": "yesterday"}]}}, "steps.a.actions[0].at:"),
        ({"a": {"actions": [{"send": "x", "at": "-1h"}]}}, "steps.a.actions[0].at:"),
        (
            {"a": {"actions": [{"send": "x", "at": "+1h", "late": "maybe"}]}},
            "steps.a.actions[0].late: skip or now",
        ),
        ({"a": {"actions": [{"emit": "Bad Type"}]}}, "steps.a.actions[0].emit: 'Bad Type' does not match"),
        (
            {"a": {"actions": [{"emit": "flow.completed"}]}},
            "steps.a.actions[0].emit: 'flow.completed' is one of the gateway's own",
        ),
        # vars
        ({"a": {"prompt": "Hi {name}"}}, "steps.a.prompt: unknown var {name}"),
        (
            {"a": {"expect": "text", "reprompt": "{x}", "var": "y"}},
            "steps.a.reprompt: unknown var {x} (known: y, y_label)",
        ),
        ({"a": {"actions": [{"handoff": "q", "note": "{n}"}]}}, "steps.a.actions[0].note: unknown var {n}"),
        (
            {"a": {"actions": [{"emit": "e", "data": {"k": "{n}"}}]}},
            "steps.a.actions[0].data.k: unknown var {n}",
        ),
        ({"a": {"expect": "text", "prompt": "{options}"}}, "steps.a.prompt: unknown var {options}"),
        ({"a": {"expect": "slot", "slots": "{s}"}}, "steps.a.slots: unknown var {s}"),
        # expects
        ({"a": {"expect": "maybe"}}, "steps.a.expect: one of choice, number, slot, text, none"),
        ({"a": {"expect": "choice"}}, "steps.a.options: expected a list"),
        ({"a": {"expect": "choice", "options": []}}, "steps.a.options: at least one option"),
        (
            {"a": {"expect": "text", "options": ["x"]}},
            "steps.a.options: not a key of an expect = 'text' step",
        ),
        (
            {"a": {"expect": "choice", "options": ["x", {"key": "Y"}]}},
            "steps.a.options[0]: every option needs a key",
        ),
        (
            {"a": {"expect": "choice", "options": [{"key": "Y"}, {"key": "y"}]}},
            "steps.a.options[1].key: 'Y' is the key",
        ),
        (
            {
                "a": {
                    "expect": "choice",
                    "options": [{"key": "Y", "words": ["ok"]}, {"key": "N", "words": ["OK!"]}],
                }
            },
            "steps.a.options[1].words[0]: 'OK!' also picks option Y",
        ),
        ({"a": {"expect": "number", "min": 5, "max": 5}}, "steps.a.min: must be less than max"),
        ({"a": {"expect": "number", "max": 10000}}, "steps.a.max: an integer in 0..9999"),
        (
            {"a": {"expect": "slot", "slots": ["tomorrow"]}},
            "steps.a.slots[0]: an ISO 8601 date-time with its zone",
        ),
        (
            {"a": {"expect": "slot", "slots": ["2027-01-01T10:00"]}},
            "steps.a.slots[0]: an ISO 8601 date-time with its zone",
        ),
        ({"a": {"expect": "text", "timeout": "forever"}}, "steps.a.timeout: a duration"),
        ({"a": {"expect": "text", "attempts": 9}}, "steps.a.attempts: an integer in 0..5"),
        ({"a": {"colour": "red"}}, "steps.a.colour: unknown key"),
        ({"a b": {}}, "steps.a b: 'a b' does not match"),
    ],
)
def test_bad_steps(steps: dict[str, Any], message: str) -> None:
    assert error({"name": "t", "steps": steps}).startswith(message)


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({}, "name: expected a string"),
        ({"name": "bad name"}, "name: 'bad name' does not match"),
        ({"name": "t", "steps": {}}, "steps: 1..50 steps, got 0"),
        ({"name": "t", "steps": OK, "start": "b"}, "start: no step 'b'"),
        ({"name": "t", "steps": OK, "keywords": ["BOOK NOW PLEASE TODAY"]}, "keywords[0]:"),
        ({"name": "t", "steps": OK, "vars": {"Bad": "x"}}, "vars.Bad: 'Bad' does not match"),
        ({"name": "t", "steps": OK, "size": 1}, "size: unknown key"),
        ({"name": "t", "steps": [1]}, "steps: expected a table"),
    ],
)
def test_bad_flows(top: dict[str, Any], message: str) -> None:
    assert error(top).startswith(message)


def test_the_name_may_come_from_the_url() -> None:
    assert parse_flow({"steps": OK}, name="from-url").name == "from-url"
    assert parse_flow({"name": "same", "steps": OK}, name="same").name == "same"
    with pytest.raises(FlowError, match=r"^name: 'other' is not the name in the path \('url'\)"):
        parse_flow({"name": "other", "steps": OK}, name="url")


def test_a_flow_as_parsed() -> None:
    f = parse_flow(
        {
            "name": "t",
            "keywords": ["book"],
            "campaign": "c1",
            "start": "b",
            "vars": {"slots": ["2027-01-01T10:00:00Z", "2027-01-02T10:00:00Z"]},
            "steps": {
                "a": {
                    "prompt": "{slot_label}",
                    "actions": [{"send": "soon", "at": {"var": "slot", "offset": "-1d"}}],
                },
                "b": {"expect": "slot", "slots": "{slots}", "var": "slot", "next": "a", "timeout": "1h30m"},
            },
        }
    )
    assert f.start == "b" and f.keywords == ("BOOK",) and f.campaign == "c1"
    assert f.vars == {"slots": "2027-01-01T10:00:00Z,2027-01-02T10:00:00Z"}
    assert f.steps["b"].expect.slots_var == "slots" and f.steps["b"].timeout == 5400.0
    assert f.steps["a"].actions == (Send(text="soon", at=When(var="slot", offset=-86400.0)),)
    assert json.loads(json.dumps(f.to_dict()))["vars"]["slots"] == [
        "2027-01-01T10:00:00Z",
        "2027-01-02T10:00:00Z",
    ]


def test_a_reminder_loop_with_a_way_out_is_fine() -> None:
    f = parse_flow(
        {
            "name": "t",
            "steps": {
                "wait": {"actions": [{"goto": "ask", "at": "+1d"}]},
                "ask": {
                    "expect": "choice",
                    "options": [{"key": "YES"}, {"key": "LATER"}],
                    "on": {"YES": "done", "LATER": "wait"},
                },
                "done": {"prompt": "ok"},
            },
        }
    )
    assert f.steps["wait"].actions == (Goto(step="ask", at=When(var=None, offset=86400.0)),)


# -- in [twoway] -------------------------------------------------------------------------------


def test_twoway_flow_tables(tmp_path: Path) -> None:
    text = """
[[flow]]
name = "one"
keywords = ["JOIN"]
[flow.steps.a]
prompt = "hi"

[[flow]]
name = "two"
[flow.steps.a]
expect = "choice"
options = ["x", "y"]
on = { 2 = "nowhere" }
"""
    with pytest.raises(ConfigError, match=r"^twoway\.flow\[1\]\.steps\.a\.on\.2: no step 'nowhere'"):
        twoway_from_dict(tomllib.loads(text))
    assert [
        f.name
        for f in twoway_from_dict(tomllib.loads(text.split('[[flow]]\nname = "two"', maxsplit=1)[0])).flows
    ] == ["one"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"flow": [{"name": "a", "steps": OK}, {"name": "a", "steps": OK}]}, r"^twoway\.flow\[1\]\.name: flow 'a' is already defined"),
        ({"flow": [{"name": "a", "keywords": ["Go"], "steps": OK}, {"name": "b", "keywords": ["GO"], "steps": OK}]},
         r"^twoway\.flow\[1\]\.keywords\[0\]: 'GO' is already the keyword of flow 'a'"),
        ({"flow": [{"name": "a", "keywords": ["stop"], "steps": OK}]}, r"^twoway\.flow\[0\]\.keywords\[0\]: 'STOP' is already an opt-out"),
        ({"flow": [{"name": "a", "keywords": ["unstop"], "steps": OK}]}, r"an opt-in keyword"),
        ({"flow": [{"name": "a", "keywords": ["join"], "steps": OK}], "rule": [{"keyword": "JOIN", "reply": "hi"}]},
         r"^twoway\.flow\[0\]\.keywords\[0\]: 'JOIN' is already the keyword of \[\[twoway\.rule\]\] 'JOIN'"),
        ({"flow": {"name": "a"}}, r"^twoway\.flow: expected a list"),
        ({"flows_dir": "/nonexistent/flows"}, r"^twoway\.flows_dir: '/nonexistent/flows' is not a directory"),
    ],
)  # fmt: skip
def test_twoway_flow_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        twoway_from_dict(data)


def test_help_may_start_the_triage_flow_and_excluded_words_are_free() -> None:
    flows = twoway_from_dict({"flow": [{"name": "h", "keywords": ["HELP"], "steps": OK}]}).flows
    assert flows[0].keywords == ("HELP",)
    data = {"keywords": {"exclude": ["END"]}, "flow": [{"name": "e", "keywords": ["END"], "steps": OK}]}
    assert twoway_from_dict(data).flows[0].keywords == ("END",)


def test_flows_dir_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "a"\n[steps.s]\nnext = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^twoway\.flows_dir: a\.toml: steps\.s\.next: no step 'x'"):
        twoway_from_dict({"flows_dir": str(tmp_path)})
    (tmp_path / "a.toml").write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^twoway\.flows_dir: flow file .*a\.toml: "):
        twoway_from_dict({"flows_dir": str(tmp_path)})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20) | st.sampled_from(["a", "b", "1", "{x}", "+1h", "choice", "slot"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["a", "b", "prompt", "expect", "options", "on", "next", "var", "actions", "send", "at", "goto", "key", "min", "max", "slots"]
    ), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(steps=st.dictionaries(st.sampled_from(["a", "b", "c"]), JSON, min_size=1, max_size=3))
def test_any_json_is_a_flow_or_a_flow_error(steps: dict[str, Any]) -> None:
    try:
        f = parse_flow({"name": "t", "steps": steps})
    except FlowError as exc:
        assert exc.path and str(exc).startswith(exc.path)
        return
    run = Run(f, now=0.0)  # a flow that loads runs: any reply, any time
    run.start()
    for text in ("1", "b", "x", "2"):
        run.reply(text)
        if run.state.next_due is not None:
            run.due()


def test_toml_date_times_and_lower_case_keys() -> None:
    text = """
name = "t"
[steps.pick]
expect = "slot"
slots = [2027-03-15T09:30:00Z, 2027-03-16T11:00:00+01:00]
var = "slot"
next = "ask"
[steps.ask]
expect = "choice"
options = [{ key = "Yes" }, { key = "no" }]
on = { yes = "done" }
[steps.done]
"""
    f = parse_flow(tomllib.loads(text))
    assert f.steps["pick"].expect.slots == ("2027-03-15T09:30:00+00:00", "2027-03-16T11:00:00+01:00")
    assert f.steps["ask"].on == {"YES": "done"}
    assert json.loads(json.dumps(f.to_dict()))["steps"]["pick"]["slots"][0] == "2027-03-15T09:30:00+00:00"
