"""Dead consumers leave the work queue's group (issue 19, ``cluster.workqueue.PRUNE``): a
consumer with no pending entry idle longer than ``consumer_idle`` is removed by any
gateway; one with pending entries never is (its entries are claimed first, then it goes);
the input stream's group (``cluster.streams``) is pruned the same way. Real Redis,
separate clients as separate gateways, real (short) idle times."""

from __future__ import annotations

import trio

from smppgw.cluster.workqueue import GROUP, RedisWork, prune_consumers
from tests.cluster.helpers import clients


async def _consumers(client: object, key: str, group: str) -> dict[str, int]:
    """name -> pending entries."""
    found = await client.xinfo_consumers(key, group)  # type: ignore[attr-defined]
    out = {}
    for c in found:
        name = c[b"name"] if b"name" in c else c["name"]
        out[name.decode() if isinstance(name, bytes) else name] = int(c.get(b"pending", c.get("pending", 0)))
    return out


async def test_an_idle_consumer_without_pending_entries_is_removed(redis_url: str, redis_prefix: str) -> None:
    async with clients(redis_url, 3) as (a, b, c):
        dead = RedisWork(a, redis_prefix, consumer="dead", claim_idle=0.2, consumer_idle=0.3)
        holder = RedisWork(b, redis_prefix, consumer="holder", claim_idle=60, consumer_idle=0.3)
        live = RedisWork(c, redis_prefix, consumer="live", claim_idle=0.2, consumer_idle=0.3)
        await live.start()
        for i in range(3):
            await c.xadd(live.key, {"id": f"m{i}"})
        assert len(await dead.read(1, 0.1)) == 1  # "dead" takes one, then stops
        assert len(await holder.read(1, 0.1)) == 1  # "holder" takes one and keeps it pending
        await trio.sleep(0.5)  # both idle past consumer_idle
        assert await live.prune() == []  # each still holds a pending entry: neither removed
        assert set(await _consumers(c, live.key, GROUP)) == {"dead", "holder"}
        claimed = await live.claim(10)  # the dead one's entry (idle past claim_idle) taken over
        assert [message_id for _, message_id in claimed] in (["m0"], ["m0", "m1"])
        await live.ack([entry for entry, _ in claimed])
        await trio.sleep(0.4)
        gone = await live.prune()
        left = await _consumers(c, live.key, GROUP)
        if len(claimed) == 2:  # (the holder's entry was idle past 0.2 s too)
            assert sorted(gone) == ["dead", "holder"]
        else:
            assert gone == ["dead"] and left["holder"] == 1  # pending: kept
        assert "dead" not in left and "live" in left  # (the caller is never removed)


async def test_a_removed_live_consumer_reads_on(redis_url: str, redis_prefix: str) -> None:
    async with clients(redis_url, 2) as (a, b):
        one = RedisWork(a, redis_prefix, consumer="one", consumer_idle=0.1)
        two = RedisWork(b, redis_prefix, consumer="two", consumer_idle=0.1)
        await one.start()
        await a.xadd(one.key, {"id": "m0"})
        entries = await one.read(1, 0.1)
        await one.ack([e for e, _ in entries])
        await trio.sleep(0.3)
        assert await two.prune() == ["one"]
        await a.xadd(one.key, {"id": "m1"})
        assert [m for _, m in await one.read(1, 0.1)] == ["m1"]  # made again by its read: nothing lost


async def test_the_input_stream_group_is_pruned_too(redis_url: str, redis_prefix: str) -> None:
    key = f"{redis_prefix}:in"
    async with clients(redis_url, 1) as (a,):
        await a.xgroup_create(key, "g", identifier="0", mkstream=True)
        await a.xadd(key, {"body": "{}"})
        await a.xreadgroup("g", "gone", {key: ">"}, count=1)  # pending: kept
        await trio.sleep(0.2)
        assert await prune_consumers(a, key, "g", 0.1, "me") == []
        pending = await a.xpending(key, "g")
        await a.xack(key, "g", [pending.start] if hasattr(pending, "start") else [pending[1]])
        assert await prune_consumers(a, key, "g", 0.1, "me") == ["gone"]
