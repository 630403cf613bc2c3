"""The shared limits and leases run on one Redis server and on a Redis Cluster: a test that
takes ``shared`` runs on both (the cluster's prefix holds a hash tag, as ``[store]
cluster`` asks)."""

from __future__ import annotations

import pytest

from tests.cluster.helpers import SharedRedis


@pytest.fixture(params=("redis", "redis-cluster"))
def shared(request: pytest.FixtureRequest) -> SharedRedis:
    if request.param == "redis-cluster":
        url, prefix = (
            request.getfixturevalue("redis_cluster_url"),
            request.getfixturevalue("redis_cluster_prefix"),
        )
        return SharedRedis(url, prefix, cluster=True)
    return SharedRedis(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
