"""``run_app(shared=(url, prefix))``: the app's gateway binds under a lease and sends
under the shared limits (``cluster.sharing``), over real HTTP and loopback TCP."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import trio

from simulator.smsc import Simulator
from smppgw.app import run_app
from tests.api.helpers import KEY, app_config
from tests.cluster.helpers import clients
from tests.gateway.helpers import simulator, smsc


async def test_the_app_shares_limits_and_binds_through_redis(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    sim: Simulator
    async with simulator() as sim, trio.open_nursery() as nursery:
        config = app_config([smsc(sim, binds=2, tps=50)], tmp_path / "gw.sqlite3")
        gateway, _, port = await nursery.start(partial(run_app, config, shared=(redis_url, redis_prefix)))
        dispatcher = gateway.smscs["a"].dispatcher
        assert dispatcher.shared is not None and dispatcher.account is None  # the shared rate
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
            with trio.fail_after(10):
                while len(gateway.smscs["a"].pool.senders) < 2:
                    await trio.sleep(0.02)
            body = {"to": "447700900001", "from": "12345", "text": "hi", "dlr": False}
            answer = await http.post(f"http://127.0.0.1:{port}/v1/messages", json=body)
            assert answer.status_code == 202, answer.text
            with trio.fail_after(10):
                while sim.store.select(limit=10) == []:
                    await trio.sleep(0.02)
        async with clients(redis_url, 1) as (redis,):
            # The two binds hold the account's two slots; the send charged the account.
            owners = {await redis.get(f"{redis_prefix}:{{bind:a}}:{i}") for i in range(2)}
            assert owners == {gateway._leases.owner.encode()}  # type: ignore[union-attr]
            assert await redis.exists([f"{redis_prefix}:{{limits}}:account:a"]) == 1
        with trio.CancelScope(shield=True):
            await gateway.aclose()  # unbinds, and gives the slots back
        async with clients(redis_url, 1) as (redis,):
            assert await redis.exists([f"{redis_prefix}:{{bind:a}}:{i}" for i in range(2)]) == 0
        nursery.cancel_scope.cancel()
