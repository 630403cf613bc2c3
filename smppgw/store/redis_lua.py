"""The Lua scripts of the Redis store (``store.redis``): each runs atomically in Redis.

Why scripts: a group commit (``RedisStore.commit``) is one ``EVAL`` of ``COMMIT`` with
the batch as one JSON argument, applied in Redis (cjson) with no other client running
in between: measured on loopback, a 100-change batch costs ~0.6 ms that way against
~2.8 ms as a 100-command MULTI/EXEC pipeline (the client's cost per command), and the
checks that make ``add`` all-or-none (a repeated id or idempotency key) run in the
same step as the writes. Times travel as strings (``repr`` of the float): a Lua number
turned into a Redis argument keeps only 14 digits.

Every script is called with the prefix as ``KEYS[1]`` and ``ARGV[1]`` and builds its key
names from ``ARGV[1]``: ``KEYS[1]`` declares the slot they are all in on Redis Cluster,
where the prefix holds the deployment's hash tag (``store.config``), so the cluster client
sends the script to the master of that slot. The ``{...}`` marks below are hash tags only
for a prefix without one.

The key layout (README "Scale out on Redis"), ``P`` the configured prefix:

- ``P:msg:{<id>}`` hash (``s`` status, ``r`` the record as JSON) and
  ``P:msg:{<id>}:h`` list (its history, one JSON array a change): one hash tag per
  message; ``P:created`` / ``P:open`` sorted sets (wall created_at) of every message /
  of the unfinished ones; ``P:counts`` hash (messages per status); ``P:idem:<tenant>\\t<key>``.
- ``P:corr:<smsc>\\t<key>`` (expires after ``ttl``) and ``P:corr:age``.
- ``P:inbound`` (and ``P:inbound:t:<tenant>``) sorted sets by seq; ``P:part:<smsc>\\t<group>``
  hashes of MO parts and ``P:partgroups:<smsc>``.
- ``P:consent:{<number>}`` list and ``P:consent`` (every number's, by seq).
- ``P:conv:{<id>}``, ``P:convmsg:{<message id>}``, ``P:conv:open``.
- the outbox: ``P:event:<seq>``, ``P:events``, ``P:eventids``; ``P:dlv:<seq>\\t<endpoint>``,
  ``P:fresh:<endpoint>`` (first attempts by seq), ``P:retry:<endpoint>`` (by due time),
  ``P:dead``, ``P:updated``, ``P:subject:<subject>``, ``P:endpoints``.
- ``P:work``: the work queue's stream (``cluster.workqueue``), one entry per message
  handed to it, XADDed with its record; ``P:sched``: the scheduled messages (score:
  ``send_at``, wall time) any gateway moves to ``P:work`` when due; ``P:rdl``: submitted
  messages waiting for receipts (score: the receipt deadline, wall time) any gateway
  settles ``unknown`` when due (``store.redis_guards``).
- ``P:apikeys``, ``P:apikeyhash``; counters ``P:inbound:seq``, ``P:consent:seq``,
  ``P:events:seq``.
"""

from __future__ import annotations

__all__ = [
    "ATTEMPTS", "COMMIT", "DELIVERIES", "DUE", "EVENTS", "EXPIRE", "GATHER", "PRUNE", "PUT_EVENT", "RETRY_DEAD",
]  # fmt: skip

# An event written (op as COMMIT's "e"; an id already there is ignored): a Lua function
# the scripts that write events start with.
PUT_EVENT = r"""
local function put_event(P, op)
  if redis.call('HSETNX', P .. ':eventids', op[2], 0) == 1 then
    local seq = redis.call('INCR', P .. ':events:seq')
    redis.call('HSET', P .. ':eventids', op[2], seq)
    local eps = {}
    for _, t in ipairs(op[8]) do table.insert(eps, t[1]) end
    redis.call('HSET', P .. ':event:' .. seq, 'id', op[2], 'type', op[3], 'subject', op[4],
      'sequence', op[5], 'occurred_at', op[6], 'body', op[7], 'endpoints', cjson.encode(eps))
    redis.call('ZADD', P .. ':events', seq, seq)
    for _, t in ipairs(op[8]) do
      local key = seq .. '\t' .. t[1]
      redis.call('HSET', P .. ':dlv:' .. key, 'seq', seq, 'event_id', op[2], 'type', op[3],
        'subject', op[4], 'endpoint', t[1], 'url', t[2], 'state', 'pending', 'attempts', 0,
        'next_attempt_at', op[6], 'updated_at', op[6])
      redis.call('ZADD', P .. ':fresh:' .. t[1], seq, seq)
      redis.call('SADD', P .. ':endpoints', t[1])
      redis.call('RPUSH', P .. ':subject:' .. op[4], key)
      redis.call('ZADD', P .. ':updated', op[6], key)
    end
  end
end
"""

# ARGV[1] the prefix, ARGV[2] a JSON list of operations, applied in order after every
# check passed (all or none). Operations:
#   m: a message: id, status, open (0/1), created (wall), row JSON, history from, [entries],
#      idempotency key (tenant TAB key, or ""), check (1: refuse an id or key taken), the
#      key alone, parts, [[index, part JSON] of each part with its final receipt] (several
#      parts: kept per part in P:msg:{id}:pr, so receipts applied by two gateways to two
#      copies both stay; "+id" in the answer: Redis has final parts this copy lacks)
#   e: an event: id, type, subject, sequence, occurred_at, body, [[endpoint, url], ...]
#   c: a correlation: smsc, key, "message_id TAB part", submitted_at (wall), ttl (s)
#   p+ / p-: an MO part held (smsc, group, seqnum, JSON) / a group dropped (smsc, group)
#   v: a conversation: id, message_id, JSON, open (0/1), opened (wall), new (1: only if absent)
#   k: a consent event: number, seq, JSON
#   i: an inbound message: seq, tenant or "", JSON
#   mt: a message in its number's MT index: number, created (wall), id (a new thread's backfill)
#   w: a message handed to the work queue: id (XADD P:work, in the step that stores it)
#   s: a scheduled message on the work queue: id, send_at (wall; ZADD P:sched); a message
#      saved final leaves P:sched (a cancel: never released)
#   t: a thread: id, number, "tenant TAB sender", JSON, active_at, status, check (1: refuse
#      unless the stored JSON is the next field, "" meaning the pair has no thread), expected
#   te: a thread entry: thread id, JSON (appended: its n is the list's length)
#   g: a guard: message id, [statuses]: unless the stored status is one of them, this
#      batch's m, e (subject) and d ops of that message are not applied; the id is returned
#      (a settle or cancel that lost a race with another gateway: ``store.redis_guards``)
#   d: a receipt deadline: message id, at (wall; ZADD GT P:rdl, unless the stored status is
#      final); a message saved final leaves P:rdl
COMMIT = (
    PUT_EVENT
    + r"""
local P = ARGV[1]
local ops = cjson.decode(ARGV[2])
local function msg(id) return P .. ':msg:{' .. id .. '}' end
local FINAL = {delivered=true, undeliverable=true, expired=true, rejected=true, failed=true,
  canceled=true, blocked=true, unknown=true}
local seen, skip, refused = {}, {}, {}
for _, op in ipairs(ops) do
  if op[1] == 'g' then
    local s, ok = redis.call('HGET', msg(op[2]), 's'), false
    for _, a in ipairs(op[3]) do if a == s then ok = true end end
    if not ok and not skip[op[2]] then skip[op[2]] = true; table.insert(refused, op[2]) end
  elseif op[1] == 'm' and op[10] == 1 then
    local k = msg(op[2])
    if seen[k] or redis.call('EXISTS', k) == 1 then
      return redis.error_reply("UNIQUE constraint failed: message id '" .. op[2] .. "'")
    end
    seen[k] = true
    if op[9] ~= '' then
      local ik = P .. ':idem:' .. op[9]
      if seen[ik] or redis.call('EXISTS', ik) == 1 then
        return redis.error_reply("UNIQUE constraint failed: idempotency_key '" .. op[11] .. "'")
      end
      seen[ik] = true
    end
  elseif op[1] == 't' and op[8] == 1 then
    local there
    if op[9] == '' then there = redis.call('HEXISTS', P .. ':threadpair:{' .. op[3] .. '}', op[4]) == 0
    else there = redis.call('GET', P .. ':thread:{' .. op[2] .. '}') == op[9] end
    if not there then return redis.error_reply("THREAD_CHANGED thread '" .. op[2] .. "' was written meanwhile") end
  end
end
for _, op in ipairs(ops) do
  local kind = op[1]
  if ((kind == 'm' or kind == 'd') and skip[op[2]]) or (kind == 'e' and skip[op[4]]) then
    -- a guard refused: another gateway changed the message first
  elseif kind == 'm' and op[10] == 0 and FINAL[redis.call('HGET', msg(op[2]), 's') or ''] and
      (not FINAL[op[3]] or op[3] == 'unknown') and redis.call('HGET', msg(op[2]), 's') ~= op[3] then
    -- a final status another gateway wrote is never undone by a stale copy's save
  elseif kind == 'm' then
    local k = msg(op[2])
    local old = redis.call('HGET', k, 's')
    if old ~= op[3] then
      if old then redis.call('HINCRBY', P .. ':counts', old, -1) end
      redis.call('HINCRBY', P .. ':counts', op[3], 1)
    end
    redis.call('HSET', k, 's', op[3], 'r', op[6])
    if FINAL[op[3]] then  -- canceled: not released; settled: no receipt deadline
      redis.call('ZREM', P .. ':sched', op[2])
      redis.call('ZREM', P .. ':rdl', op[2])
    end
    if op[4] == 1 then redis.call('ZADD', P .. ':open', op[5], op[2])
    else redis.call('ZREM', P .. ':open', op[2]) end
    redis.call('ZADD', P .. ':created', op[5], op[2])
    if op[9] ~= '' then redis.call('SET', P .. ':idem:' .. op[9], op[2]) end
    local h = k .. ':h'
    local n = redis.call('LLEN', h)
    for j, e in ipairs(op[8]) do
      if op[7] + j - 1 >= n then redis.call('RPUSH', h, e) end
    end
    if op[12] and op[12] > 1 then  -- several parts: their final receipts, merged per part
      for _, fp in ipairs(op[13]) do redis.call('HSET', k .. ':pr', fp[1], fp[2]) end
      if not FINAL[op[3]] and redis.call('HLEN', k .. ':pr') > #op[13] then
        table.insert(refused, '+' .. op[2])  -- another gateway's receipts this copy lacks
      end
    end
  elseif kind == 'mt' then
    local key = P .. ':mtby:{' .. op[2] .. '}'
    redis.call('ZADD', key, op[3], op[4])
    redis.call('ZREMRANGEBYRANK', key, 0, -1001)  -- the newest 1000 a number's backfill may take
  elseif kind == 'e' then
    put_event(P, op)
  elseif kind == 'c' then
    local key = op[2] .. '\t' .. op[3]
    redis.call('SET', P .. ':corr:' .. key, op[4], 'EX', op[6])
    redis.call('ZADD', P .. ':corr:age', op[5], key)
  elseif kind == 'p+' then
    redis.call('HSETNX', P .. ':part:' .. op[2] .. '\t' .. op[3], op[4], op[5])
    redis.call('SADD', P .. ':partgroups:' .. op[2], op[3])
  elseif kind == 'p-' then
    redis.call('DEL', P .. ':part:' .. op[2] .. '\t' .. op[3])
    redis.call('SREM', P .. ':partgroups:' .. op[2], op[3])
  elseif kind == 'v' then
    local k = P .. ':conv:{' .. op[2] .. '}'
    local there = redis.call('EXISTS', k) == 1
    if (op[7] == 1) ~= there then
      redis.call('SET', k, op[4])
      if op[7] == 1 then redis.call('SETNX', P .. ':convmsg:{' .. op[3] .. '}', op[2]) end
      if op[5] == 1 then redis.call('ZADD', P .. ':conv:open', op[6], op[2])
      else redis.call('ZREM', P .. ':conv:open', op[2]) end
    end
  elseif kind == 'k' then
    redis.call('RPUSH', P .. ':consent:{' .. op[2] .. '}', op[4])
    redis.call('ZADD', P .. ':consent', op[3], op[4])
  elseif kind == 't' then
    redis.call('SET', P .. ':thread:{' .. op[2] .. '}', op[5])
    redis.call('HSET', P .. ':threadpair:{' .. op[3] .. '}', op[4], op[2])
    redis.call('ZADD', P .. ':threads', op[6], op[2])
    for _, s in ipairs({'open', 'waiting_on_agent', 'waiting_on_customer', 'closed'}) do
      redis.call('ZREM', P .. ':threads:s:' .. s, op[2])
    end
    redis.call('ZADD', P .. ':threads:s:' .. op[7], op[6], op[2])
  elseif kind == 'te' then
    redis.call('RPUSH', P .. ':thread:{' .. op[2] .. '}:e', op[3])
  elseif kind == 'i' then
    redis.call('ZADD', P .. ':inbound', op[2], op[4])
    if op[3] ~= '' then redis.call('ZADD', P .. ':inbound:t:' .. op[3], op[2], op[4]) end
  elseif kind == 'w' then
    redis.call('XADD', P .. ':work', '*', 'id', op[2])
  elseif kind == 's' then
    redis.call('ZADD', P .. ':sched', op[3], op[2])
  elseif kind == 'd' and not FINAL[redis.call('HGET', msg(op[2]), 's') or 'unknown'] then
    redis.call('ZADD', P .. ':rdl', 'GT', op[3], op[2])  -- the last part's deadline
  end
end
return refused
"""
)

# ARGV: prefix, JSON [[seq, endpoint, state, at, next_attempt_at, status or "", error or ""]]
ATTEMPTS = r"""
local P = ARGV[1]
for _, a in ipairs(cjson.decode(ARGV[2])) do
  local key = a[1] .. '\t' .. a[2]
  local d = P .. ':dlv:' .. key
  if redis.call('EXISTS', d) == 1 then
    redis.call('HINCRBY', d, 'attempts', 1)
    redis.call('HSETNX', d, 'first_attempt_at', a[4])
    redis.call('HSET', d, 'state', a[3], 'next_attempt_at', a[5], 'updated_at', a[4])
    if a[6] ~= '' then redis.call('HSET', d, 'last_status', a[6]) else redis.call('HDEL', d, 'last_status') end
    if a[7] ~= '' then redis.call('HSET', d, 'last_error', a[7]) else redis.call('HDEL', d, 'last_error') end
    redis.call('ZREM', P .. ':fresh:' .. a[2], a[1])
    if a[3] == 'pending' then redis.call('ZADD', P .. ':retry:' .. a[2], a[5], a[1])
    else redis.call('ZREM', P .. ':retry:' .. a[2], a[1]) end
    if a[3] == 'dead' then redis.call('ZADD', P .. ':dead', a[4], key) else redis.call('ZREM', P .. ':dead', key) end
    redis.call('ZADD', P .. ':updated', a[4], key)
  end
end
return 1
"""

# ARGV: prefix, now, limit, JSON skip list, JSON taken keys, JSON {endpoint: fresh after}
# -> JSON [[flat delivery hash, body]]: retries due (soonest first), then first attempts.
DUE = r"""
local P, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local skip, taken, after = {}, {}, cjson.decode(ARGV[6])
for _, e in ipairs(cjson.decode(ARGV[4])) do skip[e] = true end
local ntaken = 0
for _, k in ipairs(cjson.decode(ARGV[5])) do taken[k] = true; ntaken = ntaken + 1 end
local eps = redis.call('SMEMBERS', P .. ':endpoints')
table.sort(eps)
local out = {}
for _, ep in ipairs(eps) do
  local room = limit - #out
  if room <= 0 then break end
  if not skip[ep] then
    local got = 0
    for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P .. ':retry:' .. ep, '-inf', now, 'LIMIT', 0, room + ntaken)) do
      local key = seq .. '\t' .. ep
      if got < room and not taken[key] then
        got = got + 1
        table.insert(out, {redis.call('HGETALL', P .. ':dlv:' .. key), redis.call('HGET', P .. ':event:' .. seq, 'body')})
      end
    end
    local from = after[ep] or 0
    for _, seq in ipairs(redis.call('ZRANGEBYSCORE', P .. ':fresh:' .. ep, '(' .. from, '+inf', 'LIMIT', 0, room - got)) do
      got = got + 1
      table.insert(out, {redis.call('HGETALL', P .. ':dlv:' .. seq .. '\t' .. ep), redis.call('HGET', P .. ':event:' .. seq, 'body')})
    end
    if got == 0 and redis.call('ZCARD', P .. ':retry:' .. ep) == 0 and redis.call('ZCARD', P .. ':fresh:' .. ep) == 0 then
      redis.call('SREM', P .. ':endpoints', ep)
    end
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""

# ARGV: prefix, after, limit, JSON types -> JSON [flat event hash + seq]
EVENTS = r"""
local P, limit = ARGV[1], tonumber(ARGV[3])
local types = {}
local any = true
for _, t in ipairs(cjson.decode(ARGV[4])) do types[t] = true; any = false end
local out = {}
local from = tonumber(ARGV[2])
while #out < limit do
  local seqs = redis.call('ZRANGEBYSCORE', P .. ':events', '(' .. from, '+inf', 'LIMIT', 0, 500)
  if #seqs == 0 then break end
  for _, seq in ipairs(seqs) do
    from = tonumber(seq)
    local e = redis.call('HGETALL', P .. ':event:' .. seq)
    local kind
    for i = 1, #e, 2 do if e[i] == 'type' then kind = e[i + 1] end end
    if any or types[kind] then
      table.insert(e, 'seq'); table.insert(e, seq)
      table.insert(out, e)
      if #out >= limit then break end
    end
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""

# ARGV: prefix, subject or "", state or "", limit -> JSON [flat delivery hash]
DELIVERIES = r"""
local P, subject, state, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local keys
if subject ~= '' then keys = redis.call('LRANGE', P .. ':subject:' .. subject, 0, -1)
elseif state == 'dead' then keys = redis.call('ZREVRANGE', P .. ':dead', 0, -1)
else keys = redis.call('ZREVRANGE', P .. ':updated', 0, -1) end
local out = {}
for _, key in ipairs(keys) do
  if #out >= limit then break end
  local d = redis.call('HGETALL', P .. ':dlv:' .. key)
  if #d > 0 then
    local s
    for i = 1, #d, 2 do if d[i] == 'state' then s = d[i + 1] end end
    if state == '' or s == state then table.insert(out, d) end
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""

# ARGV: prefix, seq or "" (every dead one), now -> how many made pending again
RETRY_DEAD = r"""
local P, only, now = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for _, key in ipairs(redis.call('ZRANGE', P .. ':dead', 0, -1)) do
  local tab = string.find(key, '\t', 1, true)
  local seq, ep = string.sub(key, 1, tab - 1), string.sub(key, tab + 1)
  if only == '' or only == seq then
    local d = P .. ':dlv:' .. key
    redis.call('HSET', d, 'state', 'pending', 'next_attempt_at', now, 'updated_at', now)
    redis.call('HDEL', d, 'first_attempt_at')
    redis.call('ZREM', P .. ':dead', key)
    redis.call('ZADD', P .. ':retry:' .. ep, now, seq)
    redis.call('ZADD', P .. ':updated', now, key)
    redis.call('SADD', P .. ':endpoints', ep)
    n = n + 1
  end
end
return n
"""

# ARGV: prefix, before (wall), limit -> how many events forgotten (every delivery delivered)
PRUNE = r"""
local P, before, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local gone = 0
for _, seq in ipairs(redis.call('ZRANGE', P .. ':events', 0, limit * 4 + 1000)) do
  if gone >= limit then break end
  local ek = P .. ':event:' .. seq
  local e = redis.call('HMGET', ek, 'occurred_at', 'endpoints', 'id', 'subject')
  if tonumber(e[1]) < before then
    local eps = cjson.decode(e[2])
    local done = true
    for _, ep in ipairs(eps) do
      if redis.call('HGET', P .. ':dlv:' .. seq .. '\t' .. ep, 'state') ~= 'delivered' then done = false end
    end
    if done then
      for _, ep in ipairs(eps) do
        local key = seq .. '\t' .. ep
        redis.call('DEL', P .. ':dlv:' .. key)
        redis.call('ZREM', P .. ':updated', key)
        redis.call('LREM', P .. ':subject:' .. e[4], 0, key)
      end
      redis.call('DEL', ek)
      redis.call('ZREM', P .. ':events', seq)
      redis.call('HDEL', P .. ':eventids', e[3])
      gone = gone + 1
    end
  end
end
return gone
"""

# ARGV: prefix, before (wall), limit -> correlations submitted before it forgotten, oldest first
EXPIRE = r"""
local P = ARGV[1]
local old = redis.call('ZRANGEBYSCORE', P .. ':corr:age', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, key in ipairs(old) do redis.call('DEL', P .. ':corr:' .. key) end
if #old > 0 then redis.call('ZREMRANGEBYRANK', P .. ':corr:age', 0, #old - 1) end  -- the lowest ranks
return #old
"""

# ARGV: prefix, smsc, group, seqnum or "" (take the group as it is), part JSON, total -> the
# group's parts (JSON each), taken out, once it holds ``total`` of them (or at once with
# no seqnum); else nil. MO parts read by different gateways meet here (issue 19).
GATHER = r"""
local P, smsc, group, seqnum, total = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
local k = P .. ':part:' .. smsc .. '\t' .. group
if seqnum ~= '' then
  redis.call('HSETNX', k, seqnum, ARGV[5])
  redis.call('SADD', P .. ':partgroups:' .. smsc, group)
  if redis.call('HLEN', k) < total then return false end
end
local parts = redis.call('HVALS', k)
redis.call('DEL', k)
redis.call('SREM', P .. ':partgroups:' .. smsc, group)
return parts
"""
