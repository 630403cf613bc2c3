"""The checks of a whole flow (``flow_config.parse_flow`` runs them): what a key alone
cannot tell. Each raises ``FlowError`` naming the step's key:

- a transition to an unknown step (``steps.confirm.on.2``, ``steps.x.next``,
  ``steps.x.actions[0].goto``), and a start step that is not one;
- a step no path from the start reaches (``steps.orphan``);
- a cycle with no way out: steps from which no path ends the run (an ``end`` or a
  ``handoff``, a step whose answer goes nowhere, a message-only step with nothing
  after it), and message-only steps that go round without waiting for a reply;
- a timer with no step (a ``goto`` with ``at`` naming no step; an ``at`` relative to a
  var no step sets), ``on_timeout`` without ``timeout``;
- an ``on`` key that is no answer of its step (an option's key, a number or range in
  ``min``..``max``); an action that ends the step before the end of its list;
- a ``{var}`` in a prompt, a re-prompt, a text, a note or an event's data that the
  flow never sets (its ``vars``, a step's ``var`` and ``var_label``, a voucher's var).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from smppgw.support.config import ConfigError
from smppgw.twoway.answers import normalise
from smppgw.twoway.flow_answers import range_key
from smppgw.twoway.flow_model import Emit, End, Flow, Goto, Handoff, IssueVoucher, Send, Step

__all__ = ["FlowError", "check_flow", "edges"]

_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")


class FlowError(ConfigError):
    """A flow that cannot be used; ``path`` names the key or step (``steps.confirm.on.2``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path, self.message = path, message


def _path(where: str, *parts: object) -> str:
    return ".".join(str(p) for p in (where, *parts) if p != "")


def edges(step: Step) -> Iterator[tuple[str, str]]:
    """(key path inside the step, target step) of every way out of ``step``."""
    for key, target in step.on.items():
        yield f"on.{key}", target
    for key in ("next", "on_timeout", "on_invalid"):
        target = getattr(step, key)
        if target is not None:
            yield key, target
    for i, action in enumerate(step.actions):
        if isinstance(action, Goto):
            yield f"actions[{i}].goto", action.step
        elif isinstance(action, IssueVoucher) and action.on_empty is not None:
            yield f"actions[{i}].on_empty", action.on_empty


def check_flow(flow: Flow, where: str = "") -> None:
    """Raises FlowError for the first problem found (see the module's docstring)."""
    steps = _path(where, "steps")
    if flow.start not in flow.steps:
        raise FlowError(_path(where, "start"), f"no step {flow.start!r} (steps: {', '.join(flow.steps)})")
    for step in flow.steps.values():
        at = _path(steps, step.name)
        for key, target in edges(step):
            if target not in flow.steps:
                raise FlowError(_path(at, key), f"no step {target!r} (steps: {', '.join(flow.steps)})")
        _check_step(step, at)
    _reachable(flow, steps)
    _way_out(flow, steps)
    _no_busy_loop(flow, steps)
    _vars(flow, steps)


def _check_step(step: Step, at: str) -> None:
    kind = step.expect.kind
    if step.on_timeout is not None and step.timeout is None:
        raise FlowError(_path(at, "on_timeout"), "needs a timeout")
    if kind == "none":
        for key in ("var", "on_invalid"):
            if getattr(step, key) is not None:
                raise FlowError(_path(at, key), "a message-only step (expect none) reads no answer")
        if step.on:
            raise FlowError(_path(at, "on"), "a message-only step (expect none) reads no answer; use next")
    if kind in ("slot", "text") and step.on:
        raise FlowError(_path(at, "on"), f"a {kind} step goes to next whatever the answer")
    for key in step.on:
        if kind == "choice" and key not in {o.key for o in step.expect.options}:
            keys = ", ".join(o.key for o in step.expect.options)
            raise FlowError(_path(at, "on", key), f"not an option of this step (options: {keys})")
        if kind == "number":
            bounds = range_key(key)
            if bounds is None or bounds[1] < step.expect.min or bounds[0] > step.expect.max:
                raise FlowError(
                    _path(at, "on", key),
                    f'a number or range ("0-6", "<7", ">=7") within {step.expect.min}..{step.expect.max}',
                )
    seen: dict[str, str] = {}
    for i, option in enumerate(step.expect.options):
        for j, word in enumerate((option.key, *option.words)):
            norm = normalise(word)
            where = _path(at, f"options[{i}]", "key" if j == 0 else f"words[{j - 1}]")
            if not norm:
                raise FlowError(where, "needs a letter or digit")
            if seen.get(norm, option.key) != option.key:
                raise FlowError(where, f"{word!r} also picks option {seen[norm]}")
            seen[norm] = option.key
    for i, action in enumerate(step.actions):
        ends = isinstance(action, End | Handoff) or (isinstance(action, Goto) and action.at is None)
        if ends and i != len(step.actions) - 1:
            raise FlowError(_path(at, f"actions[{i}]"), "ends the step: it must be the step's last action")
        if ends and kind != "none":
            raise FlowError(
                _path(at, f"actions[{i}]"), f"ends the step, which expects a {kind}: use expect = none"
            )


def _reachable(flow: Flow, steps: str) -> None:
    seen, todo = {flow.start}, [flow.start]
    while todo:
        for _, target in edges(flow.steps[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for name in flow.steps:
        if name not in seen:
            raise FlowError(
                _path(steps, name), f"unreachable: no path from the start step {flow.start!r} leads here"
            )


def _ends(step: Step) -> bool:
    """Whether entering ``step`` can end the run by itself (not by expiring)."""
    if any(isinstance(a, End | Handoff) for a in step.actions):
        return True
    if any(isinstance(a, Goto) and a.at is None for a in step.actions):
        return False
    expect = step.expect
    if expect.kind == "none":
        # completes once its timers have fired, if any; with an on_timeout it always goes
        # there instead (nothing but its deadline moves a message-only step on)
        return step.next is None and step.on_timeout is None
    if step.next is not None:
        return False
    if expect.kind == "choice":
        return any(o.key not in step.on for o in expect.options)
    if expect.kind == "number":
        return any(
            not any((b := range_key(k)) is not None and b[0] <= n <= b[1] for k in step.on)
            for n in range(expect.min, expect.max + 1)
        )
    return True


def _way_out(flow: Flow, steps: str) -> None:
    done = {name for name, step in flow.steps.items() if _ends(step)}
    changed = True
    while changed:
        changed = False
        for name, step in flow.steps.items():
            if name not in done and any(target in done for _, target in edges(step)):
                done.add(name)
                changed = True
    for name in flow.steps:
        if name not in done:
            loop = _cycle_from(flow, name)
            raise FlowError(
                _path(steps, name), f"in a cycle with no way out ({' -> '.join(loop)}): no path ends the run"
            )


def _cycle_from(flow: Flow, name: str) -> list[str]:
    """A path from ``name`` back to a step already on it (for the error)."""
    path = [name]
    while True:
        targets = [t for _, t in edges(flow.steps[path[-1]])]
        if not targets:
            return path
        nxt = next((t for t in targets if t in path), targets[0])
        path.append(nxt)
        if path.count(nxt) > 1:
            return path


def _busy_edges(step: Step) -> list[str]:
    """Where ``step`` goes without waiting for a reply or a time."""
    out = [a.step for a in step.actions if isinstance(a, Goto) and a.at is None]
    if step.expect.kind == "none" and step.next is not None and not out:
        out.append(step.next)
    return out


def _no_busy_loop(flow: Flow, steps: str) -> None:
    for name in flow.steps:
        path, current = [name], name
        while (targets := _busy_edges(flow.steps[current])) and len(path) <= len(flow.steps):
            current = targets[0]
            path.append(current)
            if current == name:
                raise FlowError(
                    _path(steps, name), f"goes round without waiting for a reply ({' -> '.join(path)})"
                )


def _texts(step: Step) -> Iterator[tuple[str, str]]:
    """(key path inside the step, text with {var}s) of every text of ``step``."""
    yield "prompt", step.prompt
    yield "reprompt", step.reprompt
    for i, action in enumerate(step.actions):
        if isinstance(action, Send):
            yield f"actions[{i}].send", action.text
        elif isinstance(action, Handoff):
            yield f"actions[{i}].note", action.note
        elif isinstance(action, Emit):
            for key, value in action.data.items():
                yield f"actions[{i}].data.{key}", value


def _vars(flow: Flow, steps: str) -> None:
    known = set(flow.vars)
    for step in flow.steps.values():
        if step.var is not None:
            known |= {step.var, f"{step.var}_label"}
        known |= {a.var for a in step.actions if isinstance(a, IssueVoucher)}
    for step in flow.steps.values():
        at = _path(steps, step.name)
        if step.expect.slots_var is not None and step.expect.slots_var not in known:
            raise FlowError(_path(at, "slots"), f"unknown var {{{step.expect.slots_var}}} {_known(known)}")
        for i, action in enumerate(step.actions):
            when = action.at if isinstance(action, Send | Goto) else None
            if when is not None and when.var is not None and when.var not in known:
                raise FlowError(_path(at, f"actions[{i}].at"), f"unknown var {{{when.var}}} {_known(known)}")
        for key, text in _texts(step):
            for name in _PLACEHOLDER.findall(text):
                if name == "options" and step.expect.kind in ("choice", "slot"):
                    continue
                if name not in known:
                    raise FlowError(_path(at, key), f"unknown var {{{name}}} {_known(known)}")


def _known(known: set[str]) -> str:
    if not known:
        return "(the flow sets no var: declare it in vars, or set it with a step's var)"
    return f"(known: {', '.join(sorted(known))})"
