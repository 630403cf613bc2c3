"""The issue's scale-out test (issue 19): three ``smppgw serve`` processes on one Redis
and one simulator whose account allows 300 submit_sm per second and 4 binds. Each
gateway is configured with the account's totals (``tps = 300``, ``binds = 4``): alone,
any one could use all of it, so together they must share it (cluster.limits, leases).
The simulator never sees more than 300 submit_sm in any second nor more than 4 binds
at once, and every message is delivered exactly once (its count by destination).

Gateways are killed by the PIDs this test started, never by name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from simulator.smsc import Simulator
from tests.api.test_crash import _Serve
from tests.cluster.helpers import max_in_window
from tests.gateway.helpers import ACCOUNT, PASSWORD, simulator
from tests.redis.test_work_queue import _all_final, _config, _metric, _seen, _to

TPS = 300
BINDS = 4
N = 900  # 3 s at the account's rate; bounded in count and time


def _binds_refused(sim: Simulator) -> float:
    """bind_* the simulator answered with an error (a 5th bind would be ESME_RALYBND)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(sim.metrics.render().decode())
        for s in family.samples
        if s.name == "smppsim_pdus_total"
        and s.labels.get("command", "").startswith("bind_")
        and s.labels.get("status", "ESME_ROK") != "ESME_ROK"
    )


async def _post_batches(clients: list[httpx.AsyncClient], n: int) -> list[str]:
    """``n`` messages in one batch POST per gateway (message ``i`` through gateway ``i % 3``)."""
    ids: list[str] = [""] * n
    for g, client in enumerate(clients):
        mine = range(g, n, len(clients))
        body = {"messages": [{"to": "+" + _to(i), "from": "12345", "text": f"work {i}"} for i in mine]}
        r = await client.post("/v1/messages/batch", json=body)
        assert r.status_code == 202 and r.json()["accepted"] == len(mine), r.text
        for i, result in zip(mine, r.json()["results"], strict=True):
            ids[i] = result["id"]
    return ids


async def test_three_processes_keep_to_the_accounts_tps_and_binds_and_deliver_each_once(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    account = {"system_id": ACCOUNT, "password": PASSWORD, "max_binds": BINDS, "behaviour": {"tps": TPS}}
    async with simulator(account=[account]) as sim:
        state = sim.state.accounts[ACCOUNT]
        most = 0

        async def watch() -> None:  # the binds the carrier holds, every 2 ms
            nonlocal most
            while True:
                most = max(most, len(state.binds))
                await trio.sleep(0.002)

        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix, binds=BINDS, tps=TPS, window=16))
            for i in range(3)
        ]
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                clients = [await s.start() for s in serves]
                started = trio.current_time()
                ids = await _post_batches(clients, N)
                # The simulator runs in this process and stamps each submit_sm as it handles
                # it: while they come, this process only waits (no HTTP polling beside it),
                # so a stamp is when it came, not when a busy loop got to it.
                with trio.fail_after(60):  # ~3 s at the account's pace; room for a busy machine
                    while len(_seen(sim)) < N:
                        await trio.sleep(0.25)
                took = trio.current_time() - started
                nursery.cancel_scope.cancel()
            await _all_final(clients[2], ids, timeout=60)
            sent = [await _metric(c, "smppgw_submits_total", status="ESME_ROK") for c in clients]
            assert sum(sent) == N and sum(1 for n in sent if n > 0) >= 2, sent  # shared, not one's
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()
        assert _seen(sim) == Counter({_to(i): 1 for i in range(N)})  # each delivered exactly once
        # Every submit_sm was taken (none throttled), so the accepted ones are all there were:
        # never more than 300 in any second, and the run took at least the account's pace.
        assert state.throttled == 0
        assert max_in_window([m.submitted_at for m in sim.store.select(account=ACCOUNT, limit=10_000)]) <= TPS
        assert took >= (N - TPS) / TPS
        # The carrier never held more than 4 binds, and never refused one (nobody tried a 5th).
        assert most <= BINDS
        assert _binds_refused(sim) == 0
