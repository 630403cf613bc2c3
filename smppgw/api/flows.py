"""The flows API: flow definitions and runs (``gateway.flows`` carries them out).

    GET    /v1/flows/schema        the JSON Schema (draft 2020-12) of a flow (docs/flow.schema.json)
    GET    /v1/flows               every flow: the config's ([[twoway.flow]]) and the API's
    PUT    /v1/flows/{name}        create or replace a flow: 201 new, 200 replaced
    GET    /v1/flows/{name}        one flow, with its definition as given
    DELETE /v1/flows/{name}        204; its active runs end ``cancelled`` when next touched
    POST   /v1/flows/{name}/runs   {"to", "from", "vars"}: a run started -> 201, the run
    GET    /v1/flows/{name}/runs/{id}   a run: status, step, vars, answers, timers, transcript

A flow the checks refuse is a 422 whose ``errors`` name the key or step
(``steps.confirm.on.2``: "transition to an unknown step"), as ``flow_config.parse_flow``
words it; a flow of the config cannot be changed here (409). ``to`` is the subscriber,
``from`` our number the run texts from and listens on (not an alphanumeric sender: it
must be able to take replies); ``vars`` are the run's own values over the flow's
(``{"slots": [...], "name": "Ann"}``). One active run per (to, from): a second is a 409
naming the first. A run whose first text the consent gate blocks is created and ends at
once ``stopped`` (reason ``opt_out``; the transcript has the blocked message).

Scopes: ``admin`` to put and delete flows, ``messages:read`` to read flows and runs,
``messages:send`` to start a run. A tenant key's runs are its tenant's; another
tenant's run is 404.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from smppgw.api.addresses import address
from smppgw.api.keys import Principal
from smppgw.api.problems import Problem, invalid, responses
from smppgw.gateway.flows import FlowDesk
from smppgw.policy.addressing import AddressKind, to_smpp
from smppgw.store.base import ActiveRunExists, FlowRunRecord, StoreError
from smppgw.support.isotime import iso
from smppgw.twoway.flow_checks import FlowError
from smppgw.twoway.flow_config import NAME, VAR_NAME
from smppgw.twoway.flow_model import Flow
from smppgw.twoway.flow_schema import SCHEMA
from smppgw.twoway.flow_time import parse_slot

__all__ = ["flows_router"]

MAX_VARS: Final = 50
MAX_VAR_CHARS: Final = 2000
_RUN_FIELDS: Final = frozenset({"to", "from", "vars"})
_RUN_BODY: Final = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": ["to", "from"],
        "properties": {
            "to": {"type": "string", "description": "the subscriber"},
            "from": {"type": "string", "description": "our number the run texts from (takes replies)"},
            "vars": {"type": "object", "maxProperties": MAX_VARS,
                     "additionalProperties": {"type": ["string", "number", "boolean", "array"]}},
        },
    }}}},
}  # fmt: skip
_FLOW_BODY: Final = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "A flow: its JSON Schema is GET /v1/flows/schema (docs/flow.schema.json)",
    }}}},
}  # fmt: skip


def flows_router(
    desk: FlowDesk, *, region: str | None, admin: Any, read: Any, send: Any
) -> APIRouter:  # fmt: skip
    """``admin``, ``read``, ``send``: the dependencies of the ``admin``,
    ``messages:read`` and ``messages:send`` scopes (each gives the ``Principal``)."""
    router = APIRouter()
    book = desk.book

    def found(name: str) -> Flow:
        flow = book.get(name)
        if flow is None:
            raise Problem(404, f"no flow {name!r}", kind="not-found")
        return flow

    def view(flow: Flow, *, definition: bool = True) -> dict[str, Any]:
        times = book.times(flow.name)
        out: dict[str, Any] = {
            "name": flow.name, "description": flow.description, "keywords": list(flow.keywords),
            "campaign": flow.campaign, "start": flow.start, "steps": list(flow.steps),
            "source": book.origin(flow.name),
            "created_at": None if times is None else iso(times[0]),
            "updated_at": None if times is None else iso(times[1]),
        }  # fmt: skip
        if definition:
            out["definition"] = flow.to_dict()
        return out

    @router.get("/v1/flows/schema", responses=responses(403))
    async def get_schema(who: Principal = read) -> JSONResponse:
        return JSONResponse(SCHEMA, media_type="application/schema+json")

    @router.get("/v1/flows", responses=responses(403))
    async def list_flows(who: Principal = read) -> dict[str, Any]:
        return {"flows": [view(f, definition=False) for f in book.all()]}

    @router.put(
        "/v1/flows/{name}", responses=responses(400, 403, "conflict", 422, 503), openapi_extra=_FLOW_BODY
    )
    async def put_flow(name: str, request: Request, who: Principal = admin) -> JSONResponse:
        _name(name)
        data = _json(await request.body())
        if not isinstance(data, dict):
            raise invalid("", "the body is a flow: a JSON object (GET /v1/flows/schema)")
        try:
            flow, new = book.put(name, data)
        except FlowError as exc:
            raise invalid(exc.path, exc.message) from None
        except ValueError as exc:
            raise Problem(409, str(exc), kind="conflict") from None
        except StoreError as exc:
            raise _unavailable(exc) from None
        return JSONResponse(view(flow), status_code=201 if new else 200)

    @router.get("/v1/flows/{name}", responses=responses(403, 404))
    async def get_flow(name: str, who: Principal = read) -> dict[str, Any]:
        return view(found(name))

    @router.delete("/v1/flows/{name}", status_code=204, responses=responses(403, 404, "conflict"))
    async def delete_flow(name: str, who: Principal = admin) -> Response:
        try:
            gone = book.delete(name)
        except ValueError as exc:
            raise Problem(409, str(exc), kind="conflict") from None
        except StoreError as exc:
            raise _unavailable(exc) from None
        if not gone:
            raise Problem(404, f"no flow {name!r}", kind="not-found")
        return Response(status_code=204)

    @router.post(
        "/v1/flows/{name}/runs", status_code=201, openapi_extra=_RUN_BODY,
        responses=responses(400, 403, 404, "conflict", 422, 503),
    )  # fmt: skip
    async def start_run(name: str, request: Request, who: Principal = send) -> dict[str, Any]:
        flow = found(name)
        body = _json(await request.body())
        if not isinstance(body, dict):
            raise invalid("", 'the body is a JSON object: {"to": ..., "from": ..., "vars": {...}}')
        for key in sorted(set(body) - _RUN_FIELDS):
            raise invalid(str(key), "unknown field (to, from, vars)")
        number = _addr(body, "to", region, destination=True)
        sender = _addr(body, "from", region, destination=False)
        try:
            run = desk.start_run(flow.name, number=number, sender=sender, vars=_vars(body.get("vars"), flow),
                                 tenant=who.tenant)  # fmt: skip
        except ActiveRunExists as exc:
            raise Problem(
                409, f"{number} already has an active flow run {exc.run_id} from {sender}", kind="conflict"
            ) from None
        except StoreError as exc:
            raise _unavailable(exc) from None
        return run.to_dict()

    @router.get("/v1/flows/{name}/runs/{run_id}", responses=responses(403, 404))
    async def get_run(name: str, run_id: str, who: Principal = read) -> dict[str, Any]:
        run: FlowRunRecord | None = desk.store.get_flow_run(run_id)
        if run is None or run.flow != name or (who.tenant is not None and run.tenant != who.tenant):
            raise Problem(404, f"no run {run_id!r} of flow {name!r}", kind="not-found")
        return run.to_dict()

    return router


def _unavailable(exc: StoreError) -> Problem:
    return Problem(503, f"not stored, try again: {exc}", kind="unavailable")


def _name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise invalid("name", f"1-64 of A-Z a-z 0-9 _ . - (a letter or digit first), got {name!r}", "path")
    if name == "schema":  # GET /v1/flows/schema is the JSON Schema
        raise invalid("name", "'schema' is reserved (GET /v1/flows/schema)", "path")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Problem(400, "the body is not JSON", kind="bad-request") from None


def _addr(body: dict[str, Any], field: str, region: str | None, *, destination: bool) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "required: a phone number" + ("" if destination else " or short code of ours"))
    try:
        addr = to_smpp(address(value, region, destination=destination))
    except ValueError as exc:
        raise invalid(field, str(exc)) from None
    if addr.kind is AddressKind.ALPHANUMERIC:
        raise invalid(field, f"replies cannot reach an alphanumeric sender ({value!r})")
    return addr.addr


def _vars(value: Any, flow: Flow) -> dict[str, Any]:
    """A run's vars: names as a flow's, values text, numbers, true/false or lists of them;
    a var a slot step offers (``slots = "{slots}"``): ISO 8601 date-times with a zone,
    at least one (else the run would prompt with an empty list no answer can match)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("vars", 'a JSON object: {"name": "Ann", "slots": ["2027-03-15T09:30:00+00:00"]}')
    if len(value) > MAX_VARS:
        raise invalid("vars", f"at most {MAX_VARS} vars, got {len(value)}")
    for key, item in value.items():
        if not VAR_NAME.fullmatch(key):
            raise invalid(f"vars.{key}", f"a var name: {VAR_NAME.pattern}")
        items = item if isinstance(item, list) else [item]
        if not all(isinstance(v, str | int | float) for v in items):
            raise invalid(f"vars.{key}", "text, a number, true/false, or a list of them")
        if sum(len(str(v)) + 1 for v in items) > MAX_VAR_CHARS:
            raise invalid(f"vars.{key}", f"at most {MAX_VAR_CHARS} characters")
    slot_vars = {s.expect.slots_var or "" for s in flow.steps.values() if s.expect.kind == "slot"}
    for key in sorted(slot_vars & set(value)):
        items = value[key] if isinstance(value[key], list) else re.split(r"[\s,;]+", str(value[key]).strip())
        bad = [v for v in items if not isinstance(v, str) or parse_slot(v) is None]
        if bad or not items:
            raise invalid(
                f"vars.{key}",
                "the times to offer: ISO 8601 date-times with a zone (2027-03-15T09:30:00+00:00), at least one"
                + (f"; not one: {bad[0]!r}" if bad else ""),
            )
    return dict(value)
