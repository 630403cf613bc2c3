"""The HTTP queue API (DESIGN §4.2): a FastAPI app served by Hypercorn's trio worker.

    POST   /v1/messages            one message -> 202 {id, status, segments}
    POST   /v1/messages/batch      up to 1000 -> 202 {results: [...]}, one per item, in order
    GET    /v1/messages/{id}       status, final, parts with SMSC ids and receipts, times,
                                   errors, history (every status change, its time and source)
    POST   /v1/messages/{id}/cancel  a message not yet submitted -> 200 canceled; else 409
    GET    /v1/messages            list, newest first: ?status=&to=&from=&tag=&since=&until=
                                   &cursor=&limit= -> {messages: [...], next_cursor}
    GET    /v1/inbound             inbound (MO) messages, ?after=SEQ&limit=N
    GET|PUT|DELETE /v1/optouts/{number}
    GET    /v1/events, /v1/webhooks/dead ...  the event log and dead letters (api/events.py)
    GET    /healthz  /readyz  /metrics

Every ``/v1`` call needs an API key (``Authorization: Bearer KEY`` or ``X-API-Key``).
A 202 means the message is stored (the store's ``add`` returned: on disk for SQLite). An idempotency key
seen before answers 200 with the first message; the same key with a different message
is 409. Errors are JSON ``{"detail": ...}``: 401 no or wrong key, 404 unknown id, 409,
422 bad body or unsendable message (the reason says which field), 429 more than
``max_queued`` parts waiting (with Retry-After), 503 store failure or gateway not running.

Queue semantics: ``send_at`` (ISO 8601 with an offset) schedules a message: it is stored
``scheduled`` and queued at that time (a time in the past: now; more than the gateway's
``send_at_horizon``, default 30 days, ahead: 422). ``priority`` 0..3 orders the queue
(higher first, FIFO within a priority, a waiting lower priority is never starved). A
``validity`` counts from acceptance (from ``send_at`` when scheduled): a message still
queued when it lapses ends ``expired`` unsent, and the SMSC is given the time left.
Cancel answers the canceled message, 404 for an unknown id, 409 naming the status of
one already submitted or final. The listing's items are the single-message view without
its history; ``since``/``until`` are ISO 8601 bounds on ``created_at``; ``next_cursor``
(opaque) is null on the last page; a bad filter value is 422 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest

from smppgw.api.events import events_router
from smppgw.api.schemas import Accepted, BatchIn, MessageIn, OptOutIn
from smppgw.gateway.engine import CancelError, Gateway, SubmitError
from smppgw.policy.addressing import AddressError, AddressKind, to_smpp
from smppgw.store.base import MessageQuery, MessageRecord, Status, Store, StoreError

__all__ = ["build_app", "message_view"]

_SAME = ("source", "destination", "text", "encoding")


def build_app(
    gateway: Gateway,
    store: Store,
    api_keys: Sequence[str],
    *,
    now: Callable[[], float],
    max_queued: int = 100_000,
) -> FastAPI:
    """``now``: the trio clock (records carry it; the store converts it to wall time).
    ``max_queued``: parts waiting to be sent above which new messages get 429 (backpressure
    when the carriers are slower than the callers, or down)."""
    keys = [k.encode() for k in api_keys]
    app = FastAPI(title="smppgw queue API", version="1", docs_url="/docs")

    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:] if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
        # compare_digest against every key: no timing hint about which key nearly matched.
        ok = [secrets.compare_digest(given.encode(), k) for k in keys]
        if not any(ok):
            raise HTTPException(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(authorised)]

    def room(n: int = 1) -> None:
        if not gateway.accepting:
            raise HTTPException(503, "the gateway is not running (starting or shutting down)")
        if gateway.queued() + n > max_queued:
            raise HTTPException(
                429, f"queue full ({max_queued} parts waiting); retry later", headers={"Retry-After": "1"}
            )

    def submit_kwargs(body: MessageIn) -> dict[str, Any]:
        """``Gateway.submit``'s keywords; ``send_at`` turned to the trio clock."""
        kwargs = body.submit_kwargs()
        if body.send_at is not None:
            kwargs["send_at"] = now() + (body.send_at.timestamp() - time.time())
        return kwargs

    def accept_one(body: MessageIn) -> tuple[int, dict[str, Any]]:
        if body.idempotency_key is not None:
            seen = store.find_key(body.idempotency_key)
            if seen is not None:
                mine = body.submit_kwargs()
                if any(getattr(seen, f) != _normal(f, mine[f]) for f in _SAME):
                    raise HTTPException(
                        409, f"idempotency_key {body.idempotency_key!r} was used for another message"
                    )
                return 200, _accepted(seen)
        room()
        try:
            record = gateway.submit(**submit_kwargs(body))
        except SubmitError as exc:
            raise HTTPException(422, str(exc)) from None
        except StoreError as exc:
            raise HTTPException(503, f"not accepted: {exc}") from None
        return 202, _accepted(record)

    @app.post("/v1/messages", status_code=202, response_model=Accepted, dependencies=auth)
    async def post_message(body: MessageIn) -> JSONResponse:
        code, payload = accept_one(body)
        return JSONResponse(payload, status_code=code)

    @app.post("/v1/messages/batch", status_code=202, dependencies=auth)
    async def post_batch(body: BatchIn) -> dict[str, Any]:
        results: list[dict[str, Any] | None] = [None] * len(body.messages)
        fresh: list[tuple[int, MessageIn]] = []
        keys_in_batch: set[str] = set()
        for i, item in enumerate(body.messages):
            key = item.idempotency_key
            if key is not None:
                if key in keys_in_batch:
                    results[i] = _error(f"idempotency_key {key!r} repeats in this batch")
                    continue
                keys_in_batch.add(key)
                if store.find_key(key) is not None:
                    try:
                        results[i] = accept_one(item)[1]
                    except HTTPException as exc:
                        results[i] = _error(str(exc.detail))
                    continue
            fresh.append((i, item))
        room(len(fresh))
        try:
            outcomes = gateway.submit_many([submit_kwargs(item) for _, item in fresh])
        except StoreError as exc:
            raise HTTPException(503, f"not accepted: {exc}") from None
        for (i, _), outcome in zip(fresh, outcomes, strict=True):
            results[i] = _error(str(outcome)) if isinstance(outcome, SubmitError) else _accepted(outcome)
        accepted = sum(1 for r in results if r is not None and "id" in r)
        return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}

    @app.get("/v1/messages/{message_id}", dependencies=auth)
    async def get_message(message_id: str) -> dict[str, Any]:
        record = store.get(message_id)
        if record is None:
            raise HTTPException(404, f"no message {message_id!r}")
        view = message_view(record, store.wall)
        view["deliveries"] = [d.to_dict() for d in store.deliveries(subject=message_id)]  # its webhooks
        return view

    @app.post("/v1/messages/{message_id}/cancel", dependencies=auth)
    async def cancel_message(message_id: str) -> dict[str, Any]:
        try:
            record = gateway.cancel(message_id)
        except KeyError:
            raise HTTPException(404, f"no message {message_id!r}") from None
        except CancelError as exc:
            raise HTTPException(409, str(exc)) from None
        return message_view(record, store.wall)

    @app.get("/v1/messages", dependencies=auth)
    async def list_messages(
        status: str | None = None,
        to: str | None = None,
        from_: Annotated[str | None, Query(alias="from")] = None,
        tag: str | None = None,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        query = MessageQuery(
            status=_status(status),
            destination=_address("to", to),
            source=_address("from", from_),
            tag=tag,
            since=_instant("since", since),
            until=_instant("until", until),
            before=_cursor(cursor),
            limit=limit,
        )
        records, after = store.list_messages(query)
        items = []
        for record in records:
            view = message_view(record, store.wall)
            view.pop("history", None)  # the listing is the single view without history
            items.append(view)
        return {"messages": items, "next_cursor": None if after is None else _encode_cursor(after)}

    @app.get("/v1/inbound", dependencies=auth)
    async def get_inbound(
        after: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        items = store.inbound(after=after, limit=limit)
        return {"messages": [m.to_dict() for m in items], "next": items[-1].seq if items else after}

    @app.get("/v1/optouts/{number}", dependencies=auth)
    async def get_optout(number: str) -> dict[str, Any]:
        found = store.get_opt_out(_number(number))
        if found is None:
            raise HTTPException(404, f"{number} is not opted out")
        return found.to_dict()

    @app.put("/v1/optouts/{number}", dependencies=auth)
    async def put_optout(number: str, body: OptOutIn | None = None) -> dict[str, Any]:
        addr = _number(number)
        store.opt_out(addr, now=now(), reason=body.reason if body else "api")
        # Enforced before every send (DESIGN §1): what is queued for it is not sent.
        dropped = gateway.block_destination(addr)
        found = store.get_opt_out(addr)
        return {**(found.to_dict() if found else {}), "blocked_queued_parts": dropped}

    @app.delete("/v1/optouts/{number}", status_code=204, dependencies=auth)
    async def delete_optout(number: str) -> Response:
        if not store.opt_in(_number(number)):
            raise HTTPException(404, f"{number} is not opted out")
        return Response(status_code=204)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        binds = {name: smsc.pool.up for name, smsc in gateway.smscs.items()}
        ready = gateway.accepting and any(binds.values())
        return JSONResponse({"ready": ready, "smscs": binds}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type="text/plain; version=0.0.4")

    app.include_router(events_router(store, now), dependencies=auth)  # /v1/events, dead letters
    return app


def _number(number: str) -> str:
    try:
        return to_smpp(number).addr
    except AddressError as exc:
        raise HTTPException(422, f"number: {exc}") from None


def _status(value: str | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise HTTPException(422, f"status: one of {names}, got {value!r}") from None


def _address(name: str, value: str | None) -> str | None:
    """A ``to`` (a phone number) or ``from`` filter, normalised as the records are."""
    if value is None:
        return None
    try:
        address = to_smpp(value)
    except AddressError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None
    if name == "to" and address.kind is AddressKind.ALPHANUMERIC:
        raise HTTPException(422, f"to: {value!r} is not a phone number")
    return address.addr


def _instant(name: str, value: str | None) -> float | None:
    """An ISO 8601 time with an offset, as wall-clock seconds."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise HTTPException(422, f"{name}: needs a UTC offset (e.g. 2026-12-06T15:00:00Z)")
    return parsed.timestamp()


def _encode_cursor(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode().rstrip("=")


def _cursor(value: str | None) -> tuple[float, str] | None:
    """A ``next_cursor`` given back: (created_at, id) of the last item of the page before."""
    if value is None:
        return None
    try:
        created, message_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not isinstance(message_id, str) or isinstance(created, bool):
            raise ValueError(value)
        return float(created), message_id
    except (ValueError, TypeError, binascii.Error):
        raise HTTPException(422, "cursor: not a next_cursor of this listing") from None


def _normal(field: str, value: Any) -> Any:
    if field in ("source", "destination"):
        try:
            return to_smpp(value).addr
        except AddressError:
            return value
    return value


def _accepted(record: MessageRecord) -> dict[str, Any]:
    return {"id": record.id, "status": record.status.value, "segments": len(record.parts)}


def _error(reason: str) -> dict[str, Any]:
    return {"error": reason}


def message_view(record: MessageRecord, wall: Callable[[float | None], float | None]) -> dict[str, Any]:
    view = record.to_dict()
    view.update(
        created_at=wall(record.created_at),
        updated_at=wall(record.updated_at),
        tags=list(record.tags),
        dlr=record.dlr,
        segments=len(record.parts),
        idempotency_key=record.idempotency_key,
    )
    if record.send_at is not None:
        view["send_at"] = wall(record.send_at)
    for part, out in zip(record.parts, view["parts"], strict=True):
        out.update(submitted_at=wall(part.submitted_at), receipt_at=wall(part.receipt_at))
    # Every status change with its time and source (DESIGN §3); ``applied`` false: a move
    # the rank rule refused (a late response or receipt), kept for the record only.
    view["history"] = [
        {"status": status.value, "at": wall(at), "source": source, "detail": detail, "applied": applied}
        for status, at, source, detail, applied in record.history
    ]
    return view
