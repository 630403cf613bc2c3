"""The Redis store's half of ``VoucherStore`` (``store.vouchers``): a base class of
``RedisStore`` (which provides ``_eval``, ``_run``, ``_k`` and the outbox's router).

Keys (``P`` the prefix; README "Scale out on Redis"):

- ``P:voucher:{<code>}`` hash: one code (``pool``, ``seq`` its import order, ``c`` its
  campaign when it has one, ``imported_at``, ``issued_to``, ``issued_at``,
  ``redeemed_at``; and the JSON text of its code, campaign, event id and subject, made
  at import, so a script writes the ``voucher.issued`` body byte for byte as Python's
  ``EventRecord.body`` does). The key existing is what makes a code unique across pools.
- ``P:vpool:{<pool>}:free`` sorted set: the pool's unused codes by ``seq`` (the next one
  is the lowest); ``P:vpool:{<pool>}:num`` hash: number -> its code.
- ``P:vcounts`` hash: ``<pool> TAB <campaign> TAB total|issued|redeemed`` -> count
  (campaign ``-`` for none, ``+<name>`` else), kept by the scripts; ``P:voucher:seq``.

Atomicity as SQLite's: an import is one script (all the codes or none); an issue is one
script (``ISSUE``): the number's code if it has one, else ``ZPOPMIN`` of the free set,
the code's change, the number's entry and the ``voucher.issued`` event, with no other
client in between, so two gateways never give out one code and a number never gets two.
A redemption is one script that marks the code only if it is issued and not redeemed,
with its event. Times are wall-clock seconds, kept as ``repr`` strings (every digit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from smppgw.store.events import EventRecord, EventRouter, event_id
from smppgw.store.redis_lua import PUT_EVENT
from smppgw.store.vouchers import (
    VOUCHER_ISSUED,
    VOUCHER_REDEEMED,
    PoolCounts,
    RedeemError,
    VoucherImport,
    VoucherRecord,
    voucher_event,
)
from smppgw.support.isotime import iso

__all__ = ["RedisVouchers"]

# ARGV: P, pool, imported_at, JSON [[code, has campaign (0/1), campaign, code JSON,
# campaign JSON, event id JSON, subject JSON]] -> JSON list of the codes refused.
_IMPORT = r"""
local P, pool, at = ARGV[1], ARGV[2], ARGV[3]
local codes = cjson.decode(ARGV[4])
local dup, seen = {}, {}
for _, c in ipairs(codes) do
  local k = P .. ':voucher:{' .. c[1] .. '}'
  if seen[k] or redis.call('EXISTS', k) == 1 then table.insert(dup, c[1]) end
  seen[k] = true
end
if #dup > 0 then
  local refused = {}
  for _, d in ipairs(dup) do refused[d] = true end
  local kept = {}
  seen = {}
  for _, c in ipairs(codes) do
    local k = P .. ':voucher:{' .. c[1] .. '}'
    if not seen[k] and redis.call('EXISTS', k) == 0 then table.insert(kept, c) end
    seen[k] = true
  end
  codes = kept
end
for _, c in ipairs(codes) do
  local k = P .. ':voucher:{' .. c[1] .. '}'
  local seq = redis.call('INCR', P .. ':voucher:seq')
  redis.call('HSET', k, 'pool', pool, 'seq', seq, 'imported_at', at, 'cj', c[4], 'kj', c[5], 'ij', c[6], 'sj', c[7])
  local camp = '-'
  if c[2] == 1 then redis.call('HSET', k, 'c', c[3]); camp = '+' .. c[3] end
  redis.call('ZADD', P .. ':vpool:{' .. pool .. '}:free', seq, c[1])
  redis.call('HINCRBY', P .. ':vcounts', pool .. '\t' .. camp .. '\ttotal', 1)
end
if #dup == 0 then return '[]' end
return cjson.encode(dup)
"""

# ARGV: P, pool, number, issued_at, has campaign (0/1), campaign, campaign JSON, number JSON,
# pool JSON, issued_at ISO JSON, JSON [[endpoint, url]] or "" (no outbox)
# -> {0 or 1 (new), the code's hash flat} or {} (the pool has no unused code)
_ISSUE = (
    PUT_EVENT
    + r"""
local P, pool, number, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local num = P .. ':vpool:{' .. pool .. '}:num'
local code = redis.call('HGET', num, number)
if code then return {0, redis.call('HGETALL', P .. ':voucher:{' .. code .. '}')} end
local popped = redis.call('ZPOPMIN', P .. ':vpool:{' .. pool .. '}:free')
if #popped == 0 then return {} end
code = popped[1]
local k = P .. ':voucher:{' .. code .. '}'
local counts = P .. ':vcounts'
local camp = redis.call('HGET', k, 'c')
if camp then camp = '+' .. camp else camp = '-' end
if camp == '-' and ARGV[5] == '1' then
  redis.call('HSET', k, 'c', ARGV[6], 'kj', ARGV[7])
  redis.call('HINCRBY', counts, pool .. '\t-\ttotal', -1)
  camp = '+' .. ARGV[6]
  redis.call('HINCRBY', counts, pool .. '\t' .. camp .. '\ttotal', 1)
end
redis.call('HSET', k, 'issued_to', number, 'issued_at', at)
redis.call('HSET', num, number, code)
redis.call('HINCRBY', counts, pool .. '\t' .. camp .. '\tissued', 1)
if ARGV[11] ~= '' then
  local r = redis.call('HMGET', k, 'cj', 'kj', 'ij', 'sj')
  local body = '{"id":' .. r[3] .. ',"type":"voucher.issued","occurred_at":' .. ARGV[10] ..
    ',"subject":' .. r[4] .. ',"sequence":1,"data":{"code":' .. r[1] .. ',"pool":' .. ARGV[9] ..
    ',"campaign":' .. r[2] .. ',"state":"issued","issued_to":' .. ARGV[8] .. ',"issued_at":' ..
    ARGV[10] .. ',"redeemed_at":null}}'
  put_event(P, {'e', cjson.decode(r[3]), 'voucher.issued', cjson.decode(r[4]), 1, at, body, cjson.decode(ARGV[11])})
end
return {1, redis.call('HGETALL', k)}
"""
)

# ARGV: P, code, redeemed_at, the event's COMMIT operation as JSON or "" -> 1 (marked) or 0
_REDEEM = (
    PUT_EVENT
    + r"""
local P = ARGV[1]
local k = P .. ':voucher:{' .. ARGV[2] .. '}'
local r = redis.call('HMGET', k, 'issued_to', 'redeemed_at', 'pool', 'c')
if not r[1] or r[2] then return 0 end
redis.call('HSET', k, 'redeemed_at', ARGV[3])
local camp = '-'
if r[4] then camp = '+' .. r[4] end
redis.call('HINCRBY', P .. ':vcounts', r[3] .. '\t' .. camp .. '\tredeemed', 1)
if ARGV[4] ~= '' then put_event(P, cjson.decode(ARGV[4])) end
return 1
"""
)


def _j(value: Any) -> str:
    """JSON text as ``EventRecord.body`` writes it (orjson: non-ASCII kept as UTF-8)."""
    return orjson.dumps(value).decode()


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(code: str, flat: Sequence[Any]) -> VoucherRecord:
    h = {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)}

    def t(name: str) -> float | None:
        return None if h.get(name) is None else float(h[name])

    return VoucherRecord(
        code=code, pool=h["pool"], campaign=h.get("c"), imported_at=float(h["imported_at"]),
        issued_to=h.get("issued_to"), issued_at=t("issued_at"), redeemed_at=t("redeemed_at"),
    )  # fmt: skip


class RedisVouchers:
    _router: EventRouter | None

    if TYPE_CHECKING:  # RedisStore's and RedisEvents'

        def _eval(self, script: str, *args: Any) -> Any: ...
        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...
        def _event_op(self, event: EventRecord, targets: Sequence[Any]) -> list[Any]: ...

    def import_vouchers(
        self, pool: str, codes: Sequence[tuple[str, str | None]], *, at: float
    ) -> VoucherImport:
        rows = [
            [code, int(campaign is not None), campaign or "", _j(code), _j(campaign),
             _j(event_id(f"voucher:{code}", 1)), _j(f"voucher:{code}")]
            for code, campaign in codes
        ]  # fmt: skip
        if not rows:
            return VoucherImport(imported=0)
        answer = self._eval(_IMPORT, pool, repr(float(at)), orjson.dumps(rows))
        refused = tuple(orjson.loads(answer))
        return VoucherImport(imported=len(codes) - len(refused), duplicates=refused)

    def issue_voucher(
        self, pool: str, number: str, *, campaign: str | None, at: float
    ) -> tuple[VoucherRecord, bool] | None:
        targets = ""
        if self._router is not None:
            targets = orjson.dumps([[t.endpoint, t.url] for t in self._router(VOUCHER_ISSUED, None)]).decode()
        answer = self._eval(
            _ISSUE, pool, number, repr(float(at)), int(campaign is not None), campaign or "", _j(campaign),
            _j(number), _j(pool), _j(iso(at)), targets,
        )  # fmt: skip
        if not answer:
            return None
        new, flat = answer
        h = {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)}
        return _record(orjson.loads(h["cj"]), flat), bool(new)

    def redeem_voucher(self, code: str, *, at: float) -> VoucherRecord:
        found = self.get_voucher(code)
        if found is None:
            raise RedeemError("unknown", code)
        if found.issued_to is None:
            raise RedeemError("not_issued", code, found)
        if found.redeemed_at is not None:
            raise RedeemError("redeemed", code, found)
        record = VoucherRecord(
            code=found.code, pool=found.pool, campaign=found.campaign, imported_at=found.imported_at,
            issued_to=found.issued_to, issued_at=found.issued_at, redeemed_at=at,
        )  # fmt: skip
        op = ""
        if self._router is not None:
            event = voucher_event(record, VOUCHER_REDEEMED)
            op = orjson.dumps(self._event_op(event, self._router(event.type, None))).decode()
        if not self._eval(_REDEEM, code, repr(float(at)), op):  # another redeemed it in between
            raise RedeemError("redeemed", code, self.get_voucher(code))
        return record

    def get_voucher(self, code: str) -> VoucherRecord | None:
        key = self._k(f"voucher:{{{code}}}")

        def run(client: Redis) -> Any:
            return client.hgetall(key)

        found = self._run(run)
        if not found:
            return None
        return _record(code, [x for pair in found.items() for x in pair])

    def _counts(self, by_campaign: bool) -> list[PoolCounts]:
        key = self._k("vcounts")

        def run(client: Redis) -> Any:
            return client.hgetall(key)

        rows: dict[tuple[str, str | None], dict[str, int]] = {}
        for field, value in self._run(run).items():
            pool, camp, kind = _s(field).rsplit("\t", 2)
            campaign = camp[1:] if by_campaign and camp.startswith("+") else None
            row = rows.setdefault((pool, campaign), {"total": 0, "issued": 0, "redeemed": 0})
            row[kind] += int(value)
        keys = sorted(
            (k for k, row in rows.items() if row["total"] > 0),
            key=lambda k: (k[0], k[1] is not None, k[1] or ""),
        )
        return [PoolCounts(pool=p, campaign=c, **rows[p, c]) for p, c in keys]

    def voucher_pools(self) -> list[PoolCounts]:
        return self._counts(False)

    def voucher_report(self) -> list[PoolCounts]:
        return self._counts(True)
