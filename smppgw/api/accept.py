"""Taking messages in: ``POST /v1/messages`` and ``POST /v1/messages/batch``.

These two are the hot routes (issue 14: the single POST at 2,500 req/s or more), so
they skip FastAPI: the HTTP front (``net/http.py``) calls ``Acceptor.single`` and
``Acceptor.batch`` with the raw request, the body is decoded and checked by msgspec
(C, one pass) into ``MessageBody`` (``api/bodies.py``: every field bounded), and the
answer is JSON bytes. The FastAPI routes of
the same paths call the same methods, so the two ways in cannot differ; they also carry
the OpenAPI description (``MessageBody``'s JSON schema).

A 202 means the message is stored: on disk for SQLite (``Store.add`` returned). The
checks, in order: the key (401, before the body is read: ``api.keys``; 429 over its
rate), its scope ``messages:send`` (403), the body's shape (422, each error with its field
path), the idempotency key (the key's tenant's: 200 with the first message, 409 for
another message), the key's quota and the queue's room (429 with Retry-After, 503 while
the gateway is not running), whether it
can be sent (422 with the gateway's reason, naming the field it is about). ``to`` and
``from`` are normalised here (``address``: E.164 digits, ``support.phone``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import trio

from smppgw.api.addresses import address
from smppgw.api.bodies import (
    MAX_BATCH,
    ExpectBody,
    MessageBody,
    check,
    decode_batch,
    decode_one,
    openapi_components,
    with_key,
)
from smppgw.api.keys import Keyring, Principal, Quota
from smppgw.api.problems import (
    Problem,
    field_error,
    invalid,
    invalid_fields,
    unsendable,
)
from smppgw.gateway.engine import Gateway, SubmitError
from smppgw.net.http import FastRoute, Request
from smppgw.net.http import Response as HttpResponse
from smppgw.policy.addressing import AddressError, to_smpp
from smppgw.store.base import STATUS_LABEL, MessageRecord, Store, StoreError
from smppgw.twoway.conversations import Expect, ExpectError, expect_from

__all__ = ["BATCH", "SINGLE", "Acceptor", "accepted", "fast_routes", "openapi_components"]

SINGLE = (b"POST", b"/v1/messages")  # the intake routes, as the HTTP front keys them
BATCH = (b"POST", b"/v1/messages/batch")  # its body limit is [api] max_batch_body
_SAME = ("source", "destination", "text", "encoding")
_POOL = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # a [[twoway.pool]] name

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_JSON = [(b"content-type", b"application/json")]
# A batch item's field path prefix, made once rather than formatted per item (only an
# error uses it).
_AT = tuple(f"messages[{i}]." for i in range(MAX_BATCH))


def _fields(
    body: MessageBody, now: Callable[[], float], region: str | None, who: Principal, at: str = ""
) -> dict[str, Any]:
    """``Gateway.submit``'s keywords: the numbers normalised, ``send_at`` turned to the trio
    clock. Raises a 422 Problem naming ``to`` or ``from`` (under ``at``)."""
    try:
        destination = address(body.to, region, destination=True)
    except ValueError as exc:
        raise invalid(f"{at}to", str(exc)) from None
    pool = _pool(body.from_, at) if body.from_.startswith("pool") else None
    if pool is not None:
        source = ""  # the gateway picks it from the pool
    else:
        try:
            source = address(body.from_, region, destination=False)
        except ValueError as exc:
            raise invalid(f"{at}from", str(exc)) from None
    fields: dict[str, Any] = {
        "source": source,
        "destination": destination,
        "text": body.text if body.text is not None else (body.hex or ""),
        "encoding": body.encoding if body.hex is None else "binary",
        "dlr": body.dlr,
        "validity": body.validity,
        "priority": body.priority,
        "tags": tuple(body.tags),
        "idempotency_key": body.idempotency_key,
        "callback_url": body.callback_url,
        "tenant": who.tenant,
    }
    if body.send_at is not None:
        fields["send_at"] = now() + (body.send_at.timestamp() - time.time())
    if pool is not None:
        fields["pool"] = pool
    if body.expect is not None:
        fields["expect"] = _expect(body.expect, at)
    return fields


def _pool(given: str, at: str) -> str | None:
    """``from``: "pool:NAME" names a sender pool ([[twoway.pool]]), "pool" the pool of the
    message's route ([[route]] pool, given as ""); None: a sender such as "poolside"."""
    if given == "pool":
        return ""
    if not given.startswith("pool:"):
        return None
    name = given.removeprefix("pool:")
    if not _POOL.fullmatch(name):
        raise invalid(f"{at}from", f"pool:NAME with a pool name of 1-32 of A-Z a-z 0-9 _ . -, got {given!r}")
    return name


def _expect(body: ExpectBody, at: str) -> Expect:
    """The checked spec; a 422 naming each bad field (``expect.choices.NO[1]``)."""
    try:
        return expect_from(msgspec.structs.asdict(body))
    except ExpectError as exc:
        raise invalid_fields([field_error(f"{at}expect.{path}", why) for path, why in exc.errors]) from None


class _Pending:
    """One single-message request waiting for its group's transaction."""

    __slots__ = ("body", "done", "fields", "result", "status", "who")

    def __init__(self, body: MessageBody, fields: dict[str, Any], who: Principal) -> None:
        self.body = body
        self.who = who
        self.fields = fields
        self.done = trio.Event()
        self.result: dict[str, Any] | Problem = {}
        self.status = 202

    def settle(self, result: dict[str, Any] | Problem, status: int = 202) -> None:
        self.result, self.status = result, status
        self.done.set()


def accepted(record: MessageRecord) -> dict[str, Any]:
    return {"id": record.id, "status": STATUS_LABEL[record.status], "segments": len(record.parts)}


class Acceptor:
    def __init__(
        self,
        gateway: Gateway,
        store: Store,
        keyring: Keyring,
        *,
        now: Callable[[], float],
        max_queued: int,
        region: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.region = region
        self.store = store
        self.now = now
        self.max_queued = max_queued
        self.keyring = keyring
        self.quota = Quota()
        self._group: list[_Pending] = []
        self._wake = trio.Event()

    def _room(self, n: int, who: Principal) -> None:
        self.quota.check(who)
        if not self.gateway.accepting:
            raise Problem(503, "the gateway is not running (starting or shutting down)")
        if self.gateway.queued() + n > self.max_queued:
            raise Problem(
                429,
                f"queue full ({self.max_queued} parts waiting); retry later",
                headers={"Retry-After": "1"},
            )

    def _seen(self, body: MessageBody, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The first message of a repeated idempotency key (the tenant's); 409 if it was
        another one."""
        key = body.idempotency_key
        try:
            seen = self.store.find_key(key, fields["tenant"]) if key is not None else None
        except StoreError as exc:
            raise Problem(503, f"not accepted: {exc}") from None
        if seen is None:
            return None
        same = _SAME if fields.get("pool") is None else _SAME[1:]  # a pool's sender was picked
        if any(getattr(seen, f) != _normal(f, fields[f]) for f in same):
            raise Problem(
                409, f"idempotency_key {key!r} was used for another message", kind="idempotency-conflict"
            )
        return accepted(seen)

    def _one(
        self, raw: bytes, who: Principal, keys: tuple[str | None, str] | None = None
    ) -> tuple[MessageBody, dict[str, Any]]:
        body = decode_one(raw)
        if errors := check(body, ""):
            raise invalid_fields(errors)
        if keys is not None:  # an input stream entry's (api.stream_intake)
            body = with_key(body, *keys)
        return body, _fields(body, self.now, self.region, who)

    def single(self, raw: bytes, who: Principal) -> tuple[int, bytes]:
        """``POST /v1/messages`` on its own (one transaction): (status, JSON body)."""
        body, fields = self._one(raw, who)
        if (seen := self._seen(body, fields)) is not None:
            return 200, _encode(seen)
        self._room(1, who)
        return 202, _encode(accepted(self._submit(fields, who)))

    def _submit(self, fields: dict[str, Any], who: Principal) -> MessageRecord:
        try:
            record = self.gateway.submit(**fields)
            self.quota.add(who, record)
            return record
        except SubmitError as exc:
            raise unsendable(exc, "") from None
        except StoreError as exc:
            raise Problem(503, f"not accepted: {exc}") from None

    async def single_grouped(self, raw: bytes, who: Principal) -> tuple[int, bytes]:
        """``POST /v1/messages`` as the HTTP front answers it: the requests that arrive
        together are stored in one transaction (``Gateway.submit_many``), so a commit
        is shared by all of them instead of paid by each. No waiting is added: the
        group is what the other connections' tasks put in before the group's task runs,
        in the same scheduler round."""
        return await self.answer(self.enqueue(raw, who))

    def enqueue(self, raw: bytes, who: Principal, keys: tuple[str | None, str] | None = None) -> _Pending:
        """The first half of ``single_grouped``: the request checked and put in the next
        group (raises Problem). The input stream's requests come this way, in the
        stream's order, with ``keys``: (the entry's idempotency key, the key when
        neither it nor the body has one) (``bodies.with_key``)."""
        body, fields = self._one(raw, who, keys)
        pending = _Pending(body, fields, who)
        self._group.append(pending)
        self._wake.set()
        return pending

    @staticmethod
    async def answer(pending: _Pending) -> tuple[int, bytes]:
        """The second half: (status, JSON body) once its group is stored; raises Problem."""
        await pending.done.wait()
        if isinstance(pending.result, Problem):
            raise pending.result
        return pending.status, _encode(pending.result)

    async def run(self) -> None:
        """Store each group of ``single_grouped`` requests (a task of the app's nursery).

        Woken by the first request of a group, it runs in the next scheduler round, after
        every task made runnable with that request has put its message in."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            group, self._group = self._group, []
            try:
                later = self._store(group)
            except Exception:  # a bug here must not leave requests waiting, nor stop the intake
                log.exception("storing a group of %d messages failed", len(group))
                for pending in group:
                    if not pending.done.is_set():
                        pending.settle(Problem(500, "internal error"))
                later = []
            self._group[:0] = later
            if self._group:
                self._wake.set()

    def _store(self, group: list[_Pending]) -> list[_Pending]:
        """Store ``group`` in one transaction and settle each; returns the requests to
        store next time: a key repeated in the group waits until its first is stored,
        then answers as a repeat (200 with the first, or 409). As ``single``: the key
        before the queue's room, and the room counted for the group (first come first)."""
        fresh: list[_Pending] = []
        keys: set[tuple[str | None, str]] = set()
        later: list[_Pending] = []
        for pending in group:
            key = pending.body.idempotency_key
            if key is not None:
                if (pending.who.tenant, key) in keys:
                    later.append(pending)
                    continue
                try:
                    seen = self._seen(pending.body, pending.fields)
                except Problem as exc:
                    pending.settle(exc)
                    continue
                if seen is not None:
                    pending.settle(seen, 200)
                    continue
                keys.add((pending.who.tenant, key))
            try:
                self._room(len(fresh) + 1, pending.who)
            except Problem as exc:
                pending.settle(exc)
                continue
            fresh.append(pending)
        if fresh:
            try:
                outcomes = self.gateway.submit_many([p.fields for p in fresh])
            except StoreError as exc:
                for pending in fresh:
                    pending.settle(Problem(503, f"not accepted: {exc}"))
                return later
            for pending, outcome in zip(fresh, outcomes, strict=True):
                if isinstance(outcome, SubmitError):
                    pending.settle(unsendable(outcome, ""))
                else:
                    self.quota.add(pending.who, outcome)
                    pending.settle(accepted(outcome))
        return later

    def batch(self, raw: bytes, who: Principal) -> tuple[int, bytes]:
        """``POST /v1/messages/batch``: one result per item, in order. Raises Problem."""
        items = decode_batch(raw)
        results: list[dict[str, Any] | None] = [None] * len(items)
        fresh: list[tuple[int, dict[str, Any]]] = []
        keys_in_batch: set[str] = set()
        n = 0  # accepted: the new ones and the repeats (answered with their first)
        for i, item in enumerate(items):
            at = _AT[i]
            if errors := check(item, at):
                results[i] = invalid_fields(errors).item()
                continue
            try:
                fields = _fields(item, self.now, self.region, who, at)
            except Problem as exc:
                results[i] = exc.item()
                continue
            key = item.idempotency_key
            if key is not None:
                if key in keys_in_batch:
                    repeat = Problem(
                        409, f"idempotency_key {key!r} repeats in this batch", kind="idempotency-conflict"
                    )
                    results[i] = repeat.item()
                    continue
                keys_in_batch.add(key)
                try:
                    seen = self._seen(item, fields)
                except Problem as exc:
                    results[i] = exc.item()
                    continue
                if seen is not None:
                    results[i] = seen
                    n += 1
                    continue
            fresh.append((i, fields))
        self._room(len(fresh), who)
        try:
            outcomes = self.gateway.submit_many([fields for _, fields in fresh])
        except StoreError as exc:
            raise Problem(503, f"not accepted: {exc}") from None
        for (i, _), outcome in zip(fresh, outcomes, strict=True):
            if isinstance(outcome, SubmitError):
                results[i] = unsendable(outcome, _AT[i]).item()
            else:
                self.quota.add(who, outcome)
                results[i] = accepted(outcome)
                n += 1
        return 202, _encode({"accepted": n, "rejected": len(results) - n, "results": results})


def _normal(field: str, value: Any) -> Any:
    if field in ("source", "destination"):
        try:
            return to_smpp(value).addr
        except AddressError:
            return value
    return value


def fast_routes(acceptor: Acceptor) -> dict[tuple[bytes, bytes], FastRoute]:
    """The two intake routes for the HTTP front, answered without FastAPI."""

    def route(handler: Callable[[bytes, Principal], Awaitable[tuple[int, bytes]]]) -> FastRoute:
        async def answer(request: Request) -> HttpResponse:
            headers = request.headers
            try:
                who = acceptor.keyring.caller(
                    request.state, headers.get(b"authorization", b""), headers.get(b"x-api-key", b""),
                    request.client[0], "messages:send",
                )  # fmt: skip
                status, body = await handler(request.body, who)
            except Problem as exc:
                rid = headers.get(b"x-request-id", b"").decode("ascii")  # the front's: safe
                if exc.status == 500:  # the bug itself was logged where it happened
                    log.error("request %s: answered 500 (%s)", rid, exc.detail)  # noqa: TRY400
                return exc.response(rid)
            return status, _JSON, body

        return answer

    async def batch(raw: bytes, who: Principal) -> tuple[int, bytes]:
        return acceptor.batch(raw, who)

    return {SINGLE: route(acceptor.single_grouped), BATCH: route(batch)}
