"""The work queue's renewal (``RedisWork.keep``, issue 19): what a gateway holds is
renewed only while it is still pending to that gateway; the entries another gateway
claimed from it, or claimed and settled since, are answered as lost (the gateway then
sends none of them: ``gateway.workqueue``); an entry pending to no one whose message
Redis does not have stays the holder's (its copy may be the only one). On the test
Redis, under this test's own prefix."""

from __future__ import annotations

import coredis

from smppgw.cluster.workqueue import RedisWork


async def test_keep_renews_its_own_and_answers_what_another_gateway_took(
    redis_url: str, redis_prefix: str
) -> None:
    client: coredis.Redis[bytes] = coredis.Redis.from_url(redis_url)
    async with client:
        mine = RedisWork(client, redis_prefix, claim_idle=0.0, consumer="a")
        other = RedisWork(client, redis_prefix, claim_idle=0.0, consumer="b")
        await mine.start()
        for n in range(4):
            await client.xadd(mine.key, {"id": f"m{n}"})
        for n in (0, 1, 2):  # stored messages (m3: Redis lost it, say)
            await client.hset(f"{redis_prefix}:msg:{{m{n}}}", {"s": "queued"})
        held = await mine.read(10, 0.1)
        assert [m for _, m in held] == ["m0", "m1", "m2", "m3"]
        assert await mine.keep(held) == []  # all its own: renewed
        taken = await other.claim(2)  # as if its lease lapsed: the other gateway claims two
        assert [m for _, m in taken] == ["m0", "m1"]
        await other.ack([taken[1][0]])  # ... and settles one of them (XACK and XDEL)
        await client.xack(mine.key, "smppgw", [held[3][0]])  # m3: pending to no one, not stored
        assert await mine.keep(held) == [held[0][0], held[1][0]]
        pending = await client.xpending(mine.key, "smppgw", "-", "+", 10)
        assert {(p.identifier.decode(), p.consumer.decode()) for p in pending} == {
            (held[0][0], "b"),  # not taken back by the renewal
            (held[2][0], "a"),
        }
        await client.delete([mine.key, *(f"{redis_prefix}:msg:{{m{n}}}" for n in range(3))])
