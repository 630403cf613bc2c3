"""The HTTP queue API (DESIGN §4.2): a FastAPI app behind the HTTP front (``net/http.py``).

    POST   /v1/messages            one message -> 202 {id, status, segments}
    POST   /v1/messages/batch      up to 1000 -> 202 {results: [...]}, one per item, in order
    GET    /v1/messages/{id}       status, final, parts with SMSC ids and receipts, times,
                                   errors, history (every status change, its time and source)
    POST   /v1/messages/{id}/cancel  a message not yet submitted -> 200 canceled; else 409
    GET    /v1/messages            list, newest first: ?status=&to=&from=&tag=&since=&until=
                                   &cursor=&limit= -> {messages: [...], next_cursor}
    GET    /v1/conversations/{id}  a message's conversation: state, expect, answer, replies
    GET    /v1/inbound             inbound (MO) messages, ?after=SEQ&limit=N
    GET|PUT|DELETE /v1/optouts/{number}   account-wide opt-outs: a view of the consent history
    GET|PUT|DELETE /v1/consent/{number}, /v1/consent/import|export  consent (api/consent.py)
    GET    /v1/events, /v1/webhooks/dead ...  the event log and dead letters (api/events.py)
    GET|POST /v1/vouchers/...      voucher pools: import, issue, redeem, report (api/vouchers.py)
    GET|PUT|DELETE /v1/flows/{name}, POST /v1/flows/{name}/runs ...  flows and runs (api/flows.py)
    GET|POST|PATCH /v1/threads ...  threads for human responders (api/threads.py)
    GET    /healthz  /readyz  /metrics

Every ``/v1`` call needs an API key (``Authorization: Bearer KEY`` or ``X-API-Key``) with
the route's scope (``api.keys``): ``messages:send`` to post and cancel, ``messages:read``
to get and list, ``inbound:read``, ``consent:write`` for the opt-outs, ``admin`` (no
tenant) for the event log; a tenant key sees only its tenant's messages (another's id
is 404), inbound messages and idempotency keys.
A 202 means the message is stored (the store's ``add`` returned: on disk for SQLite). An idempotency key
seen before answers 200 with the first message; the same key with a different message
is 409. Errors are RFC 9457 problems (``api.problems``): 401 no or wrong key, 403 a
scope missing, 429 a rate limit (``Retry-After``), 404 unknown
id, 409, 422 bad body or unsendable message (its ``errors`` name the fields), 429 more
than ``max_queued`` parts waiting (with Retry-After), 503 store failure or gateway not
running. Times are ISO 8601 UTC with milliseconds (``2026-12-06T14:03:22.123Z``). Phone
numbers (``to``; ``from`` unless a short code or alphanumeric; the filters and opt-outs)
are normalised to E.164 digits (``support.phone``): national ones need ``region``.

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
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import generate_latest

from smppgw.api import problems
from smppgw.api.accept import Acceptor, openapi_components
from smppgw.api.addresses import address
from smppgw.api.bodies import MAX_TAG, TAG_PATTERN
from smppgw.api.consent import consent_router
from smppgw.api.events import events_router
from smppgw.api.flows import flows_router
from smppgw.api.keys import Keyring, Principal
from smppgw.api.limits import KeyLimits
from smppgw.api.problems import Problem, invalid
from smppgw.api.schemas import OptOutIn
from smppgw.api.threads import threads_router
from smppgw.api.views import inbound_view, message_view, opt_out_view
from smppgw.api.vouchers import vouchers_router
from smppgw.gateway.engine import CancelError, Gateway
from smppgw.gateway.flows import FlowDesk
from smppgw.gateway.threads import ThreadDesk
from smppgw.gateway.vouchers import VoucherDesk
from smppgw.policy.addressing import to_smpp
from smppgw.store.base import MessageQuery, MessageRecord, Status, Store
from smppgw.twoway.consent import Consent

__all__ = ["MAX_SEQ", "build_app", "message_view"]

MAX_SEQ = 2**63 - 1  # a sequence number (``after``): SQLite's largest integer
_TAG = re.compile(TAG_PATTERN)  # fullmatch: a final newline is refused too


def build_app(
    gateway: Gateway,
    store: Store,
    api_keys: Sequence[str],
    *,
    now: Callable[[], float],
    max_queued: int = 100_000,
    region: str | None = None,
    key_limits: KeyLimits | None = None,
    consent_rules: Consent | None = None,
    vouchers: VoucherDesk | None = None,
    flows: FlowDesk | None = None,
    threads: ThreadDesk | None = None,
) -> FastAPI:
    """``now``: the trio clock (records carry it; the store converts it to wall time).
    ``max_queued``: parts waiting to be sent above which new messages get 429 (backpressure
    when the carriers are slower than the callers, or down). ``region``: the default
    region of national phone numbers (``support.phone.check_region``); None: numbers
    must be international. ``api_keys``: the config's keys (every scope, no tenant);
    the store's keys too (``api.keys``), with ``key_limits``. ``consent_rules``: the
    ``[twoway]`` consent settings (``api.consent``). ``vouchers``: the desk the keyword
    rules use too (``api.vouchers``); None: one of the API's own (its metrics not served).
    ``flows``: the flow desk (``api.flows``; None: no flow routes). ``threads``: the
    thread desk (``api.threads``; None: no /v1/threads)."""
    keyring = Keyring(api_keys, store, key_limits)
    acceptor = Acceptor(gateway, store, keyring, now=now, max_queued=max_queued, region=region)
    one, many, components = openapi_components()
    # Swagger UI and ReDoc from the package's own files: /docs works offline.
    app = FastAPIOffline(
        title="smppgw queue API", version="1", docs_url="/docs", redoc_url="/redoc",
        static_url="/docs/assets", swagger_ui_parameters={"validatorUrl": None},
    )  # fmt: skip
    app.state.acceptor = acceptor  # the HTTP front answers the intake routes with it
    app.state.keyring = keyring  # and checks each /v1 request's key with it (Keyring.admit)
    problems.install(app)
    problems.document(app, schemas=components)
    errors = problems.responses

    def need(scope: str) -> Any:
        """A dependency: the caller (``api.keys.Principal``), if its key has ``scope``."""

        async def caller(request: Request) -> Principal:
            get = request.headers.get
            return keyring.caller(
                getattr(request.state, "admitted", None),  # Keyring.admit's, at the HTTP front
                get("authorization", "").encode(), get("x-api-key", "").encode(),
                request.client.host if request.client else "", scope,
            )  # fmt: skip

        return Depends(caller)

    send, read, inbound, consent = (need(s) for s in ("messages:send", "messages:read", "inbound:read", "consent:write"))  # fmt: skip

    def mine(record: MessageRecord | None, who: Principal, message_id: str) -> MessageRecord:
        """The record, if ``who`` may see it: another tenant's message is not found."""
        if record is None or (who.tenant is not None and record.tenant != who.tenant):
            raise HTTPException(404, f"no message {message_id!r}")
        return record

    def body_of(schema: dict[str, Any]) -> dict[str, Any]:
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    # Served by the HTTP front without FastAPI (api/accept.py); these routes answer the
    # same way when the app runs elsewhere, and describe the bodies in the OpenAPI document.
    @app.post(
        "/v1/messages", status_code=202, openapi_extra=body_of(one),
        responses=errors("idempotency-conflict", 400, 403, 413, 422, 429, 503),
    )  # fmt: skip
    async def post_message(request: Request, who: Principal = send) -> Response:
        code, payload = acceptor.single(await request.body(), who)
        return Response(payload, status_code=code, media_type="application/json")

    @app.post(
        "/v1/messages/batch", status_code=202, openapi_extra=body_of(many),
        responses=errors(400, 403, 413, 422, 429, 503),
    )  # fmt: skip
    async def post_batch(request: Request, who: Principal = send) -> Response:
        code, payload = acceptor.batch(await request.body(), who)
        return Response(payload, status_code=code, media_type="application/json")

    @app.get("/v1/messages/{message_id}", responses=errors(403, 404))
    async def get_message(message_id: str, who: Principal = read) -> dict[str, Any]:
        record = mine(store.get(message_id), who, message_id)
        view = message_view(record, store.wall)
        view["deliveries"] = [d.to_dict() for d in store.deliveries(subject=message_id)]  # its webhooks
        if (talk := store.conversation_of(message_id)) is not None:  # it expects a reply
            view.update(conversation_id=talk.id, conversation_state=talk.state)
        return view

    @app.get("/v1/conversations/{conversation_id}", responses=errors(403, 404))
    async def get_conversation(conversation_id: str, who: Principal = read) -> dict[str, Any]:
        found = store.get_conversation(conversation_id)
        if found is None or (who.tenant is not None and found.tenant != who.tenant):
            raise HTTPException(404, f"no conversation {conversation_id!r}")
        return found.to_dict(store.wall)

    @app.post("/v1/messages/{message_id}/cancel", responses=errors(403, 404, "not-cancelable"))
    async def cancel_message(message_id: str, who: Principal = send) -> dict[str, Any]:
        if who.tenant is not None:
            mine(store.get(message_id), who, message_id)
        try:
            record = gateway.cancel(message_id)
        except KeyError:
            raise HTTPException(404, f"no message {message_id!r}") from None
        except CancelError as exc:
            raise Problem(409, str(exc), kind="not-cancelable") from None
        return message_view(record, store.wall)

    @app.get("/v1/messages", responses=errors(403))
    async def list_messages(
        who: Principal = read,
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
            destination=_address("to", to, region),
            source=_address("from", from_, region),
            tag=_tag(tag),
            since=_instant("since", since),
            until=_instant("until", until),
            before=_cursor(cursor),
            limit=limit,
            tenant=who.tenant,
        )
        records, after = store.list_messages(query)
        items = []
        for record in records:
            view = message_view(record, store.wall)
            view.pop("history", None)  # the listing is the single view without history
            items.append(view)
        return {"messages": items, "next_cursor": None if after is None else _encode_cursor(after)}

    @app.get("/v1/inbound", responses=errors(403))
    async def get_inbound(
        who: Principal = inbound,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        items = store.inbound(after=after, limit=limit, tenant=who.tenant)
        return {"messages": [inbound_view(m) for m in items], "next": items[-1].seq if items else after}

    @app.get("/v1/optouts/{number}", dependencies=[consent], responses=errors(403, 404))
    async def get_optout(number: str) -> dict[str, Any]:
        found = store.get_opt_out(_number(number, region))
        if found is None:
            raise HTTPException(404, f"{number} is not opted out")
        return opt_out_view(found)

    @app.put("/v1/optouts/{number}", dependencies=[consent], responses=errors(400, 403))  # 400: not JSON
    async def put_optout(number: str, body: OptOutIn | None = None) -> dict[str, Any]:
        addr = _number(number, region)
        store.opt_out(addr, now=now(), reason=body.reason if body else "api")  # scope all (api.consent)
        found = store.get_opt_out(addr)
        # Enforced before every send (DESIGN §1): what is queued for it is not sent.
        dropped = gateway.block_destination(
            addr, f"destination opted out of every sender ({found.reason if found else 'api'})"
        )
        return {**(opt_out_view(found) if found else {}), "blocked_queued_parts": dropped}

    @app.delete("/v1/optouts/{number}", status_code=204, dependencies=[consent], responses=errors(403, 404))
    async def delete_optout(number: str) -> Response:
        if not store.opt_in(_number(number, region), now=now()):  # recorded, nothing erased
            raise HTTPException(404, f"{number} is not opted out")
        return Response(status_code=204)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Not ready (the body says which SMSC is down)",
                                         "content": {"application/json": {}}}})  # fmt: skip
    async def readyz() -> JSONResponse:
        binds = {name: smsc.pool.up for name, smsc in gateway.smscs.items()}
        body: dict[str, Any] = {"smscs": binds}
        if gateway.intake.handing:  # the shared work queue: what it accepts, any gateway sends
            body["work_queue"] = True
            body["store"] = reachable = not isinstance(store, Probed) or store.reachable()
            ready = gateway.accepting and reachable
        else:
            ready = gateway.accepting and any(binds.values())
        return JSONResponse({"ready": ready, **body}, status_code=200 if ready else 503)

    @app.get("/metrics", response_class=PlainTextResponse)  # the Prometheus text format
    async def metrics() -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type="text/plain; version=0.0.4")

    admin_scope = need("admin")

    async def admin(who: Principal = admin_scope) -> None:
        if who.tenant is not None:  # the event log and dead letters are not kept per tenant
            raise Problem(403, f"the API key {who.id} has a tenant; the event log is not per tenant",
                          kind="forbidden")  # fmt: skip

    app.include_router(events_router(store, now), dependencies=[Depends(admin)])  # /v1/events, dead letters
    app.include_router(consent_router(store, consent_rules or Consent(), now=now, region=region,
                                      block=gateway.block_destination, read=need("consent:read"), write=consent))  # fmt: skip
    # Its metrics of its own when not given (serve passes the one with the gateway's).
    desk = vouchers or VoucherDesk(store)
    app.include_router(vouchers_router(desk, store, now=now, region=region, read=need("vouchers:read"),
                                       write=need("vouchers:write")))  # fmt: skip
    if flows is not None:
        app.include_router(flows_router(flows, region=region, admin=admin_scope, read=read, send=send))
    if threads is not None:
        app.include_router(
            threads_router(threads, region=region, read=need("threads:read"), write=need("threads:write"))
        )
    return app


@runtime_checkable
class Probed(Protocol):
    """A store that can say whether its server answers now (``RedisStore``)."""

    def reachable(self) -> bool: ...


def _checked(name: str, value: str, region: str | None, where: str) -> str:
    """A number (``to``, ``number``) or a sender (``from``) as the records have it."""
    try:
        return to_smpp(address(value, region, destination=name != "from")).addr
    except ValueError as exc:
        raise invalid(name, str(exc), where) from None


def _number(number: str, region: str | None) -> str:
    """The ``{number}`` of an opt-out path."""
    return _checked("number", number, region, "path")


def _tag(value: str | None) -> str | None:
    """A ``tag`` filter: a tag a message can have (``api/bodies.py``)."""
    if value is not None and not (len(value) <= MAX_TAG and _TAG.fullmatch(value)):
        raise invalid("tag", f"1-{MAX_TAG} of A-Z a-z 0-9 _ . : -", "query")
    return value


def _status(value: str | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise invalid("status", f"one of {names}, got {value!r}", "query") from None


def _address(name: str, value: str | None, region: str | None) -> str | None:
    """A ``to`` (a phone number) or ``from`` filter, normalised as the records are."""
    return None if value is None else _checked(name, value, region, "query")


def _instant(name: str, value: str | None) -> float | None:
    """An ISO 8601 time with an offset, as wall-clock seconds."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(name, f"not an ISO 8601 time: {value!r}", "query") from None
    if parsed.tzinfo is None:
        raise invalid(name, "needs a UTC offset (e.g. 2026-12-06T15:00:00Z)", "query")
    return parsed.timestamp()


def _encode_cursor(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode().rstrip("=")


def _cursor(value: str | None) -> tuple[float, str] | None:
    """A ``next_cursor`` given back: (created_at, id) of the last item of the page before."""
    if value is None:
        return None
    try:
        created, message_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not isinstance(message_id, str) or isinstance(created, bool) or not math.isfinite(created):
            raise ValueError(value)
        return float(created), message_id
    except (ValueError, TypeError, OverflowError, binascii.Error, RecursionError):
        raise invalid("cursor", "not a next_cursor of this listing", "query") from None
