"""``smppgw keys create|list|revoke`` on the configured store, and the keys it makes at
work in the API: printed once, stored only as a hash, revoked within seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import httpx
import pytest
from click.testing import CliRunner

import smppgw.api.keys
from smppgw.cli import main
from smppgw.store.base import key_hash
from tests.api.helpers import app_config, assert_problem, serving

BIN = Path(sys.executable).parent
DOWN = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y",
        "connect_timeout": 0.2}  # fmt: skip
MSG = {"to": "+447700900001", "from": "12345", "text": "cli test"}


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "store" / "gw.sqlite3"}"\n')
    return path


def test_create_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    made = subprocess.run(
        [BIN / "smppgw", "keys", "create", "--config", config, "--name", "billing", "--scope", "messages:send",
         "--scope", "messages:read", "--tenant", "acme", "--rate", "5", "--max-queued", "100"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    key = made.stdout.strip()
    assert key.startswith("smppgw_") and len(key) > 40 and "\n" not in key
    assert "shown this once" in made.stderr and key not in made.stderr
    files = list((tmp_path / "store").iterdir())
    assert files and all(key.encode() not in f.read_bytes() for f in files)  # the WAL too
    assert any(key_hash(key).encode() in f.read_bytes() for f in files)
    listed = CliRunner().invoke(main, ["keys", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.strip().splitlines()
    assert header.split("\t")[:4] == ["id", "name", "scopes", "tenant"]
    fields = row.split("\t")
    assert fields[1:6] == ["billing", "messages:send,messages:read", "acme", "5", "100"]
    assert fields[0].startswith("key_") and fields[7] == "-" and key not in listed.output


def test_bad_create_and_unknown_revoke_exit_with_one_line(tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    runner = CliRunner()
    bad = runner.invoke(main, ["keys", "create", "--config", config, "--name", "x", "--scope", "everything"])
    assert bad.exit_code == 2 and "everything" in bad.output
    gone = runner.invoke(main, ["keys", "revoke", "--config", config, "key_nope"])
    assert gone.exit_code == 1 and "no live key 'key_nope'" in gone.output


async def test_a_created_key_works_with_its_scopes_until_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smppgw.api.keys, "RELOAD", 0.0)  # read the keys at every lookup
    config = config_file(tmp_path)
    runner = CliRunner()
    made = runner.invoke(
        main, ["keys", "create", "--config", str(config), "--name", "n", "--scope", "messages:send"]
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    db = tmp_path / "store" / "gw.sqlite3"
    async with serving(attrs.evolve(app_config([DOWN], db))) as api:
        async with httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": key}) as client:
            assert (await client.post("/v1/messages", json=MSG)).status_code == 202
            assert_problem(await client.get("/v1/messages"), 403, "forbidden")
            [row] = (
                runner.invoke(main, ["keys", "list", "--config", str(config)]).output.strip().splitlines()[1:]
            )
            key_id = row.split("\t")[0]
            await client.get("/v1/messages")  # last use is written when the keys are read again
            listed = runner.invoke(main, ["keys", "list", "--config", str(config)]).output
            assert listed.strip().splitlines()[1].split("\t")[7].endswith("Z")  # last used
            revoked = runner.invoke(main, ["keys", "revoke", "--config", str(config), key_id])
            assert revoked.exit_code == 0 and key_id in revoked.output
            assert_problem(await client.post("/v1/messages", json=MSG), 401, "unauthorized")
            assert runner.invoke(main, ["keys", "list", "--config", str(config)]).output.count("\n") == 1


def test_with_keys_in_the_store_the_config_needs_none(tmp_path: Path) -> None:
    from smppgw.app import load_app_config
    from smppgw.keyscmd import store_has_keys
    from smppgw.support.config import ConfigError

    config = config_file(tmp_path)
    with config.open("a") as f:
        f.write('[[smsc]]\nname = "a"\nhost = "127.0.0.1"\nport = 2775\nsystem_id = "s"\npassword = "p"\n')
    assert not store_has_keys(str(config))
    with pytest.raises(ConfigError, match="no API key"):
        load_app_config(config, store_keys=store_has_keys(str(config)))
    made = CliRunner().invoke(
        main, ["keys", "create", "--config", str(config), "--name", "n", "--scope", "admin"]
    )
    assert made.exit_code == 0 and store_has_keys(str(config))
    assert load_app_config(config, store_keys=store_has_keys(str(config))).api_keys == ()
