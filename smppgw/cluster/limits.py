"""Limits several gateways share: one atomic Lua script (GCRA) over several rate keys,
and the adaptive (AIMD) account rate, in Redis (issue 19, item 4).

Theory of operation
-------------------
Each rate key (an SMSC account, a route, a sender) holds a GCRA "theoretical arrival
time" (TAT, microseconds on the Redis server's clock: one clock for every gateway). One
script call asks for ``count`` sends against every key a part counts against at once:
either all keys conform (each TAT advances, the sends are granted) or none is charged and
the answer is the wait until all would conform, naming the key that blocks longest. So N
gateways together never exceed any one limit, and a sender limit and an account limit
are never charged apart.

Carriers count sends per second, so the guarantee is the one the local
``policy.throttle.SlidingWindow`` gives: at most ``floor(rate * window)`` (``cap``) sends
in *any* ``window`` (1 s). A GCRA with emission interval ``T`` and tolerance ``tau``
grants at most ``(window + tau) / T`` in a half-open window, so with a burst of ``b``
sends per grant (``tau = (b - 1) T``) the interval is ``T = (window + slack) / (cap - b
+ 1)``: a burst costs ``b - 1`` sends of each window. ``b`` is 1 % of ``cap``, at least 2
(a tolerance of one interval: a request a little late loses no send): 300/s gives
bursts of 3 at 292/s, 60/s bursts of 2 at 58/s. ``slack`` (20 ms) covers the time from
a grant to its submit_sm on the carrier's side: every send granted at ``t`` is written
by ``t + slack`` (the dispatcher drops an unused grant after ``slack``), so the sends of
any window were granted within ``window + slack``.

The adaptive rate of an account (``policy.throttle.AdaptiveRate``'s rules: cut by
``decrease`` at most once per ``hold`` on ESME_RTHROTTLED / ESME_RMSGQFUL, grown by
``increase`` per second up to the configured TPS) lives in a hash beside the account's
TAT. The grant script grows it and uses it; whichever gateway hears the carrier push back
cuts it (``cut`` script), and every other gateway sends at the lower rate from its next
grant on.

Keys (``<prefix>`` from ``[store] prefix``), all under the one Redis Cluster hash tag
``{limits}`` so a script may take any of them together:
``<prefix>:{limits}:account:<smsc>``, ``...:aimd:<smsc>`` (hash: rate, cut, grown),
``...:route:<route>``, ``...:sender:<address>``. Each expires when idle.

When Redis can't be reached, the limiter fails closed: ``acquire`` grants nothing and
answers a wait (0.5 s, then up to 2 s), so a dispatcher pauses; it sends again as soon
as Redis answers. (A share of the limit per process would need to know how many
gateways run; with the Redis store nothing can be committed meanwhile anyway.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import anyio
import attrs
import coredis
import coredis.exceptions
import trio

from smppgw.cluster.client import Client
from smppgw.policy.throttle import AdaptiveRate
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["GCRA_SCRIPT", "RedisAccount", "RedisLimits", "gcra_params"]

log = logging.getLogger(__name__)

#: KEYS: the rate keys (the account's first when ARGV[5] is "1", then its AIMD hash
#: last). ARGV: count, window_us, slack_us, burst_share, has_aimd, increase (per s),
#: hold_us, then one rate (sends/s) per rate key. Returns {granted, wait_us, blocked key
#: index (1-based, 0: none), the account's current rate as a string ("" without AIMD)}.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local count = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local share = tonumber(ARGV[4])
local aimd = ARGV[5] == '1'
local nkeys = #ARGV - 7
local rates = {}
for i = 1, nkeys do rates[i] = tonumber(ARGV[7 + i]) end
local shared = ''
if aimd then
  local h = KEYS[nkeys + 1]
  local ceiling = rates[1]
  local increase = tonumber(ARGV[6])
  local hold = tonumber(ARGV[7])
  local st = redis.call('HMGET', h, 'rate', 'cut', 'grown')
  local rate = math.min(tonumber(st[1]) or ceiling, ceiling)
  local cut, grown = tonumber(st[2]), tonumber(st[3])
  if grown and now > grown and rate < ceiling then
    local from = grown
    if cut and now - cut < hold then
      from = nil
    elseif cut and cut + hold > from then
      from = cut + hold
    end
    if from then rate = math.min(ceiling, rate + increase * (now - from) / 1000000) end
  end
  redis.call('HSET', h, 'rate', string.format('%.6f', rate), 'grown', string.format('%d', now))
  redis.call('PEXPIRE', h, 3600000)
  rates[1] = rate
  shared = string.format('%.6f', rate)
end
local granted = count
local wait, blocked = 0, 0
local tats, ts, taus = {}, {}, {}
for i = 1, nkeys do
  local cap = math.floor(rates[i] * window / 1000000 + 1e-9)
  local b, T = 1, 0
  if cap < 1 then
    T = (window + slack) / (rates[i] * window / 1000000)
  else
    b = math.max(math.min(2, cap), math.min(cap, math.floor(cap * share)))
    T = (window + slack) / (cap - b + 1)
  end
  local tau = (b - 1) * T
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  tats[i], ts[i], taus[i] = tat, T, tau
  local allowed = math.floor((now + tau - tat) / T + 1e-9) + 1
  if allowed < 1 then
    allowed = 0
    if tat - tau - now > wait then wait, blocked = tat - tau - now, i end
  end
  if allowed < granted then granted = allowed end
end
if granted >= 1 then
  for i = 1, nkeys do
    local tat = tats[i] + granted * ts[i]
    local ttl = math.ceil((tat - now + taus[i]) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%d', math.ceil(tat)), 'PX', ttl)
  end
  return {granted, 0, 0, shared}
end
return {0, math.ceil(wait), blocked, shared}
"""

#: KEYS[1]: an account's AIMD hash. ARGV: ceiling, floor, decrease, hold_us, op ("cut":
#: the carrier pushed back; "hold": congestion near its optimum, no growth for now).
#: Returns {1 if cut else 0, the rate as a string}.
AIMD_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ceiling, floor = tonumber(ARGV[1]), tonumber(ARGV[2])
local decrease, hold = tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call('HMGET', KEYS[1], 'rate', 'cut')
local rate = math.min(tonumber(st[1]) or ceiling, ceiling)
local cut = tonumber(st[2])
if ARGV[5] == 'hold' then
  redis.call('HSET', KEYS[1], 'rate', string.format('%.6f', rate), 'grown', string.format('%d', now))
  return {0, string.format('%.6f', rate)}
end
if cut and now - cut < hold then return {0, string.format('%.6f', rate)} end
rate = math.max(floor, rate * decrease)
local stamp = string.format('%d', now)
redis.call('HSET', KEYS[1], 'rate', string.format('%.6f', rate), 'cut', stamp, 'grown', stamp)
redis.call('PEXPIRE', KEYS[1], 3600000)
return {1, string.format('%.6f', rate)}
"""

# (anyio's: coredis's connection closed under a call, as at shutdown)
_REDIS_ERRORS = (
    coredis.exceptions.RedisError, OSError, trio.TooSlowError, anyio.ClosedResourceError, anyio.BrokenResourceError,
)  # fmt: skip


def gcra_params(
    rate: float, window: float = 1.0, slack: float = 0.02, share: float = 0.01
) -> tuple[float, int]:
    """The emission interval (seconds) and burst the script uses for ``rate`` (sends/s):
    the same arithmetic, for tests and the docs."""
    cap = math.floor(rate * window + 1e-9)
    if cap < 1:
        return (window + slack) / (rate * window), 1
    burst = max(min(2, cap), min(cap, math.floor(cap * share)))
    return (window + slack) / (cap - burst + 1), burst


class RedisLimits:
    """The shared limiter (``gateway.shared.SharedLimits``): ``account(name, tps)`` per
    SMSC. ``run`` (a task) sends the AIMD signals the dispatchers raise without waiting.

    ``client``: a coredis client, entered (``async with client``) by the caller;
    ``prefix``: every key starts with it. ``timeout``: seconds a script call may take
    before Redis counts as away."""

    def __init__(
        self,
        client: Client,
        prefix: str,
        *,
        window: float = 1.0,
        slack: float = 0.02,
        burst_share: float = 0.01,
        timeout: float = 2.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.window = window
        self.slack = slack
        self.burst_share = burst_share
        self.timeout = timeout
        self._gcra = client.register_script(GCRA_SCRIPT)  # EVALSHA, SCRIPT LOAD on NOSCRIPT
        self._aimd = client.register_script(AIMD_SCRIPT)
        self._signals_in, self._signals = trio.open_memory_channel[tuple["RedisAccount", str]](64)
        self._ratelog = RateLimitedLog(log)
        self.away = False  # the last call failed: Redis counts as away

    def key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{{limits}}:{kind}:{name}"

    def account(self, name: str, tps: float | None) -> RedisAccount:
        """The limits of SMSC ``name``; ``tps``: its configured rate (None: no account
        limit, only the per-part keys), the AIMD ceiling."""
        return RedisAccount(self, name, None if tps is None else AdaptiveRate(tps))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send the AIMD signals (cuts, holds) as they come, one at a time."""
        task_status.started()
        async for account, op in self._signals:
            account.pending.discard(op)
            await account.signal(op)

    def _failed(self, what: str, exc: BaseException) -> None:
        self.away = True
        self._ratelog.emit("redis", "shared limits: Redis unreachable (%s): %s; sending paused", what, exc)

    def _answered(self) -> None:
        if self.away:
            self.away = False
            log.warning("shared limits: Redis answers again; sending resumes")


@attrs.define(eq=False)
class RedisAccount:
    """One SMSC account's shared limits (``gateway.shared.SharedAccount``)."""

    limits: RedisLimits
    name: str
    aimd: AdaptiveRate | None  # the configured rate and the AIMD settings (not its state)
    rate: float | None = None  # the shared adaptive rate, as last seen
    pending: set[str] = attrs.field(factory=set)  # signals queued, not sent yet
    _backoff: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.aimd is not None:
            self.rate = self.aimd.ceiling

    @property
    def slack(self) -> float:
        return self.limits.slack

    async def acquire(self, keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        """Ask for ``count`` sends against the account and ``keys`` ((name, rate): a
        route, a sender) at once. Returns (granted, wait, account_blocked): ``granted``
        sends may go now (all keys charged), else none and ``wait`` seconds until one
        may; ``account_blocked``: the account limit (or Redis away) is why, so every part
        of this SMSC waits, not only this one."""
        lim, aimd = self.limits, self.aimd
        names = [lim.key("account", self.name)] if aimd is not None else []
        rates = [aimd.ceiling] if aimd is not None else []
        for name, rate in keys:
            names.append(lim.key(*name.split(":", 1)) if ":" in name else lim.key("key", name))
            rates.append(rate)
        if not names:
            return count, 0.0, False
        if aimd is not None:
            names.append(lim.key("aimd", self.name))
        args: list[Any] = [
            count,
            round(lim.window * 1e6),
            round(lim.slack * 1e6),
            lim.burst_share,
            "1" if aimd is not None else "0",
            aimd.increase if aimd is not None else 0,
            round(aimd.hold * 1e6) if aimd is not None else 0,
            *rates,
        ]
        try:
            with trio.fail_after(lim.timeout):
                answer: Any = await lim._gcra(names, args)
                granted, wait_us, blocked, rate = answer
        except _REDIS_ERRORS as exc:
            lim._failed(f"limits of {self.name}", exc)
            self._backoff = min(2.0, max(0.5, self._backoff * 2))
            return 0, self._backoff, True
        self._backoff = 0.0
        lim._answered()
        if rate:
            self.rate = float(rate)
        if granted:
            return int(granted), 0.0, False
        return 0, int(wait_us) / 1e6, aimd is not None and int(blocked) == 1

    def throttled(self) -> None:
        """The carrier pushed back (ESME_RTHROTTLED / ESME_RMSGQFUL): cut the shared rate
        (sent by ``RedisLimits.run``; repeated signals before it is sent count once)."""
        self._queue("cut")

    def congestion(self, state: int) -> None:
        """v5.0 congestion_state (SMPP-REFERENCE §3): >= 90 cuts, 80-89 holds the rate."""
        if state >= 90:
            self._queue("cut")
        elif state >= 80:
            self._queue("hold")

    def _queue(self, op: str) -> None:
        if self.aimd is None or op in self.pending:
            return
        try:
            self.limits._signals_in.send_nowait((self, op))
        except trio.WouldBlock:  # a burst of signals: the hold makes the rest redundant
            return
        self.pending.add(op)

    async def signal(self, op: str) -> bool:
        """Send one AIMD signal now; True if the rate was cut."""
        aimd = self.aimd
        assert aimd is not None
        lim = self.limits
        args: list[Any] = [aimd.ceiling, aimd.floor, aimd.decrease, round(aimd.hold * 1e6), op]
        try:
            with trio.fail_after(lim.timeout):
                answer: Any = await lim._aimd([lim.key("aimd", self.name)], args)
                cut, rate = answer
        except _REDIS_ERRORS as exc:
            lim._failed(f"adaptive rate of {self.name}", exc)
            return False
        lim._answered()
        self.rate = float(rate)
        if cut:
            log.info("shared rate cut %s", f"smsc={self.name} rate={self.rate:.1f}")
        return bool(cut)
