"""Session-wide fixtures: the Redis server for the tests that talk to Redis, and the Redis
Cluster for the ones that run smppgw on a cluster (issue 19)."""

from __future__ import annotations

import compileall
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.helpers import SharedRedis
from tests.redis_cluster_service import RedisClusterService
from tests.redis_service import RedisService, RedisUnavailable
from tests.store.helpers import BACKENDS, Backend, backend_for

ROOT = Path(__file__).resolve().parents[1]
_SERVICE = RedisService()
_CLUSTER = RedisClusterService()

# The tests that take longest (seconds each: real processes, servers and campaigns on
# loopback), about the longest first. They are collected first, so with ``-n 2`` they
# start first and the short tests fill in after them; with ``--maxschedchunk 1``
# (set by ``pytest_configure`` under xdist) a worker takes the next test only when it is free. Otherwise a
# worker could be handed a run of long ones late and end alone on them, the other idle.
# A node id starting with an entry counts; the rest keep their order after these.
SLOW_FIRST = (
    "tests/docs/test_readmes.py::test_every_block_runs_as_written[README.md]",
    "tests/test_packaging.py::test_pip_install_into_a_clean_virtualenv",
    "tests/campaigns/test_faults_short.py",
    "tests/simulator/test_hostile.py::test_ten_thousand_connections",
    "tests/demo/test_demo.py",
    "tests/docs/test_readmes.py::test_every_block_runs_as_written[conformance/README.md]",
    "tests/redis/test_redis_restart_serve.py",
    "tests/conformance/test_gateway_serve.py",
    "tests/redis/test_redis_partition_serve.py",
    "tests/redis/test_scale_limits.py",
    "tests/conformance/test_every_case_can_fail.py",
    "tests/gateway/test_flows_sim.py",
    "tests/redis/test_work_queue.py",
    "tests/redis/test_scheduled_work.py",
    "tests/redis/test_shared_deadline.py",
    "tests/redis/test_serve_cluster.py",
    "tests/conformance/test_esme.py",
    "tests/gateway/test_notify.py::test_a_burst_of_20000",
    "tests/conformance/test_smsc_simulator.py",
    "tests/conformance/test_third_party_clients.py",
    "tests/redis/test_multipart_receipts.py",
    "tests/conformance/test_gateway_send.py",
    "tests/campaigns/test_crash_short.py",
    "tests/support/test_cli_listen.py",
    "tests/api/test_crash.py",
    "tests/redis/test_serve_redis.py",
    "tests/api/test_crash_events.py",
    "tests/docs/test_readmes.py::test_every_block_runs_as_written[loadtest/README.md]",
    "tests/conformance/test_cli.py",
    "tests/conformance/test_smsc_faults.py",
    "tests/simulator/test_hostile.py",
    "tests/loadtest/test_cli.py",
    "tests/loadtest/test_http_gateway.py",
    "tests/redis/test_cluster_failover.py",
)


def _rank(item: pytest.Item) -> int:
    return next((i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)), len(SLOW_FIRST))


def pytest_configure(config: pytest.Config) -> None:
    """The project's modules compiled to bytecode once, before any test runs. The tests
    start hundreds of Python processes (``smppgw serve``, ``smppsim``, the CLIs), and each
    would otherwise compile from source every module it imports whenever no bytecode is
    cached: in a fresh clone, and always with PYTHONDONTWRITEBYTECODE set (an import
    then writes none; compileall writes it explicitly). A read-only tree: nothing written,
    nothing fails."""
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller did it before starting it
    # One test at a time per worker (SLOW_FIRST), unless given; set here rather than in
    # pyproject's addopts, which would make ``pytest -p no:xdist`` an unknown-option error.
    if hasattr(config.option, "maxschedchunk") and config.option.maxschedchunk is None:
        config.option.maxschedchunk = 1
    for package in ("smppgw", "simulator", "loadtest", "conformance", "campaigns"):
        compileall.compile_dir(ROOT / package, quiet=2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the same order on every xdist worker


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
