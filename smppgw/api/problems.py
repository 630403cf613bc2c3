"""Errors of the HTTP API as RFC 9457 problem details, one shape for every error.

    HTTP/1.1 422 Unprocessable Content
    Content-Type: application/problem+json

    {"type": "urn:smppgw:problem:validation", "title": "Invalid request",
     "status": 422, "detail": "to: '+44 12': not a possible number for country code +44",
     "errors": [{"field": "to", "in": "body", "message": "'+44 12': not a possible ..."}]}

``type`` is a stable URI per kind of problem (``KINDS``), ``title`` its fixed summary,
``detail`` this occurrence. A 422 always has ``errors``: each names the ``field`` (a path
into the body, ``messages[3].to``, or a query or path parameter's name; "" for the body
as a whole), where it is (``in``: body, query, path) and the ``message``. Pydantic's
errors and the gateway's reasons take the same shape, and so does each refused item of a
batch. Headers stay: ``WWW-Authenticate`` on 401, ``Retry-After`` on 429, ``Allow`` on
405. An unexpected exception is a 500 that says nothing of it: it is logged with the
request's id (the ``X-Request-Id`` the HTTP front gives every answer), and a 5xx problem
carries that id as ``request_id``.

FastAPI routes keep raising ``HTTPException``; ``Problem`` (an exception) carries a kind
or field errors, and is what the intake (``api/accept.py``, answered by the HTTP front
without FastAPI) raises. ``install`` converts them all, the router's 404 and 405
included, and ``document`` puts the problem schema and the key schemes into the OpenAPI
document. What the HTTP front refuses itself (400 malformed, 408, 413, 431, 503 over
its connection limit) has the same shape with ``type`` "about:blank" (``net/http.py``
may not import this layer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from smppgw.store.base import StoreError

__all__ = [
    "KINDS",
    "MEDIA_TYPE",
    "FieldError",
    "Problem",
    "ProblemBody",
    "document",
    "field_error",
    "install",
    "invalid",
    "invalid_fields",
    "problem",
    "responses",
    "unsendable",
    "validation_problem",
    "with_request_id",
]

BASE: Final = "urn:smppgw:problem:"
MEDIA_TYPE: Final = "application/problem+json"
# kind -> (status, title). The title is the kind's, the same every time (RFC 9457 §3.1.3).
KINDS: Final[Mapping[str, tuple[int, str]]] = {
    "bad-request": (400, "Bad request"),
    "unauthorized": (401, "Unauthorized"),
    "forbidden": (403, "The API key lacks the scope this needs"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "idempotency-conflict": (409, "Idempotency key already used for another message"),
    "not-cancelable": (409, "The message can no longer be canceled"),
    "voucher-not-issued": (409, "The voucher code was not given to anyone"),
    "voucher-redeemed": (409, "The voucher code was already redeemed"),
    "pool-empty": (409, "The voucher pool has no code left"),
    "too-large": (413, "Request body too large"),
    "validation": (422, "Invalid request"),
    "queue-full": (429, "Queue full"),
    "rate-limited": (429, "Too many requests"),
    "quota-exceeded": (429, "The API key's queued parts are at its quota"),
    "internal": (500, "Internal server error"),
    "unavailable": (503, "Service unavailable"),
}
_BY_STATUS: Final = {status: kind for kind, (status, _) in reversed(list(KINDS.items()))}  # the first wins
# The gateway's reasons that start with a body field's name (SubmitError "text: ...").
_SUBMIT_FIELDS = {
    "text": "text",
    "hex": "hex",
    "encoding": "encoding",
    "send_at": "send_at",
    "destination": "to",
    "from": "from",  # a sender pool (gateway.conversations)
    "expect": "expect",
}
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
# msgspec names these fields in the message, not the path: the path is their object's.
_NAMED = re.compile(r"Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`")


class FieldError(BaseModel):
    field: str = Field(
        description='Path in the body (messages[3].to) or a parameter name; "": the whole body'
    )
    in_: str = Field(alias="in", description="body, query or path")
    message: str


class ProblemBody(BaseModel):
    """RFC 9457 problem details (the OpenAPI schema "Problem")."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(description=f"A stable URI per kind of problem, {BASE}<kind>")
    title: str = Field(description="The kind's fixed summary")
    status: int
    detail: str = Field(description="This occurrence, for people")
    errors: list[FieldError] = Field(default_factory=list, description="422 only: each invalid field")
    request_id: str = Field(
        default="", description="5xx only: the request's id (its X-Request-Id), as the log has it"
    )


class Problem(Exception):
    """An error answer: raise it in a route; the app and the HTTP front answer it.
    ``kind``: one of ``KINDS`` (else the status's); ``errors``: a 422's field errors."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = list(errors)
        self.headers = headers or {}

    def item(self) -> dict[str, Any]:
        """The problem as a dict (also a refused item's result in a batch answer)."""
        return problem(self.status, self.detail, self.kind, self.errors)

    def body(self, request_id: str = "") -> bytes:
        """The problem+json body; a 5xx carries ``request_id``."""
        return json.dumps(with_request_id(self.item(), request_id)).encode()

    def response(self, request_id: str = "") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """As the HTTP front answers it (``net.http.Response``)."""
        extra = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        return self.status, [(b"content-type", MEDIA_TYPE.encode()), *extra], self.body(request_id)


def with_request_id(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """``body`` with ``request_id`` if it is a 5xx problem and the id is known."""
    if body["status"] >= 500 and request_id:
        body["request_id"] = request_id
    return body


def field_error(field: str, message: str, where: str = "body") -> dict[str, str]:
    return {"field": field, "in": where, "message": message}


def invalid(field: str, message: str, where: str = "body") -> Problem:
    """A 422 naming one field."""
    return Problem(
        422, f"{field}: {message}" if field else message, errors=[field_error(field, message, where)]
    )


def invalid_fields(errors: Sequence[dict[str, str]]) -> Problem:
    """A 422 naming each field of ``errors`` (``field_error``)."""
    return Problem(422, _summary(errors), errors=errors)


def unsendable(exc: Exception, at: str) -> Problem:
    """The gateway's 422 (``SubmitError``), naming the body field its reason starts with (else the body)."""
    reason = str(exc)
    name = reason.partition(":")[0].partition(" ")[0]
    field = _SUBMIT_FIELDS.get(name)
    if field is None:
        return invalid(at.rstrip("."), reason)
    return invalid(at + field, reason.partition(": ")[2] if reason.startswith(name + ":") else reason)


def problem(
    status: int, detail: str, kind: str | None = None, errors: Sequence[dict[str, str]] = ()
) -> dict[str, Any]:
    """The problem body; ``kind`` None: the status's kind, or about:blank for another status."""
    kind = kind or _BY_STATUS.get(status)
    if kind is None:
        body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase}
    else:
        body = {"type": BASE + kind, "title": KINDS[kind][1]}
    body["status"] = status
    body["detail"] = detail
    if errors or status == 422:
        body["errors"] = list(errors) or [field_error("", detail)]
    return body


def _response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=MEDIA_TYPE)


def validation_problem(message: str, *, prefix: str = "") -> Problem:
    """A 422 from msgspec's ValidationError text ("Expected `int` >= 0 - at `$.priority`"),
    its path written as pydantic's are (``$.messages[3].to`` -> ``messages[3].to``)."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any text
    text, path = match["message"], (match["path"] or "").lstrip(".")
    if (named := _NAMED.match(text)) is not None:
        path = f"{path}.{named['name']}" if path else named["name"]
    return invalid(prefix + path, text)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return _response(with_request_id(exc.item(), request.headers.get("x-request-id", "")), exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    body = with_request_id(problem(exc.status_code, detail), request.headers.get("x-request-id", ""))
    return _response(body, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_from_pydantic(e) for e in exc.errors()]
    detail = _summary(errors)
    return _response(problem(422, detail, "validation", errors))


async def _store_away(request: Request, exc: Exception) -> JSONResponse:
    """The store can't answer now (Redis away, SQLite locked): 503, try again shortly.
    Nothing was changed by the request (``StoreError``: nothing of a write is kept)."""
    body = problem(503, f"the store is unavailable; retry shortly ({exc})")
    return _response(with_request_id(body, request.headers.get("x-request-id", "")), {"Retry-After": "1"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The details stay in the log: a stack trace can carry paths, SQL and message text.
    # Starlette raises the exception on after this answer; the HTTP front logs it with
    # the request id this answer carries.
    body = problem(500, "an unexpected error; it has been logged")
    return _response(with_request_id(body, request.headers.get("x-request-id", "")))


def _summary(errors: Sequence[dict[str, str]]) -> str:
    first = errors[0] if errors else field_error("", "invalid request")
    text = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return text if len(errors) < 2 else f"{text} (and {len(errors) - 1} more)"


def _from_pydantic(error: Mapping[str, Any]) -> dict[str, str]:
    """A pydantic error as a field error: ``("body", "messages", 3, "to")`` -> messages[3].to."""
    loc = tuple(error.get("loc", ()))
    where, path = (
        (loc[0], loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else ("body", loc)
    )
    message = str(error.get("msg", "invalid"))
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    if error.get("type") == "json_invalid":  # loc is a character offset, not a field
        reason = (error.get("ctx") or {}).get("error", "")
        return field_error(
            "", f"{message} at character {path[0] if path else 0}: {reason}".rstrip(": "), where
        )
    field = ""
    for step in path:
        field += f"[{step}]" if isinstance(step, int) else (f".{step}" if field else str(step))
    return field_error(field, message, where)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem (routing's 404 and 405 included)."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreError, _store_away)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: the errors it may answer, by status or kind."""
    out: dict[int | str, dict[str, Any]] = {}
    for s in statuses:
        status, title = KINDS[s] if isinstance(s, str) else KINDS[_BY_STATUS[s]]
        if status in out:
            out[status]["description"] += f"; or: {title}"
        else:
            out[status] = {"description": title}
    return out


SECURITY_SCHEMES: Final = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer KEY"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def document(app: FastAPI, *, secured_prefix: str = "/v1", schemas: Mapping[str, Any] | None = None) -> None:
    """Make ``app.openapi()`` declare the key schemes (either one) on every route under
    ``secured_prefix`` with its 401, and the problem schema for every error response
    (500 everywhere; 422 where a route takes parameters or a body). ``schemas``: more
    components (the intake's msgspec bodies). Routes added later (another module's) are
    covered too: the document is built on the first request."""

    build = app.openapi  # FastAPI's own: it caches what it builds in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas or {})
            _add_problems(schema, secured_prefix)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _add_problems(schema: dict[str, Any], secured_prefix: str) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced
        schemas.pop(name, None)
    model = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    schemas.update(model.pop("$defs", {}))
    schemas["Problem"] = model
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for op in item.values():
            answers = op.setdefault("responses", {})
            if path.startswith(secured_prefix):
                op["security"] = [{name: []} for name in SECURITY_SCHEMES]
                answers.setdefault("401", {"description": KINDS["unauthorized"][1]})
            if op.get("parameters") or op.get("requestBody"):
                answers.setdefault("422", {"description": KINDS["validation"][1]})
            answers.setdefault("500", {"description": KINDS["internal"][1]})
            for code, answer in answers.items():
                # An error a route declared with its own body (readyz's 503) keeps it.
                if code[0] in "45" and ("content" not in answer or "HTTPValidationError" in str(answer)):
                    answer["content"] = content
