"""The values of a flow (``twoway.flows``): its definition, a run's state, and what the
machine asks the runtime to do. Pure values; ``flow_config`` builds a ``Flow`` from a
TOML table or a JSON object, ``flows`` moves a ``RunState`` along.

A run's state is JSON (``RunState.to_json`` / ``RunState.from_json``) so that the store
keeps it as one text column and a restarted gateway picks it up where it was. Times are
POSIX seconds (``now`` as the store's clock gives it), the same numbers as ``at`` in a
timer and ``deadline``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from smppgw.twoway.conversations import Expect as _Table

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
]

ACTIVE: Final = "active"
STATUSES: Final = ("active", "completed", "expired", "invalid", "handoff", "stopped", "cancelled")
END_STATUSES: Final = ("completed", "cancelled")  # what an ``End`` action may set


# -- the definition ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Option:
    """One option of a choice: ``key`` is its answer (``"2"`` for the second of a
    numbered list, ``"CONFIRM"`` for a keyword option), ``label`` how it is shown,
    ``words`` the other replies that pick it."""

    key: str
    label: str = ""
    words: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Expect:
    """What a step waits for. ``kind``: "choice" (``options``; ``numbered``: picked by
    number too), "number" (an integer in ``min``..``max``), "slot" (one of ``slots``,
    ISO 8601 date-times with a zone, or the list in the var ``slots_var``), "text" (any
    text) or "none" (a message-only step)."""

    kind: str
    options: tuple[Option, ...] = ()
    numbered: bool = False
    min: int = 0
    max: int = 10
    slots: tuple[str, ...] = ()
    slots_var: str | None = None
    # the tolerant reading of a choice (``twoway.answers``): normalised reply -> key
    table: _Table | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class When:
    """A time: ``offset`` seconds after the var ``var`` (an ISO 8601 date-time: "2 days
    before the booked slot" is ``var="slot", offset=-172800``), or after now (``var``
    None: "+1h")."""

    var: str | None = None
    offset: float = 0.0


@attrs.frozen(kw_only=True)
class Send:
    """Send ``text`` (with ``{var}``s) now, or at ``at`` (a timer of the run; ``late``:
    what to do when that time has already passed on entering the step: "skip" or
    "now")."""

    text: str
    at: When | None = None
    late: str = "skip"


@attrs.frozen(kw_only=True)
class Emit:
    """Write an event ``type`` with ``data`` (values with ``{var}``s)."""

    type: str
    data: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Handoff:
    """Hand the thread to a human ``queue`` (the run ends ``handoff``); ``note`` with
    ``{var}``s."""

    queue: str
    note: str = ""


@attrs.frozen(kw_only=True)
class IssueVoucher:
    """Take the next code of ``pool`` for this number into ``vars[var]``; with none
    left, go to ``on_empty`` (else the run ends ``cancelled``)."""

    pool: str
    var: str = "code"
    on_empty: str | None = None


@attrs.frozen(kw_only=True)
class End:
    """End the run with ``status`` ("completed" or "cancelled")."""

    status: str = "completed"


@attrs.frozen(kw_only=True)
class Goto:
    """Go to ``step``: now, or at ``at`` (a timer: the reminder that asks again)."""

    step: str
    at: When | None = None
    late: str = "skip"


Action = Send | Emit | Handoff | IssueVoucher | End | Goto


@attrs.frozen(kw_only=True)
class Step:
    """One step. Entering it runs ``actions`` (in order), sends ``prompt``, then waits
    for an answer to ``expect``. A valid answer is stored in ``vars[var]`` and goes to
    ``on[answer]``, else ``next`` (none: the run completes). An invalid one gets
    ``reprompt`` up to ``attempts`` times, then ``on_invalid`` (none: the run ends
    ``invalid``). No answer by ``timeout`` seconds: ``on_timeout`` (none: ``expired``)."""

    name: str
    prompt: str = ""
    expect: Expect = Expect(kind="none")
    var: str | None = None
    on: Mapping[str, str] = attrs.field(factory=dict)  # answer (or range "0-6", "<7") -> step
    next: str | None = None
    reprompt: str = ""
    attempts: int = 1
    timeout: float | None = None
    on_timeout: str | None = None
    on_invalid: str | None = None
    actions: tuple[Action, ...] = ()


@attrs.frozen(kw_only=True)
class Flow:
    """A checked flow (``flow_config.parse_flow``). ``keywords`` start it ("BOOK";
    "HELP" makes it the triage flow); ``vars``: the vars it knows before any answer,
    with their defaults; ``source``: the definition as given (TOML table or JSON)."""

    name: str
    start: str
    steps: Mapping[str, Step]
    keywords: tuple[str, ...] = ()
    description: str = ""
    campaign: str | None = None
    vars: Mapping[str, str] = attrs.field(factory=dict)
    source: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The definition as given (for the API and the store)."""
        return json.loads(json.dumps(self.source))


# -- a run -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Answer:
    """A reply read at step ``step``: ``value`` the answer (None: not a valid one)."""

    step: str
    text: str
    value: str | None
    at: float


@attrs.frozen(kw_only=True)
class Timer:
    """A timer of the run: at ``at``, go to ``step``, or send ``text``. ``id``: the step
    and action that set it ("confirmed.1"); setting it again replaces it."""

    id: str
    at: float
    step: str | None = None
    text: str | None = None


@attrs.frozen(kw_only=True)
class RunState:
    """Where a run is. ``step``: the current (or last) step; ``attempts``: invalid
    replies at this step; ``deadline``: its timeout; ``resume``: the index of the
    action to go on with once a voucher is issued (``voucher_issued``); ``reason``: why
    it was stopped."""

    flow: str
    step: str | None = None
    status: str = ACTIVE
    vars: Mapping[str, str] = attrs.field(factory=dict)
    answers: tuple[Answer, ...] = ()
    attempts: int = 0
    deadline: float | None = None
    timers: tuple[Timer, ...] = ()
    resume: int | None = None
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def next_due(self) -> float | None:
        """When ``due`` has something to do (the deadline or the first timer), or None."""
        if not self.active or self.resume is not None:
            return None
        times = [t.at for t in self.timers]
        if self.deadline is not None:
            times.append(self.deadline)
        return min(times, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "status": self.status,
            "vars": dict(self.vars),
            "answers": [attrs.asdict(a) for a in self.answers],
            "attempts": self.attempts,
            "deadline": self.deadline,
            "timers": [attrs.asdict(t) for t in self.timers],
            "resume": self.resume,
            "reason": self.reason,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> RunState:
        """The state ``to_json`` (or ``to_dict``) gave. Raises ValueError."""
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        try:
            return cls(
                flow=str(raw["flow"]),
                step=raw.get("step"),
                status=str(raw.get("status", ACTIVE)),
                vars={str(k): str(v) for k, v in raw.get("vars", {}).items()},
                answers=tuple(Answer(**a) for a in raw.get("answers", ())),
                attempts=int(raw.get("attempts", 0)),
                deadline=raw.get("deadline"),
                timers=tuple(Timer(**t) for t in raw.get("timers", ())),
                resume=raw.get("resume"),
                reason=raw.get("reason"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a flow run state: {exc}") from None


# -- what the runtime does ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SendText:
    """Send ``text`` to the run's number from its sender (now; ``at``: not before)."""

    text: str
    at: float | None = None


@attrs.frozen(kw_only=True)
class EmitEvent:
    type: str
    data: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class HandOff:
    """Open (or reopen) the thread of the run's pair for a human ``queue``."""

    queue: str
    note: str = ""


@attrs.frozen(kw_only=True)
class NeedVoucher:
    """Issue a code of ``pool`` to the run's number, then call ``voucher_issued``."""

    pool: str
    var: str


@attrs.frozen(kw_only=True)
class StepEntered:
    step: str


@attrs.frozen(kw_only=True)
class Finished:
    status: str


Effect = SendText | EmitEvent | HandOff | NeedVoucher | StepEntered | Finished


@attrs.frozen(kw_only=True)
class Outcome:
    """The new state and the effects to carry out, in order. ``handled``: False when the
    reply was not the run's (a message-only step, a run that is over): the runtime
    treats it as a plain inbound text."""

    state: RunState
    effects: list[Effect] = attrs.field(factory=list)
    handled: bool = True
