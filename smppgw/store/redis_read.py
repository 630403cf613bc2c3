"""The Redis store's message reads (a base class of ``RedisStore``): the copy this
process holds, else Redis's, with its history and, for a message of several parts, the
final receipts any gateway's copy applied (``P:msg:{<id>}:pr``, ``redis_lua.COMMIT``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from smppgw.store.base import MessageRecord
from smppgw.store.sqlite_records import clock_history, message_record, part_record

__all__ = ["RedisReads"]


class RedisReads:
    clock_offset: float
    _dirty: dict[str, MessageRecord]
    _live: dict[str, MessageRecord]
    if TYPE_CHECKING:  # RedisStore's

        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...

    def get(self, message_id: str) -> MessageRecord | None:
        found = self._dirty.get(message_id) or self._live.get(message_id)
        if found is not None:
            return found
        return self._read([message_id])[0]

    def get_many(self, ids: Sequence[str]) -> list[MessageRecord | None]:
        """``get`` of each, the ones not held here in one round trip."""
        held = [self._dirty.get(i) or self._live.get(i) for i in ids]
        missing = [i for i, r in zip(ids, held, strict=True) if r is None]
        read = iter(self._read(missing)) if missing else iter(())
        return [r if r is not None else next(read) for r in held]

    def _read(self, ids: Sequence[str]) -> list[MessageRecord | None]:
        """Records with their history, from Redis (one round trip)."""
        keys = [self._k(f"msg:{{{i}}}") for i in ids]

        def run(client: Redis) -> Any:
            pipe = client.pipeline(transaction=False)
            for k in keys:
                pipe.hget(k, "r")
                pipe.lrange(k + ":h", 0, -1)
                pipe.hgetall(k + ":pr")
            got = pipe.execute()
            return list(zip(got[0::3], got[1::3], got[2::3], strict=True))

        out: list[MessageRecord | None] = []
        for row, history, finals in self._run(run):
            if row is None:
                out.append(None)
                continue
            record = message_record((0, *orjson.loads(row)), self.clock_offset)
            for index, text in finals.items():  # final receipts another gateway's copy applied
                if 1 <= (i := int(index)) <= len(record.parts) and not record.parts[i - 1].receipt_final:
                    record.parts[i - 1] = part_record(text, self.clock_offset)
            record.history += clock_history(map(orjson.loads, history), self.clock_offset)
            record.history_saved = len(record.history)
            out.append(record)
        return out
