"""Flows: multi-step automated dialogues over SMS. The model and the machine. Pure.

Theory of operation
-------------------
A ``Flow`` (``flow_config.parse_flow`` checks one from TOML or JSON) is a set of named
steps. A run of it, for one (number, sender) pair, is a ``RunState``: the step it is
at, the vars collected, the answers read, the attempts at this step, the step's
deadline and the run's timers. The runtime (``gateway/flows.py``) keeps the state in
the store and calls four pure transitions, each giving an ``Outcome``: the new state
and the effects to carry out, in order (send a text, write an event, hand the thread to
a human, issue a voucher):

    start(flow, vars=..., now=...)          a keyword or the API starts a run
    reply(flow, state, text, now=...)       the number texted the sender
    due(flow, state, now=...)               state.next_due has come: deadline, timers
    stop(flow, state, now=..., reason=...)  STOP, or the API cancels it
    voucher_issued(flow, state, var, code, now=...)   after a NeedVoucher effect

Entering a step: ``StepEntered``; its actions in order (``Send`` now or a timer at a
time relative to a var or to now, ``Emit``, ``IssueVoucher`` which pauses the run until
``voucher_issued``); its prompt, with ``{var}``s and ``{options}`` filled; then the
step's last action if it ends the step (``Handoff``: the run ends ``handoff``; ``End``;
``Goto``). A message-only step (expect "none") goes on to ``next``, or waits for its
timers (the booking's reminder), or completes the run.

A reply is read by ``flow_answers.read``. The step's lifecycle::

    waiting --valid answer------------> on[answer] / next / completed
    waiting --invalid, attempts left--> waiting (the re-prompt is sent)
    waiting --invalid, none left------> on_invalid / ended "invalid"
    waiting --deadline passed---------> on_timeout / ended "expired"
    any     --STOP / cancel-----------> ended "stopped" / "cancelled"
    any     --timer-------------------> its text sent / its step entered

A run that is over takes nothing (``Outcome.handled`` False): the runtime treats the
text as a plain inbound message. Every transition is total: any text, at any time,
gives an Outcome, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from smppgw.twoway.flow_answers import on_target, options_text, read, slots_of
from smppgw.twoway.flow_model import (
    ACTIVE,
    END_STATUSES,
    STATUSES,
    Action,
    Answer,
    Effect,
    Emit,
    EmitEvent,
    End,
    Expect,
    Finished,
    Flow,
    Goto,
    HandOff,
    Handoff,
    IssueVoucher,
    NeedVoucher,
    Option,
    Outcome,
    RunState,
    Send,
    SendText,
    Step,
    StepEntered,
    Timer,
    When,
)
from smppgw.twoway.flow_time import resolve_when
from smppgw.twoway.text import words

__all__ = [
    "ACTIVE",
    "END_STATUSES",
    "STATUSES",
    "Action",
    "Answer",
    "Effect",
    "Emit",
    "EmitEvent",
    "End",
    "Expect",
    "Finished",
    "Flow",
    "Goto",
    "HandOff",
    "Handoff",
    "IssueVoucher",
    "NeedVoucher",
    "Option",
    "Outcome",
    "RunState",
    "Send",
    "SendText",
    "Step",
    "StepEntered",
    "Timer",
    "When",
    "default_reprompt",
    "due",
    "flow_for_keyword",
    "render",
    "reply",
    "start",
    "stop",
    "voucher_issued",
]

MAX_HOPS: Final = 64  # steps entered by one transition (the checks reject endless loops)
MAX_ANSWERS: Final = 200  # answers a run keeps (the latest)
MAX_VAR_TEXT: Final = 2000  # characters of a var's value
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_STOP_REASONS: Final = frozenset({"stop", "stopped", "opt_out", "opt-out", "optout"})


def render(template: str, vars: Mapping[str, str], expect: Expect | None = None) -> str:
    """``template`` with ``{var}`` filled from ``vars`` (an unset var is empty) and
    ``{options}`` as the step's list of options or slots."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "options" and expect is not None and "options" not in vars:
            return options_text(expect, vars)
        return vars.get(name, "")

    return _PLACEHOLDER.sub(fill, template)


def default_reprompt(step: Step, vars: Mapping[str, str]) -> str:
    """The re-prompt of a step that names none."""
    expect = step.expect
    if expect.kind == "choice":
        if expect.numbered:
            return f"Please reply with a number from 1 to {len(expect.options)}."
        keys = [o.key for o in expect.options]
        listed = keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " or " + keys[-1]
        return f"Please reply {listed}."
    if expect.kind == "number":
        return f"Please reply with a number from {expect.min} to {expect.max}."
    if expect.kind == "slot":
        count = len(slots_of(expect, vars))
        return f"Please reply with the number of a time from 1 to {count}:\n{options_text(expect, vars)}"
    return "Please reply with a text."


def _text(value: Any) -> str:
    """A var's value as text: a list of slots joined with commas."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return str(value)[:MAX_VAR_TEXT]


# -- the transitions ---------------------------------------------------------------------------


def start(flow: Flow, *, vars: Mapping[str, Any] | None = None, now: float) -> Outcome:
    """A new run of ``flow``, with ``vars`` over the flow's defaults: its first step
    entered."""
    given = {str(k): _text(v) for k, v in (vars or {}).items()}
    state = RunState(flow=flow.name, vars={**flow.vars, **given})
    effects: list[Effect] = []
    state = _enter(flow, state, flow.start, now, effects)
    return Outcome(state=state, effects=effects)


def reply(flow: Flow, state: RunState, text: str, *, now: float) -> Outcome:
    """The run's number texted ``text`` at ``now``: what is overdue first (``due``),
    then the answer read at the current step."""
    if not state.active or state.resume is not None:
        return Outcome(state=state, handled=False)
    overdue = due(flow, state, now=now)
    state, effects = overdue.state, list(overdue.effects)
    step = flow.steps.get(state.step or "")
    if not state.active or state.resume is not None or step is None or step.expect.kind == "none":
        return Outcome(state=state, effects=effects, handled=False)
    value, label = read(step, text, state.vars)
    answer = Answer(step=step.name, text=text[:MAX_VAR_TEXT], value=value, at=now)
    state = attrs.evolve(state, answers=(*state.answers, answer)[-MAX_ANSWERS:])
    if value is None:
        return Outcome(state=_invalid(flow, step, state, now, effects), effects=effects)
    if step.var is not None:
        new_vars = {**state.vars, step.var: value}
        if label is not None:
            new_vars[f"{step.var}_label"] = label
        state = attrs.evolve(state, vars=new_vars)
    target = on_target(step, value) or step.next
    if target is None:
        state = _finish(state, "completed", effects)
    else:
        state = _enter(flow, state, target, now, effects)
    return Outcome(state=state, effects=effects)


def _invalid(flow: Flow, step: Step, state: RunState, now: float, effects: list[Effect]) -> RunState:
    attempts = state.attempts + 1
    if attempts <= step.attempts:
        text = (
            render(step.reprompt, state.vars, step.expect)
            if step.reprompt
            else default_reprompt(step, state.vars)
        )
        effects.append(SendText(text=text))
        return attrs.evolve(state, attempts=attempts)
    if step.on_invalid is not None:
        return _enter(flow, state, step.on_invalid, now, effects)
    return _finish(state, "invalid", effects)


def due(flow: Flow, state: RunState, *, now: float) -> Outcome:
    """What has come by ``now``, in time order: the step's deadline (``on_timeout``, else
    the run ends ``expired``) and the timers (a text sent, a step entered)."""
    effects: list[Effect] = []
    for _ in range(MAX_HOPS):
        if not state.active or state.resume is not None:
            break
        timer = min(state.timers, key=lambda t: t.at, default=None)
        deadline = state.deadline
        if timer is not None and timer.at <= now and (deadline is None or timer.at <= deadline):
            state = attrs.evolve(state, timers=tuple(t for t in state.timers if t.id != timer.id))
            if timer.text is not None:
                effects.append(SendText(text=render(timer.text, state.vars)))
            if timer.step is not None:
                state = _enter(flow, state, timer.step, now, effects)
            elif _idle(flow, state):  # a message-only step's last timer: nothing left to wait for
                state = _finish(state, "completed", effects)
        elif deadline is not None and deadline <= now:
            state = attrs.evolve(state, deadline=None)
            step = flow.steps.get(state.step or "")
            if step is not None and step.on_timeout is not None:
                state = _enter(flow, state, step.on_timeout, now, effects)
            else:
                state = _finish(state, "expired", effects)
        else:
            break
    return Outcome(state=state, effects=effects)


def stop(flow: Flow, state: RunState, *, now: float, reason: str = "cancelled") -> Outcome:
    """End the run: ``stopped`` for a STOP (``reason`` "stop", "opt_out"), else
    ``cancelled``. A run that is over is left as it is (``handled`` False)."""
    del flow, now  # the same signature as the others; nothing here depends on them
    if not state.active:
        return Outcome(state=state, handled=False)
    effects: list[Effect] = []
    status = "stopped" if reason.lower() in _STOP_REASONS else "cancelled"
    state = _finish(attrs.evolve(state, reason=reason), status, effects)
    return Outcome(state=state, effects=effects)


def voucher_issued(flow: Flow, state: RunState, var: str, code: str | None, *, now: float) -> Outcome:
    """The code asked for by ``NeedVoucher`` (None: the pool has none left): stored in
    ``vars[var]``, and the step goes on where it paused."""
    step = flow.steps.get(state.step or "")
    if not state.active or state.resume is None or step is None:
        return Outcome(state=state, handled=False)
    effects: list[Effect] = []
    index = state.resume
    action = step.actions[index] if index < len(step.actions) else None
    state = attrs.evolve(state, resume=None)
    if code is None or not code:
        if isinstance(action, IssueVoucher) and action.on_empty is not None:
            state = _enter(flow, state, action.on_empty, now, effects)
        else:
            state = _finish(attrs.evolve(state, reason="no voucher left"), "cancelled", effects)
        return Outcome(state=state, effects=effects)
    state = attrs.evolve(state, vars={**state.vars, var: _text(code)})
    state = _enter(flow, state, step.name, now, effects, first_action=index + 1)
    return Outcome(state=state, effects=effects)


# -- entering a step ---------------------------------------------------------------------------


def _idle(flow: Flow, state: RunState) -> bool:
    step = flow.steps.get(state.step or "")
    return step is not None and step.expect.kind == "none" and not state.timers and state.deadline is None


def _finish(state: RunState, status: str, effects: list[Effect]) -> RunState:
    effects.append(Finished(status=status))
    return attrs.evolve(state, status=status, deadline=None, timers=(), resume=None, attempts=0)


def _set_timer(state: RunState, timer: Timer) -> RunState:
    return attrs.evolve(state, timers=(*(t for t in state.timers if t.id != timer.id), timer))


def _timed(
    state: RunState, step: Step, index: int, action: Send | Goto, now: float, effects: list[Effect]
) -> RunState:
    """A ``Send`` or ``Goto`` with ``at``: a timer (or the text now, when late with
    ``late = "now"``; nothing when late with "skip" or when its var is unset)."""
    assert action.at is not None
    at = resolve_when(action.at, state.vars, now)
    if at is None or (at <= now and action.late == "skip"):
        return state
    text = action.text if isinstance(action, Send) else None
    if at <= now and text is not None:
        effects.append(SendText(text=render(text, state.vars)))
        return state
    target = action.step if isinstance(action, Goto) else None
    return _set_timer(state, Timer(id=f"{step.name}.{index}", at=max(at, now), step=target, text=text))


def _actions(
    state: RunState, step: Step, first: int, now: float, effects: list[Effect]
) -> tuple[RunState, Action | None, bool]:
    """Run ``step``'s actions from ``first``: (state, the action that ends the step or
    None, paused for a voucher)."""
    for index in range(first, len(step.actions)):
        action = step.actions[index]
        if isinstance(action, Send | Goto) and action.at is not None:
            state = _timed(state, step, index, action, now, effects)
        elif isinstance(action, Send):
            effects.append(SendText(text=render(action.text, state.vars)))
        elif isinstance(action, Emit):
            data = {k: render(v, state.vars) for k, v in action.data.items()}
            effects.append(EmitEvent(type=action.type, data=data))
        elif isinstance(action, IssueVoucher):
            effects.append(NeedVoucher(pool=action.pool, var=action.var))
            return attrs.evolve(state, resume=index), None, True
        else:  # Handoff, End, Goto now: the step's last action (flow_config checks it)
            return state, action, False
    return state, None, False


def _enter(
    flow: Flow, state: RunState, name: str, now: float, effects: list[Effect], *, first_action: int = 0
) -> RunState:
    """Enter step ``name`` (from its action ``first_action``: going on after a voucher)
    and every step it leads to without waiting."""
    target: str | None = name
    for _ in range(MAX_HOPS):
        step = flow.steps.get(target or "")
        if step is None:  # flow_config rejects a flow naming an unknown step
            return _finish(attrs.evolve(state, reason=f"unknown step {target!r}"), "invalid", effects)
        if first_action == 0:
            effects.append(StepEntered(step=step.name))
            deadline = None if step.timeout is None else now + step.timeout
            state = attrs.evolve(state, step=step.name, attempts=0, deadline=deadline, resume=None)
        state, last, paused = _actions(state, step, first_action, now, effects)
        first_action = 0
        if paused:
            return state
        if step.prompt:
            effects.append(SendText(text=render(step.prompt, state.vars, step.expect)))
        if isinstance(last, Handoff):
            effects.append(HandOff(queue=last.queue, note=render(last.note, state.vars)))
            return _finish(state, "handoff", effects)
        if isinstance(last, End):
            return _finish(state, last.status, effects)
        if isinstance(last, Goto):
            target = last.step
        elif step.expect.kind != "none":
            return state
        elif step.next is not None:
            target = step.next
        elif state.timers or state.deadline is not None:
            return state  # waits for its timers (the booking's reminder) or its timeout
        else:
            return _finish(state, "completed", effects)
    return _finish(attrs.evolve(state, reason="too many steps without a reply"), "invalid", effects)


# -- which flow a text starts ------------------------------------------------------------------


def flow_for_keyword(flows: Iterable[Flow], text: str, *, exclude: Sequence[str] = ()) -> Flow | None:
    """The flow whose keyword ``text`` starts with ("book", "BOOK please", "Help!"),
    folded as the keyword matcher folds; None. ``exclude``: keywords to pass over
    (e.g. HELP when no triage flow should take it)."""
    said = words(text)
    skip = {" ".join(words(k)) for k in exclude}
    for flow in flows:
        for keyword in flow.keywords:
            kw = words(keyword)
            if kw and said[: len(kw)] == kw and " ".join(kw) not in skip:
                return flow
    return None
