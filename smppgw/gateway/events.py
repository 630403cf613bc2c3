"""The events a status change makes (``store.events``): ``message.status``.

A message's status events are the applied changes of its history to ``submitted``,
``en_route`` and every final status (``EMIT``): not ``accepted``, ``scheduled``,
``queued`` or ``submitting``, which only the gateway cares about, and not a move the rank
rule refused (history only). The n-th such change is the event with ``sequence`` n, so
the events of a message are numbered by its history, which the store keeps: a restart
numbers on, and a change written twice is one event (``store.events.event_id``).
"""

from __future__ import annotations

from collections.abc import Callable

from smppgw.store.base import (
    FINAL,
    STATUS_LABEL,
    EventRecord,
    MessageRecord,
    PartRecord,
    Status,
    event_id,
    iso,
)

__all__ = ["EMIT", "status_events"]

EMIT = frozenset({Status.SUBMITTED, Status.EN_ROUTE}) | FINAL


def status_events(
    record: MessageRecord,
    start: int,
    wall: Callable[[float | None], float | None],
    sequence: int | None = None,
) -> list[EventRecord]:
    """The events of ``record``'s history entries from index ``start`` on.

    ``sequence``: how many events the entries before ``start`` made, if the caller kept
    it (``Changes``: then the history is not walked again per change); None counts them.
    """
    history = record.history
    if sequence is None:
        sequence = 0
        for status, _at, _source, _detail, applied in history[:start]:
            if applied and status in EMIT:
                sequence += 1
    out: list[EventRecord] = []
    updated = iso(wall(record.updated_at) or 0.0)
    for status, at, _source, _detail, applied in history[start:]:  # (those before: counted)
        if not applied or status not in EMIT:
            continue
        sequence += 1
        final = status in FINAL
        data = {
            "id": record.id,
            "status": STATUS_LABEL[status],
            "final": final,
            "error": record.error if final or status is record.status else None,
            "parts": list(map(PartRecord.to_dict, record.parts)),  # (no comprehension frame)
            "updated_at": updated,
        }
        out.append(
            # (id, type, subject, sequence, occurred_at, data, seq, callback_url): positional,
            # one per change of every message (store.events.EventRecord)
            EventRecord(
                event_id(record.id, sequence), "message.status", record.id, sequence, wall(at) or 0.0, data, 0,
                record.callback_url,
            )
        )  # fmt: skip
    return out
