"""The Redis store's event outbox (``store.events.EventStore``), a base class of ``RedisStore``.

Events appended with a status change are staged and written by the store's commit in
the same step as the change (``redis_lua.COMMIT``: an id already there is ignored, the
seq comes from one counter, so it is unique across gateways); an inbound event is
written with its inbound message. Deliveries wait per endpoint in two sorted sets:
first attempts by seq, retries by due time (``redis_lua.DUE`` hands them out, retries
first). What was handed out and not recorded is kept in this process only, as in the
other stores: a restart makes every pending delivery due again (at least once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from smppgw.store.events import Attempt, Delivery, EventRecord, EventRouter, inbound_event
from smppgw.store.redis_lua import ATTEMPTS, DELIVERIES, DUE, EVENTS, PRUNE, RETRY_DEAD

__all__ = ["RedisEvents"]

_INTS = ("seq", "attempts", "last_status")
_FLOATS = ("next_attempt_at", "first_attempt_at", "updated_at")
_FIELDS = ("seq", "event_id", "type", "subject", "endpoint", "url", "state", "attempts", *_FLOATS[:2],
           "last_status", "last_error", "updated_at")  # fmt: skip


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A Redis hash as Lua returns it (a flat list), decoded."""
    return {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _delivery(fields: dict[str, str], body: str = "") -> Delivery:
    out: dict[str, Any] = {name: fields.get(name) for name in _FIELDS}
    for name in _INTS:
        out[name] = None if out[name] is None else int(out[name])
    for name in _FLOATS:
        out[name] = None if out[name] is None else float(out[name])
    return Delivery(**out, body=body)


def _json(answer: Any) -> Any:
    return orjson.loads(answer if isinstance(answer, (bytes, str)) else b"[]")


class RedisEvents:
    """The outbox half of ``RedisStore`` (which provides ``_eval``, ``_apply`` and ``flush``)."""

    if TYPE_CHECKING:  # RedisStore's

        def _eval(self, script: str, *args: Any) -> Any: ...
        def _hget(self, name: str, field: str) -> str | None: ...
        def flush(self) -> int: ...

    def _events_init(self) -> None:
        self._router: EventRouter | None = None
        self._staged_events: list[list[Any]] = []  # COMMIT operations
        self._staged_ids: set[str] = set()
        self._taken: set[str] = set()  # "seq TAB endpoint" handed out, not recorded yet
        self._fresh_after: dict[str, int] = {}  # per endpoint, the last first attempt handed out

    def route_events(self, router: EventRouter) -> None:
        self._router = router

    def _event_op(self, event: EventRecord, targets: Sequence[Any]) -> list[Any]:
        return [
            "e", event.id, event.type, event.subject, event.sequence, repr(float(event.occurred_at)),
            event.body(), [[t.endpoint, t.url] for t in targets],
        ]  # fmt: skip

    def append_event(self, event: EventRecord) -> None:
        if self._router is None or event.id in self._staged_ids:
            return
        self._staged_ids.add(event.id)
        self._staged_events.append(self._event_op(event, self._router(event.type, event.callback_url)))

    def _take_events(self) -> list[list[Any]]:
        staged, self._staged_events = self._staged_events, []
        self._staged_ids = set()
        return staged

    def _events_now(self, events: Sequence[EventRecord]) -> list[list[Any]]:
        """The operations of events written at once (with an inbound message, a consent
        event, a conversation's change); none without a router."""
        router = self._router
        return [] if router is None else [self._event_op(e, router(e.type, None)) for e in events]

    def _inbound_event_ops(self, record: Any) -> list[list[Any]]:
        return self._events_now([inbound_event(record)])

    def events(self, *, after: int = 0, types: Sequence[str] = (), limit: int = 100) -> list[EventRecord]:
        self.flush()
        out = []
        for flat in _json(self._eval(EVENTS, after, limit, orjson.dumps(list(types)))):
            e = _pairs(flat)
            out.append(EventRecord(
                seq=int(e["seq"]), id=e["id"], type=e["type"], subject=e["subject"],
                sequence=int(e["sequence"]), occurred_at=float(e["occurred_at"]),
                data=orjson.loads(e["body"])["data"],
            ))  # fmt: skip
        return out

    def due_deliveries(self, now: float, *, limit: int, skip: Sequence[str] = ()) -> list[Delivery]:
        found = _json(self._eval(
            DUE, repr(float(now)), limit, orjson.dumps(list(skip)), orjson.dumps(sorted(self._taken)),
            orjson.dumps(self._fresh_after),
        ))  # fmt: skip
        out = []
        for flat, body in found:
            d = _delivery(_pairs(flat), _s(body))
            self._taken.add(f"{d.seq}\t{d.endpoint}")
            if d.attempts == 0:
                self._fresh_after[d.endpoint] = max(self._fresh_after.get(d.endpoint, 0), d.seq)
            out.append(d)
        return out

    def release_deliveries(self) -> None:
        self._taken.clear()
        self._fresh_after.clear()

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        rows = [
            [a.seq, a.endpoint, a.state, repr(float(a.at)), repr(float(a.next_attempt_at)),
             "" if a.status is None else str(a.status), a.error or ""]
            for a in attempts
        ]  # fmt: skip
        self._eval(ATTEMPTS, orjson.dumps(rows))
        self._taken.difference_update(f"{a.seq}\t{a.endpoint}" for a in attempts)

    def deliveries(
        self, *, subject: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        found = _json(self._eval(DELIVERIES, subject or "", state or "", limit))
        return [_delivery(_pairs(flat)) for flat in found]

    def retry_dead(self, event_id: str | None, now: float) -> int:
        seq = ""
        if event_id is not None:
            found = self._hget("eventids", event_id)
            if found is None:
                return 0
            seq = found
        return int(self._eval(RETRY_DEAD, seq, repr(float(now))))

    def backlog(self) -> dict[str, int]:
        return {
            _s(k): int(v)
            for k, v in _json(self._eval(
                "local P = ARGV[1]\nlocal out = {}\n"
                "for _, ep in ipairs(redis.call('SMEMBERS', P .. ':endpoints')) do\n"
                "  local n = redis.call('ZCARD', P .. ':fresh:' .. ep) + redis.call('ZCARD', P .. ':retry:' .. ep)\n"
                "  if n > 0 then table.insert(out, {ep, n}) end\nend\n"
                "if #out == 0 then return '[]' end\nreturn cjson.encode(out)"
            ))
        }  # fmt: skip

    def prune_events(self, before: float, limit: int = 10_000) -> int:
        return int(self._eval(PRUNE, repr(float(before)), limit))
