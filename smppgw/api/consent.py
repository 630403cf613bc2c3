"""The consent API: a number's consent per scope and its history, changes, bulk import
and export (``twoway.consent`` has the rules, ``store.consent`` the history).

    GET    /v1/consent/{number}[?sender=S]  state per scope and the history (S: only the
           scopes that cover messages from S, and whether such a message may go now)
    PUT    /v1/consent/{number}   record an opt-in   (consent given)
    DELETE /v1/consent/{number}   record an opt-out  (consent withdrawn)
    POST   /v1/consent/import     many events: CSV (text/csv) or JSON lines (application/x-ndjson)
    GET    /v1/consent/export?format=csv|jsonl&after=SEQ&limit=N   the history in write order

The resource is the number's consent: PUT gives it, DELETE withdraws it. Both take an
optional JSON body (or the same fields as query parameters) ``{"sender": "12345"}`` or
``{"programme": "promo"}`` (neither: every sender) and ``"reason"``; both answer 200 with
the event recorded and the state after it. Nothing is ever erased: each call appends an
event (source ``api``), and a ``consent.changed`` event goes out. A withdrawal also blocks
what is queued for the number within its scope (``blocked_queued_parts``).

Import rows: ``number`` and ``state`` (``opted_out`` | ``opted_in``) are required;
``sender`` or ``programme``, ``reason`` and ``at`` (ISO 8601 with an offset, not in the
future: when the consent was given or withdrawn) are optional; the export's other
columns are ignored, so an export imports back as it was. Every row is checked first: a
bad one is a 422 naming it (``rows[3].state``) and nothing is written; else all are
written in one transaction (source ``import``). Reading needs ``consent:read`` (which
``consent:write`` includes), changing ``consent:write``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from smppgw.api.addresses import address
from smppgw.api.problems import Problem, field_error, invalid, invalid_fields, responses
from smppgw.gateway.consent import block_within
from smppgw.policy.addressing import to_smpp
from smppgw.store.base import Store
from smppgw.twoway.consent import ALL, OPTED_IN, OPTED_OUT, STATES, Consent, ConsentEvent, Scope

__all__ = ["consent_router"]

MAX_ROWS: Final = 100_000
_COLUMNS: Final = ("seq", "number", "scope", "sender", "programme", "state", "source", "at", "reason",
                   "keyword", "inbound_seq", "text")  # fmt: skip
_IGNORED: Final = frozenset({"seq", "scope", "source", "keyword", "inbound_seq", "text"})
_CHANGE_BODY: Final = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"sender": {"type": "string"}, "programme": {"type": "string"},
                       "reason": {"type": "string", "maxLength": 200}},
    }}}},
}  # fmt: skip
_IMPORT_BODY: Final = {
    "requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}},
    }},
}  # fmt: skip
_SKEW: Final = 300.0  # seconds an ``at`` may be ahead of this clock (the caller's may run fast)


def consent_router(
    store: Store,
    rules: Consent,
    *,
    now: Callable[[], float],
    region: str | None,
    block: Callable[..., int],
    read: Any,
    write: Any,
) -> APIRouter:
    """``now``: the trio clock; ``block``: ``Gateway.block_destination``; ``read`` and
    ``write``: the scope dependencies (``consent:read``, ``consent:write``)."""
    router = APIRouter()

    def wall_now() -> float:
        return store.wall(now()) or 0.0

    def scope_of(fields: dict[str, Any], where: str, prefix: str = "") -> Scope:
        sender, programme = fields.get("sender") or None, fields.get("programme") or None
        if sender is not None and programme is not None:
            raise invalid(f"{prefix}programme", "give sender or programme, not both", where)
        if programme is not None:
            if programme not in rules.programmes:
                names = ", ".join(rules.programmes) or "none configured"
                raise invalid(f"{prefix}programme", f"no programme {programme!r} ({names})", where)
            return Scope.of(programme=programme)
        return (
            ALL if sender is None else Scope.of(_addr(str(sender), region, f"{prefix}sender", where, False))
        )

    async def change(number: str, request: Request, state: str) -> dict[str, Any]:
        addr = _addr(number, region, "number", "path", True)
        fields, where = await _fields(request)
        reason = fields.get("reason") or "api"
        if not isinstance(reason, str) or len(reason) > 200:
            raise invalid("reason", "a string of at most 200 characters", where)
        scope = scope_of(fields, where)
        event = ConsentEvent(
            number=addr, scope=scope, state=state, source="api", at=wall_now(), reason=reason
        )
        (written,) = store.add_consent([event])
        out = {"recorded": written.to_dict(), **view(addr, None)}
        if state == OPTED_OUT:
            out["blocked_queued_parts"] = block_within(block, store, rules, written)
        return out

    def view(number: str, sender: str | None) -> dict[str, Any]:
        index = store.consent(number)
        history = store.consent_history(number)
        latest = index.latest if index is not None else {}
        out: dict[str, Any] = {"number": number}
        if sender is not None:
            covering = rules.covering(sender)
            out.update(sender=sender, reason=rules.decide(index, sender))
            out["allowed"] = out["reason"] is None
            history = [e for e in history if e.scope in covering]
            latest = {s: e for s, e in latest.items() if s in covering}
        out["scopes"] = [
            {k: v for k, v in e.to_dict().items() if k in ("scope", "sender", "programme", "state", "source",
                                                            "at", "reason", "keyword")}
            for e in sorted(latest.values(), key=lambda e: (-e.scope.rank, e.scope.name))
        ]  # fmt: skip
        out["history"] = [e.to_dict() for e in history]
        return out

    @router.get("/v1/consent/export", dependencies=[read], responses=responses(403, 422))
    async def export(
        format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "jsonl",
        after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1_000_000)] = MAX_ROWS,
    ) -> Response:
        events = store.consent_events(after=after, limit=limit)
        headers = {"X-Next-After": str(events[-1].seq if events else after)}
        if format == "jsonl":
            body = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in events)
            return Response(body, media_type="application/x-ndjson", headers=headers)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for e in events:
            writer.writerow({k: "" if v is None else v for k, v in e.to_dict().items()})
        return Response(out.getvalue(), media_type="text/csv", headers=headers)

    @router.post(
        "/v1/consent/import",
        dependencies=[write],
        responses=responses(403, 413, 422),
        openapi_extra=_IMPORT_BODY,
    )
    async def import_(request: Request) -> dict[str, Any]:
        rows = _rows(await request.body(), request.headers.get("content-type", ""))
        at_most = wall_now() + _SKEW
        events: list[ConsentEvent] = []
        errors: list[dict[str, str]] = []
        for i, row in enumerate(rows):
            try:
                events.append(_import_row(row, f"rows[{i}].", scope_of, region, wall_now(), at_most))
            except _Invalid as exc:
                errors.append(exc.error)
            except Problem as exc:  # from scope_of / _addr: its field error
                errors.extend(exc.errors or [field_error(f"rows[{i}]", exc.detail)])
            if len(errors) >= 20:
                break
        if errors:
            raise invalid_fields(errors)
        written = store.add_consent(events)
        blocked = sum(block_within(block, store, rules, e) for e in written if e.state == OPTED_OUT)
        return {"imported": len(written), "blocked_queued_parts": blocked}

    @router.get("/v1/consent/{number}", dependencies=[read], responses=responses(403, 422))
    async def get_consent(number: str, sender: str | None = None) -> dict[str, Any]:
        addr = _addr(number, region, "number", "path", True)
        return view(addr, None if sender is None else _addr(sender, region, "sender", "query", False))

    @router.put(
        "/v1/consent/{number}",
        dependencies=[write],
        responses=responses(403, 422),
        openapi_extra=_CHANGE_BODY,
    )
    async def put_consent(number: str, request: Request) -> dict[str, Any]:
        return await change(number, request, OPTED_IN)

    @router.delete(
        "/v1/consent/{number}",
        dependencies=[write],
        responses=responses(403, 422),
        openapi_extra=_CHANGE_BODY,
    )
    async def delete_consent(number: str, request: Request) -> dict[str, Any]:
        return await change(number, request, OPTED_OUT)

    return router


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.error = field_error(field, message)


def _addr(value: str, region: str | None, field: str, where: str, destination: bool) -> str:
    try:
        return to_smpp(address(value, region, destination=destination)).addr
    except ValueError as exc:
        raise invalid(field, str(exc), where) from None


async def _fields(request: Request) -> tuple[dict[str, Any], str]:
    """PUT/DELETE's fields: the JSON body's, else the query's."""
    body = await request.body()
    if not body.strip():
        return {
            k: request.query_params[k] for k in ("sender", "programme", "reason") if k in request.query_params
        }, "query"
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        raise invalid("", "the body is not JSON") from None
    if not isinstance(fields, dict):
        raise invalid("", 'the body is a JSON object: {"sender": ..., "reason": ...}')
    unknown = set(fields) - {"sender", "programme", "reason"}
    if unknown:
        raise invalid(sorted(unknown)[0], "unknown field (sender, programme, reason)")
    return fields, "body"


def _rows(body: bytes, content_type: str) -> list[dict[str, Any]]:
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("", "the body is not UTF-8") from None
    if kind == "text/csv":
        rows = _csv_rows(text)
    elif kind in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
        rows = []
        for n, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except (ValueError, RecursionError):
                    raise invalid(f"rows[{len(rows)}]", f"line {n + 1} is not JSON") from None
    else:
        raise invalid("", f"Content-Type: text/csv or application/x-ndjson, got {kind or 'none'!r}", "header")
    if not rows:
        raise invalid("", "no rows")
    if len(rows) > MAX_ROWS:
        raise invalid("", f"at most {MAX_ROWS} rows per import")
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    rows: list[dict[str, Any]] = []
    try:
        columns = reader.fieldnames or []
        for name in ("number", "state"):
            if name not in columns:
                raise invalid(
                    "", f"the CSV header needs a {name} column (number,state,sender,programme,reason,at)"
                )
        extra = [c for c in columns if c not in _COLUMNS]
        if extra:
            raise invalid("", f"unknown CSV column {extra[0]!r} (one of {', '.join(_COLUMNS)})")
        for r in reader:
            if None in r:  # more fields than the header names: DictReader keeps them under None
                n = len(columns) + len(r.pop(None))
                raise invalid(
                    f"rows[{len(rows)}]", f"line {reader.line_num} has {n} fields, the header {len(columns)}"
                )
            rows.append(dict(r))
    except csv.Error as exc:
        raise invalid(f"rows[{len(rows)}]", f"line {reader.line_num} is not CSV: {exc}") from None
    return rows


def _import_row(
    row: Any, p: str, scope_of: Callable[..., Scope], region: str | None, now: float, at_most: float
) -> ConsentEvent:
    if not isinstance(row, dict):
        raise _Invalid(p.rstrip("."), "a JSON object per line")
    unknown = [k for k in row if k not in _COLUMNS]
    if unknown:
        raise _Invalid(f"{p}{unknown[0]}", "unknown field")
    number = row.get("number")
    if not isinstance(number, str) or not number:
        raise _Invalid(f"{p}number", "required: a phone number")
    state = row.get("state")
    if state not in STATES:
        raise _Invalid(f"{p}state", f"one of {', '.join(STATES)}, got {state!r}")
    reason = row.get("reason") or "import"
    if not isinstance(reason, str) or len(reason) > 200:
        raise _Invalid(f"{p}reason", "a string of at most 200 characters")
    at = now
    if row.get("at"):
        try:
            parsed = datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))
        except ValueError:
            raise _Invalid(f"{p}at", f"not an ISO 8601 time: {row['at']!r}") from None
        if parsed.tzinfo is None:
            raise _Invalid(f"{p}at", "needs a UTC offset (e.g. 2026-12-06T15:00:00Z)")
        at = parsed.timestamp()
        if not math.isfinite(at) or at > at_most:
            raise _Invalid(f"{p}at", "in the future")
    fields = {k: row.get(k) for k in ("sender", "programme")}
    return ConsentEvent(
        number=_addr(number, region, f"{p}number", "body", True), scope=scope_of(fields, "body", p),
        state=state, source="import", at=at, reason=reason,
    )  # fmt: skip
