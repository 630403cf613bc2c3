"""The voucher API: pools of codes imported, given to numbers, redeemed, and the report.

    POST /v1/vouchers/pools/{pool}[?campaign=C]  import codes: text/csv with a header
         ``code[,campaign]``, or text/plain one code per line -> {pool, imported,
         duplicates, duplicate_count}
    GET  /v1/vouchers/pools                      per pool: total, issued, redeemed, available
    POST /v1/vouchers/pools/{pool}/issue         {"to": number} -> that number's code
    GET  /v1/vouchers/report                     issued and redeemed, by campaign and pool
    GET  /v1/vouchers/{code}                     one code: pool, campaign, who, when
    POST /v1/vouchers/{code}/redeem              mark it used -> 200 the code; 404 unknown;
                                                 409 not issued, or already redeemed

A store that cannot write (locked, full) is 503 with nothing changed.

A code is unique across every pool (a redemption names only the code): one a pool has
already, or given twice in one import, is not added and is listed in ``duplicates``
(the first 1,000). Every line is checked first: a bad one is a 422 naming it
(``codes[2]``: "line 4: ...") and nothing is written. An import is bounded by the HTTP
front's ``[api] max_body`` and ``MAX_CODES``. A row's campaign wins over ``?campaign=``.
``issue`` gives a number the code it has, else the next unused one (the same rule as a
keyword's ``voucher``); an empty pool is 409 ``pool-empty``. Pools are the account's:
the routes need ``vouchers:read`` / ``vouchers:write`` (which includes read) and a key
without a tenant. Issuing and redeeming write ``voucher.issued`` / ``voucher.redeemed``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any, Final, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request

from smppgw.api.addresses import address
from smppgw.api.keys import Principal
from smppgw.api.problems import Problem, field_error, invalid, invalid_fields, responses
from smppgw.gateway.vouchers import PoolCounts, RedeemError, VoucherDesk
from smppgw.policy.addressing import to_smpp
from smppgw.store.base import StoreError, VoucherStore
from smppgw.twoway.keyword_config import POOL_NAME

__all__ = ["MAX_CODES", "vouchers_router"]

MAX_CODES: Final = 100_000  # per import
MAX_LISTED: Final = 1_000  # duplicates named in an import's answer
CODE: Final = POOL_NAME  # a code: 1-64 of A-Z a-z 0-9 _ . - (safe in a URL path)
CAMPAIGN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # as a message's tags
_RESERVED: Final = frozenset({"pools", "report"})  # path words: /v1/vouchers/pools/redeem is a pool
_IMPORT_BODY: Final = {
    "requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": "code,campaign\nSPRING-0001,spring\n"},
        "text/plain": {"schema": {"type": "string"}, "example": "SPRING-0001\nSPRING-0002\n"},
    }},
}  # fmt: skip
_ISSUE_BODY: Final = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["to"], "additionalProperties": False,
        "properties": {"to": {"type": "string"}, "campaign": {"type": "string"}},
    }}}},
}  # fmt: skip
_REDEEM_ERRORS: Final = {"not_issued": "voucher-not-issued", "redeemed": "voucher-redeemed"}


class VoucherApiStore(VoucherStore, Protocol):
    """What the routes read: the pools and codes, and wall time."""

    def wall(self, monotonic: float | None) -> float | None: ...


def vouchers_router(
    desk: VoucherDesk,
    store: VoucherApiStore,
    *,
    now: Callable[[], float],
    region: str | None,
    read: Any,
    write: Any,
) -> APIRouter:
    """``now``: the trio clock (the store turns it into wall time); ``read``, ``write``:
    the scope dependencies (``vouchers:read``, ``vouchers:write``)."""
    router = APIRouter()

    def account(scope: Any) -> Any:
        async def check(who: Principal = scope) -> None:
            if who.tenant is not None:  # pools are not kept per tenant
                raise Problem(403, f"the API key {who.id} has a tenant; voucher pools are the account's",
                              kind="forbidden")  # fmt: skip

        return [Depends(check)]

    reading, writing = account(read), account(write)

    def wall_now() -> float:
        return store.wall(now()) or 0.0

    @router.post(
        "/v1/vouchers/pools/{pool}", dependencies=writing, responses=responses(403, 413, 422, 503),
        openapi_extra=_IMPORT_BODY,
    )  # fmt: skip
    async def import_codes(pool: str, request: Request, campaign: str | None = None) -> dict[str, Any]:
        _pool(pool)
        if campaign is not None and not CAMPAIGN.fullmatch(campaign):
            raise invalid("campaign", "1-64 of A-Z a-z 0-9 _ . : -", "query")
        codes = _codes(await request.body(), request.headers.get("content-type", ""), campaign)
        try:
            result = desk.import_codes(pool, codes, at=wall_now())
        except StoreError as exc:
            raise Problem(503, f"not imported (nothing written): {exc}") from None
        return {
            "pool": pool, "imported": result.imported, "duplicates": list(result.duplicates[:MAX_LISTED]),
            "duplicate_count": len(result.duplicates),
        }  # fmt: skip

    @router.get("/v1/vouchers/pools", dependencies=reading, responses=responses(403))
    async def pools() -> dict[str, Any]:
        return {"pools": [_counts(p) for p in store.voucher_pools()]}

    @router.post(
        "/v1/vouchers/pools/{pool}/issue", dependencies=writing, responses=responses(403, 404, "pool-empty", 422, 503),
        openapi_extra=_ISSUE_BODY,
    )  # fmt: skip
    async def issue(pool: str, request: Request) -> dict[str, Any]:
        _pool(pool)
        to, campaign = _issue_body(await request.body(), region)
        try:
            code = desk.issue(pool, to, campaign=campaign, now=wall_now())
        except StoreError as exc:
            raise Problem(503, f"not issued: {exc}") from None
        if code is None:
            if not any(p.pool == pool for p in store.voucher_pools()):
                raise HTTPException(404, f"no voucher pool {pool!r}")
            raise Problem(409, f"the voucher pool {pool!r} has no code left", kind="pool-empty")
        found = store.get_voucher(code)
        return found.to_dict() if found is not None else {"code": code, "pool": pool}

    @router.get("/v1/vouchers/report", dependencies=reading, responses=responses(403))
    async def report() -> dict[str, Any]:
        rows = store.voucher_report()
        campaigns: dict[str | None, PoolCounts] = {}
        by_pool: dict[str, list[PoolCounts]] = {}
        for r in rows:
            c = campaigns.get(r.campaign) or PoolCounts(pool="", campaign=r.campaign)
            campaigns[r.campaign] = PoolCounts(
                pool="", campaign=r.campaign, total=c.total + r.total, issued=c.issued + r.issued,
                redeemed=c.redeemed + r.redeemed,
            )  # fmt: skip
            by_pool.setdefault(r.pool, []).append(r)
        totals = PoolCounts(
            pool="", total=sum(r.total for r in rows), issued=sum(r.issued for r in rows),
            redeemed=sum(r.redeemed for r in rows),
        )  # fmt: skip
        return {
            "totals": {k: v for k, v in _counts(totals, pool=False).items() if k != "campaign"},
            "campaigns": [
                _counts(c, pool=False)
                for c in sorted(campaigns.values(), key=lambda c: (c.campaign is not None, c.campaign or ""))
            ],
            "pools": [
                {**_counts(_sum(name, parts)), "campaigns": [_counts(p, pool=False) for p in parts]}
                for name, parts in by_pool.items()
            ],
        }

    @router.get("/v1/vouchers/{code}", dependencies=reading, responses=responses(403, 404))
    async def get_code(code: str) -> dict[str, Any]:
        found = store.get_voucher(code)
        if found is None:
            raise HTTPException(404, f"no voucher code {code!r}")
        return found.to_dict()

    @router.post(
        "/v1/vouchers/{code}/redeem", dependencies=writing,
        responses=responses(403, 404, "voucher-not-issued", "voucher-redeemed", 503),
    )  # fmt: skip
    async def redeem(code: str) -> dict[str, Any]:
        try:
            return desk.redeem(code, at=wall_now()).to_dict()
        except StoreError as exc:
            raise Problem(503, f"not redeemed: {exc}") from None
        except RedeemError as exc:
            if exc.reason == "unknown":
                raise HTTPException(404, f"no voucher code {code!r}") from None
            if exc.reason == "not_issued":
                detail = f"the code {code!r} was not given to anyone yet"
            else:
                at = exc.record.to_dict()["redeemed_at"] if exc.record is not None else None
                detail = f"the code {code!r} was already redeemed" + (f" at {at}" if at else "")
            raise Problem(409, detail, kind=_REDEEM_ERRORS[exc.reason]) from None

    return router


def _pool(pool: str) -> None:
    if not POOL_NAME.fullmatch(pool) or pool in _RESERVED:
        raise invalid("pool", "1-64 of A-Z a-z 0-9 _ . - (a letter or digit first)", "path")


def _counts(c: PoolCounts, *, pool: bool = True) -> dict[str, Any]:
    head: dict[str, Any] = {"pool": c.pool} if pool else {"campaign": c.campaign}
    return {**head, "total": c.total, "issued": c.issued, "redeemed": c.redeemed, "available": c.available}


def _sum(name: str, parts: list[PoolCounts]) -> PoolCounts:
    return PoolCounts(
        pool=name, total=sum(p.total for p in parts), issued=sum(p.issued for p in parts),
        redeemed=sum(p.redeemed for p in parts),
    )  # fmt: skip


def _issue_body(body: bytes, region: str | None) -> tuple[str, str | None]:
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        raise invalid("", 'the body is JSON: {"to": "+447700900123"}') from None
    if not isinstance(fields, dict):
        raise invalid("", 'the body is a JSON object: {"to": "+447700900123"}')
    unknown = sorted(set(fields) - {"to", "campaign"})
    if unknown:
        raise invalid(unknown[0], "unknown field (to, campaign)")
    to, campaign = fields.get("to"), fields.get("campaign")
    if not isinstance(to, str) or not to:
        raise invalid("to", "required: a phone number")
    if campaign is not None and not (isinstance(campaign, str) and CAMPAIGN.fullmatch(campaign)):
        raise invalid("campaign", "1-64 of A-Z a-z 0-9 _ . : -")
    try:
        return to_smpp(address(to, region, destination=True)).addr, campaign
    except ValueError as exc:
        raise invalid("to", str(exc)) from None


def _codes(body: bytes, content_type: str, campaign: str | None) -> list[tuple[str, str | None]]:
    """(code, campaign) per line of an import body; a 422 naming every bad line (20 at most)."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("", "the body is not UTF-8") from None
    if kind == "text/csv":
        rows = _csv_lines(text)
    elif kind == "text/plain":
        rows = [(n, [line.strip()]) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    else:
        raise invalid("", f"Content-Type: text/csv or text/plain, got {kind or 'none'!r}", "header")
    if not rows:
        raise invalid("", "no codes")
    if len(rows) > MAX_CODES:
        raise invalid("", f"at most {MAX_CODES} codes per import")
    out: list[tuple[str, str | None]] = []
    errors: list[dict[str, str]] = []
    for i, (line, fields) in enumerate(rows):
        code, own = fields[0].strip(), (fields[1].strip() if len(fields) > 1 else "")
        if not CODE.fullmatch(code) or code in _RESERVED:
            errors.append(field_error(f"codes[{i}]", f"line {line}: a code is 1-64 of A-Z a-z 0-9 _ . - "
                                                     f"(a letter or digit first), got {code[:70]!r}"))  # fmt: skip
        elif own and not CAMPAIGN.fullmatch(own):
            errors.append(field_error(f"codes[{i}].campaign", f"line {line}: 1-64 of A-Z a-z 0-9 _ . : -"))
        else:
            out.append((code, own or campaign))
        if len(errors) >= 20:
            break
    if errors:
        raise invalid_fields(errors)
    return out


def _csv_lines(text: str) -> list[tuple[int, list[str]]]:
    """The CSV rows after the header (``code`` and, optionally, ``campaign``), with their lines."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if header not in (["code"], ["code", "campaign"]):
            raise invalid("", f"the CSV header is code or code,campaign, got {','.join(header)!r}")
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # a blank line
            if len(fields) != len(header):
                raise invalid(
                    f"codes[{len(rows)}]",
                    f"line {reader.line_num} has {len(fields)} fields, the header {len(header)}",
                )
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise invalid(f"codes[{len(rows)}]", f"line {reader.line_num} is not CSV: {exc}") from None
    return rows
