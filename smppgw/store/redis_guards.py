"""Guarded writes and the shared receipt deadline of the Redis store (issue 19): a base
class of ``RedisStore``.

Several gateways change one message in Redis, each from its own copy. Most changes are
safe as they are (a final status is never undone by a stale copy: ``redis_lua.COMMIT``),
but three must not happen at all once another gateway moved the message first:

- the receipt deadline's ``unknown`` for a message a receipt settled meanwhile;
- a cancel of a message another gateway is already sending (``submitting``);
- the first ``submitting`` of a released scheduled message canceled meanwhile.

``guard`` adds a check to the next group commit: the message's change (and its
events, and its receipt deadline) is applied only if the status in Redis is one of
``allowed``, checked and written in the same atomic step. A refused one is remembered
until ``refused`` is asked about it.

The receipt deadline across gateways. A message whose part is submitted with a receipt
asked for is in the sorted set ``P:rdl`` (score: the part's deadline, validity +
``receipt_grace`` after its submit, wall time; the latest part's), written with the
part's correlation (``put_deadline``: op ``d``); it leaves the set when it is saved final.
``claim_overdue`` (one script, ``CLAIM``) takes the due ones still not final and pushes
their score ``lease`` seconds on, so each is offered to one gateway at a time and
again to any gateway if that one dies before it settled it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from smppgw.store.base import MessageRecord

__all__ = ["CLAIM", "RedisGuards"]

# ARGV: prefix, now (wall), limit, lease until (wall) -> the ids of the messages past
# their receipt deadline and not final, each leased (score pushed on) to the caller. A
# final or missing one leaves the set.
CLAIM = r"""
local P, limit = ARGV[1], tonumber(ARGV[3])
local FINAL = {delivered=true, undeliverable=true, expired=true, rejected=true, failed=true,
  canceled=true, blocked=true, unknown=true}
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':rdl', '-inf', ARGV[2], 'LIMIT', 0, limit)) do
  local s = redis.call('HGET', P .. ':msg:{' .. id .. '}', 's')
  if not s or FINAL[s] then
    redis.call('ZREM', P .. ':rdl', id)
  else
    redis.call('ZADD', P .. ':rdl', ARGV[4], id)
    table.insert(out, id)
  end
end
return out
"""


class RedisGuards:
    clock_offset: float
    _ops: list[list[Any]]
    _refused: set[str]
    _stale: set[str]
    _live: dict[str, MessageRecord]
    _dirty: dict[str, MessageRecord]
    if TYPE_CHECKING:  # RedisStore's

        def _eval(self, script: str, *args: Any) -> Any: ...
        def _read(self, ids: Any) -> list[MessageRecord | None]: ...
        def get_many(self, ids: Any) -> list[MessageRecord | None]: ...

    def guard(self, message_id: str, allowed: Collection[str]) -> None:
        """The next commit writes this message's change only if its status in Redis is one
        of ``allowed`` (else ``refused`` says so)."""
        self._ops.append(["g", message_id, sorted(allowed)])

    def refused(self, message_id: str) -> bool:
        """Whether a guarded change of ``message_id`` was refused (asked once: forgotten)."""
        if message_id in self._refused:
            self._refused.discard(message_id)
            return True
        return False

    def _note_refused(self, ids: Any) -> None:
        for i in ids or ():
            text = i.decode() if isinstance(i, bytes) else str(i)
            if text.startswith("+"):  # Redis has final parts the copy written lacked
                self._stale.add(text[1:])
            else:
                self._refused.add(text)
        if len(self._refused) > 100_000:  # nobody asked about them: bounded memory
            self._refused.clear()

    def take_stale(self) -> list[MessageRecord]:
        """Messages of several parts whose copy written here lacked final receipts another
        gateway's copy applied (``redis_lua.COMMIT``): each with every part's final receipt
        from Redis (the copy held here, brought up to date), for the receipts' rollup."""
        if not self._stale:
            return []
        ids = list(self._stale)
        read = self._read(ids)  # (StoreError: they stay for the next call)
        self._stale.difference_update(ids)
        out = []
        for i, fresh in zip(ids, read, strict=True):
            held = self._dirty.get(i) or self._live.get(i)
            if held is not None and fresh is not None and len(held.parts) == len(fresh.parts):
                for n, part in enumerate(fresh.parts):
                    if part.receipt_final and not held.parts[n].receipt_final:
                        held.parts[n] = part
            record = held if held is not None else fresh
            if record is not None:
                out.append(record)
        return out

    def put_deadline(self, message_id: str, at: float) -> None:
        """``message_id`` waits for a receipt until ``at`` (trio clock) at least."""
        self._ops.append(["d", message_id, repr(float(at + self.clock_offset))])

    def claim_overdue(self, now: float, limit: int, lease: float) -> list[MessageRecord]:
        """Up to ``limit`` messages past their receipt deadline at ``now`` (trio clock),
        not final in Redis, each offered to no other gateway for ``lease`` seconds; the
        copy this process holds, else Redis's."""
        wall = now + self.clock_offset
        ids = [
            i.decode() if isinstance(i, bytes) else str(i)
            for i in self._eval(CLAIM, repr(wall), limit, repr(wall + lease)) or ()
        ]
        return [r for r in self.get_many(ids) if r is not None]
