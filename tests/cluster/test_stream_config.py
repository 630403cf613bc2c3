"""``[streams]``: its keys, the errors that name them, and a Redis that does not answer at
start (no Redis needed: nothing listens on port 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from smppgw.app import app_config_from_dict, run_app
from smppgw.cluster.stream_config import StreamSettings, streams_from_dict
from smppgw.support.config import ConfigError
from tests.api.helpers import app_config

BASE: dict[str, Any] = {
    "smsc": [{"name": "a", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}],
    "api": {"keys": ["docs-key-123"]},
}


def test_enabled_streams_are_read_with_their_names_from_the_prefix() -> None:
    config = app_config_from_dict(
        {**BASE, "streams": {"enabled": True, "prefix": "acme", "batch": 50, "tenant": "t1"}}
    )
    s = config.streams
    assert s is not None
    assert (s.input_stream, s.accepted_stream, s.errors_stream, s.events_stream) == (
        "acme:in", "acme:accepted", "acme:errors", "acme:events"
    )  # fmt: skip
    assert (s.batch, s.tenant, s.group, s.url) == (50, "t1", "smppgw", "redis://127.0.0.1:6379/0")
    assert s.consumer  # host-pid by default
    assert app_config_from_dict(BASE).streams is None


def test_streams_not_enabled_are_none_but_their_keys_are_checked() -> None:
    assert streams_from_dict({"prefix": "x"}) is None
    with pytest.raises(ConfigError, match=r"^streams.batch: "):
        streams_from_dict({"batch": 0})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"enabled": "yes"}, r"^streams.enabled: expected true or false"),
        ({"enabled": True, "url": "http://x"}, r"^streams.url: a redis://"),
        ({"enabled": True, "prefix": "a b"}, r"^streams.prefix: printable characters without spaces"),
        ({"enabled": True, "block": 0}, r"^streams.block: "),
        ({"enabled": True, "claim_idle": -1}, r"^streams.claim_idle: "),
        ({"enabled": True, "maxlen": 10}, r"^streams.maxlen: "),
        ({"enabled": True, "colour": "red"}, r"streams.*colour"),
        ({"enabled": True, "cluster": 1}, r"^streams.cluster: expected true or false"),
        ({"enabled": True, "cluster": True, "url": "unix:///r.sock"}, r"^streams.url: with cluster = true"),
    ],
)
def test_a_bad_key_is_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        app_config_from_dict({**BASE, "streams": table})


async def test_a_redis_that_does_not_answer_at_start_stops_it_naming_the_url(tmp_path: Path) -> None:
    config = attrs.evolve(
        app_config([BASE["smsc"][0]], tmp_path / "gw.sqlite3"),
        streams=StreamSettings(url="redis://127.0.0.1:1/0", prefix="nowhere"),
    )
    with pytest.RaisesGroup(
        pytest.RaisesExc(ConfigError, match=r"^streams.url: Redis at redis://127.0.0.1:1/0 can't be reached"),
        flatten_subgroups=True,
    ):
        await run_app(config)
