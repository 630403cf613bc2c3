"""``smppgw serve`` on a real Redis Cluster (``[store] cluster = true``; README "Scale out
on Redis"), as processes against the real simulator.

Two gateways share one deployment (one hash-tagged prefix) on a 3-master cluster and one
SMSC account of 2 binds (one each, by the leases): messages posted through both APIs go
through the shared work stream, reach the simulator each exactly once, and are settled
by their receipts; a scheduled one is released from the shared set at its time (a
script over the set, the stream and the record). Everything the gateways wrote is in the
one slot of the prefix's hash tag, and a cluster client reads it back. Gateways are
stopped by the PIDs this test started, never by name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import redis
import trio

from simulator.smsc import Simulator
from smppgw.store.redis import RedisStore
from tests.api.test_crash import _Serve
from tests.gateway.helpers import simulator, smsc
from tests.redis.test_scheduled_work import _schedule, _until

N = 40


def _config(tmp_path: Path, name: str, sim: Simulator, url: str, prefix: str) -> Path:
    table: dict[str, Any] = smsc(sim, binds=2)  # the account's total, shared through leases
    lines = [f"{k} = {v!r}".replace("'", '"').replace("True", "true") for k, v in table.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text(
        "[[smsc]]\n" + "\n".join(lines) + "\n\n"
        f'[store]\nbackend = "redis"\ncluster = true\nurl = "{url}"\nprefix = "{prefix}"\nclaim_idle = 2\nbind_lease_ttl = 5\n\n'
        '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n'
    )
    return path


async def test_two_gateways_on_a_redis_cluster_deliver_every_message_once(
    tmp_path: Path, redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    url, prefix = redis_cluster_url, redis_cluster_prefix
    async with simulator() as sim:
        serves = [_Serve(_config(tmp_path, f"gw{i}", sim, url, prefix)) for i in range(2)]
        try:
            clients = [await s.start() for s in serves]
            later = await _schedule(clients[0], "447700900999", 2)  # released by a script on the cluster
            ids = []
            for i in range(N):
                r = await clients[i % 2].post(
                    "/v1/messages", json={"to": f"4477009{i:05d}", "from": "12345", "text": f"hi {i}"}
                )
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            with trio.fail_after(20):
                for i, message_id in enumerate(ids):  # read through the other gateway
                    while (await clients[(i + 1) % 2].get(f"/v1/messages/{message_id}")).json()[
                        "status"
                    ] != "delivered":
                        await trio.sleep(0.05)
            await _until(clients[1], later["id"], "delivered")
            ids.append(later["id"])
            seen = Counter(m.destination_addr for m in sim.store.select(limit=1000))
            assert seen == Counter(
                {f"4477009{i:05d}": 1 for i in range(N)} | {"447700900999": 1}
            )  # each once
            for c in clients:
                await c.aclose()
        finally:
            for s in serves:
                await s.kill()
    store = RedisStore(url, prefix=prefix, cluster=True)
    try:
        assert store.counts() == {"delivered": N + 1}
        assert store.unfinished() == []
    finally:
        store.close()
    # The key layout: every key the gateways wrote (messages, indexes, the outbox, the work
    # stream, bind leases) is in the one slot of the prefix's hash tag.
    client = redis.RedisCluster.from_url(url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=prefix.replace("{", "[{]") + "*", count=1000)]
        names = {k.removeprefix(prefix) for k in keys}
        assert names >= {":created", ":counts", ":work", f":msg:{{{ids[0]}}}"}, sorted(names)[:20]
        assert {client.keyslot(k) for k in keys} == {client.keyslot(prefix)}
    finally:
        client.close()
