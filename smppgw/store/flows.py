"""Flows in the store: the definitions put through the API, the runs, and the
``FlowStore`` protocol.

A flow (``twoway.flows``) is a multi-step dialogue; a run is one number going through it
with one of our senders. A run's record holds its state as JSON (``RunState.to_dict``),
the transcript (every text sent and received, in order), when it next has something to
do (``next_due``: its step's deadline or its first timer) and the number of events
written for it (their per-subject sequence). At most one run per (number, sender) is
active: ``add_flow_run`` refuses a second (``ActiveRunExists``), checked inside the
write so two starts at once cannot both win.

Every change of a run is written at once, with its events (``flow.step``, ...) in the
same transaction: a restarted gateway finds each run as it was last told, and its
timers by ``due_flow_runs``. Times here are wall-clock seconds (the machine's ``now``).
The SQLite half is ``store.sqlite_flows``, the memory half ``store.memory_flows``, the
Redis half ``store.redis_flows``.
Every bundled store has flows; the composition root wires them for a store that is a
``FlowStore``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.support.isotime import iso

__all__ = [
    "FLOW_EVENTS",
    "MAX_TRANSCRIPT",
    "ActiveRunExists",
    "FlowDefinition",
    "FlowRunRecord",
    "FlowStore",
    "flow_event",
]

#: The event of a run that ended, by its status; other ends are ``flow.ended``.
FLOW_EVENTS: Final = {"completed": "flow.completed", "expired": "flow.expired", "handoff": "flow.handoff"}
MAX_TRANSCRIPT: Final = 500  # entries kept per run (the newest): a run that loops stays bounded


class ActiveRunExists(Exception):
    """The (number, sender) pair already has an active run: ``run_id`` names it."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"an active flow run {run_id} has this number and sender")
        self.run_id = run_id


@attrs.define(eq=False)
class FlowDefinition:
    """A flow put through the API: its definition as given (JSON), wall-clock times."""

    name: str
    definition: dict[str, Any]
    created_at: float
    updated_at: float


@attrs.define(eq=False)
class FlowRunRecord:
    id: str
    flow: str
    number: str  # the subscriber (E.164 digits)
    sender: str  # our number (the SMPP source of what the run sends)
    status: str  # the state's: active | completed | expired | invalid | handoff | stopped | cancelled
    state: dict[str, Any]  # ``RunState.to_dict()``
    created_at: float  # wall clock
    updated_at: float
    next_due: float | None = None  # wall clock: when the timer task has something to do
    tenant: str | None = None
    # Each text, in order: {"at", "direction": "out" | "in", "text", "step", and
    # "message_id" (out) or "inbound_seq" (in), "send_at" for one sent later}
    transcript: list[dict[str, Any]] = attrs.field(factory=list)
    events: int = 0  # events written for it: the next one's sequence is events + 1
    source: str = "keyword"  # how it started: "keyword" | "api"

    @property
    def active(self) -> bool:
        return self.status == "active"

    def note(self, entry: dict[str, Any]) -> None:
        """Add ``entry`` to the transcript (the oldest dropped past ``MAX_TRANSCRIPT``)."""
        self.transcript.append(entry)
        if len(self.transcript) > MAX_TRANSCRIPT:
            del self.transcript[: len(self.transcript) - MAX_TRANSCRIPT]

    def to_dict(self) -> dict[str, Any]:
        """As the API and the events show it: times ISO 8601 UTC; the answers and vars
        of the state; the transcript."""
        state = self.state
        return {
            "id": self.id, "flow": self.flow, "to": self.number, "from": self.sender, "status": self.status,
            "step": state.get("step"), "vars": dict(state.get("vars") or {}), "reason": state.get("reason"),
            "answers": [
                {"step": a.get("step"), "text": a.get("text"), "value": a.get("value"), "at": _iso(a.get("at"))}
                for a in state.get("answers") or ()
            ],
            "attempts": state.get("attempts", 0), "expires_at": _iso(state.get("deadline")),
            "timers": [{**t, "at": _iso(t.get("at"))} for t in state.get("timers") or ()],
            "next_due": _iso(self.next_due), "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at), "tenant": self.tenant, "source": self.source,
            "transcript": [
                {**e, "at": _iso(e.get("at")), **({"send_at": _iso(e["send_at"])} if e.get("send_at") else {})}
                for e in self.transcript
            ],
        }  # fmt: skip


def _iso(t: Any) -> str | None:
    return None if t is None else iso(float(t))


def flow_event(record: FlowRunRecord, type_: str, data: dict[str, Any], at: float) -> EventRecord:
    """The run's next event (its sequence counted on ``record``, which is changed)."""
    record.events += 1
    subject = f"flow_run:{record.id}"
    base = {"run_id": record.id, "flow": record.flow, "to": record.number, "from": record.sender,
            "tenant": record.tenant, "status": record.status, "step": record.state.get("step")}  # fmt: skip
    return EventRecord(
        id=event_id(subject, record.events), type=type_, subject=subject, sequence=record.events,
        occurred_at=at, data={**base, **data},
    )  # fmt: skip


@runtime_checkable
class FlowStore(Protocol):
    # -- definitions (the API's; config flows are not stored) ----------------------------------

    def put_flow(self, definition: FlowDefinition) -> None:
        """Create or replace the flow ``definition.name``. Raises StoreError."""

    def get_flow(self, name: str) -> FlowDefinition | None: ...

    def delete_flow(self, name: str) -> bool:
        """Forget the flow (its runs stay); False if there was none."""

    def flow_definitions(self) -> list[FlowDefinition]:
        """Every stored flow, by name."""

    # -- runs ----------------------------------------------------------------------------------

    def add_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        """Write a new run with ``events``, in one transaction. Raises ActiveRunExists
        when ``record`` is active and its (number, sender) has an active run; StoreError."""

    def save_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        """Write a change of a stored run now, with ``events`` in the same transaction.
        Raises StoreError (nothing written)."""

    def get_flow_run(self, run_id: str) -> FlowRunRecord | None: ...

    def active_flow_run(self, number: str, sender: str) -> FlowRunRecord | None:
        """The active run of the pair, or None (asked for every inbound text: an index)."""

    def due_flow_runs(self, before: float, limit: int = 100) -> list[FlowRunRecord]:
        """Active runs with ``next_due <= before``, the earliest first, at most ``limit``."""

    def next_flow_due(self) -> float | None:
        """The earliest ``next_due`` of the active runs, or None."""
