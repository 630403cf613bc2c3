"""Several gateways share one carrier account through Redis, end to end: three
``Gateway``s (separate Redis clients, as separate processes would have) against one
simulator over loopback TCP whose account allows 4 binds and 60 submit_sm per second.
Each gateway is configured with the account's 4 binds and 60 TPS: alone, any one of
them could use all of it; together they must share it."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import trio

from smppgw.cluster.leases import RedisLeases
from smppgw.cluster.limits import RedisLimits
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.store.base import Status
from tests.cluster.helpers import clients, max_in_window
from tests.gateway.helpers import ACCOUNT, PASSWORD, dest, simulator, smsc

TPS = 60
BINDS = 4
GATEWAYS = 3
EACH = 60  # messages per gateway: 180 at 60/s, about 3 s


@contextlib.asynccontextmanager
async def _gateways(sim: Any, url: str, prefix: str) -> AsyncIterator[list[Gateway]]:
    config = config_from_dict({"smsc": [smsc(sim, binds=BINDS, tps=TPS, window=16)]})
    async with clients(url, GATEWAYS) as redis, trio.open_nursery() as nursery:
        gateways = []
        for i, client in enumerate(redis):
            limits = RedisLimits(client, prefix)
            leases = RedisLeases(client, prefix, ttl=3.0)
            await nursery.start(limits.run)
            await nursery.start(leases.run)
            gw = Gateway(config, rng=random.Random(i), shared_limits=limits, leases=leases)
            await nursery.start(gw.run)
            gateways.append(gw)
        try:
            yield gateways
        finally:
            with trio.CancelScope(shield=True):
                for gw in gateways:
                    await gw.aclose()
            nursery.cancel_scope.cancel()


async def test_three_gateways_share_the_accounts_binds_and_tps(redis_url: str, redis_prefix: str) -> None:
    account = {"system_id": ACCOUNT, "password": PASSWORD, "max_binds": BINDS, "behaviour": {"tps": TPS}}
    async with simulator(account=[account]) as sim, _gateways(sim, redis_url, redis_prefix) as gateways:
        state = sim.state.accounts[ACCOUNT]
        most = 0

        async def watch() -> None:  # the binds the carrier holds, every 2 ms
            nonlocal most
            while True:
                most = max(most, len(state.binds))
                await trio.sleep(0.002)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            senders = [gw.smscs["a"].pool.senders for gw in gateways]
            with trio.fail_after(15):  # the first gateway took every slot, then gave some back
                while sorted(map(len, senders)) != [1, 1, 2]:
                    await trio.sleep(0.05)
            records = [
                gw.submit(source="12345", destination=dest(g * EACH + i), text=f"m{g}-{i}", dlr=False)
                for g, gw in enumerate(gateways)
                for i in range(EACH)
            ]
            started = trio.current_time()
            with trio.fail_after(30):
                for gw, record in zip([g for g in gateways for _ in range(EACH)], records, strict=True):
                    await gw.wait_final(record.id, 30)
            took = trio.current_time() - started
            nursery.cancel_scope.cancel()

    # Sent, not waiting for receipts: a receipt may reach another gateway's bind, which
    # is item 5 of the issue (correlation in the Redis store), not what this tests.
    assert all(r.status is Status.SUBMITTED for r in records), {r.status for r in records}
    assert took >= (GATEWAYS * EACH - TPS) / TPS  # the three together at the account's rate
    # The carrier never held more than 4 binds, and never refused one (nobody tried a 5th).
    assert most <= BINDS
    assert sum(gw.smscs["a"].pool.bind_failures for gw in gateways) == 0
    # Never more than 60 submit_sm in any second, none throttled; each message sent once.
    accepted = sim.store.select(account=ACCOUNT, limit=10_000)
    assert len(accepted) == GATEWAYS * EACH
    assert len({m.destination_addr for m in accepted}) == GATEWAYS * EACH
    assert max_in_window([m.submitted_at for m in accepted]) <= TPS
    assert state.throttled == 0
