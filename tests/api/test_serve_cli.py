"""``smppgw serve`` as a process: config errors, start, serve, SIGTERM with a clean unbind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from smppgw.app import app_config_from_dict
from smppgw.gateway.config import ConfigError
from tests.gateway.helpers import simulator, smsc
from tests.simulator.helpers import metric

BIN = Path(sys.executable).parent
SMSC = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "s", "password": "p"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"api": {"keys": ["short"]}}, "api: every API key needs at least 8 characters"),
        ({}, "api: no API key"),
        (
            {"api": {"keys_env": "SMPPGW_TEST_UNSET"}},
            "api.keys_env: environment variable SMPPGW_TEST_UNSET is not set",
        ),
        ({"api": {"keys": ["k" * 8], "listen": "nowhere"}}, "api.listen: expected HOST:PORT"),
        ({"api": {"keys": ["k" * 8], "port": 1}}, "api.port: unknown key"),
        (
            {"api": {"keys": ["k" * 8]}, "store": {"flush_interval": 0}},
            "store.flush_interval: must be a number > 0",
        ),
        ({"api": {"keys": ["k" * 8]}, "store": {"pth": "x"}}, "store.pth: unknown key"),
    ],
)
def test_bad_app_config_names_the_key(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        app_config_from_dict({"smsc": [SMSC], **extra}, environ={})
    assert str(info.value).startswith(message)


def test_keys_come_from_the_environment() -> None:
    config = app_config_from_dict(
        {"smsc": [SMSC], "api": {"keys_env": "KEYS", "listen": "127.0.0.1:0"}},
        environ={"KEYS": "first-key-1, second-key-2,"},
    )
    assert config.api_keys == ("first-key-1", "second-key-2") and config.listen_port == 0


def test_serve_with_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(
        '[[smsc]]\nname = "a"\nhost = "127.0.0.1"\nport = 99999\nsystem_id = "s"\npassword = "p"\n'
    )
    done = subprocess.run(
        [BIN / "smppgw", "serve", "--config", path], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "smppgw: error: smsc[0].port: an integer in 1..65535, got 99999"
    missing = subprocess.run(
        [BIN / "smppgw", "serve", "--config", tmp_path / "nope.toml"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "No such file" in missing.stderr and "Traceback" not in missing.stderr


async def test_serve_sends_through_the_api_and_unbinds_on_sigterm(tmp_path: Path) -> None:
    async with simulator() as sim:
        table = smsc(sim, binds=1)
        lines = [f"{k} = {v!r}".replace("'", '"') for k, v in table.items()]
        config = tmp_path / "gw.toml"
        config.write_text(
            "[[smsc]]\n" + "\n".join(lines).replace("True", "true") + "\n\n"
            f'[store]\npath = "{tmp_path / "db.sqlite3"}"\n\n[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n'
        )
        env = {**os.environ, "GW_KEYS": "serve-test-key"}
        proc = await trio.lowlevel.open_process(
            [str(BIN / "smppgw"), "serve", "--config", str(config)], stdout=subprocess.PIPE, env=env
        )
        try:
            assert proc.stdout is not None
            out = b""
            with trio.fail_after(30):
                while b"serving http://" not in out:
                    out += await proc.stdout.receive_some()
            url = out.decode().split("serving ")[1].split()[0]
            async with httpx.AsyncClient(headers={"X-API-Key": "serve-test-key"}) as http:
                with trio.fail_after(10):
                    while (await http.get(url + "/readyz")).status_code != 200:
                        await trio.sleep(0.05)
                r = await http.post(
                    url + "/v1/messages", json={"to": "447700900001", "from": "12345", "text": "hi"}
                )
                assert r.status_code == 202
                with trio.fail_after(10):
                    while (await http.get(url + f"/v1/messages/{r.json()['id']}")).json()[
                        "status"
                    ] != "delivered":
                        await trio.sleep(0.05)
            assert len(sim.binds_info()) == 1
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(15):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        # A clean unbind: the simulator received an unbind and answered it; no bind is left.
        text = sim.metrics.render().decode()
        assert metric(text, "smppsim_pdus_total", direction="in", command="unbind", status="ESME_ROK") == 1
        assert sim.binds_info() == []


async def test_serve_on_a_port_in_use_exits_1_with_one_line(tmp_path: Path) -> None:
    taken = trio.socket.socket()
    await taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    config = tmp_path / "gw.toml"
    # The SMSC is the taken port too: its connect waits in the backlog, unanswered, so the
    # only line is the API's (an unreachable SMSC would add its WARNING, rightly).
    config.write_text(
        f'[[smsc]]\nname = "a"\nhost = "127.0.0.1"\nport = {port}\nsystem_id = "s"\npassword = "p"\n'
        f'[store]\npath = "{tmp_path / "db"}"\n[api]\nlisten = "127.0.0.1:{port}"\nkeys = ["key-12345"]\n'
    )
    with taken:
        done = await trio.run_process(
            [str(BIN / "smppgw"), "serve", "--config", str(config)], capture_stderr=True, check=False
        )
    assert done.returncode == 1
    err = done.stderr.decode().strip()
    assert err.startswith("smppgw: error: ") and "in use" in err and "\n" not in err, err


def test_serve_with_a_utf16_config_exits_2_naming_the_file_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('[[smsc]]\nname = "a"\n', encoding="utf-16")  # as some Windows editors save it
    done = subprocess.run(
        [BIN / "smppgw", "serve", "--config", path], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"smppgw: error: config {path}: not UTF-8 text but UTF-16, little-endian " + (
        "(it starts with 0xff 0xfe); save it as UTF-8\n"
    )
