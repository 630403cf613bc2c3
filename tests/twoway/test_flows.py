"""The flow machine (``twoway.flows``): answers, re-prompts, timeouts, timers, vouchers,
STOP, and that any sequence of replies and times leaves a valid state."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smppgw.twoway import flow_config as fl_config
from smppgw.twoway import flows as fl
from smppgw.twoway.flow_config import parse_flow
from tests.twoway.flowkit import Run, check_state, example, finished, steps, texts, ts


def flow(steps_: dict[str, Any], **top: Any) -> fl.Flow:
    return parse_flow({"name": "t", "steps": steps_, **top})


CHOICE = {
    "prompt": "Which?\n{options}",
    "expect": "choice",
    "options": ["Router", "Phone", "TV"],
    "var": "product",
    "next": "done",
}
KEYWORDS = {
    "expect": "choice",
    "options": [
        {"key": "CONFIRM", "words": ["yes", "ok"]},
        {"key": "RESCHEDULE", "label": "pick another time"},
    ],
    "var": "answer",
    "next": "done",
}
DONE = {"prompt": "Got {product_label}"}


@pytest.mark.parametrize(
    ("reply", "key"),
    [
        ("2", "2"),
        ("two", "2"),
        ("option 2", "2"),
        ("Option two", "2"),
        ("#2", "2"),
        ("2.", "2"),
        ("B", "2"),
        ("b please", "2"),
        ("phone", "2"),
        ("The PHONE", "2"),
        ("phone or tv", None),
        ("3", "3"),
        ("4", None),
        ("0", None),
        ("d", None),
        ("2 or 3", None),
        ("", None),
    ],
)
def test_numbered_choice_reading(reply: str, key: str | None) -> None:
    run = Run(flow({"ask": CHOICE, "done": DONE}), now=0.0)
    run.start()
    run.reply(reply)
    assert run.state.answers[-1].value == key
    if key is not None:
        assert run.state.vars["product"] == key
        assert run.state.vars["product_label"] == ["Router", "Phone", "TV"][int(key) - 1]


@pytest.mark.parametrize(
    ("reply", "key"),
    [("confirm", "CONFIRM"), ("Yes!", "CONFIRM"), ("ok thanks", "CONFIRM"), ("reschedule", "RESCHEDULE"),
     ("Pick another time", "RESCHEDULE"), ("1", None), ("a", None), ("maybe", None)],
)  # fmt: skip
def test_keyword_choice_reading(reply: str, key: str | None) -> None:
    run = Run(flow({"ask": KEYWORDS, "done": {}}), now=0.0)
    run.start()
    run.reply(reply)
    assert run.state.answers[-1].value == key


def test_prompt_lists_the_options_and_fills_vars() -> None:
    run = Run(flow({"ask": CHOICE, "done": DONE}), now=0.0)
    assert texts(run.start()) == ["Which?\n1) Router\n2) Phone\n3) TV"]
    assert texts(run.reply("tv")) == ["Got TV"]
    keyed = Run(flow({"ask": {**KEYWORDS, "prompt": "Reply:\n{options}"}, "done": {}}), now=0.0)
    assert texts(keyed.start()) == ["Reply:\nCONFIRM\nRESCHEDULE - pick another time"]


def test_number_ranges_choose_the_step() -> None:
    f = flow(
        {
            "score": {
                "expect": "number",
                "min": 1,
                "max": 5,
                "var": "n",
                "on": {"<3": "low", "3": "mid", ">=4": "high"},
            },
            "low": {"prompt": "low {n}"},
            "mid": {"prompt": "mid {n}"},
            "high": {"prompt": "high {n}"},
        }
    )
    for reply, text in [("1", "low 1"), ("two", "low 2"), ("3/5", "mid 3"), ("5", "high 5")]:
        run = Run(f, now=0.0)
        run.start()
        assert texts(run.reply(reply)) == [text]
    run = Run(f, now=0.0)
    run.start()
    assert texts(run.reply("3/10")) == ["Please reply with a number from 1 to 5."]  # not its scale


SLOTS = ["2027-03-15T09:30:00+00:00", "2027-03-15T14:00:00+00:00", "2027-03-16T09:30:00-05:00"]


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("1", 0),
        ("three", 2),
        ("c", 2),
        ("Mon 2pm", 1),
        ("14:00", 1),
        ("15 March 9.30", 0),
        ("March 16th", 2),
        ("tuesday", 2),
        ("2027-03-15T14:00:00Z", 1),
        ("2027-03-15T15:00:00+01:00", 1),  # the same instant
        ("9:30", None),  # two slots at 9:30
        ("15 mar", None),  # two that day
        ("4", None),
        ("wednesday", None),
    ],
)
def test_slot_reading(reply: str, index: int | None) -> None:
    f = flow({"pick": {"expect": "slot", "slots": SLOTS, "var": "slot"}})
    run = Run(f, now=0.0)
    run.start()
    run.reply(reply)
    assert run.state.answers[-1].value == (None if index is None else SLOTS[index])


def test_reprompts_then_on_invalid() -> None:
    f = flow(
        {
            "ask": {
                **CHOICE,
                "reprompt": "Reply 1-3 please:\n{options}",
                "attempts": 2,
                "on_invalid": "human",
            },
            "done": DONE,
            "human": {"actions": [{"handoff": "support", "note": "could not read {product}"}]},
        }
    )
    run = Run(f, now=0.0)
    run.start()
    assert texts(run.reply("what")) == ["Reply 1-3 please:\n1) Router\n2) Phone\n3) TV"]
    assert run.state.attempts == 1
    assert texts(run.reply("huh")) == ["Reply 1-3 please:\n1) Router\n2) Phone\n3) TV"]
    last = run.reply("??")
    assert fl.HandOff(queue="support", note="could not read ") in last and run.state.status == "handoff"


def test_attempts_zero_ends_invalid_at_the_first_bad_answer() -> None:
    run = Run(flow({"ask": {**CHOICE, "attempts": 0}, "done": DONE}), now=0.0)
    run.start()
    assert finished(run.reply("x")) == ["invalid"]


def test_timeout_goes_to_on_timeout_and_a_late_reply_is_read_there() -> None:
    f = flow(
        {
            "ask": {**CHOICE, "timeout": "1h", "on_timeout": "nudge"},
            "nudge": {**CHOICE, "prompt": "Still there? {options}", "timeout": 60},
            "done": DONE,
        }
    )
    run = Run(f, now=1000.0)
    run.start()
    assert run.state.deadline == 4600.0
    late = run.reply("2", after=3700.0)  # the deadline passed: nudge first, then the answer read there
    assert steps(late) == ["nudge", "done"] and texts(late)[-1] == "Got Phone"


def test_timeout_without_on_timeout_expires() -> None:
    run = Run(flow({"ask": {**CHOICE, "timeout": 60}, "done": DONE}), now=0.0)
    run.start()
    assert fl.due(run.flow, run.state, now=59.0).effects == []
    assert finished(run.due()) == ["expired"] and run.now == 60.0


def test_send_timers_from_now_and_late_sends() -> None:
    f = flow(
        {
            "a": {
                "prompt": "hello",
                "actions": [
                    {"send": "in an hour, {name}", "at": "+1h"},
                    {"send": "before", "at": "1 day before {when}", "late": "now"},
                    {"send": "skipped", "at": "at {when}"},
                ],
            }
        },
        vars={"name": "Ann", "when": "1970-01-01T12:00:00Z"},
    )
    run = Run(f, now=ts("1970-01-01T10:00:00Z"))
    assert texts(run.start()) == ["before", "hello"]  # "before" is late: now; at {when}: a timer
    assert [t.text for t in run.state.timers] == ["in an hour, {name}", "skipped"]
    assert texts(run.due()) == ["in an hour, Ann"]
    assert texts(run.due()) == ["skipped"] and finished(run.effects) == ["completed"]


def test_emit_renders_its_data() -> None:
    run = Run(
        flow({"a": {"actions": [{"emit": "x.done", "data": {"who": "{name}!"}}]}}, vars={"name": "Bo"}),
        now=0.0,
    )
    assert fl.EmitEvent(type="x.done", data={"who": "Bo!"}) in run.start()


def test_start_vars_override_defaults_and_lists_become_text() -> None:
    run = Run(flow({"a": {"prompt": "{a} {b}"}}, vars={"a": "x", "b": "y"}), now=0.0)
    assert texts(run.start(b=["1", "2"])) == ["x 1,2"]


@pytest.mark.parametrize(
    ("reason", "status"), [("stop", "stopped"), ("opt_out", "stopped"), ("api", "cancelled")]
)
def test_stop(reason: str, status: str) -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    run.start()
    run.reply("1")
    assert run.stop(reason) == [fl.Finished(status=status)]
    assert run.state.status == status and run.state.reason == reason and run.state.timers == ()
    assert run.stop() == [] and run.last is not None and not run.last.handled
    assert run.reply("CONFIRM") == []


def test_voucher_issued_when_not_waiting_is_not_handled() -> None:
    run = Run(example("survey"), now=0.0)
    run.start()
    assert run.voucher("X") == [] and run.last is not None and not run.last.handled


def test_voucher_without_on_empty_cancels() -> None:
    run = Run(flow({"a": {"prompt": "{code}", "actions": [{"voucher": "p"}]}}), now=0.0)
    run.start()
    assert run.voucher(None) == [fl.Finished(status="cancelled")]
    assert run.state.reason == "no voucher left"


def test_goto_now_and_end_after_the_prompt() -> None:
    f = flow(
        {
            "a": {"prompt": "one", "actions": [{"goto": "b"}]},
            "b": {"prompt": "two", "actions": [{"end": "cancelled"}]},
        }
    )
    run = Run(f, now=0.0)
    assert run.start() == [
        fl.StepEntered(step="a"),
        fl.SendText(text="one"),
        fl.StepEntered(step="b"),
        fl.SendText(text="two"),
        fl.Finished(status="cancelled"),
    ]


def test_run_state_json_round_trip() -> None:
    run = Run(example("booking"), now=ts("2027-03-01T08:00:00+00:00"))
    run.start()
    run.reply("nope")
    run.reply("2")
    text = run.state.to_json()
    assert fl.RunState.from_json(text) == run.state
    assert fl.RunState.from_json(run.state.to_dict()) == run.state
    with pytest.raises(ValueError, match="not a flow run state"):
        fl.RunState.from_json('{"step": "x"}')


def test_render() -> None:
    assert fl.render("Hi {name}, {unset}{ {x}", {"name": "Al"}) == "Hi Al, { "


REPLIES = st.one_of(
    st.sampled_from(
        ["1", "2", "3", "7", "11", "two", "B", "yes", "CONFIRM", "reschedule", "mon 9:30", "", "STOP"]
    ),
    st.text(max_size=30),
)
ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("reply"), REPLIES),
        st.tuples(st.just("wait"), st.floats(min_value=0, max_value=40 * 86400)),
        st.tuples(st.just("voucher"), st.sampled_from(["CODE-1", None])),
        st.tuples(st.just("stop"), st.sampled_from(["stop", "api"])),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["booking", "help-triage", "survey", "voucher"]), actions=ACTIONS)
def test_any_sequence_never_raises_and_the_state_stays_valid(
    name: str, actions: list[tuple[str, Any]]
) -> None:
    f = example(name)
    now = ts("2027-03-01T08:00:00+00:00")
    state = fl.start(f, vars={}, now=now).state
    check_state(f, state)
    for kind, value in actions:
        if kind == "reply":
            outcome = fl.reply(f, state, value, now=now)
        elif kind == "wait":
            now += value
            outcome = fl.due(f, state, now=now)
        elif kind == "voucher":
            outcome = fl.voucher_issued(f, state, "code", value, now=now)
        else:
            outcome = fl.stop(f, state, now=now, reason=value)
        check_state(f, outcome.state)
        if not state.active:
            assert outcome.state == state and outcome.effects == []  # over is over
        assert [e for e in outcome.effects if isinstance(e, fl.Finished)] == (
            [] if outcome.state.active else [fl.Finished(status=outcome.state.status)] if state.active else []
        )
        state = outcome.state
        assert state.next_due is None or state.next_due > now or kind != "wait"


NAMES = ["s0", "s1", "s2", "s3"]


@st.composite
def random_steps(draw: st.DrawFn) -> dict[str, Any]:
    """Steps of every kind with random transitions among them (many make a valid flow)."""
    out: dict[str, Any] = {}
    for name in NAMES[: draw(st.integers(1, len(NAMES)))]:
        kind = draw(st.sampled_from(["choice", "number", "slot", "text", "none"]))
        step: dict[str, Any] = {"prompt": f"{name} {{options}}" if kind in ("choice", "slot") else name}
        target = st.sampled_from(NAMES)
        if kind != "none":
            step.update(expect=kind, var=f"v_{name}", attempts=draw(st.integers(0, 2)))
            if draw(st.booleans()):
                step["on_invalid"] = draw(target)
        if kind == "choice":
            step["options"] = ["a", "b", "c"]
            step["on"] = draw(st.dictionaries(st.sampled_from(["1", "2", "3"]), target, max_size=2))
        elif kind == "number":
            step.update(
                min=0,
                max=5,
                on=draw(st.dictionaries(st.sampled_from(["<2", "2-3", "5"]), target, max_size=2)),
            )
        elif kind == "slot":
            step["slots"] = ["2027-03-15T09:30:00Z", "2027-03-16T09:30:00Z"]
        if draw(st.booleans()):
            step["next"] = draw(target)
        if draw(st.booleans()):
            step["timeout"] = draw(st.sampled_from([60, "1h", "1d"]))
            if draw(st.booleans()):
                step["on_timeout"] = draw(target)
        actions: list[dict[str, Any]] = draw(
            st.lists(
                st.sampled_from(
                    [{"send": "x"}, {"send": "later", "at": "+1h"}, {"emit": "t.e"}, {"voucher": "p"},
                     {"send": "before", "at": "1h before {slot}", "late": "now"}]
                ) | target.map(lambda t: {"goto": t, "at": "+2h"}),
                max_size=2,
            )
        )  # fmt: skip
        if kind == "none" and draw(st.booleans()):
            actions.append(
                draw(
                    st.sampled_from([{"end": "completed"}, {"handoff": "q"}])
                    | target.map(lambda t: {"goto": t})
                )
            )
        step["actions"] = actions
        out[name] = step
    return out


ANY_REPLY = st.sampled_from(["1", "2", "3", "4", "b", "2027-03-16T09:30:00Z", "hello", ""])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(
    steps_=random_steps(),
    actions=st.lists(
        st.tuples(st.sampled_from(["reply", "wait", "voucher", "stop"]), ANY_REPLY, st.floats(0, 2 * 86400)),
        max_size=15,
    ),
)
def test_random_valid_flows_never_raise_and_stay_valid(
    steps_: dict[str, Any], actions: list[tuple[str, str, float]]
) -> None:
    try:
        f = flow(steps_, vars={"slot": "2027-03-15T09:30:00Z"})
    except fl_config.FlowError:
        return  # refused with its reason (tested elsewhere)
    now = ts("2027-03-15T06:00:00Z")
    state = fl.start(f, vars={}, now=now).state
    check_state(f, state)
    for kind, text, wait in actions:
        if kind == "reply":
            outcome = fl.reply(f, state, text, now=now)
        elif kind == "wait":
            now += wait
            outcome = fl.due(f, state, now=now)
        elif kind == "voucher":
            outcome = fl.voucher_issued(f, state, "code", text or None, now=now)
        else:
            outcome = fl.stop(f, state, now=now, reason=text)
        check_state(f, outcome.state)
        state = outcome.state
