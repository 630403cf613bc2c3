"""The Redis the tests use answers, through coredis, under trio (issue 19)."""

from __future__ import annotations

import coredis


async def test_redis_answers_under_trio(redis_url: str, redis_prefix: str) -> None:
    client = coredis.Redis.from_url(redis_url)
    async with client:
        key = f"{redis_prefix}:probe"
        assert await client.set(key, "1", ex=60)
        assert await client.get(key) == b"1"
        assert await client.delete([key]) == 1
