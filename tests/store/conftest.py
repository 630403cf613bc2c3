"""The store suite runs on Redis Cluster too: the ``backend`` fixture here adds
"redis-cluster" (a RedisStore with ``cluster=True`` on the session's 3-master cluster,
under a hash-tagged prefix of the test's own) to the backends of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import BACKENDS, Backend, backend_for


@pytest.fixture(params=(*BACKENDS, "redis-cluster"))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store backend in turn: memory, sqlite, redis, redis-cluster."""
    backend = backend_for(request, tmp_path)
    yield backend
    backend.close()
