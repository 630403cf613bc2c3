"""The event API (DESIGN §4.2): replay the event log, see and retry dead letters.

    GET  /v1/events?after=SEQ&type=T&limit=N   the log in order, from ``seq > after``
         -> {"events": [{seq, id, type, occurred_at, subject, sequence, data}], "next": SEQ}
    GET  /v1/webhooks/dead?limit=N              dead deliveries, newest first
    POST /v1/webhooks/dead/{event_id}/retry     that event's dead deliveries pending again
    POST /v1/webhooks/dead/retry                every dead delivery pending again

``type`` may be repeated or comma-separated. Pass ``next`` back as ``after`` to read on:
a platform can pull instead of (or besides) receiving webhooks. Delivered events are
kept for ``[webhooks] retention``; pending and dead ones until they are delivered.
A retried delivery gets a fresh ``retry_for``. The ``/v1`` key rules apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from smppgw.api import problems
from smppgw.store.base import DEAD, Store

__all__ = ["events_router"]


def events_router(store: Store, now: Callable[[], float]) -> APIRouter:
    """``now``: the trio clock (the store turns it into wall time)."""
    router = APIRouter()

    def wall_now() -> float:
        return store.wall(now()) or 0.0

    @router.get("/v1/events")
    async def get_events(
        after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # SQLite's largest integer
        types_: Annotated[list[str] | None, Query(alias="type")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        types = [t.strip() for value in types_ or () for t in value.split(",") if t.strip()]
        found = store.events(after=after, types=types, limit=limit)
        return {
            "events": [{"seq": e.seq, **e.to_dict()} for e in found],
            "next": found[-1].seq if found else after,
        }

    @router.get("/v1/webhooks/dead")
    async def get_dead(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        return {"deliveries": [d.to_dict() for d in store.deliveries(state=DEAD, limit=limit)]}

    @router.post("/v1/webhooks/dead/retry")
    async def retry_all() -> dict[str, int]:
        return {"retried": store.retry_dead(None, wall_now())}

    @router.post("/v1/webhooks/dead/{event_id}/retry", responses=problems.responses(404))
    async def retry_one(event_id: str) -> dict[str, int]:
        retried = store.retry_dead(event_id, wall_now())
        if not retried:
            raise HTTPException(404, f"no dead delivery of event {event_id!r}")
        return {"retried": retried}

    return router
