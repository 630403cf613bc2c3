"""The shared work queue's Redis half: the stream ``{prefix}:work`` and its consumer group
(issue 19; the gateway half, what is taken and when it is settled, is
``gateway/workqueue.py``).

Each entry has one field, ``id``: a message the store XADDed with its record (the Redis
store's commit script, ``store/redis_lua.py``, operation ``w``), so an accepted message
is on the queue exactly when it is stored. Every gateway is one consumer of the group
``smppgw`` (its name: host, process id and a random tag, new at each start):

- ``read``: new entries (XREADGROUP ``>``, COUNT as the queue has room, BLOCK);
- ``claim``: entries idle ``claim_idle`` seconds, of any consumer (XAUTOCLAIM, walking
  the pending list with its cursor): those of a gateway that died. Not while Redis has been
  up less than ``claim_idle`` (INFO ``uptime_in_seconds``, where the server answers it): a
  pending entry's idle time counts the time Redis was down, when no live gateway could
  renew what it holds;
- ``keep``: what this gateway holds marked fresh (XCLAIM to itself, JUSTID), so no other
  takes it while this one lives; one script (``KEEP``) renews only the entries still
  pending to this consumer and answers the others: those another gateway claimed (and
  perhaps settled already) while this one could not renew them (Redis away or restarted
  longer than ``claim_idle``), which this one must then no longer send;
- ``ack``: XACK and XDEL in one round trip, so the stream holds only unsettled work;
- ``release``: scheduled messages whose time came moved from the sorted set
  ``{prefix}:sched`` (score: ``send_at``, wall time; ZADDed by the store's commit with the
  record, operation ``s``) to the stream, in one script (``RELEASE``): each is released by
  exactly one gateway, whichever runs it first, and taken by any. A message no longer
  ``scheduled`` when its time comes (canceled meanwhile, from any gateway) is dropped;
- ``prune``: consumers with no pending entry idle ``consumer_idle`` seconds (a gateway
  that stopped, its entries claimed by the others) leave the group, in one script
  (``PRUNE``: XINFO CONSUMERS, XGROUP DELCONSUMER), so the group does not grow with every
  start. One with pending entries is never removed (DELCONSUMER would drop them from
  the group's pending list: lost); XAUTOCLAIM takes them first. A live consumer removed
  (idle that long, nothing pending) loses nothing: its next XREADGROUP makes it again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any

import trio
from coredis.exceptions import StreamDuplicateConsumerGroupError

from smppgw.cluster.client import Client

__all__ = ["GROUP", "PRUNE", "RedisWork", "prune_consumers"]

GROUP = "smppgw"
# KEYS: the sorted set, the stream; ARGV: now (wall), at most, the message key prefix ->
# how many were XADDed. A message whose record is not ``scheduled`` (canceled, gone) is
# dropped from the set without an entry.
RELEASE = r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HGET', ARGV[3] .. '{' .. id .. '}', 's') == 'scheduled' then
    redis.call('XADD', KEYS[2], '*', 'id', id)
    n = n + 1
  end
end
return n
"""
# KEYS: the stream; ARGV: the group, idle (ms), this consumer -> the names removed. Read
# and removed in one atomic step: no entry can be delivered to one in between.
PRUNE = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return {} end
local out = {}
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) and f['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    table.insert(out, f['name'])
  end
end
return out
"""
# KEYS: the stream; ARGV: the group, this consumer, the message key prefix, then pairs of
# entry id and message id ("" if none) -> the entry ids this consumer lost: pending to
# another (claimed from it), or to no one while their message is stored (claimed and
# settled: XACK and XDEL). Checked and renewed (XCLAIM) in one step, so no XAUTOCLAIM falls
# in between. An entry pending to no one whose message Redis lacks (data lost: persistence
# weaker than the README's) stays this consumer's: its copy may be the only one left.
# (The message keys share the stream's slot on a cluster: the prefix's hash tag.)
KEEP = r"""
local lost = {}
local there = redis.call('EXISTS', KEYS[1]) == 1
for i = 4, #ARGV, 2 do
  local id, mid = ARGV[i], ARGV[i + 1]
  local p = {}
  if there then p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1) end
  if p[1] then
    if p[1][2] == ARGV[2] then redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
    else table.insert(lost, id) end
  elseif mid ~= '' and redis.call('EXISTS', ARGV[3] .. '{' .. mid .. '}') == 1 then
    table.insert(lost, id)
  end
end
return lost
"""
_TIMEOUT = 10.0  # seconds a round trip may take before Redis counts as away


async def prune_consumers(client: Client, key: str, group: str, idle: float, me: str) -> list[str]:
    """Remove the consumers of ``group`` on ``key`` with no pending entry, idle over
    ``idle`` seconds (never ``me``); returns their names."""
    with trio.fail_after(_TIMEOUT):
        gone: Any = await client.eval(PRUNE, [key], [group, int(idle * 1000), me])
    return [g.decode() if isinstance(g, bytes) else str(g) for g in gone or ()]


class RedisWork:
    """The work stream of ``prefix`` through ``client`` (entered by the caller)."""

    def __init__(
        self,
        client: Client,
        prefix: str,
        *,
        claim_idle: float = 30.0,
        consumer: str | None = None,
        consumer_idle: float = 3600.0,
    ) -> None:
        self.client = client
        self.key = f"{prefix}:work"
        self.claim_idle = claim_idle
        self.consumer_idle = consumer_idle
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._cursor = "0-0"
        self.sched_key = f"{prefix}:sched"
        self._msg = f"{prefix}:msg:"
        self._release = client.register_script(RELEASE)
        self._keep = client.register_script(KEEP)

    async def start(self) -> None:
        """The group, made if missing (from the stream's start: entries XADDed before it count)."""
        with trio.fail_after(_TIMEOUT), contextlib.suppress(StreamDuplicateConsumerGroupError):
            await self.client.xgroup_create(self.key, GROUP, identifier="0", mkstream=True)

    async def read(self, count: int, block: float) -> list[tuple[str, str]]:
        with trio.fail_after(_TIMEOUT + block):
            got = await self.client.xreadgroup(
                GROUP, self.consumer, {self.key: ">"}, count=count, block=int(block * 1000)
            )
        return _pairs((got or {}).get(self.key.encode(), ()))

    async def claim(self, count: int) -> list[tuple[str, str]]:
        """Up to ``count`` entries idle ``claim_idle`` seconds; [] once the pending list was
        walked (the next call starts it again)."""
        if self._cursor == "done":
            self._cursor = "0-0"
            return []
        with trio.fail_after(_TIMEOUT):
            info: Any = await self.client.info("server")  # (a cluster's answer has none: no wait)
            up = info.get("uptime_in_seconds", self.claim_idle) if isinstance(info, dict) else self.claim_idle
            if int(up) < self.claim_idle:  # restarted: an entry's idle time counts its downtime
                return []
            found = await self.client.xautoclaim(
                self.key, GROUP, self.consumer, int(self.claim_idle * 1000), self._cursor, count=count
            )
        cursor = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
        self._cursor = "done" if cursor == "0-0" else cursor
        return _pairs(found[1])

    async def keep(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        """Renew the (entry id, message id or "") still pending to this consumer; returns
        the entry ids another gateway took (``KEEP``)."""
        if not entries:
            return []
        with trio.fail_after(_TIMEOUT):
            args = [GROUP, self.consumer, self._msg, *(x for pair in entries for x in pair)]
            lost: Any = await self._keep([self.key], args)
        return [e.decode() if isinstance(e, bytes) else str(e) for e in lost or ()]

    async def ack(self, entries: Sequence[str]) -> None:
        if entries:
            with trio.fail_after(_TIMEOUT):
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.xack(self.key, GROUP, list(entries))
                    pipe.xdel(self.key, list(entries))

    async def prune(self) -> list[str]:
        """Dead consumers out of the group (``PRUNE``); returns their names."""
        return await prune_consumers(self.client, self.key, GROUP, self.consumer_idle, self.consumer)

    async def release(self, count: int) -> int:
        """Move up to ``count`` scheduled messages whose ``send_at`` passed onto the stream."""
        with trio.fail_after(_TIMEOUT):
            moved: Any = await self._release(
                [self.sched_key, self.key], [repr(time.time()), count, self._msg]
            )
        return int(moved)


def _pairs(entries: Any) -> list[tuple[str, str]]:
    out = []
    for entry in entries:
        if entry is None:  # deleted meanwhile (XAUTOCLAIM says so): nothing to take
            continue
        fields = entry.field_values
        message_id = fields.get(b"id") or fields.get("id")
        if message_id is not None:
            ident = entry.identifier
            out.append((ident.decode() if isinstance(ident, bytes) else ident, message_id.decode()))
    return out
