"""A master of a Redis Cluster dies under the Redis store (README "Scale out on Redis":
Redis Cluster, failover): its replica is promoted, the store finds the new master on its
own, and what was written before is there. Meanwhile writes fail with ``StoreError`` (the
gateway's "Redis away": 503, changes kept), never silently. The master is stopped by the
PID this test started."""

from __future__ import annotations

import time

import redis

from smppgw.store.base import Status, StoreError
from smppgw.store.redis import RedisStore
from tests.redis_cluster_service import RedisClusterService
from tests.store.helpers import record


def test_the_store_writes_again_after_its_master_fails_over(
    redis_cluster_with_replicas: RedisClusterService,
) -> None:
    service = redis_cluster_with_replicas
    assert service.url is not None
    prefix = "{failover}"
    store = RedisStore(service.url, prefix=prefix, cluster=True, timeout=1.0)
    try:
        store.add([record(1)])
        client = redis.RedisCluster.from_url(service.url)
        try:
            master = client.get_node_from_key(prefix)
            assert client.wait(1, 2000, target_nodes=master) == 1  # the replica has record 1
        finally:
            client.close()
        dead = service.process(master.port)
        dead.terminate()  # our own child, by its PID
        dead.wait(timeout=5)
        failures, written, deadline = 0, [], time.monotonic() + 30
        while not written and time.monotonic() < deadline:  # bounded: the failover takes ~3-5 s
            try:
                store.add([record(2)])
                written.append(2)
            except StoreError:
                failures += 1
                time.sleep(0.1)
        assert written == [2] and failures > 0  # refused while no master served the slot, then written
        alive = next(
            port for port in service.ports if port != master.port
        )  # (the URL's node may be the dead one)
        again = RedisStore(f"redis://127.0.0.1:{alive}", prefix=prefix, cluster=True)
        try:
            assert again.counts() == {Status.ACCEPTED.value: 2}  # record 1 survived the failover
        finally:
            again.close()
    finally:
        store.close()
