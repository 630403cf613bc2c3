"""The memory store's half of ``FlowStore`` (``store.flows``), with the SQLite store's
answers and nothing durable. ``MemoryStore`` takes this class as a base."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from smppgw.store.events import EventRecord
from smppgw.store.flows import ActiveRunExists, FlowDefinition, FlowRunRecord

__all__ = ["MemoryFlows"]


def _copy(record: FlowRunRecord) -> FlowRunRecord:
    """What a store hands out is not the caller's object (as SQLite reads a row)."""
    return attrs.evolve(
        record, state=copy.deepcopy(record.state), transcript=copy.deepcopy(record.transcript)
    )


class MemoryFlows:
    if TYPE_CHECKING:  # MemoryEvents' (the other base of MemoryStore), for the type checker

        def append_event(self, event: EventRecord) -> None: ...

    def _flows_init(self) -> None:
        self._flows: dict[str, FlowDefinition] = {}
        self._runs: dict[str, FlowRunRecord] = {}
        self._active_runs: dict[tuple[str, str], str] = {}  # (number, sender) -> run id

    def put_flow(self, definition: FlowDefinition) -> None:
        found = self._flows.get(definition.name)
        created = definition.created_at if found is None else found.created_at
        self._flows[definition.name] = attrs.evolve(
            definition, definition=copy.deepcopy(definition.definition), created_at=created
        )

    def get_flow(self, name: str) -> FlowDefinition | None:
        found = self._flows.get(name)
        return None if found is None else attrs.evolve(found, definition=copy.deepcopy(found.definition))

    def delete_flow(self, name: str) -> bool:
        return self._flows.pop(name, None) is not None

    def flow_definitions(self) -> list[FlowDefinition]:
        return [d for name in sorted(self._flows) if (d := self.get_flow(name)) is not None]

    def add_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        pair = (record.number, record.sender)
        if record.active and (other := self._active_runs.get(pair)) is not None:
            raise ActiveRunExists(other)
        self._runs[record.id] = _copy(record)
        if record.active:
            self._active_runs[pair] = record.id
        for event in events:
            self.append_event(event)

    def save_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        if record.id not in self._runs:
            return
        self._runs[record.id] = _copy(record)
        pair = (record.number, record.sender)
        if not record.active and self._active_runs.get(pair) == record.id:
            del self._active_runs[pair]
        for event in events:
            self.append_event(event)

    def get_flow_run(self, run_id: str) -> FlowRunRecord | None:
        found = self._runs.get(run_id)
        return None if found is None else _copy(found)

    def active_flow_run(self, number: str, sender: str) -> FlowRunRecord | None:
        run_id = self._active_runs.get((number, sender))
        return None if run_id is None else self.get_flow_run(run_id)

    def _runs_due(self) -> list[FlowRunRecord]:
        runs = (self._runs[i] for i in self._active_runs.values())
        return sorted((r for r in runs if r.next_due is not None), key=lambda r: r.next_due or 0.0)

    def due_flow_runs(self, before: float, limit: int = 100) -> list[FlowRunRecord]:
        return [_copy(r) for r in self._runs_due() if (r.next_due or 0.0) <= before][:limit]

    def next_flow_due(self) -> float | None:
        due = self._runs_due()
        return due[0].next_due if due else None
