"""Where the tools listen, as processes: ``smppgw serve --listen`` and its environment
override, ``smppsim --listen``/``--http-listen``, an address already in use named in the
error; and a config file that is not UTF-8, one line from every tool that reads one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from click.testing import CliRunner

from loadtest.cli import main as loadtest
from simulator.cli import main as smppsim
from smppgw.cli import main as smppgw

BIN = Path(sys.executable).parent


@asynccontextmanager
async def taken_port() -> AsyncIterator[int]:
    """A loopback port something already listens on."""
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


async def serving_url(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Start ``smppgw serve`` (args), return the URL of its banner, stop it with SIGTERM."""
    proc = await trio.lowlevel.open_process(
        [str(BIN / "smppgw"), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        out = b""
        with trio.fail_after(30):
            while b"serving http://" not in out:
                chunk = await proc.stdout.receive_some()
                assert chunk, out.decode()  # it stopped without serving
                out += chunk
        url = out.decode().split("serving ")[1].split()[0]
        async with httpx.AsyncClient() as http:
            assert (await http.get(url + "/healthz")).status_code == 200
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            assert await proc.wait() == 0
        return url
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _gateway_config(path: Path, listen_port: int) -> Path:
    # The SMSC is the taken port too: its connect waits in the backlog, unanswered, so the
    # only line is the API's (an unreachable SMSC would add its WARNING, rightly).
    path.write_text(
        f'[[smsc]]\nname = "a"\nhost = "127.0.0.1"\nport = {listen_port}\nsystem_id = "s"\npassword = "p"\n'
        f'[store]\npath = "{path.parent / "db"}"\n'
        f'[api]\nlisten = "127.0.0.1:{listen_port}"\nkeys = ["key-12345"]\n'
    )
    return path


async def test_serve_listen_and_its_environment_override_win_over_the_config(tmp_path: Path) -> None:
    async with taken_port() as port:
        config = _gateway_config(tmp_path / "gw.toml", port)
        # As the file stands it cannot start, and the error names the address.
        done = await trio.run_process(
            [str(BIN / "smppgw"), "serve", "--config", str(config)], capture_stderr=True, check=False
        )
        err = done.stderr.decode()
        assert done.returncode == 1 and err.count("\n") == 1, err
        assert err == f"smppgw: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
        by_flag = await serving_url(["--config", str(config), "--listen", "127.0.0.1:0"], cwd=tmp_path)
        by_env = await serving_url(
            ["--config", str(config)], cwd=tmp_path, env={"SMPPGW_API__LISTEN": "127.0.0.1:0"}
        )
    for url in (by_flag, by_env):
        assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{port}"), url


async def test_serve_listen_with_the_embedded_default(tmp_path: Path) -> None:
    url = await serving_url(["--listen", "127.0.0.1:0"], cwd=tmp_path, env={"SMPPGW_API_KEY": "k" * 12})
    assert not url.endswith(":8080")


def test_serve_environment_overrides_need_a_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(smppgw, ["serve"], env={"SMPPGW_API__LISTEN": "127.0.0.1:0"})
    assert result.exit_code == 2
    assert result.stderr == (
        "smppgw: error: SMPPGW_API__LISTEN: environment overrides apply to a --config file (or use --listen)\n"
    )
    bad = CliRunner().invoke(smppgw, ["serve", "--listen", "nowhere"])
    assert bad.exit_code == 2 and bad.stderr == "smppgw: error: --listen: expected HOST:PORT, got 'nowhere'\n"


@pytest.mark.parametrize("option", ["--listen", "--http-listen"])
async def test_smppsim_names_the_address_in_use(option: str) -> None:
    async with taken_port() as port:
        args = [str(BIN / "smppsim"), "--listen", "127.0.0.1:0", option, f"127.0.0.1:{port}"]
        done = await trio.run_process(args, capture_stderr=True, capture_stdout=True, check=False)
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err == f"smppsim: error: cannot listen on 127.0.0.1:{port}: Address already in use\n", err


async def test_smppsim_listen_serves_there() -> None:
    proc = await trio.lowlevel.open_process(
        [str(BIN / "smppsim"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        out = b""
        with trio.fail_after(30):
            while b"HTTP on" not in out:
                out += await proc.stdout.receive_some()
        assert b"smppsim listening on 127.0.0.1:" in out and b"HTTP on http://127.0.0.1:" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            await proc.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nowhere"], "--listen: expected HOST:PORT, got 'nowhere'"),
        (["--listen", "127.0.0.1:70000"], "--listen: a port in 0..65535"),
        (["--listen", "127.0.0.1:0", "--port", "1"], "give --listen HOST:PORT or the older --host/--port"),
        (["--http-listen", "h"], "--http-listen: expected HOST:PORT"),
        (["--port", "abc"], "--port"),  # the old spelling still checked as itself
    ],
)
def test_smppsim_bad_listen_is_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(smppsim, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("smppsim: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


# -- a config that is not UTF-8 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "prog", "args"),
    [
        (smppgw, "smppgw", ["serve", "--config"]),
        (smppgw, "smppgw", ["keys", "list", "--config"]),
        (smppsim, "smppsim", ["--config"]),
        (loadtest, "smpp-loadtest", ["--scenario"]),
    ],
    ids=["smppgw serve", "smppgw keys", "smppsim", "smpp-loadtest"],
)
@pytest.mark.parametrize(
    ("encoding", "why"),
    [("utf-16", "not UTF-8 text but UTF-16, little-endian"), ("latin-1", "not UTF-8 text (byte 18 is 0xe9)")],
)
def test_a_config_that_is_not_utf8_is_one_line_from_every_tool(
    tmp_path: Path, tool: object, prog: str, args: list[str], encoding: str, why: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('description = "café"\n'.encode(encoding))
    result = CliRunner().invoke(tool, [*args, str(path)])  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{prog}: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert str(path) in result.stderr and why in result.stderr and "save it as UTF-8" in result.stderr
