"""The threads API: conversations with human responders (``gateway.threads``).

    GET   /v1/threads?status=&assignee=&queue=&number=&sender=&tag=&cursor=&limit=
          threads, most recently active first -> {threads: [...], next_cursor}
    GET   /v1/threads/{id}?after=&limit=   the thread and its messages in order (MT and MO)
    POST  /v1/threads/{id}/messages        an agent's reply {"text", "agent"?, "tags"?} -> 202
    PATCH /v1/threads/{id}                 {"status"?, "assignee"?, "tags"?} -> the thread

Reading needs ``threads:read``, replying and changing ``threads:write`` (which includes
``threads:read``); a tenant key sees only its tenant's threads (another's id is 404).
A reply the number's consent forbids is a 409 problem (``reply-blocked``) whose detail
is the reason, and nothing is stored or sent; one the gateway cannot send is a 422
naming ``text``. A bad parameter or field is a 422 naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from smppgw.api.addresses import address
from smppgw.api.bodies import MAX_TAG, MAX_TAGS, MAX_TEXT, TAG_PATTERN
from smppgw.api.keys import Principal
from smppgw.api.problems import Problem, invalid, responses, unsendable
from smppgw.api.views import message_view
from smppgw.gateway.messages import SubmitError
from smppgw.gateway.threads import ReplyBlocked, ThreadDesk
from smppgw.policy.addressing import to_smpp
from smppgw.store.base import THREAD_STATUSES, StoreError, ThreadQuery, ThreadRecord

__all__ = ["threads_router"]

MAX_NAME: Final = 64  # an agent's, an assignee's name
_TAG = re.compile(TAG_PATTERN)
_PATCH_FIELDS: Final = ("status", "assignee", "tags")
_REPLY_FIELDS: Final = ("text", "agent", "tags")
_REPLY_BODY: Final = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False, "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                   "agent": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                   "tags": {"type": "array", "maxItems": MAX_TAGS - 1, "items": {"type": "string"}}},
}}}}}  # fmt: skip
_PATCH_BODY: Final = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {"status": {"enum": list(THREAD_STATUSES)},
                   "assignee": {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_NAME},
                   "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string"}}},
}}}}}  # fmt: skip


def threads_router(desk: ThreadDesk, *, region: str | None, read: Any, write: Any) -> APIRouter:
    """``read`` and ``write``: the scope dependencies (``threads:read``, ``threads:write``),
    each giving the caller (``api.keys.Principal``)."""
    router = APIRouter()
    store = desk.store

    def mine(thread_id: str, who: Principal) -> ThreadRecord:
        found = store.get_thread(thread_id)
        if found is None or (who.tenant is not None and found.tenant != who.tenant):
            raise HTTPException(404, f"no thread {thread_id!r}")
        return found

    @router.get("/v1/threads", responses=responses(403, 422))
    async def list_threads(
        who: Principal = read,
        status: str | None = None,
        assignee: str | None = None,
        queue: str | None = None,
        number: str | None = None,
        sender: str | None = None,
        tag: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        if status is not None and status not in THREAD_STATUSES:
            raise invalid("status", f"one of {', '.join(THREAD_STATUSES)}", "query")
        query = ThreadQuery(
            status=status, assignee=assignee, queue=queue, tag=tag, tenant=who.tenant, limit=limit,
            number=None if number is None else _addr("number", number, region, destination=True),
            sender=None if sender is None else _addr("sender", sender, region, destination=False),
            before=_cursor(cursor),
        )  # fmt: skip
        found, after = store.list_threads(query)
        return {
            "threads": [t.to_dict() for t in found],
            "next_cursor": None if after is None else _encode(after),
        }

    @router.get("/v1/threads/{thread_id}", responses=responses(403, 404, 422))
    async def get_thread(
        thread_id: str,
        who: Principal = read,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        thread = mine(thread_id, who)
        messages = desk.messages(thread, after=after, limit=limit)
        return {**thread.to_dict(), "messages": messages, "next": messages[-1]["n"] if messages else after}

    @router.post(
        "/v1/threads/{thread_id}/messages",
        status_code=202,
        responses=responses(403, 404, "reply-blocked", 422, 503),
        openapi_extra=_REPLY_BODY,
    )
    async def reply(thread_id: str, request: Request, who: Principal = write) -> JSONResponse:
        mine(thread_id, who)  # 404 before a body is judged
        body = await _object(request, _REPLY_FIELDS)
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            raise invalid("text", f"required: a string of 1 to {MAX_TEXT} characters")
        agent = _name(body, "agent", who.name)
        tags = _tags(body.get("tags", []), MAX_TAGS - 1)  # the reply's own tag "thread" is one
        thread = mine(thread_id, who)  # as stored now, after the body's read
        try:
            record = desk.reply(thread, text, agent or who.name, tags=tags)
        except ReplyBlocked as exc:
            raise Problem(409, f"reply blocked: {exc.reason}", kind="reply-blocked") from None
        except SubmitError as exc:
            raise unsendable(exc, "") from None
        except StoreError as exc:
            raise Problem(503, f"not stored: {exc}") from None
        view = message_view(record, store.wall)
        view.pop("history", None)
        latest = store.get_thread(thread.id) or thread
        return JSONResponse({"message": view, "thread": latest.to_dict()}, status_code=202)

    @router.patch(
        "/v1/threads/{thread_id}", responses=responses(403, 404, 422, 503), openapi_extra=_PATCH_BODY
    )
    async def patch_thread(thread_id: str, request: Request, who: Principal = write) -> dict[str, Any]:
        mine(thread_id, who)  # 404 before a body is judged
        body = await _object(request, _PATCH_FIELDS)
        if not body:
            raise invalid("", f"give at least one of {', '.join(_PATCH_FIELDS)}")
        fields: dict[str, Any] = {}
        if "status" in body:
            if body["status"] not in THREAD_STATUSES:
                raise invalid("status", f"one of {', '.join(THREAD_STATUSES)}, got {body['status']!r}")
            fields["status"] = body["status"]
        if "assignee" in body:
            fields["assignee"] = _name(body, "assignee", None)
        if "tags" in body:
            fields["tags"] = _tags(body["tags"], MAX_TAGS)
        thread = mine(thread_id, who)  # as stored now, after the body's read (no await from here)
        try:
            return desk.update(thread, **fields, by=who.name).to_dict()
        except StoreError as exc:
            raise Problem(503, f"not stored: {exc}") from None

    return router


async def _object(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise invalid("", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("", "the body is a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise invalid(unknown[0], f"unknown field (one of {', '.join(allowed)})")
    return body


def _name(body: dict[str, Any], field: str, default: str | None) -> str | None:
    value = body.get(field, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise invalid(
            field, f"a name of 1 to {MAX_NAME} characters{' or null' if field == 'assignee' else ''}"
        )
    return value.strip()


def _tags(value: Any, most: int) -> list[str]:
    if not isinstance(value, list):
        raise invalid("tags", "a list of tags")
    if len(value) > most:
        raise invalid("tags", f"at most {most} tags")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or len(tag) > MAX_TAG or not _TAG.fullmatch(tag):
            raise invalid(f"tags[{i}]", f"1-{MAX_TAG} of A-Z a-z 0-9 _ . : -")
    return list(value)


def _addr(field: str, value: str, region: str | None, *, destination: bool) -> str:
    try:
        return to_smpp(address(value, region, destination=destination)).addr
    except ValueError as exc:
        raise invalid(field, str(exc), "query") from None


def _encode(after: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode().rstrip("=")


def _cursor(value: str | None) -> tuple[float, str] | None:
    if value is None:
        return None
    try:
        active, thread_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not isinstance(thread_id, str) or isinstance(active, bool) or not math.isfinite(active):
            raise ValueError(value)
        return float(active), thread_id
    except (ValueError, TypeError, OverflowError, binascii.Error, RecursionError):
        raise invalid("cursor", "not a next_cursor of this listing", "query") from None
