"""Who is calling: API keys, their scopes and tenants, and the limits on each caller.

A request's key (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) is checked by
``Keyring.admit``, which the HTTP front calls once the request's head is complete and
before any of its body is read (``net.http.Admit``): an unknown key is 401 whatever the
body, and a 300 MB body behind it is never read. Keys come from two places:

- the config (``[api] keys`` / ``keys_env``): every scope, no tenant, no rate limit (as
  before keys had scopes); compared with ``secrets.compare_digest`` against each;
- the store (``smppgw keys create``, ``store.keys``): only each key's SHA-256 is kept;
  the given key's hash is looked up, then compared in constant time. Read again every
  ``RELOAD`` seconds, so a key created or revoked by the CLI counts within that.

Limits, each answered with a 429 problem and ``Retry-After``: a store key's requests
per second (a token bucket: ``rate`` a second, up to ``burst`` at once), its queued
parts (``Quota``, checked by the intake), and per source address the failed attempts:
``auth_failures`` wrong keys within ``auth_window`` seconds block that address for
``auth_block`` seconds (a right key included), so keys can't be guessed at speed.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

import attrs

from smppgw.api.limits import KeyLimits
from smppgw.api.problems import Problem
from smppgw.net.http import Request, Response
from smppgw.store.base import SCOPES, KeyStore, MessageRecord, Status, key_hash

__all__ = ["KeyLimits", "Keyring", "Principal", "Quota", "permitted"]

log = logging.getLogger(__name__)

RELOAD = 2.0  # seconds between reads of the store's keys (and writes of last use)
_MAX_ADDRESSES = 10_000  # source addresses whose failures are remembered (oldest dropped)
_WAITING = frozenset({Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED})


@attrs.frozen(kw_only=True)
class Principal:
    """The caller a key names."""

    id: str
    name: str
    scopes: frozenset[str]
    tenant: str | None = None
    rate: float | None = None
    burst: float | None = None
    max_queued: int | None = None

    def allows(self, scope: str) -> bool:
        scopes = self.scopes
        # A room's ":write" scope includes its ":read" (consent, vouchers, threads).
        return (
            scope in scopes
            or "admin" in scopes
            or (scope.endswith(":read") and f"{scope[:-5]}:write" in scopes)
        )


_UNKNOWN = Problem(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class Keyring:
    def __init__(
        self,
        config_keys: Sequence[str],
        store: KeyStore,
        limits: KeyLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or KeyLimits()
        self.store = store
        self.clock, self.wall = clock, wall
        every = frozenset(SCOPES)
        self._config = [
            (k.encode(), Principal(id=f"config-{i}", name="config", scopes=every))
            for i, k in enumerate(config_keys, 1)
        ]
        self._by_hash: dict[str, tuple[str, Principal]] = {}  # hash -> (hash, caller)
        self._loaded = -math.inf
        self._used: dict[str, float] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._blocked: dict[str, float] = {}

    def _reload(self, now: float) -> None:
        self._loaded = now
        try:
            if self._used:
                self.store.touch_keys(self._used)
                self._used = {}
            found = self.store.api_keys()
        except Exception:  # e.g. locked by `smppgw keys` a moment: the keys known go on
            log.warning("reading the API keys from the store failed; trying again", exc_info=True)
            return
        d = self.limits
        self._by_hash = {}
        for k in found:
            self._by_hash[k.hash] = (k.hash, Principal(
                id=k.id, name=k.name, scopes=frozenset(k.scopes), tenant=k.tenant,
                rate=k.rate if k.rate is not None else d.rate,
                burst=d.burst if k.rate is None else None,
                max_queued=k.max_queued if k.max_queued is not None else d.max_queued,
            ))  # fmt: skip

    def admit(self, request: Request) -> Response | None:
        """``net.http.Admit``: the key of every ``/v1`` request, before its body."""
        if not request.path.startswith(b"/v1"):
            return None
        headers = request.headers
        try:
            who = self.identify(
                headers.get(b"authorization", b""), headers.get(b"x-api-key", b""), request.client[0]
            )
        except Problem as exc:
            return exc.response()  # the connection closes, the body unread
        try:
            request.state = self.spend(who)
        except Problem as exc:
            # A known caller over its rate: answered (by the route) after its body, so that
            # its connection stays open for the next request.
            request.state = exc
        return None

    def caller(
        self, admitted: object, authorization: bytes, api_key: bytes, address: str, scope: str
    ) -> Principal:
        """A request's caller, if its key has ``scope``: what ``admit`` found (its 429
        raised now), or for a request that came in another way its key checked now.
        Raises a 401, 403 or 429 Problem."""
        if isinstance(admitted, Problem):
            raise admitted
        who = (
            admitted
            if isinstance(admitted, Principal)
            else self.authenticate(authorization, api_key, address)
        )
        return permitted(who, scope)

    def authenticate(self, authorization: bytes, api_key: bytes, address: str) -> Principal:
        """The caller of this key, its request counted; raises a 401 or 429 Problem."""
        return self.spend(self.identify(authorization, api_key, address))

    def identify(self, authorization: bytes, api_key: bytes, address: str) -> Principal:
        """The caller of this key (not counted); raises a 401 or 429 Problem (the address
        is blocked after too many failures)."""
        now = self.clock()
        if (until := self._blocked.get(address)) is not None:
            if now < until:
                raise _too_many(until - now, "too many failed API key attempts from this address")
            del self._blocked[address]
        given = authorization[7:] if authorization[:7].lower() == b"bearer " else api_key
        who = self._find(given, now)
        if who is None:
            self._failed(address, now)
            raise _UNKNOWN
        return who

    def spend(self, who: Principal) -> Principal:
        """``who`` once its request is counted; raises a 429 Problem over its rate."""
        if who.rate is not None:
            self._spend(who, self.clock())
        if not who.id.startswith("config-"):
            self._used[who.id] = self.wall()
        return who

    def _find(self, given: bytes, now: float) -> Principal | None:
        # compare_digest against every config key: no timing hint about which nearly matched.
        found = [who for key, who in self._config if secrets.compare_digest(given, key)]
        if found:
            return found[0]
        if now - self._loaded >= RELOAD:
            self._reload(now)
        digest = key_hash(given)
        # The dict finds it by the hash of a 256-bit secret, which tells a timing attacker
        # nothing about the key; the final comparison is constant-time all the same.
        stored, who = self._by_hash.get(digest, ("", None))
        return who if secrets.compare_digest(digest, stored) else None

    def _failed(self, address: str, now: float) -> None:
        d = self.limits
        seen = self._failures.pop(address, None) or deque()
        seen.append(now)
        while seen and seen[0] <= now - d.auth_window:
            seen.popleft()
        if len(seen) >= d.auth_failures:
            self._blocked[address] = now + d.auth_block
            seen.clear()
        else:
            self._failures[address] = seen  # newest last: the oldest are dropped first
            while len(self._failures) > _MAX_ADDRESSES:
                self._failures.popitem(last=False)
        if len(self._blocked) > _MAX_ADDRESSES:
            self._blocked = {a: t for a, t in self._blocked.items() if t > now}

    def _spend(self, who: Principal, now: float) -> None:
        """One token from the key's bucket (``rate`` a second, ``burst`` at most)."""
        rate = who.rate or 0.0
        burst = max(1.0, who.burst if who.burst is not None else 2 * rate)
        bucket = self._buckets.get(who.id)
        if bucket is None:
            bucket = self._buckets[who.id] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate if rate > 0 else 60.0
            raise _too_many(wait, f"API key {who.id} is over its rate of {rate:g} requests/s")
        bucket.tokens -= 1.0


def permitted(who: Principal, scope: str) -> Principal:
    """``who`` if its key has ``scope``; else a 403 Problem naming the scope."""
    if not who.allows(scope):
        raise Problem(403, f"the API key {who.id} lacks the scope {scope}", kind="forbidden")
    return who


def _too_many(wait: float, detail: str) -> Problem:
    return Problem(429, detail, kind="rate-limited", headers={"Retry-After": str(max(1, math.ceil(wait)))})


class Quota:
    """Each key's queued parts (accepted, scheduled or queued, not yet sent): counted as
    messages are accepted, and recounted from the live records only when a key reaches
    its quota (at most every ``RECOUNT`` seconds), so the check costs nothing until then.
    A request is refused once its key has ``max_queued`` parts or more waiting (a batch
    is checked as one request)."""

    RECOUNT = 0.05

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._records: dict[str, deque[MessageRecord]] = {}
        self._counts: dict[str, int] = {}
        self._recounted: dict[str, float] = {}

    def check(self, who: Principal) -> None:
        """Raises a 429 Problem if ``who`` has ``max_queued`` parts or more waiting."""
        limit = who.max_queued
        count = self._counts.get(who.id, 0)
        if limit is None or count < limit:
            return
        now = self.clock()
        if now - self._recounted.get(who.id, -math.inf) >= self.RECOUNT:
            self._recounted[who.id] = now
            count = self._recount(who.id)
        if count >= limit:
            raise Problem(
                429, f"API key {who.id} has {count} queued parts (its quota is {limit}); retry later",
                kind="quota-exceeded", headers={"Retry-After": "1"},
            )  # fmt: skip

    def _recount(self, key_id: str) -> int:
        records = self._records.get(key_id, deque())
        waiting = deque(r for r in records if r.status in _WAITING)
        self._records[key_id] = waiting
        self._counts[key_id] = count = sum(sum(p.status in _WAITING for p in r.parts) or 1 for r in waiting)
        return count

    def add(self, who: Principal, record: MessageRecord) -> None:
        if who.max_queued is not None:
            self._records.setdefault(who.id, deque()).append(record)
            self._counts[who.id] = self._counts.get(who.id, 0) + max(1, len(record.parts))
