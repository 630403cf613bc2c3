"""SMPPGW_<SECTION>__<KEY> environment overrides of smppgw's config (support.envconfig),
through ``load_app_config`` as ``smppgw serve`` reads its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from smppgw.app import load_app_config
from smppgw.keyscmd import store_path
from smppgw.support.config import ConfigError
from smppgw.support.envconfig import apply_env, env_overrides

CONFIG = """
[[smsc]]
name = "a"
host = "127.0.0.1"
port = 2775
system_id = "s"
password = "p"

[api]
listen = "127.0.0.1:8080"
keys = ["key-12345"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(CONFIG)
    return path


def test_overrides_win_over_the_file_and_are_typed(config: Path) -> None:
    env = {
        "SMPPGW_API__LISTEN": "0.0.0.0:9000",  # not TOML: a string
        "SMPPGW_API__MAX_QUEUED": "5000",  # TOML: an integer
        "smppgw_store__flush_interval": "0.5",  # any case
        "SMPPGW_STORE__PATH": '"db/gw.sqlite3"',  # a quoted TOML string
        "SMPPGW_API__DEFAULT_REGION": "GB",
        "SMPPGW_API_KEY": "not an override (no __)",
        "OTHER__THING": "not ours",
    }
    got = load_app_config(config, environ=env)
    assert (got.listen_host, got.listen_port) == ("0.0.0.0", 9000)
    assert got.max_queued == 5000 and got.flush_interval == 0.5
    assert str(got.store_path) == "db/gw.sqlite3" and got.default_region == "GB"
    plain = load_app_config(config, environ={})
    assert (plain.listen_host, plain.listen_port, plain.max_queued) == ("127.0.0.1", 8080, 100_000)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SMPPGW_API__MAX_QUEUED": "0"},
            "api.max_queued: an integer in 1..100000000, got 0 (from environment variable SMPPGW_API__MAX_QUEUED)",
        ),
        (
            {"SMPPGW_API__LISTEN": "nowhere"},
            "api.listen: expected HOST:PORT, got 'nowhere' (from environment variable SMPPGW_API__LISTEN)",
        ),
        (
            {"SMPPGW_API__LISEN": "127.0.0.1:1"},
            "api.lisen: unknown key (did you mean listen?) (from environment variable SMPPGW_API__LISEN)",
        ),
        ({"SMPPGW_STORE__FLUSH_INTERVAL": "-1"}, "store.flush_interval: must be a number > 0, got -1"),
        ({"SMPPGW_SMSC__PORT": "1"}, "smsc: not a table, so SMPPGW_SMSC__PORT cannot set a key in it"),
        ({"SMPPGW_API____LISTEN": "x"}, "SMPPGW_API____LISTEN: expected SMPPGW_<SECTION>__<KEY>"),
        ({"SMPPGW_NOSUCH__KEY": "1"}, "nosuch: unknown key"),
    ],
)
def test_a_bad_override_is_the_config_error_of_its_key(
    config: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_app_config(config, environ=env)
    assert str(info.value).startswith(message), str(info.value)
    if message.startswith(("api", "store", "nosuch")):  # it says where the value came from
        assert str(info.value).endswith(f"(from environment variable {next(iter(env))})")


def test_apply_env_leaves_the_file_data_alone() -> None:
    data = {"api": {"listen": "a:1"}}
    out, origins = apply_env(data, "SMPPGW_", {"SMPPGW_API__LISTEN": "b:2", "SMPPGW_NEW__DEEP__KEY": "true"})
    assert data == {"api": {"listen": "a:1"}}
    assert out == {"api": {"listen": "b:2"}, "new": {"deep": {"key": True}}}
    assert origins == {"api.listen": "SMPPGW_API__LISTEN", "new.deep.key": "SMPPGW_NEW__DEEP__KEY"}
    assert env_overrides("SMPPGW_", {"SMPPGW_API_KEYS": "a,b"}) == {}


def test_keys_finds_the_store_an_override_names(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_path(str(config)) == Path("var/smppgw.sqlite3")
    monkeypatch.setenv("SMPPGW_STORE__PATH", "elsewhere/keys.sqlite3")
    assert store_path(str(config)) == Path("elsewhere/keys.sqlite3")
