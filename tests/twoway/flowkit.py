"""Helpers of the flow tests: the shipped flows, times, and a driver that keeps the
state of one run and checks it after every transition."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from smppgw.twoway import flows as fl
from smppgw.twoway.flow_config import parse_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"


def example(name: str) -> fl.Flow:
    return parse_flow(tomllib.loads((EXAMPLES / f"{name}.toml").read_text(encoding="utf-8")))


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def check_state(flow: fl.Flow, state: fl.RunState) -> None:
    """The invariants of a run's state, after any transition."""
    assert state.status in fl.STATUSES
    assert state.flow == flow.name
    assert fl.RunState.from_json(state.to_json()) == state
    if state.active:
        assert state.step is not None and state.step in flow.steps
        step = flow.steps[state.step]
        assert 0 <= state.attempts <= step.attempts
        if state.resume is not None:
            assert 0 <= state.resume < len(step.actions)
        for timer in state.timers:
            assert timer.step is None or timer.step in flow.steps
            assert (timer.step is None) != (timer.text is None)
    else:
        assert state.timers == () and state.deadline is None and state.resume is None
        assert state.next_due is None


@attrs.define
class Run:
    """One run driven through the pure machine; ``sent``: the texts sent, in order."""

    flow: fl.Flow
    now: float
    state: fl.RunState = attrs.field(init=False)
    effects: list[fl.Effect] = attrs.field(factory=list, init=False)
    last: fl.Outcome | None = attrs.field(default=None, init=False)

    def _take(self, outcome: fl.Outcome) -> list[fl.Effect]:
        check_state(self.flow, outcome.state)
        self.state, self.last = outcome.state, outcome
        self.effects += outcome.effects
        return outcome.effects

    def start(self, **vars: Any) -> list[fl.Effect]:
        return self._take(fl.start(self.flow, vars=vars, now=self.now))

    def reply(self, text: str, *, after: float = 5.0) -> list[fl.Effect]:
        self.now += after
        return self._take(fl.reply(self.flow, self.state, text, now=self.now))

    def due(self, at: float | None = None) -> list[fl.Effect]:
        when = self.state.next_due if at is None else at
        assert when is not None, "nothing is due"
        self.now = max(self.now, when)
        return self._take(fl.due(self.flow, self.state, now=self.now))

    def voucher(self, code: str | None) -> list[fl.Effect]:
        return self._take(fl.voucher_issued(self.flow, self.state, "code", code, now=self.now))

    def stop(self, reason: str = "stop") -> list[fl.Effect]:
        return self._take(fl.stop(self.flow, self.state, now=self.now, reason=reason))


def texts(effects: list[fl.Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, fl.SendText)]


def steps(effects: list[fl.Effect]) -> list[str]:
    return [e.step for e in effects if isinstance(e, fl.StepEntered)]


def finished(effects: list[fl.Effect]) -> list[str]:
    return [e.status for e in effects if isinstance(e, fl.Finished)]
