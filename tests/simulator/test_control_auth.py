"""Who may use the control API: a token for every change, for everything beyond loopback;
refused to start beyond loopback without one. Over real HTTP on loopback."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner

from simulator import run_simulator
from simulator.cli import build_config, main
from simulator.config import ConfigError, check_control, config_from_dict, is_loopback, load_config
from simulator.control import serve_control
from simulator.smsc import Simulator
from tests.simulator.helpers import running

TOKEN = "control-token-0123456789"
BIN = Path(sys.executable).parent


@asynccontextmanager
async def client(sim: Simulator, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{sim.http_port}", headers=headers, timeout=5.0
    ) as http:
        yield http


def _is_401_problem(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert (body["type"], body["status"]) == ("urn:smppsim:problem:unauthorized", 401)
    assert "Bearer" in body["detail"] and "X-Token" in body["detail"]


async def test_on_loopback_reads_are_open_and_every_change_needs_the_token() -> None:
    behaviour = {"dlr_delay": 0.5}
    with trio.fail_after(10):
        async with running(http_port=0, http_token=TOKEN, behaviour=behaviour) as sim:
            assert sim.http_token == TOKEN
            async with client(sim) as anonymous:
                assert (await anonymous.get("/stats")).status_code == 200
                assert (await anonymous.get("/healthz")).status_code == 200
                assert (await anonymous.get("/metrics")).status_code == 200
                inject = {"source_addr": "447700900001", "destination_addr": "12345", "text": "hi"}
                _is_401_problem(await anonymous.post("/inject", json=inject))
                _is_401_problem(await anonymous.post("/reset"))
                _is_401_problem(await anonymous.patch("/behaviour", json={"dlr_delay": 2}))
                _is_401_problem(await anonymous.patch("/accounts/smppclient1/behaviour", json={"tps": 1}))
                _is_401_problem(await anonymous.delete("/messages"))  # any other method too
                # Not read: a body that is not even JSON is still a 401, not a 422.
                _is_401_problem(await anonymous.post("/inject", content=b"{not json"))
                assert (await anonymous.get("/accounts")).json()[0]["behaviour"]["dlr_delay"] == 0.5
            for headers in (
                {"Authorization": "Bearer wrong-token-0123456789"},
                {"Authorization": f"Basic {TOKEN}"},
                {"X-Token": TOKEN[:-1]},
                {"X-Token": TOKEN + "x"},
            ):
                async with client(sim, **headers) as wrong:
                    _is_401_problem(await wrong.patch("/behaviour", json={"dlr_delay": 2}))
            for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"bearer {TOKEN}"}):
                async with client(sim, **headers) as allowed:
                    r = await allowed.patch("/behaviour", json={"dlr_delay": 2})
                    assert r.status_code == 200, r.text
            async with client(sim, **{"X-Token": TOKEN}) as allowed:
                assert (await allowed.post("/reset")).json() == {"status": "reset"}
                assert (await allowed.get("/accounts")).json()[0]["behaviour"]["dlr_delay"] == 2.0


async def test_without_a_token_one_is_made_up() -> None:
    with trio.fail_after(10):
        async with running(http_port=0) as sim, running(http_port=0) as other:
            assert sim.http_token and len(sim.http_token) >= 16 and sim.http_token != other.http_token
            async with client(sim) as anonymous:
                _is_401_problem(await anonymous.post("/reset"))
            async with client(sim, Authorization=f"Bearer {sim.http_token}") as allowed:
                assert (await allowed.post("/reset")).status_code == 200


async def test_guarding_reads_asks_the_token_of_every_request() -> None:
    """What ``run_simulator`` does beyond loopback, served here on loopback."""
    sim = Simulator(config_from_dict({"port": 0}))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            serve = partial(serve_control, sim, "127.0.0.1", 0, token=TOKEN, guard_reads=True)
            sim.http_port = await nursery.start(serve)
            async with client(sim) as anonymous:
                for path in ("/healthz", "/stats", "/metrics", "/binds", "/messages"):
                    _is_401_problem(await anonymous.get(path))
            async with client(sim, **{"X-Token": TOKEN}) as allowed:
                assert (await allowed.get("/healthz")).json() == {"status": "ok"}
                assert (await allowed.get("/metrics")).status_code == 200
            nursery.cancel_scope.cancel()


# -- where it may listen -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.7", False),
        ("sim.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_without_a_token_is_refused_before_anything_listens() -> None:
    config = config_from_dict({"port": 0, "http_host": "0.0.0.0", "http_port": 0})
    with pytest.raises(ConfigError, match=r"^http_token: required when the control API listens beyond"):
        check_control(config)

    with pytest.raises(ConfigError, match="SMPPSIM_HTTP_TOKEN"):
        trio.run(run_simulator, config)
    # Without the control API, or with a token, it may.
    check_control(config_from_dict({"http_host": "0.0.0.0"}))
    check_control(config_from_dict({"http_host": "0.0.0.0", "http_port": 0, "http_token": TOKEN}))


def test_the_token_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(f'http_host = "0.0.0.0"\nhttp_port = 8088\nhttp_token = "{TOKEN}"\n')
    assert load_config(path).http_token == TOKEN
    assert TOKEN not in repr(load_config(path))  # a secret: not in a repr, so not in a log
    path.write_text('http_host = "0.0.0.0"\nhttp_port = 8088\n')
    with pytest.raises(ConfigError, match=r"^http_token: required"):
        load_config(path)
    assert build_config(config_file=str(tmp_path / "sim.toml"), http_token=TOKEN).http_token == TOKEN


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("short", "http_token: 16..256 characters, got 5"),
        ("with spaces in the token", "http_token: visible ASCII characters only"),
        ("caf\u00e9-0123456789abcdef", "http_token: visible ASCII characters only"),
    ],
)
def test_a_bad_token_is_named(token: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        config_from_dict({"http_token": token})
    with pytest.raises(ConfigError, match=f"^--{message.replace('_', '-')}"):
        build_config(http_token=token)


def test_cli_beyond_loopback_without_a_token_is_one_line_exit_2() -> None:
    result = CliRunner().invoke(
        main, ["--http-host", "0.0.0.0", "--http-port", "0"], env={"SMPPSIM_HTTP_TOKEN": ""}
    )
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "smppsim: error: http_token: required when the control API listens beyond loopback "
        "(http_host '0.0.0.0'); give --http-token or SMPPSIM_HTTP_TOKEN\n"
    )


# -- the command, as a process -----------------------------------------------------------------


def _lines(proc: subprocess.Popen[bytes], count: int, timeout: float) -> list[str]:
    assert proc.stdout is not None
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
        while buf.count(b"\n") < count:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                pytest.fail(f"smppsim said {buf!r} within {timeout} s")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                pytest.fail(f"smppsim ended after {buf!r}")
            buf += chunk
    return buf.decode().splitlines()


def _smppsim(env: dict[str, str], count: int) -> Any:
    args = [str(BIN / "smppsim"), "--port", "0", "--http-port", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    try:
        lines = _lines(proc, count, 30)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, lines


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_smppsim_prints_a_made_up_token_once_and_asks_for_it() -> None:
    proc, (banner, token_line) = _smppsim({"SMPPSIM_HTTP_TOKEN": ""}, 2)
    try:
        url = banner.split("HTTP on ")[1]
        prefix = "control API token (set SMPPSIM_HTTP_TOKEN to choose one): "
        assert token_line.startswith(prefix)
        token = token_line[len(prefix) :]
        assert httpx.post(url + "/reset", timeout=5).status_code == 401
        assert httpx.post(url + "/reset", headers={"X-Token": token}, timeout=5).status_code == 200
    finally:
        _stop(proc)


def test_smppsim_takes_the_token_from_the_environment() -> None:
    proc, [banner] = _smppsim({"SMPPSIM_HTTP_TOKEN": TOKEN}, 1)
    try:
        url = banner.split("HTTP on ")[1]
        assert (
            httpx.post(url + "/reset", headers={"Authorization": "Bearer x" * 3}, timeout=5).status_code
            == 401
        )
        r = httpx.post(url + "/reset", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert r.status_code == 200
        time.sleep(0.2)  # no second line: the token chosen is not printed
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
            assert not sel.select(0)
    finally:
        _stop(proc)
