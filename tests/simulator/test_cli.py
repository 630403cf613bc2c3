"""The ``smppsim`` command: flags, errors (exit 2, one line), --list-profiles, a real start."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from click.testing import CliRunner, Result

import simulator
from simulator.cli import build_config, main
from simulator.config import ConfigError, profile_names

ERROR_LINE = re.compile(r"^smppsim: error: \S.*\n$")


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _assert_usage_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    assert ERROR_LINE.match(result.stderr), repr(result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


# -- errors: exit 2, one line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--port", "abc"], ["--port", "'abc'"]),
        (["--port"], ["--port", "requires an argument"]),
        (["--port", "70000"], ["--port", "65535"]),
        (["--http-port", "-1"], ["--http-port"]),
        (["--bogus"], ["--bogus"]),
        (["stray"], ["stray"]),
        (["--account", "nocolon"], ["--account", "SYSTEM_ID:PASSWORD", "nocolon"]),
        (["--account", "x" * 16 + ":pw"], ["--account", "system_id"]),
        (["--account", "acme:123456789"], ["--account", "password", "8"]),
        (["--account", "a:b", "--account", "a:c"], ["--account", "duplicate"]),
        (["--dlr-outcomes", "FOO=1"], ["--dlr-outcomes", "FOO"]),
        (["--dlr-outcomes", "DELIVRD=x"], ["--dlr-outcomes", "DELIVRD"]),
        (["--dlr-outcomes", "DELIVRD=0"], ["--dlr-outcomes", "positive"]),
        (["--dlr-delay", "-1"], ["--dlr-delay", ">= 0"]),
        (["--dlr-delay", "soon"], ["--dlr-delay"]),
        (["--tps", "0"], ["--tps", "> 0"]),
        (["--window", "0"], ["--window"]),
        (["--max-binds", "0"], ["--max-binds"]),
        (["--seed", "-1"], ["--seed"]),
        (["--profile", "nope"], ["--profile", "'nope'", "shortcode-100tps"]),
        (["--config", "missing.toml"], ["missing.toml"]),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], fragments: list[str]) -> None:
    _assert_usage_error(_run(*args), *fragments)


def test_config_with_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("port = 2775\ncolour = 'red'\n")
    _assert_usage_error(_run("--config", str(path)), "colour")
    path.write_text("[[account]]\nsystem_id = 'a'\npassword = 'b'\n[account.behaviour]\ntpss = 3\n")
    _assert_usage_error(_run("--config", str(path)), "account[0].behaviour.tpss")


def test_config_with_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("[behaviour\ntps = 3\n")
    _assert_usage_error(_run("--config", str(path)), str(path))


def test_config_in_utf16_is_one_line_naming_the_file_and_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("port = 2775\n", encoding="utf-16")  # as some Windows editors save it
    done = subprocess.run(
        [_smppsim(), "--config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"smppsim: error: config {path}: not UTF-8 text but UTF-16, little-endian " + (
        "(it starts with 0xff 0xfe); save it as UTF-8\n"
    )


def test_bad_value_in_file_is_named_as_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("[behaviour]\ntps = -5\n")
    _assert_usage_error(_run("--config", str(path)), "behaviour.tps")


# -- --list-profiles, --help -------------------------------------------------------------------


def test_list_profiles() -> None:
    result = _run("--list-profiles")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == profile_names()
    flaky = next(line for line in lines if line.startswith("flaky "))
    assert "ESME_RSYSERR" in flaky  # the profile's description


def test_help() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    for flag in ("--listen", "--account", "--tps", "--window", "--max-binds", "--dlr-delay", "--http-listen"):
        assert flag in result.stdout
    for flag in ("--dlr-outcomes", "--profile", "--seed", "--config", "--list-profiles", "--version", "-h,"):
        assert flag in result.stdout
    for old in ("--host", "--port", "--http-host", "--http-port"):  # hidden aliases: they still work
        assert old not in result.stdout


# -- flags -> SimConfig ---------------------------------------------------------------------------


def test_flags_build_the_config() -> None:
    config = build_config(
        host="0.0.0.0",
        port=0,
        accounts=["acme:secret", "beta:pw"],
        tps=20.0,
        window=3,
        max_binds=2,
        dlr_delay=1.5,
        dlr_outcomes="DELIVRD=0.9,UNDELIV=0.1",
        profile="hex-ids",
        seed=42,
        http_port=0,
    )
    assert (config.host, config.port, config.http_port, config.seed) == ("0.0.0.0", 0, 0, 42)
    assert config.profile == "hex-ids"
    assert config.session.window == 3
    assert [(a.system_id, a.password, a.max_binds) for a in config.accounts] == [
        ("acme", "secret", 2),
        ("beta", "pw", 2),
    ]
    b = config.behaviour_for(config.accounts[0])
    assert b.tps == 20.0
    assert b.dlr_delay.a == 1.5
    assert b.outcomes == (("DELIVRD", 0.9), ("UNDELIV", 0.1))
    assert b.message_id == "hex"  # from the profile


def test_no_flags_is_the_default_config() -> None:
    config = build_config()
    assert config.port == 2775
    assert [(a.system_id, a.password) for a in config.accounts] == [("smppclient1", "password")]


def test_max_binds_alone_applies_to_the_default_account() -> None:
    (account,) = build_config(max_binds=1).accounts
    assert (account.system_id, account.max_binds) == ("smppclient1", 1)


def test_password_may_contain_a_colon() -> None:
    (account,) = build_config(accounts=["acme:a:b"]).accounts
    assert account.password == "a:b"


def test_explicit_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(
        """
host = "127.0.0.2"
port = 3000
seed = 1
profile = "flaky"

[session]
window = 8
bind_timeout = 5

[behaviour]
tps = 50
nack_probability = 0.5

[[account]]
system_id = "acme"
password = "secret"
max_binds = 3
profile = "strict"

[account.behaviour]
tps = 7
dlr_delay = 9
"""
    )
    untouched = build_config(config_file=str(path))
    assert (untouched.host, untouched.port, untouched.session.window) == ("127.0.0.2", 3000, 8)
    acme = untouched.accounts[0]
    assert untouched.behaviour_for(acme).tps == 7

    config = build_config(
        config_file=str(path), port=0, tps=11.0, window=2, max_binds=1, dlr_delay=0.5, profile="hex-ids"
    )
    assert (config.host, config.port, config.seed) == ("127.0.0.2", 0, 1)  # host/seed from the file
    assert (config.session.window, config.session.bind_timeout) == (2, 5)  # session merged
    (acme,) = config.accounts
    assert (acme.system_id, acme.max_binds, acme.profile) == ("acme", 1, "hex-ids")
    b = config.behaviour_for(acme)
    assert b.tps == 11.0  # the flag beats [behaviour] and [account.behaviour]
    assert b.dlr_delay.a == 0.5
    assert b.nack_probability == 0.5  # the rest of the file's [behaviour] stays
    assert b.message_id == "hex"

    replaced = build_config(config_file=str(path), accounts=["other:pw"])
    assert [a.system_id for a in replaced.accounts] == ["other"]


def test_a_bad_flag_is_blamed_on_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("[[account]]\nsystem_id = 'acme'\npassword = 'pw'\n[account.behaviour]\ntps = 3\n")
    with pytest.raises(ConfigError, match=r"^--tps:"):
        build_config(config_file=str(path), tps=-1.0)


# -- running, with a stand-in for run_simulator ---------------------------------------------------


@attrs.define
class _FakeSim:
    port: int
    http_port: int | None


def _fake_run_simulator(behaviour: str) -> Any:
    async def run_simulator(
        config: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED, tracer: Any = None
    ) -> None:
        if behaviour == "oserror":
            raise OSError(98, "Address already in use")
        task_status.started(_FakeSim(port=4321, http_port=8088 if config.http_port is not None else None))
        await trio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would
        await trio.sleep_forever()

    return run_simulator


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_start_banner_and_sigterm_exit_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator, "run_simulator", _fake_run_simulator("ok"), raising=False)
    result = _run("--port", "0", "--account", "acme:pw", "--account", "beta:pw", "--profile", "flaky")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == "smppsim listening on 127.0.0.1:4321 (profile flaky, accounts acme, beta)\n"

    result = _run("--http-port", "0")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.startswith(
        "smppsim listening on 127.0.0.1:4321 (profile default, accounts smppclient1)"
    )
    assert "http://127.0.0.1:8088" in result.stdout


def test_failure_to_listen_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator, "run_simulator", _fake_run_simulator("oserror"), raising=False)
    result = _run("--port", "0")
    assert result.exit_code == 1
    assert ERROR_LINE.match(result.stderr), repr(result.stderr)
    assert "Address already in use" in result.stderr


# -- a real start -----------------------------------------------------------------------------------


def _smppsim() -> str:
    exe = Path(sys.executable).with_name("smppsim")
    if exe.exists():
        return str(exe)
    found = shutil.which("smppsim")
    assert found, "the smppsim console script is not installed (pip install -e .)"
    return found


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                pytest.fail(f"no start line from smppsim within {timeout} s (got {buf!r})")
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace").split("\n", 1)[0]


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_real_start_answers_enquire_link() -> None:
    assert hasattr(simulator, "run_simulator"), "simulator.run_simulator does not exist yet"
    with subprocess.Popen(
        [_smppsim(), "--port", "0", "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            line = _first_line(proc, timeout=30)
            if not line:
                proc.wait(timeout=10)
                assert proc.stderr is not None
                pytest.fail(
                    f"smppsim exited {proc.returncode} before listening: {proc.stderr.read().decode()[-3000:]}"
                )
            m = re.fullmatch(
                r"smppsim listening on (127\.0\.0\.1):(\d+) \(profile default, accounts smppclient1\).*", line
            )
            assert m, line
            with socket.create_connection((m[1], int(m[2])), timeout=10) as sock:
                sock.sendall(bytes.fromhex("00000010000000150000000000000001"))
                resp = _recv_exactly(sock, 16)
            assert len(resp) == 16, resp
            length, command_id, status, sequence = struct.unpack(">IIII", resp)
            assert (length, command_id, status, sequence) == (16, 0x80000015, 0, 1)
        finally:
            proc.terminate()  # SIGTERM to this PID only
            try:
                rc = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
    assert rc == 0, stderr
    assert "Traceback" not in stderr
