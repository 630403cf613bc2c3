"""``[store] cluster``: the prefix a Redis Cluster needs (one hash tag: a deployment's keys
in one slot), the URL it takes, and a cluster that can't be reached at start (no Redis
needed: nothing listens on port 1)."""

from __future__ import annotations

from typing import Any

import pytest

from smppgw.app import app_config_from_dict
from smppgw.store.base import StoreError
from smppgw.store.config import StoreSettings, hash_tag, open_store, store_settings
from smppgw.support.config import ConfigError

BASE: dict[str, Any] = {
    "smsc": [{"name": "a", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}],
    "api": {"keys": ["docs-key-123"]},
}


def test_cluster_mode_reaches_the_app_config() -> None:
    store = {"backend": "redis", "cluster": True, "url": "redis://10.0.0.5:7000", "prefix": "{smppgw}"}
    settings = app_config_from_dict({**BASE, "store": store}).store_settings()
    assert (settings.cluster, settings.prefix, settings.url) == (True, "{smppgw}", "redis://10.0.0.5:7000")
    assert settings.where() == "redis cluster redis://10.0.0.5:7000 prefix {smppgw}"
    assert not app_config_from_dict(BASE).store_settings().cluster  # off by default


@pytest.mark.parametrize(
    ("prefix", "tag"),
    [("smppgw", None), ("{smppgw}", "smppgw"), ("gw:{eu-1}", "eu-1"), ("{a}:b", "a"), ("x{}y", None)],
)
def test_the_hash_tag_is_what_redis_hashes(prefix: str, tag: str | None) -> None:
    assert hash_tag(prefix) == tag


def test_a_cluster_without_a_hash_tag_in_the_prefix_is_an_error_that_says_why() -> None:
    with pytest.raises(
        ConfigError, match=r"^store\.prefix: with cluster = true it needs a hash tag, like \{gw\}"
    ):
        store_settings({"backend": "redis", "cluster": True, "prefix": "gw"})
    with pytest.raises(ConfigError, match=r"^store\.prefix: with cluster = true"):
        store_settings({"backend": "redis", "cluster": True})  # the default prefix has none
    assert store_settings({"backend": "redis", "prefix": "{gw}"}).prefix == "{gw}"  # a tag needs no cluster


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"prefix": "a{b"}, r"^store\.prefix: no whitespace, and no braces but one hash tag"),
        ({"prefix": "{}"}, r"^store\.prefix: "),
        ({"prefix": "{a}{b}"}, r"^store\.prefix: "),
        ({"prefix": "a b"}, r"^store\.prefix: "),
        ({"cluster": "yes"}, r"^store\.cluster: expected true or false"),
        ({"cluster": True, "prefix": "{p}", "url": "unix:///run/redis.sock"}, r"^store\.url: with cluster"),
        (
            {"cluster": True, "prefix": "{p}", "url": "redis://h:7000/2"},
            r"^store\.url: a Redis Cluster has only",
        ),
    ],
)
def test_a_bad_key_is_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        store_settings({"backend": "redis", **table})


def test_a_cluster_that_cant_be_reached_at_start_is_a_store_error_naming_it() -> None:
    settings = StoreSettings(backend="redis", url="redis://127.0.0.1:1", prefix="{gw}", cluster=True)
    with pytest.raises(StoreError, match=r"^can't reach Redis at redis://127\.0\.0\.1:1 \(cluster\): "):
        open_store(settings)
