"""A live gateway cut off from Redis longer than ``claim_idle`` (issue 19): another gateway
claims the work it held, and the first, back, sends none of it (its lease lapsed:
``gateway.workqueue``). Nothing lost; a destination the simulator saw twice is a part
that was in the cut-off gateway's window, counted in ``smppgw_resent_unknown_total``.

Before the lease, the cut-off gateway went on sending the queued parts it still held
once Redis answered again, beside the gateway that had claimed them: sent twice, counted
by neither (the defect a Redis restart showed, tests/redis/test_redis_restart_serve.py).

Two ``smppgw serve`` processes on the test Redis, the first through a proxy the test cuts
(tests/redis/proxy.py); the gateways are killed by the PIDs this test started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.api.test_crash import _Serve, _wait
from tests.gateway.helpers import simulator
from tests.redis.proxy import RedisProxy
from tests.redis.test_work_queue import _all_final, _config, _metric, _post_all, _seen, _to

N = 200


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    p = RedisProxy(redis_url)
    yield p
    p.close()


async def _until_metric(http: httpx.AsyncClient, name: str, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while await _metric(http, name) < 1:
            await trio.sleep(0.1)


async def test_a_gateway_cut_off_past_claim_idle_sends_none_of_the_work_claimed_from_it(
    tmp_path: Path, redis_url: str, redis_prefix: str, proxy: RedisProxy
) -> None:
    async with simulator() as sim:
        sim.set_behaviour(None, {"response_delay": 0.05})  # a run of seconds: the cut falls mid-run
        urls = [proxy.url, redis_url]
        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, urls[i], redis_prefix, binds=2, window=4))
            for i in range(2)
        ]
        try:
            clients = [await s.start() for s in serves]
            ids = await _post_all(clients, N)
            await _wait(lambda: len(sim.store) >= 40)  # mid-run, the first holding queued work
            proxy.cut()
            # Past claim_idle (2 s), once the second has room: it takes over what the first held.
            await _until_metric(clients[1], "smppgw_work_claimed_total", timeout=30)
            proxy.restore()
            # The first, back: lets go (30 s: a loaded CI run once took more than 15).
            await _until_metric(clients[0], "smppgw_work_lost_total", timeout=30)
            await _all_final(clients[1], ids, timeout=60)
            seen = _seen(sim)
            assert set(seen) == {_to(i) for i in range(N)}  # nothing lost
            twice = sum(n - 1 for n in seen.values())
            resent = sum([await _metric(c, "smppgw_resent_unknown_total") for c in clients])
            assert twice <= resent, (twice, resent)  # a part sent twice is counted
            assert twice <= 2 * 4  # at most the cut-off gateway's window (its binds' in flight)
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()
