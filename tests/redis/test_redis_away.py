"""Redis away at run time (issue 19, item 6): the API answers 503 (problem+json) and takes
no new work, the store reconnects with backoff, and nothing is lost: changes kept back
are committed once it is back, and a receipt that arrived meanwhile was answered
ESME_RX_T_APPN, so the SMSC delivered it again. The composed app (real HTTP, the real
simulator) on a Redis reached through a proxy the test cuts (tests/redis/proxy.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from smppgw.store.base import StoreError
from smppgw.store.redis import RedisStore
from tests.api.helpers import app_config, assert_problem, serving
from tests.gateway.helpers import simulator, smsc
from tests.redis.proxy import RedisProxy
from tests.simulator.helpers import metric

MESSAGE = {"to": "447700900001", "from": "12345", "text": "hi"}


@pytest.fixture
def proxy(redis_url: str) -> Iterator[RedisProxy]:
    p = RedisProxy(redis_url)
    yield p
    p.close()


def test_the_store_fails_fast_while_away_and_keeps_its_changes(proxy: RedisProxy, redis_prefix: str) -> None:
    from tests.store.helpers import record

    store = RedisStore(proxy.url, prefix=redis_prefix, timeout=1.0)
    try:
        r = record(1)
        store.add([r])
        proxy.cut()
        r.status = r.status.__class__.QUEUED
        store.save(r)
        with pytest.raises(StoreError, match="unavailable"):
            store.commit()
        started = time.monotonic()
        with pytest.raises(StoreError, match="unavailable"):
            store.commit()  # in the backoff window: no network, at once
        assert time.monotonic() - started < 0.05
        proxy.restore()
        deadline = time.monotonic() + 5
        while True:
            try:
                store.commit()
                break
            except StoreError:
                assert time.monotonic() < deadline, "the store never came back"
                time.sleep(0.05)
        again = RedisStore(proxy.url, prefix=redis_prefix)
        got = again.get(r.id)
        assert got is not None and got.status is r.status  # the change kept through the outage
        again.close()
    finally:
        store.close()


async def test_while_redis_is_away_the_api_answers_503_and_nothing_is_lost(
    tmp_path: Path, proxy: RedisProxy, redis_prefix: str
) -> None:
    store = RedisStore(
        proxy.url, prefix=redis_prefix, clock_offset=time.time() - trio.current_time(), timeout=1.0
    )
    async with (
        simulator(behaviour={"dlr_delay": 0.5, "deliver_retry": [1.0, 1.0, 2.0, 5.0]}) as sim,
        serving(app_config([smsc(sim, binds=1)], tmp_path / "unused.sqlite3"), store=store) as api,
    ):
        await api.wait_ready()
        r = await api.post("/v1/messages", MESSAGE)
        assert r.status_code == 202
        first = r.json()["id"]
        await api.wait_status(first, {"submitted", "en_route", "delivered"})
        proxy.cut()  # the receipt (0.5 s after the submit) finds Redis away
        r = await api.post("/v1/messages", {**MESSAGE, "to": "447700900002"})
        assert_problem(r, 503, "unavailable")
        assert_problem(await api.get("/v1/messages"), 503, "unavailable")
        await trio.sleep(1.0)
        proxy.restore()
        with trio.fail_after(10):
            while (r := await api.post("/v1/messages", {**MESSAGE, "to": "447700900002"})).status_code != 202:
                assert_problem(r, 503, "unavailable")
                await trio.sleep(0.1)
        second = r.json()["id"]
        for message_id in (first, second):
            await api.wait_status(message_id, {"delivered"}, timeout=15)
        assert len(sim.store.select(limit=10)) == 2  # each sent once
        # The first one's receipt came while Redis was away: answered ESME_RX_T_APPN, then again.
        text = sim.metrics.render().decode()
        assert (metric(text, "smppsim_deliveries_total", kind="receipt", result="retried") or 0) >= 1
    again = RedisStore(proxy.url, prefix=redis_prefix)
    try:
        assert again.counts() == {"delivered": 2}  # in Redis, not only in the process
    finally:
        again.close()
