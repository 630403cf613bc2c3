"""Bind-slot leases in Redis: N gateways together never hold more binds to an SMSC
account than configured (issue 19, item 4).

Theory of operation
-------------------
An account configured with ``binds`` (x2 for ``tx+rx``) has that many slots; a bind is
made only while its slot is leased: ``<prefix>:{bind:<smsc>}:<slot>`` holds the owner's
id (``SET NX PX`` inside the take script), renewed by its owner every ``ttl / 3``,
released (deleted, if still ours) once the connection is closed. A gateway that dies
stops renewing: its slots expire after ``ttl`` and the others take them.

A lease counts as ours only until ``ttl`` after the start of its last renewal that
succeeded (measured on our own clock, before the call went out). When renewals fail
(Redis away, or a partition) and that time is near (``margin``), the lease is given up
and its bind closed: another gateway may take the slot after the TTL, so we must be
unbound by then (fail closed). Binds come back when Redis answers again.

Fair shares: the live gateways of an account are a sorted set (owner -> expiry,
refreshed with the renewals). A gateway takes a free slot only while it holds no more
than the live gateway holding fewest; one holding two more than that gives one back (its
bind unbinds; ``on_lost``), so 4 slots over 3 gateways settle at 2, 1, 1 whatever the
order they started in.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import attrs
import coredis
import coredis.exceptions
import trio

from smppgw.cluster.client import Client
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["Lease", "RedisLeases"]

log = logging.getLogger(__name__)

# (anyio's: coredis's connection closed under a call, as at shutdown)
_REDIS_ERRORS = (
    coredis.exceptions.RedisError, OSError, trio.TooSlowError, anyio.ClosedResourceError, anyio.BrokenResourceError,
)  # fmt: skip

# KEYS[1]: the account's live gateways (zset), KEYS[2..]: its slots. ARGV: owner,
# ttl_ms, then the 1-based slots this call may take, in order. Returns the slot taken
# (0-based) or -1 (none free, or this owner holds more than the poorest live owner).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner, ttl = ARGV[1], tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, owner)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local held = {}
for _, o in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do held[o] = 0 end
for i = 2, #KEYS do
  local o = redis.call('GET', KEYS[i])
  if o and held[o] then held[o] = held[o] + 1 end
end
local fewest = held[owner]
for _, n in pairs(held) do if n < fewest then fewest = n end end
if held[owner] > fewest then return -1 end
for j = 3, #ARGV do
  local i = tonumber(ARGV[j])
  if redis.call('SET', KEYS[i + 1], owner, 'NX', 'PX', ttl) then return i - 1 end
end
return -1
"""

# KEYS[1]: live gateways, KEYS[2..]: the slots this owner holds (``ARGV[3..]``: their
# numbers, for the count over every slot: KEYS after those are the other slots).
# ARGV: owner, ttl_ms, how many of KEYS[2..] are ours. Renews ours that still are;
# returns {1/0 per held slot, surplus: how many this owner holds beyond fewest + 1}.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner, ttl, mine = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, owner)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local held = {}
for _, o in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do held[o] = 0 end
local out = {}
for i = 2, #KEYS do
  local o = redis.call('GET', KEYS[i])
  if i <= mine + 1 then
    if o == owner then redis.call('PEXPIRE', KEYS[i], ttl); out[i - 1] = 1 else out[i - 1] = 0 end
  end
  if o and held[o] then held[o] = held[o] + 1 end
end
local fewest = held[owner]
for _, n in pairs(held) do if n < fewest then fewest = n end end
out[mine + 1] = math.max(0, held[owner] - fewest - 1)
return out
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@attrs.define(eq=False)
class Lease:
    """One held slot (``gateway.shared.Lease``). ``on_lost`` is set by its holder (the
    bind pool: close the bind); ``lost`` once it is no longer ours."""

    account: str
    slot: int
    deadline: float  # trio clock: ours until then unless renewed
    on_lost: Callable[[str], Any] | None = None
    lost: bool = False


class RedisLeases:
    """The lease keeper (``gateway.shared.LeaseKeeper``); ``run`` renews (a task).

    ``client``: a coredis client entered by the caller; ``owner``: this gateway's id (a
    random one by default); ``ttl``: seconds a lease outlives its owner's last renewal."""

    def __init__(
        self,
        client: Client,
        prefix: str,
        *,
        owner: str | None = None,
        ttl: float = 15.0,
        timeout: float = 2.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.owner = owner or uuid.uuid4().hex
        self.ttl = ttl
        self.margin = min(1.0, ttl / 10)
        self.timeout = min(timeout, ttl / 4)
        self.held: list[Lease] = []
        self._slots: dict[str, int] = {}  # account -> how many slots it has
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._ratelog = RateLimitedLog(log)
        self._wake = trio.Event()

    def _key(self, account: str, slot: int | str) -> str:
        return f"{self.prefix}:{{bind:{account}}}:{slot}"

    async def acquire(self, account: str, slots: int, wanted: Sequence[int]) -> Lease | None:
        """Lease one of ``wanted`` (slot numbers of ``slots``, tried in order): the lease,
        or None when none is free, this gateway holds its share, or Redis is away."""
        self._slots[account] = slots
        keys = [self._key(account, "live"), *(self._key(account, i) for i in range(slots))]
        started = trio.current_time()
        try:
            with trio.fail_after(self.timeout):
                taken: Any = await self._take(
                    keys, [self.owner, round(self.ttl * 1000), *(i + 1 for i in wanted)]
                )
        except _REDIS_ERRORS as exc:
            self._ratelog.emit("redis", "bind leases: Redis unreachable: %s; no new binds", exc)
            return None
        if int(taken) < 0:
            return None
        lease = Lease(account, int(taken), started + self.ttl)
        self.held.append(lease)
        self._wake.set()
        return lease

    async def release(self, lease: object) -> None:
        """Give the slot back (after its bind is closed). Bounded; the TTL ends a lease
        this can't delete."""
        assert isinstance(lease, Lease)
        if lease in self.held:
            self.held.remove(lease)
        lease.lost = True
        with trio.move_on_after(self.timeout):  # (the script deletes it only if still ours)
            try:
                await self._release([self._key(lease.account, lease.slot)], [self.owner])
            except _REDIS_ERRORS as exc:
                log.info("bind lease not released (it expires) %s", f"error={exc}")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Renew the held leases every ``ttl / 3``; give up those no longer ours."""
        task_status.started()
        while True:
            due = min((lease.deadline for lease in self.held), default=math.inf) - self.margin
            with trio.move_on_at(min(trio.current_time() + self.ttl / 3, due)):
                await self._wake.wait()
            self._wake = trio.Event()
            for account in {lease.account for lease in self.held}:
                await self.renew(account)
            now = trio.current_time()
            for lease in [lease for lease in self.held if now >= lease.deadline - self.margin]:
                self._lose(lease, "bind lease expiring: Redis unreachable")

    async def renew(self, account: str) -> None:
        """One renewal of ``account``'s leases (and its fair share: a surplus given back)."""
        ours = [lease for lease in self.held if lease.account == account]
        mine = {lease.slot for lease in ours}
        others = [i for i in range(self._slots[account]) if i not in mine]
        keys = [self._key(account, "live"), *(self._key(account, lease.slot) for lease in ours)]
        keys += [self._key(account, i) for i in others]
        started = trio.current_time()
        try:
            with trio.fail_after(self.timeout):
                answer: Any = await self._renew(keys, [self.owner, round(self.ttl * 1000), len(ours)])
        except _REDIS_ERRORS as exc:
            self._ratelog.emit("redis", "bind leases: Redis unreachable: %s; renewal failed", exc)
            return
        *renewed, surplus = (int(x) for x in answer)
        for lease, ok in zip(ours, renewed, strict=True):
            if ok:
                lease.deadline = started + self.ttl
            else:
                self._lose(lease, "bind lease lost: its slot is no longer ours")
        for lease in [lease for lease in ours if not lease.lost][: max(0, surplus)]:
            self._lose(lease, "bind lease given back: another gateway has fewer binds")

    def _lose(self, lease: Lease, why: str) -> None:
        if lease in self.held:
            self.held.remove(lease)
        if lease.lost:
            return
        lease.lost = True
        log.warning("%s %s", why, f"smsc={lease.account} slot={lease.slot}")
        if lease.on_lost is not None:
            lease.on_lost(why)
