"""Session-wide fixtures: the Redis server for the tests that talk to Redis, and the Redis
Cluster for the ones that run smppgw on a cluster (issue 19)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.helpers import SharedRedis
from tests.redis_cluster_service import RedisClusterService
from tests.redis_service import RedisService, RedisUnavailable
from tests.store.helpers import BACKENDS, Backend, backend_for

_SERVICE = RedisService()
_CLUSTER = RedisClusterService()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SERVICE.close()
    _CLUSTER.close()


def _unavailable(what: str, exc: RedisUnavailable) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required in CI and could not be had: {exc}", pytrace=False)
    pytest.skip(f"no {what}: {exc}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL (tests/redis_service.py). In CI a missing Redis fails the test and says
    why; elsewhere the test is skipped with that reason."""
    try:
        return _SERVICE.start()
    except RedisUnavailable as exc:
        _unavailable("Redis", exc)
        raise


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """The URL of one node of a 3-master Redis Cluster this session started
    (tests/redis_cluster_service.py); missing: as ``redis_url``."""
    try:
        return _CLUSTER.start()
    except RedisUnavailable as exc:
        _unavailable("Redis Cluster", exc)
        raise


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own (the server is shared; nothing is flushed)."""
    yield f"smppgw-test:{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_cluster_with_replicas() -> Iterator[RedisClusterService]:
    """A Redis Cluster of 3 masters with a replica each, of this test's own (a failover
    test kills one of its masters by PID); stopped after the test."""
    service = RedisClusterService(replicas=1)
    try:
        service.start()
    except RedisUnavailable as exc:
        _unavailable("Redis Cluster", exc)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def redis_cluster_prefix() -> Iterator[str]:
    """A prefix of this test's own holding a hash tag (what ``[store] cluster`` asks for):
    every key of the test is in the tag's slot, and each test's slot is its own, so the
    tests spread over the cluster's masters."""
    yield f"{{smppgw-test:{uuid.uuid4().hex[:12]}}}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store backend in turn (memory, sqlite, redis): a test that takes it runs on all
    three. The Redis one is on the session's server under this test's own key prefix; its
    clients are closed after the test (tests/store/helpers.py)."""
    backend = backend_for(request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture(params=("redis", "redis-cluster"))
def shared(request: pytest.FixtureRequest) -> SharedRedis:
    """Where a test's gateways share Redis, in turn: the session's server, and its Redis
    Cluster (under a hash-tagged prefix, as ``[store] cluster`` asks)."""
    if request.param == "redis-cluster":
        url, prefix = (
            request.getfixturevalue("redis_cluster_url"),
            request.getfixturevalue("redis_cluster_prefix"),
        )
        return SharedRedis(url, prefix, cluster=True)
    return SharedRedis(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
