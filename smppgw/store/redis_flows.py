"""The Redis store's half of ``FlowStore`` (``store.flows``): a base class of
``RedisStore`` (which provides ``_eval``, ``_run``, ``_k`` and the outbox's
``_events_now``).

Keys (``P`` the prefix; README "Scale out on Redis"):

- ``P:flow:{<name>}`` hash (``definition`` JSON, ``created_at``, ``updated_at``) and
  ``P:flows`` (set of names): the definitions put through the API.
- ``P:run:{<id>}``: a run's record as JSON (times as floats: JSON keeps every digit).
- ``P:runpair:{<number>}`` hash: sender -> the pair's active run (the hash tag is the
  number's, as its consent keys). ``P:runs:due`` sorted set: active runs by ``next_due``.

Atomicity as SQLite's: ``add_flow_run`` and ``save_flow_run`` are one Lua script each,
the run, its pair entry, its place in the due set and its events together; the add
checks the pair inside the script, so two starts at once (on two gateways) cannot both
win: the second gets ``ActiveRunExists`` naming the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from smppgw.store.base import StoreError
from smppgw.store.events import EventRecord
from smppgw.store.flows import ActiveRunExists, FlowDefinition, FlowRunRecord
from smppgw.store.redis_lua import PUT_EVENT

__all__ = ["RedisFlows"]

# ARGV: P, id, number, sender, active (0/1), next_due or "", run JSON, JSON event operations,
# new (1: add, 0: save) -> "" (written), or the id of the pair's active run (refused)
_WRITE_RUN = (
    PUT_EVENT
    + r"""
local P, id, number, sender, active, due = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1', ARGV[6]
local k = P .. ':run:{' .. id .. '}'
local pair = P .. ':runpair:{' .. number .. '}'
if ARGV[9] == '1' then
  if redis.call('EXISTS', k) == 1 then
    return redis.error_reply("UNIQUE constraint failed: flow run id '" .. id .. "'")
  end
  if active then
    local other = redis.call('HGET', pair, sender)
    if other then return other end
  end
elseif redis.call('EXISTS', k) == 0 then
  return ''  -- not stored: nothing to change (as an UPDATE of no row)
end
redis.call('SET', k, ARGV[7])
if active then
  redis.call('HSET', pair, sender, id)
  if due ~= '' then redis.call('ZADD', P .. ':runs:due', due, id)
  else redis.call('ZREM', P .. ':runs:due', id) end
else
  if redis.call('HGET', pair, sender) == id then redis.call('HDEL', pair, sender) end
  redis.call('ZREM', P .. ':runs:due', id)
end
for _, op in ipairs(cjson.decode(ARGV[8])) do put_event(P, op) end
return ''
"""
)


def _run_json(r: FlowRunRecord) -> bytes:
    return orjson.dumps({
        "id": r.id, "flow": r.flow, "number": r.number, "sender": r.sender, "status": r.status, "state": r.state,
        "created_at": r.created_at, "updated_at": r.updated_at, "next_due": r.next_due, "tenant": r.tenant,
        "transcript": r.transcript, "events": r.events, "source": r.source,
    })  # fmt: skip


def _run_record(raw: bytes) -> FlowRunRecord:
    return FlowRunRecord(**orjson.loads(raw))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisFlows:
    if TYPE_CHECKING:  # RedisStore's and RedisEvents'

        def _eval(self, script: str, *args: Any) -> Any: ...
        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...
        def _events_now(self, events: Sequence[EventRecord]) -> list[list[Any]]: ...

    # -- definitions -----------------------------------------------------------------------------

    def put_flow(self, definition: FlowDefinition) -> None:
        d = definition
        key, names = self._k(f"flow:{{{d.name}}}"), self._k("flows")

        def run(client: Redis) -> Any:
            pipe = client.pipeline(transaction=True)  # MULTI/EXEC: all or none
            pipe.hsetnx(key, "created_at", repr(float(d.created_at)))  # a replaced flow keeps its own
            pipe.hset(
                key,
                mapping={"definition": orjson.dumps(d.definition), "updated_at": repr(float(d.updated_at))},
            )
            pipe.sadd(names, d.name)
            return pipe.execute()

        self._run(run)

    def _definition(self, name: str, found: dict[bytes, bytes]) -> FlowDefinition:
        return FlowDefinition(
            name=name, definition=orjson.loads(found[b"definition"]), created_at=float(found[b"created_at"]),
            updated_at=float(found[b"updated_at"]),
        )  # fmt: skip

    def get_flow(self, name: str) -> FlowDefinition | None:
        key = self._k(f"flow:{{{name}}}")

        def run(client: Redis) -> Any:
            return client.hgetall(key)

        found = self._run(run)
        return self._definition(name, found) if found else None

    def delete_flow(self, name: str) -> bool:
        key, names = self._k(f"flow:{{{name}}}"), self._k("flows")

        def run(client: Redis) -> Any:
            pipe = client.pipeline(transaction=True)
            pipe.delete(key)
            pipe.srem(names, name)
            return pipe.execute()

        return bool(self._run(run)[0])

    def flow_definitions(self) -> list[FlowDefinition]:
        names_key = self._k("flows")
        flow = self._k("flow:")

        def run(client: Redis) -> Any:
            names = sorted(_s(n) for n in client.smembers(names_key))  # type: ignore[union-attr]
            pipe = client.pipeline(transaction=False)
            for n in names:
                pipe.hgetall(f"{flow}{{{n}}}")
            return list(zip(names, pipe.execute(), strict=True))

        return [self._definition(n, found) for n, found in self._run(run) if found]

    # -- runs ------------------------------------------------------------------------------------

    def _write_run(self, r: FlowRunRecord, events: Sequence[EventRecord], *, new: bool) -> str:
        due = "" if r.next_due is None else repr(float(r.next_due))
        ops = orjson.dumps(self._events_now(events))
        answer = self._eval(
            _WRITE_RUN, r.id, r.number, r.sender, int(r.active), due, _run_json(r), ops, int(new)
        )
        return _s(answer or "")

    def add_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        other = self._write_run(record, events, new=True)
        if other:
            raise ActiveRunExists(other)

    def save_flow_run(self, record: FlowRunRecord, events: Sequence[EventRecord] = ()) -> None:
        if self._write_run(record, events, new=False):  # pragma: no cover (a save never refuses)
            raise StoreError(f"store: flow run {record.id} not saved")

    def get_flow_run(self, run_id: str) -> FlowRunRecord | None:
        key = self._k(f"run:{{{run_id}}}")

        def run(client: Redis) -> Any:
            return client.get(key)

        found = self._run(run)
        return None if found is None else _run_record(found)

    def active_flow_run(self, number: str, sender: str) -> FlowRunRecord | None:
        pair, runs = self._k(f"runpair:{{{number}}}"), self._k("run:")

        def run(client: Redis) -> Any:
            found = client.hget(pair, sender)
            return None if found is None else client.get(f"{runs}{{{_s(found)}}}")  # type: ignore[arg-type]

        found = self._run(run)
        return None if found is None else _run_record(found)

    def due_flow_runs(self, before: float, limit: int = 100) -> list[FlowRunRecord]:
        due, runs = self._k("runs:due"), self._k("run:")

        def run(client: Redis) -> Any:
            found = client.zrangebyscore(due, "-inf", repr(float(before)), start=0, num=limit)
            ids: list[bytes] = list(found)  # type: ignore[arg-type]
            return [] if not ids else client.mget([f"{runs}{{{_s(i)}}}" for i in ids])

        records = [_run_record(raw) for raw in self._run(run) if raw is not None]
        return [r for r in records if r.active]

    def next_flow_due(self) -> float | None:
        due = self._k("runs:due")

        def run(client: Redis) -> Any:
            return client.zrange(due, 0, 0, withscores=True)

        found = list(self._run(run))
        return None if not found else float(found[0][1])
