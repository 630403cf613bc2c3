"""``/readyz`` with the shared work queue (issue 19): a gateway that holds no bind still
takes messages into the queue the others send from, so it is ready while it accepts and
Redis answers; without the work queue a gateway is ready only while it holds a bind.
The composed app over real HTTP, on a Redis reached through a proxy the test cuts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from smppgw.store.redis import RedisStore
from tests.api.helpers import Api, app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.redis.proxy import RedisProxy


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    p = RedisProxy(redis_url)
    yield p
    p.close()


async def _ready(api: Api, code: int, timeout: float = 10.0) -> dict[str, object]:
    """The ``/readyz`` body once it answers ``code``."""
    with trio.fail_after(timeout):
        while (r := await api.get("/readyz")).status_code != code:
            await trio.sleep(0.05)
    body: dict[str, object] = r.json()
    return body


async def test_with_the_work_queue_a_gateway_without_a_bind_is_ready_while_redis_answers(
    tmp_path: Path, proxy: RedisProxy, redis_prefix: str
) -> None:
    store = RedisStore(
        proxy.url, prefix=redis_prefix, clock_offset=time.time() - trio.current_time(), timeout=1.0
    )
    async with simulator() as sim:
        config = app_config(
            [smsc(sim, binds=1, password="wrong")], tmp_path / "unused.sqlite3"
        )  # never bound
        config = attrs.evolve(config, store_backend="redis", redis_url=proxy.url, redis_prefix=redis_prefix)
        async with serving(config, store=store) as api:
            body = await _ready(api, 200)
            assert body == {"ready": True, "smscs": {"a": False}, "work_queue": True, "store": True}
            r = await api.post("/v1/messages", {"to": "447700900001", "from": "12345", "text": "hi"})
            assert r.status_code == 202, r.text  # into the queue another gateway sends from
            proxy.cut()  # Redis away: nothing can be taken in
            body = await _ready(api, 503)
            assert body == {"ready": False, "smscs": {"a": False}, "work_queue": True, "store": False}
            proxy.restore()
            assert (await _ready(api, 200))["store"] is True  # after the link's backoff


async def test_without_the_work_queue_a_gateway_without_a_bind_is_not_ready(tmp_path: Path) -> None:
    async with (
        simulator() as sim,
        serving(app_config([smsc(sim, binds=1, password="wrong")], tmp_path / "gw.sqlite3")) as api,
    ):
        await trio.sleep(0.3)  # its bind tried, and refused
        r = await api.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"ready": False, "smscs": {"a": False}}  # today's rule, today's body
