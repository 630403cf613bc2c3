"""How the API shows stored records: every time ISO 8601 UTC with milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smppgw.store.base import InboundRecord, MessageRecord, OptOutRecord
from smppgw.support.isotime import iso as iso_time

__all__ = ["inbound_view", "iso", "message_view", "opt_out_view"]


def iso(wall: float | None) -> str | None:
    """Wall-clock seconds as ISO 8601 UTC with milliseconds: 2026-12-06T14:03:22.123Z."""
    return None if wall is None else iso_time(wall)


def message_view(record: MessageRecord, wall: Callable[[float | None], float | None]) -> dict[str, Any]:
    """The message as ``GET /v1/messages/{id}`` shows it; every time ISO 8601 UTC."""

    def at(t: float | None) -> str | None:
        return iso(wall(t))

    view = record.to_dict()
    view.update(
        created_at=at(record.created_at),
        updated_at=at(record.updated_at),
        tags=list(record.tags),
        dlr=record.dlr,
        segments=len(record.parts),
        idempotency_key=record.idempotency_key,
        tenant=record.tenant,
    )
    if record.send_at is not None:
        view["send_at"] = at(record.send_at)
    for part, out in zip(record.parts, view["parts"], strict=True):
        out.update(submitted_at=at(part.submitted_at), receipt_at=at(part.receipt_at))
    # Every status change with its time and source (DESIGN §3); ``applied`` false: a move
    # the rank rule refused (a late response or receipt), kept for the record only.
    view["history"] = [
        {"status": status.value, "at": at(t), "source": source, "detail": detail, "applied": applied}
        for status, t, source, detail, applied in record.history
    ]
    return view


def inbound_view(record: InboundRecord) -> dict[str, Any]:
    return {**record.to_dict(), "received_at": iso(record.received_at)}


def opt_out_view(record: OptOutRecord) -> dict[str, Any]:
    return {**record.to_dict(), "created_at": iso(record.created_at)}
