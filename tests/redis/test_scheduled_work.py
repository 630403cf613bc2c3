"""Scheduled messages on the shared work queue (issue 19): a message with a future
``send_at`` waits in Redis (``{prefix}:sched``), not in the memory of the gateway that
accepted it, and any gateway releases and sends it at its time.

- accepted by gateway A, A SIGKILLed before its time: gateway B sends it, once;
- canceled before its time: no gateway sends it (the set entry leaves with the cancel);
- two gateways alive: released once, sent once;
- a message quiet hours hold takes the same path (in the shared set, for the opening).

Real ``smppgw serve`` processes on one Redis and one simulator; killed by the PIDs this
test started.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import coredis
import httpx
import trio

from simulator.smsc import Simulator
from tests.api.test_crash import _Serve
from tests.gateway.helpers import simulator
from tests.redis.test_work_queue import _config


def _soon(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


async def _schedule(http: httpx.AsyncClient, to: str, seconds: float) -> dict[str, Any]:
    r = await http.post(
        "/v1/messages", json={"to": "+" + to, "from": "12345", "text": "later", "send_at": _soon(seconds)}
    )
    assert r.status_code == 202, r.text
    view: dict[str, Any] = r.json()
    assert view["status"] == "scheduled", view
    return view


async def _until(http: httpx.AsyncClient, message_id: str, status: str, timeout: float = 15.0) -> None:
    view: Any = None
    try:
        with trio.fail_after(timeout):
            while (view := (await http.get(f"/v1/messages/{message_id}")).json())["status"] != status:
                await trio.sleep(0.05)
    except trio.TooSlowError:
        raise AssertionError(f"not {status}: {view}") from None


def _sent_to(sim: Simulator, to: str) -> int:
    return sum(1 for m in sim.store.select(limit=10_000) if m.destination_addr == to)


async def _in_sched(redis_url: str, prefix: str, message_id: str) -> bool:
    client: coredis.Redis[bytes] = coredis.Redis.from_url(redis_url)
    async with client:
        return await client.zscore(f"{prefix}:sched", message_id) is not None


async def test_a_scheduled_message_outlives_the_gateway_that_accepted_it(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    to = "447700900901"
    async with simulator() as sim:
        a, b = (_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(2))
        try:
            first = await a.start()
            second = await b.start()
            view = await _schedule(first, to, 3)
            assert await _in_sched(redis_url, redis_prefix, view["id"])  # shared, not only in A
            await a.kill()  # SIGKILL before its time
            await first.aclose()
            assert _sent_to(sim, to) == 0
            await _until(second, view["id"], "delivered")
            await trio.sleep(0.5)  # nothing more comes
            assert _sent_to(sim, to) == 1
            assert not await _in_sched(redis_url, redis_prefix, view["id"])
            await second.aclose()
        finally:
            await a.kill()
            await b.kill()


async def test_a_canceled_scheduled_message_is_sent_by_no_gateway(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    to = "447700900902"
    async with simulator() as sim:
        a, b = (_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(2))
        try:
            first = await a.start()
            second = await b.start()
            view = await _schedule(first, to, 2)
            r = await second.post(f"/v1/messages/{view['id']}/cancel")  # canceled through the other
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "canceled"
            await trio.sleep(0.5)  # the cancel's commit
            assert not await _in_sched(redis_url, redis_prefix, view["id"])
            await trio.sleep(3.5)  # well past its send_at
            assert _sent_to(sim, to) == 0
            for http in (first, second):
                assert (await http.get(f"/v1/messages/{view['id']}")).json()["status"] == "canceled"
                await http.aclose()
        finally:
            await a.kill()
            await b.kill()


async def test_two_gateways_alive_release_a_scheduled_message_once(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    tos = [f"4477009009{i:02d}" for i in range(10, 20)]
    async with simulator() as sim:
        a, b = (_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(2))
        try:
            clients = [await a.start(), await b.start()]
            views = [await _schedule(clients[i % 2], to, 2) for i, to in enumerate(tos)]
            for view in views:
                await _until(clients[1], view["id"], "delivered")
            await trio.sleep(0.5)  # nothing more comes
            assert [_sent_to(sim, to) for to in tos] == [1] * len(tos)
            for http in clients:
                await http.aclose()
        finally:
            await a.kill()
            await b.kill()


async def test_a_message_quiet_hours_hold_waits_in_the_shared_set(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    hour = datetime.now(UTC).hour
    window = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"  # now is outside it
    async with simulator() as sim:
        path = _config(tmp_path, "gw0", sim, redis_url, redis_prefix)
        path.write_text(
            path.read_text() + f'\n[[twoway.quiet_hours]]\nwindow = "{window}"\ntimezone = "UTC"\n'
        )
        a = _Serve(path)
        try:
            http = await a.start()
            r = await http.post(
                "/v1/messages",
                json={"to": "+447700900903", "from": "12345", "text": "sale", "tags": ["marketing"]},
            )
            assert r.status_code == 202, r.text
            held = (await http.get(f"/v1/messages/{r.json()['id']}")).json()
            assert held["status"] == "scheduled" and held["send_at"][11:16] == window[:5], held
            assert await _in_sched(redis_url, redis_prefix, held["id"])
            assert (await http.post(f"/v1/messages/{held['id']}/cancel")).json()["status"] == "canceled"
            await trio.sleep(0.5)  # the cancel's commit
            assert not await _in_sched(redis_url, redis_prefix, held["id"])
            await http.aclose()
        finally:
            await a.kill()
