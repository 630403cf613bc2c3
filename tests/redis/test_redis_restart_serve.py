"""Redis restarted mid-run under two ``smppgw serve`` processes sharing the work queue
(issue 19): with the append-only file (``appendfsync always``) every message a gateway
answered 202 for is delivered (nothing lost), each once, or twice only when counted as
sent again (``smppgw_resent_unknown_total``: a part in a gateway's window when its bind
was closed because a commit failed with Redis away). A queued part is never sent by both
gateways: before the work-queue lease (``gateway.workqueue``), the entries pending across
the restart went idle for its downtime and were claimed by the other gateway while their
holder still sent them; runs sent 2-56 parts twice, counted by neither gateway.
While Redis is away the API answers 503 and takes nothing; both go on by themselves.

The test's own ``redis-server`` (tests/redis/test_redis_restart.py), stopped and started
by the PID it started; the gateways are killed by their PIDs, never by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.api.test_crash import _Serve, _wait
from tests.gateway.helpers import simulator
from tests.redis.test_redis_restart import OwnRedis
from tests.redis.test_work_queue import _all_final, _config, _metric, _post_all, _seen, _to

N = 300


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def _post_until_accepted(clients: list[httpx.AsyncClient], i: int) -> str:
    """Message ``i`` once Redis answers again (a 503 until then: nothing taken)."""
    with trio.fail_after(20):
        while (
            r := await clients[i % 2].post(
                "/v1/messages", json={"to": "+" + _to(i), "from": "12345", "text": "x"}
            )
        ).status_code != 202:
            assert r.status_code == 503, r.text
            await trio.sleep(0.1)
    return str(r.json()["id"])


async def test_a_redis_restart_under_two_serve_processes_loses_nothing(
    tmp_path: Path, own_redis: OwnRedis
) -> None:
    async with simulator() as sim:
        sim.set_behaviour(None, {"response_delay": 0.05})  # a run of seconds: Redis stops mid-run
        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, own_redis.url, "restart", binds=2, window=4))
            for i in range(2)
        ]
        try:
            clients = [await s.start() for s in serves]
            ids = await _post_all(clients, N)
            await _wait(lambda: len(sim.store) >= 60)  # mid-run
            own_redis.stop()
            r = await clients[0].post("/v1/messages", json={"to": "+" + _to(N), "from": "12345", "text": "x"})
            assert r.status_code == 503, r.text  # away: nothing taken in
            await trio.sleep(1.0)
            own_redis.start()  # the same port and AOF
            ids += [await _post_until_accepted(clients, i) for i in range(N, N + 10)]
            await _all_final(clients[1], ids, timeout=60)  # every accepted message, delivered
            seen = _seen(sim)
            assert set(seen) == {_to(i) for i in range(N + 10)}  # nothing lost
            twice = sum(n - 1 for n in seen.values())
            resent = sum([await _metric(c, "smppgw_resent_unknown_total") for c in clients])
            assert twice <= resent, (twice, resent)  # a part sent again is counted
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()
