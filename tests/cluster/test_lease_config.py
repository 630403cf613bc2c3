"""``[store] bind_lease_ttl``: how long a bind slot's lease outlives its owner's last
renewal (``cluster.leases``), from the config to the lease keeper ``smppgw serve`` runs
(no Redis needed: nothing connects before ``Sharing.run``)."""

from __future__ import annotations

from typing import Any

import pytest

from smppgw.app import app_config_from_dict
from smppgw.cluster.sharing import Sharing
from smppgw.store.config import store_settings
from smppgw.support.config import ConfigError

BASE: dict[str, Any] = {
    "smsc": [{"name": "a", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}],
    "api": {"keys": ["docs-key-123"]},
}


def test_the_lease_ttl_reaches_the_lease_keeper() -> None:
    config = app_config_from_dict({**BASE, "store": {"backend": "redis", "bind_lease_ttl": 4}})
    assert config.bind_lease_ttl == 4.0 and config.store_settings().bind_lease_ttl == 4.0
    sharing = Sharing(config.redis_url, config.redis_prefix, lease_ttl=config.bind_lease_ttl)
    assert sharing.leases.ttl == 4.0
    assert app_config_from_dict(BASE).bind_lease_ttl == 15.0  # the default
    assert Sharing("redis://127.0.0.1:1/0", "p").leases.ttl == 15.0


@pytest.mark.parametrize("value", [2.9, 0, -1, 3601, "15", True, float("inf")])
def test_a_lease_ttl_out_of_bounds_is_an_error_naming_the_key(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^store\.bind_lease_ttl: .*number in 3\.\.3600"):
        store_settings({"backend": "redis", "bind_lease_ttl": value})
    assert store_settings({"backend": "redis", "bind_lease_ttl": 3}).bind_lease_ttl == 3.0
