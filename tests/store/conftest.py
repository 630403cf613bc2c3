"""The store suite's backends: every test that takes ``backend`` runs on each of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import BACKENDS, Backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """One backend under test: the Redis one on the session's server, under this test's
    own key prefix (``redis_url``, ``redis_prefix``: tests/conftest.py); its clients are
    closed after the test."""
    redis = None
    if request.param == "redis":
        redis = (request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    backend = Backend(request.param, tmp_path, redis=redis)
    yield backend
    backend.close()
