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
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest

from smppgw.api.accept import Acceptor, openapi_components
from smppgw.api.problems import MEDIA_TYPE, Problem
from smppgw.api.schemas import OptOutIn
from smppgw.gateway.engine import CancelError, Gateway
from smppgw.policy.addressing import AddressError, AddressKind, to_smpp
from smppgw.store.base import MessageQuery, MessageRecord, Status, Store

__all__ = ["build_app", "message_view"]


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
    acceptor = Acceptor(gateway, store, api_keys, now=now, max_queued=max_queued)
    one, many, components = openapi_components()
    app = FastAPI(title="smppgw queue API", version="1", docs_url="/docs")
    app.state.acceptor = acceptor  # the HTTP front answers the intake routes with it

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> Response:
        return Response(exc.body(), status_code=exc.status, headers=exc.headers, media_type=MEDIA_TYPE)

    async def authorised(request: Request) -> None:
        headers = request.headers
        acceptor.authorised(headers.get("authorization", "").encode(), headers.get("x-api-key", "").encode())

    auth = [Depends(authorised)]

    def body_of(schema: dict[str, Any]) -> dict[str, Any]:
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    # Served by the HTTP front without FastAPI (api/accept.py); these routes answer the
    # same way when the app runs elsewhere, and describe the bodies in the OpenAPI document.
    @app.post("/v1/messages", status_code=202, dependencies=auth, openapi_extra=body_of(one))
    async def post_message(request: Request) -> Response:
        code, payload = acceptor.single(await request.body())
        return Response(payload, status_code=code, media_type="application/json")

    @app.post("/v1/messages/batch", status_code=202, dependencies=auth, openapi_extra=body_of(many))
    async def post_batch(request: Request) -> Response:
        code, payload = acceptor.batch(await request.body())
        return Response(payload, status_code=code, media_type="application/json")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/v1/messages/{message_id}", dependencies=auth)
    async def get_message(message_id: str) -> dict[str, Any]:
        record = store.get(message_id)
        if record is None:
            raise HTTPException(404, f"no message {message_id!r}")
        return message_view(record, store.wall)

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
