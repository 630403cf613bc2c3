"""The shared work queue (issue 19): several ``smppgw serve`` processes on one Redis and
one simulator, each gateway its own API port, every message taken by any of them.

- Three gateways, 300 messages posted through all three APIs: each one reaches the
  simulator exactly once (its count by destination), and more than one gateway sent.
- kill -9 of one gateway mid-run: the others claim its entries (``claim_idle``) and
  finish them; nothing is lost; a destination the simulator saw twice is one whose part
  was in the dead gateway's window, and each such part is counted (the survivors'
  ``smppgw_work_resent_total``; its message's history says so).
- A receipt that reaches another gateway than the sender settles the message: the
  correlation is in Redis.

Gateways are killed by the PIDs this test started, never by name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from simulator.smsc import Simulator
from tests.api.test_crash import _Serve, _wait
from tests.gateway.helpers import simulator, smsc

N = 300


def _config(tmp_path: Path, name: str, sim: Simulator, url: str, prefix: str, **smsc_keys: Any) -> Path:
    # binds: the account's total (the gateways share it through leases on Redis): one each.
    # bind_lease_ttl = 5: a killed gateway's slots are free, and a surplus slot given back
    # (renewed every third of it), within seconds rather than the default's 15 s. Not
    # shorter: a live gateway starved of CPU or Redis for about that long (a busy test
    # machine) would lose its leases and resend what its binds had in flight.
    table = smsc(sim, **{"binds": 3, "window": 8, **smsc_keys})
    lines = [f"{k} = {v!r}".replace("'", '"').replace("True", "true") for k, v in table.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text(
        "[[smsc]]\n" + "\n".join(lines) + "\n\n"
        f'[store]\nbackend = "redis"\nurl = "{url}"\nprefix = "{prefix}"\nclaim_idle = 2\nbind_lease_ttl = 5\n\n'
        "[receipts]\nhold = 1\n\n"
        '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n'
    )
    return path


def _to(i: int) -> str:
    return f"4477009{i:05d}"


async def _post_all(clients: list[httpx.AsyncClient], n: int) -> list[str]:
    """``n`` messages, each through the next gateway's API, 30 at a time."""
    ids: list[str] = [""] * n

    async def post(i: int) -> None:
        r = await clients[i % len(clients)].post(
            "/v1/messages", json={"to": "+" + _to(i), "from": "12345", "text": f"work {i}"}
        )
        assert r.status_code == 202, r.text
        ids[i] = r.json()["id"]

    for start in range(0, n, 30):
        async with trio.open_nursery() as nursery:
            for i in range(start, min(start + 30, n)):
                nursery.start_soon(post, i)
    return ids


async def _all_final(http: httpx.AsyncClient, ids: list[str], timeout: float = 25.0) -> dict[str, Any]:
    views: dict[str, Any] = {}
    view: Any = None
    try:
        with trio.fail_after(timeout):
            for message_id in ids:
                while (view := (await http.get(f"/v1/messages/{message_id}")).json())[
                    "status"
                ] != "delivered":
                    await trio.sleep(0.05)
                views[message_id] = view
    except trio.TooSlowError:
        raise AssertionError(f"{len(views)} of {len(ids)} delivered; the next: {view}") from None
    return views


def _seen(sim: Simulator) -> Counter[str]:
    """submit_sm the simulator took, by destination."""
    return Counter(m.destination_addr for m in sim.store.select(limit=10_000))


async def _metric(http: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels``."""
    text = (await http.get("/metrics")).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def test_three_gateways_deliver_every_message_exactly_once(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        serves = [_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(3)]
        try:
            clients = [await s.start() for s in serves]
            ids = await _post_all(clients, N)
            await _all_final(clients[1], ids)
            seen = _seen(sim)
            assert seen == Counter({_to(i): 1 for i in range(N)})  # each exactly once
            sent = [await _metric(c, "smppgw_submits_total", status="ESME_ROK") for c in clients]
            assert sum(sent) == N and sum(1 for s in sent if s > 0) >= 2, sent  # shared, not one's
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()


async def test_a_killed_gateway_s_work_is_finished_by_the_others(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        sim.set_behaviour(None, {"response_delay": 0.1})  # ~40 submit_sm/s per gateway: a run of seconds
        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix, window=4)) for i in range(3)
        ]
        try:
            clients = [await s.start() for s in serves]
            ids = await _post_all(clients, N)
            await _wait(lambda: len(sim.store) >= 40)  # mid-run, gw0 holding work
            await serves[0].kill()  # SIGKILL: its claimed entries are left pending
            await clients[0].aclose()
            views = await _all_final(clients[1], ids)
            seen = _seen(sim)
            assert set(seen) == {_to(i) for i in range(N)}  # nothing lost
            twice = sorted(d for d, n in seen.items() if n > 1)
            assert all(n <= 2 for n in seen.values())
            assert len(twice) <= 4  # at most the dead gateway's window (one bind of 4)
            resent = [await _metric(c, "smppgw_work_resent_total") for c in clients[1:]]
            claimed = [await _metric(c, "smppgw_work_claimed_total") for c in clients[1:]]
            assert sum(claimed) >= 1  # its entries were taken over
            assert sum(resent) >= len(twice)  # every part sent twice is counted
            noted = {
                v["to"].lstrip("+")
                for v in views.values()
                if any("sent again" in (h.get("detail") or "") for h in v["history"])
            }
            assert set(twice) <= noted  # ... and its message's history says so
            for c in clients[1:]:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()


async def test_a_receipt_on_another_gateway_settles_the_message(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        sim.set_behaviour(None, {"dlr_delay": 3.0})  # the receipt comes after its sender died
        serves = [_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(2)]
        try:
            first = await serves[0].start()
            r = await first.post("/v1/messages", json={"to": "+447700900555", "from": "12345", "text": "hi"})
            message_id = r.json()["id"]
            with trio.fail_after(10):  # submitted, and that is in Redis (the work entry settled)
                while (await first.get(f"/v1/messages/{message_id}")).json()["status"] != "submitted":
                    await trio.sleep(0.05)
            await trio.sleep(0.3)  # past a write-behind flush
            second = await serves[1].start()
            await serves[0].kill()  # its bind gone: the receipt can only reach the second gateway
            await first.aclose()
            views = await _all_final(second, [message_id], timeout=15)
            assert views[message_id]["parts"][0]["receipt_stat"] == "DELIVRD"
            assert len(sim.store) == 1  # sent once: not taken again by the second gateway
            await second.aclose()
        finally:
            for s in serves:
                await s.kill()


async def test_the_parts_of_one_mo_read_by_two_gateways_make_one_message(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        serves = [_Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix)) for i in range(2)]
        try:
            clients = [await s.start() for s in serves]
            texts = [
                f"message {n}: " + "long enough to take three parts of a concatenated SMS " * 6
                for n in range(4)
            ]
            for text in texts:  # the simulator deals the parts to the two binds in turn
                assert (
                    sim.inject_mo(
                        system_id=None, source_addr="447700900777", destination_addr="12345", text=text
                    )
                    == 3
                )
            got: list[dict[str, Any]] = []
            with trio.fail_after(15):
                while len(got) < len(texts):
                    got = [m for c in clients for m in (await c.get("/v1/inbound")).json()["messages"]]
                    await trio.sleep(0.1)
            await trio.sleep(0.5)  # nothing more comes (no part handed over alone)
            got = [m for c in clients for m in (await c.get("/v1/inbound")).json()["messages"]]
            unique = {m["seq"]: m for m in got}.values()  # both gateways list the one store
            assert sorted(m["text"] for m in unique) == sorted(texts)
            assert all(m["parts"] == 3 and m["complete"] for m in unique)
            read = [await _metric(c, "smppgw_inbound_total") for c in clients]
            assert sum(read) == 12 and min(read) > 0, read  # the parts went to both gateways
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()


async def test_a_gateway_without_a_bind_takes_no_work_it_cannot_send(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The account allows one bind: one gateway gets no lease. It accepts through its API
    into the shared queue and leaves the sending to the other (were it to take entries
    it can't send, it would keep them fresh and they would never go)."""
    n = 600
    async with simulator() as sim:
        # A backlog beyond the bound gateway's room (it holds 100 parts at most): the rest
        # waits in Redis, where the gateway without a bind could read it.
        sim.set_behaviour(None, {"response_delay": 0.02})
        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix, binds=1)) for i in range(2)
        ]
        try:
            clients = [await s.start(bound_first=False) for s in serves]
            for start in range(0, n, 100):  # batches, each through the next gateway's API
                batch = [
                    {"to": "+" + _to(i), "from": "12345", "text": f"work {i}"}
                    for i in range(start, start + 100)
                ]
                r = await clients[start // 100 % 2].post("/v1/messages/batch", json={"messages": batch})
                assert r.status_code in (200, 202, 207), r.text
            await _wait(lambda: sum(_seen(sim).values()) >= n, timeout=30)
            assert _seen(sim) == Counter({_to(i): 1 for i in range(n)})
            with trio.move_on_after(10):  # the last submit_sm_resp are counted as they come
                while (
                    sum(
                        sent := [await _metric(c, "smppgw_submits_total", status="ESME_ROK") for c in clients]
                    )
                    < n
                ):
                    await trio.sleep(0.05)
            assert sorted(sent) == [0, n], sent  # one gateway bound, and it sent everything
            # and sent it as it came: nothing waited with the other gateway to be claimed
            claimed = [await _metric(c, "smppgw_work_claimed_total") for c in clients]
            assert claimed == [0, 0], claimed
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()
