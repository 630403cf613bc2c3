"""The Redis store's halves of ``ConsentStore``, ``ConversationStore`` and ``KeyStore``:
base classes of ``RedisStore`` (which provides ``_apply``, ``_eval``, ``_run``, ``_k``,
``_next`` and the outbox's ``_events_now``).

Consent: the history is append-only in Redis (``P:consent:{<number>}`` and ``P:consent``
by seq); the index every send asks (``NumberConsent``) is in memory, read whole at
open and brought up to date from the log at least once a second (``_consent_refresh``,
called by ``flush``) and before each write, so a STOP taken by another gateway holds
here within a second. Conversations: JSON records, written with their messages (staged
by ``open_conversations``) or at once with their event. Keys: two hashes (by id, by hash).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import orjson
from redis import Redis

from smppgw.store.consent import OptOutView, consent_changed
from smppgw.store.conversations import ConversationRecord
from smppgw.store.events import EventRecord
from smppgw.store.keys import ApiKeyRecord
from smppgw.twoway.consent import ConsentEvent, NumberConsent, Scope

__all__ = ["RedisConsent", "RedisConversations", "RedisKeys"]

_REFRESH = 1.0  # seconds between reads of other gateways' consent events


class _Base:
    if TYPE_CHECKING:  # RedisStore's

        def _apply(self, ops: list[list[Any]]) -> None: ...
        def _eval(self, script: str, *args: Any) -> Any: ...
        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...
        def _next(self, counter: str, n: int = 1) -> int: ...
        def _events_now(self, events: Sequence[EventRecord]) -> list[list[Any]]: ...


def _consent_json(e: ConsentEvent) -> str:
    return orjson.dumps({**e.to_dict(), "at": e.at, "target": e.scope.name}).decode()


def _consent_event(raw: bytes | str) -> ConsentEvent:
    d = orjson.loads(raw)
    return ConsentEvent(
        seq=d["seq"], number=d["number"], scope=Scope(kind=d["scope"], name=d["target"]), state=d["state"],
        source=d["source"], at=d["at"], reason=d["reason"], keyword=d["keyword"],
        inbound_seq=d["inbound_seq"], text=d["text"],
    )  # fmt: skip


class RedisConsent(_Base, OptOutView):
    def _consent_init(self) -> None:
        self._consent: dict[str, NumberConsent] = {}
        self._consent_seen = 0  # the highest seq in the index
        self._consent_read_at = 0.0
        self._consent_refresh()

    def _consent_refresh(self, *, now: bool = True) -> None:
        """Add the events written since the last read (by any gateway) to the index."""
        if not now and time.monotonic() - self._consent_read_at < _REFRESH:
            return
        key, after = self._k("consent"), self._consent_seen

        def run(client: Redis) -> Any:
            return list(client.zrange(key, f"({after}", "+inf", byscore=True))

        for raw in self._run(run):
            e = _consent_event(raw)
            if e.seq > self._consent_seen:
                self._consent.setdefault(e.number, NumberConsent()).add(e)
                self._consent_seen = e.seq
        self._consent_read_at = time.monotonic()

    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        if not events:
            return []
        self._consent_refresh()
        last = self._next("consent:seq", len(events))
        written = [attrs.evolve(e, seq=last - len(events) + i + 1) for i, e in enumerate(events)]
        counts: dict[str, int] = {}
        changed = []
        for e in written:
            index = self._consent.get(e.number)
            counts[e.number] = counts.get(e.number, index.count if index else 0) + 1
            changed.append(consent_changed(e, counts[e.number]))
        ops: list[list[Any]] = [["k", e.number, e.seq, _consent_json(e)] for e in written]
        self._apply(ops + self._events_now(changed))
        self._consent_refresh()  # the index follows (these and any other gateway's)
        return written

    def consent(self, number: str) -> NumberConsent | None:
        return self._consent.get(number)

    def consent_history(self, number: str, *, limit: int = 1000) -> list[ConsentEvent]:
        key = self._k(f"consent:{{{number}}}")

        def run(client: Redis) -> Any:
            return list(client.lrange(key, -limit, -1))

        return [_consent_event(raw) for raw in self._run(run)]

    def consent_events(self, *, after: int = 0, limit: int = 1000) -> list[ConsentEvent]:
        key = self._k("consent")

        def run(client: Redis) -> Any:
            return list(client.zrange(key, f"({after}", "+inf", byscore=True, offset=0, num=limit))

        return [_consent_event(raw) for raw in self._run(run)]


# -- conversations ------------------------------------------------------------------------------


class RedisConversations(_Base):
    clock_offset: float

    def _conversations_init(self) -> None:
        self._opened: list[ConversationRecord] = []

    def _conv_json(self, r: ConversationRecord) -> str:
        """Times on the wall clock (a restarted process has another trio clock)."""
        off = self.clock_offset
        d = attrs.asdict(r)
        d["opened_at"] += off
        d["deadline"] += off
        d["closed_at"] = None if r.closed_at is None else r.closed_at + off
        d["replies"] = [{**x, "at": x["at"] + off} for x in r.replies]
        return orjson.dumps(d).decode()

    def _conv_record(self, raw: bytes) -> ConversationRecord:
        off = self.clock_offset
        d = orjson.loads(raw)
        d["opened_at"] -= off
        d["deadline"] -= off
        d["closed_at"] = None if d["closed_at"] is None else d["closed_at"] - off
        d["replies"] = [{**x, "at": x["at"] - off} for x in d["replies"]]
        return ConversationRecord(**d)

    def _conv_op(self, r: ConversationRecord, *, new: bool) -> list[Any]:
        opened = repr(r.opened_at + self.clock_offset)
        return ["v", r.id, r.message_id, self._conv_json(r), int(r.is_open), opened, int(new)]

    def open_conversations(self, records: Sequence[ConversationRecord]) -> None:
        self._opened.extend(records)

    def _take_opened(self) -> list[ConversationRecord]:
        opened, self._opened = self._opened, []
        return opened

    def _opened_ops(self, opened: Sequence[ConversationRecord]) -> list[list[Any]]:
        return [self._conv_op(r, new=True) for r in opened]

    def save_conversation(self, record: ConversationRecord, event: EventRecord | None = None) -> None:
        self._apply([self._conv_op(record, new=False), *self._events_now([] if event is None else [event])])

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        key = self._k(f"conv:{{{conversation_id}}}")

        def run(client: Redis) -> Any:
            return client.get(key)

        found = self._run(run)
        return None if found is None else self._conv_record(found)

    def conversation_of(self, message_id: str) -> ConversationRecord | None:
        key = self._k(f"convmsg:{{{message_id}}}")

        def run(client: Redis) -> Any:
            return client.get(key)

        found = self._run(run)
        return None if found is None else self.get_conversation(found.decode())

    def open_conversation_records(self) -> list[ConversationRecord]:
        key = self._k("conv:open")
        conv = self._k("conv:")

        def run(client: Redis) -> Any:
            ids: list[bytes] = list(client.zrange(key, 0, -1))  # type: ignore[arg-type]
            if not ids:
                return []
            found = client.mget([f"{conv}{{{i.decode()}}}" for i in ids])
            return [raw for raw in found if raw is not None]

        return [self._conv_record(raw) for raw in self._run(run)]


# -- API keys -----------------------------------------------------------------------------------

_ADD_KEY = """
local P = ARGV[1]
if redis.call('HEXISTS', P .. ':apikeys', ARGV[2]) == 1 or redis.call('HEXISTS', P .. ':apikeyhash', ARGV[3]) == 1 then
  return 0
end
redis.call('HSET', P .. ':apikeys', ARGV[2], ARGV[4])
redis.call('HSET', P .. ':apikeyhash', ARGV[3], ARGV[2])
redis.call('RPUSH', P .. ':apikeyorder', ARGV[2])
return 1
"""


class RedisKeys(_Base):
    def add_key(self, key: ApiKeyRecord) -> None:
        from smppgw.store.base import StoreError

        if not self._eval(_ADD_KEY, key.id, key.hash, orjson.dumps(attrs.asdict(key))):
            raise StoreError(f"store: key {key.id!r} exists")

    def _all_keys(self) -> list[ApiKeyRecord]:
        keys, order = self._k("apikeys"), self._k("apikeyorder")

        def run(client: Redis) -> Any:
            ids = list(client.lrange(order, 0, -1))
            if not ids:
                return []
            return [raw for raw in client.hmget(keys, ids) if raw is not None]

        out = []
        for raw in self._run(run):
            d = orjson.loads(raw)
            d["scopes"] = tuple(d["scopes"])
            out.append(ApiKeyRecord(**d))
        return out

    def _put_keys(self, records: Sequence[ApiKeyRecord]) -> None:
        keys = self._k("apikeys")
        mapping = {r.id: orjson.dumps(attrs.asdict(r)) for r in records}

        def run(client: Redis) -> Any:
            if mapping:
                client.hset(keys, mapping=mapping)  # type: ignore[arg-type]

        self._run(run)

    def api_keys(self, *, revoked: bool = False) -> list[ApiKeyRecord]:
        return [k for k in self._all_keys() if revoked or k.revoked_at is None]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        found = [k for k in self._all_keys() if k.id == key_id and k.revoked_at is None]
        if not found:
            return False
        self._put_keys([attrs.evolve(found[0], revoked_at=now)])
        return True

    def touch_keys(self, used: Mapping[str, float]) -> None:
        self._put_keys([attrs.evolve(k, last_used_at=used[k.id]) for k in self._all_keys() if k.id in used])
