"""Session-wide fixtures: the Redis server for the tests that talk to Redis (issue 19)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_service import RedisService, RedisUnavailable
from tests.store.helpers import BACKENDS, Backend

_SERVICE = RedisService()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SERVICE.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL (tests/redis_service.py). In CI a missing Redis fails the test and says
    why; elsewhere the test is skipped with that reason."""
    try:
        return _SERVICE.start()
    except RedisUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis is required in CI and could not be had: {exc}", pytrace=False)
        pytest.skip(f"no Redis: {exc}")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own (the server is shared; nothing is flushed)."""
    yield f"smppgw-test:{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store backend in turn (memory, sqlite, redis): a test that takes it runs on all
    three. The Redis one is on the session's server under this test's own key prefix; its
    clients are closed after the test (tests/store/helpers.py)."""
    redis = None
    if request.param == "redis":
        redis = (request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    backend = Backend(request.param, tmp_path, redis=redis)
    yield backend
    backend.close()
