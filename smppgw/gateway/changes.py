"""Status changes of messages: the one place a change is saved and told.

Every change of a message after it was accepted (submitted, a receipt, a permanent
failure, a failover) comes here: ``publish`` saves the record, hands it to each listener
(webhooks, the CLI, tests) in the order they were added, and wakes a ``wait_final`` whose
message has settled. ``fail`` makes a message final without a receipt (retries
exhausted, rejected by the SMSC, an opt-out, no bind within max_age).

History (DESIGN §3): every status move goes through ``store.base.advance``, which keeps
it in the record's history with its time and source; ``publish`` saves the record and
those entries together (the store writes them in the same transaction). A move the
rank rule refused (a late ``submitted`` after ``delivered``) is saved to the history
only: the listeners are not told again.

Events (``gateway.events``): with an ``EventStore``, ``publish`` appends the
``message.status`` events of the change right after ``save``, so the store writes them
in the same transaction as the record (the outbox the webhook worker delivers from).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from smppgw.gateway import lifecycle
from smppgw.gateway.events import status_events
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.store.base import (
    FINAL,
    EventStore,
    HistoryEntry,
    MessageRecord,
    MessageStore,
    Status,
    advance,
    owes_work,
)

__all__ = ["Changes", "Listener"]

Listener = Callable[[MessageRecord], Any]

_SUBMITTED = Status.SUBMITTED
_UNTOLD: tuple[int, int | None, list[HistoryEntry]] = (0, 0, [])  # not told here yet: all of it


def _settled(record: MessageRecord) -> bool:
    """Final, or submitted when no receipt was asked for: what ``wait_final`` waits for."""
    return record.status in FINAL or (not record.dlr and record.status is _SUBMITTED)


class Changes:
    def __init__(
        self, store: MessageStore, metrics: GatewayMetrics, events: EventStore | None = None
    ) -> None:
        self.store = store
        self._metrics = metrics
        self.events = events
        # message id -> (history entries already made events, how many events they made,
        # that history): the next change to the same history numbers on from there
        # without walking it again; a history read anew (a copy another gateway wrote,
        # through the store) has its entries before the index counted again.
        self._told: dict[str, tuple[int, int | None, list[HistoryEntry]]] = {}
        self.listeners: list[Listener] = []
        self._waiters: dict[str, trio.Event] = {}

    def publish(self, record: MessageRecord) -> None:
        """``record`` changed: save it, tell the listeners, wake its waiter if settled.

        A change that is only a refused move in its history is saved, not told.
        """
        self.store.save(record)
        history = record.history
        if history and not history[-1][4]:
            return
        if self.events is not None and history:
            self._append_events(record, self.events)
        if history and history[-1][0] in FINAL and lifecycle.on():  # (the change made it final)
            lifecycle.final(record)
        for listener in self.listeners:
            listener(record)
        if self._waiters and _settled(record):
            waiter = self._waiters.pop(record.id, None)
            if waiter is not None:
                waiter.set()

    def _append_events(self, record: MessageRecord, events: EventStore) -> None:
        told = self._told
        history = record.history
        size = len(history)
        start, sequence, seen = told.get(record.id, _UNTOLD)
        if seen is not history and start:
            sequence = None  # status_events counts the entries before ``start``
        if start < size:
            made = status_events(record, start, events.wall, sequence)
            for event in made:
                events.append_event(event)
            if made:
                sequence = made[-1].sequence
        if owes_work(record):  # (a count still None: the next change counts it)
            told[record.id] = (size, sequence, history)
        else:  # settled: a later change (unknown -> delivered) numbers from the history
            told.pop(record.id, None)

    def fail(self, record: MessageRecord, status: Status, reason: str, source: str = "gateway") -> None:
        """Make ``record`` final with ``status`` and publish it; if it is final already,
        the attempt goes into its history only (``advance``). ``source``: who decided
        ("smpp" for a submit_sm_resp's status, "api" for an opt-out, "gateway").
        The same status again (another part of the message) changes nothing."""
        if record.status is status:
            return
        if not advance(record, status, source, trio.current_time(), reason):
            self.store.save(record)  # history only: nobody is told again
            return
        record.error = reason
        self._metrics.messages.inc(status.value)
        self.publish(record)

    async def wait_final(self, message_id: str, timeout: float) -> MessageRecord:
        """Wait until the message is final (or submitted, without a receipt requested).

        Raises:
            KeyError: unknown id. trio.TooSlowError: not settled within ``timeout``.
        """
        record = self.store.get(message_id)
        if record is None:
            raise KeyError(message_id)
        if _settled(record):
            return record
        event = self._waiters.setdefault(message_id, trio.Event())
        try:
            with trio.fail_after(timeout):
                await event.wait()
        finally:
            # Bounded memory: a waiter that gave up leaves nothing behind (issue 13).
            idle = not event.is_set() and event.statistics().tasks_waiting == 0
            if idle and self._waiters.get(message_id) is event:
                del self._waiters[message_id]
        return record
