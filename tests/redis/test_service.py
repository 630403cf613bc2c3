"""The Redis the tests use answers, through coredis, under trio; and one that can't be had
fails in CI, saying why, and is skipped elsewhere (issue 19)."""

from __future__ import annotations

import re
import socket

import coredis
import pytest

from tests import redis_service
from tests.conftest import _unavailable
from tests.redis_cluster_service import RedisClusterService
from tests.redis_service import RedisUnavailable


async def test_redis_answers_under_trio(redis_url: str, redis_prefix: str) -> None:
    client = coredis.Redis.from_url(redis_url)
    async with client:
        key = f"{redis_prefix}:probe"
        assert await client.set(key, "1", ex=60)
        assert await client.get(key) == b"1"
        assert await client.delete([key]) == 1


# Where no Redis can be had (issue 19): with CI=true the tests that need it fail, saying
# why; elsewhere they are skipped with that reason. No server is needed for these.


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_in_ci_a_redis_that_cant_be_had_fails_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"Redis is required in CI .*: no server here"):
        _unavailable("Redis", RedisUnavailable("no server here"))


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_outside_ci_a_redis_that_cant_be_had_skips_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no Redis: no server here"):
        _unavailable("Redis", RedisUnavailable("no server here"))


def test_no_server_and_no_way_to_install_one_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMPPGW_TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(redis_service, "_ping", lambda *a, **k: False)  # nothing on 6379
    monkeypatch.setattr(redis_service.shutil, "which", lambda name: None)  # no redis-server, no apt-get
    service = redis_service.RedisService()
    with pytest.raises(RedisUnavailable, match="redis-server is not installed"):
        service.start()
    with pytest.raises(RedisUnavailable, match="redis-server is not installed"):
        service.start()  # the same reason for every test of the session, not tried again


def test_a_given_url_where_nothing_answers_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    monkeypatch.setenv("SMPPGW_TEST_REDIS_URL", url)
    with pytest.raises(RedisUnavailable, match=re.escape(f"SMPPGW_TEST_REDIS_URL={url}: nothing answers")):
        redis_service.RedisService().start()
    monkeypatch.setenv("SMPPGW_TEST_REDIS_CLUSTER_URL", url)
    with pytest.raises(
        RedisUnavailable, match=re.escape(f"SMPPGW_TEST_REDIS_CLUSTER_URL={url}: nothing answers")
    ):
        RedisClusterService().start()


def test_a_given_url_that_answers_is_used(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("SMPPGW_TEST_REDIS_URL", redis_url)
    assert redis_service.RedisService().start() == redis_url
