"""Runs a document's blocks in order, as a reader following it would (see test_readmes).

One ``Session`` per document: a fresh directory (the repository's top-level entries
linked into it, so ``examples/...`` resolves and files written stay there), the
virtualenv's tools first on PATH, and the servers the document starts kept running for
the blocks after them, then stopped by PID.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import trustme

from simulator.config import config_from_dict as sim_config_from_dict
from smppgw.app import app_config_from_dict, load_app_config
from tests.docs.markdown import Block

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIXED_PORTS = (2775, 2776, 8080, 8081, 8082, 9090)  # the ports the documents name
_PORT = re.compile(r"(?<![\w.])(" + "|".join(map(str, FIXED_PORTS)) + r")(?![\w.])")
SHELL = {"sh", "bash", "shell", "console"}
_REDIS = re.compile(r"^\[streams\]|\bcoredis\b", re.MULTILINE)  # a block about the Redis streams
START_TIMEOUT = 60.0  # a server's readiness, on a loaded machine
COMMAND_TIMEOUT = 180.0
# Load runs are cut short: the options as written, shorter (seconds).
_SHORTER = {"--duration": 2.0}
FRAGMENT_BASE: dict[str, Any] = {
    "smsc": [
        {
            "name": "carrier-a",
            "host": "127.0.0.1",
            "port": 2775,
            "system_id": "smppclient1",
            "password": "password",
        }
    ],
    "api": {"keys": ["docs-key-123"]},
}
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"docs-secret-" * 2).decode()
_PLACEHOLDERS = {"secret_env": WEBHOOK_SECRET, "password_env": "secret"}  # else: an API key


class DocError(AssertionError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def commands(text: str) -> Iterator[str]:
    """A shell block's commands: continuation lines joined, blank and comment lines out."""
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.strip()[:-1].strip() + " "
            continue
        command = (pending + line.strip()).strip()
        pending = ""
        if command and not command.startswith("#"):
            yield command


def _argv(command: str) -> tuple[dict[str, str], list[str]]:
    """(leading VAR=value assignments, the rest as argv), comments dropped."""
    words = shlex.split(command, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def _option(argv: list[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


class Session:
    def __init__(self, workdir: Path, redis: Callable[[], str] | None = None) -> None:
        """``redis``: gives the test Redis's URL (the ``redis_url`` fixture), asked at the
        first block about the Redis streams."""
        self.dir = workdir
        self._redis = redis
        workdir.mkdir(parents=True, exist_ok=True)
        for entry in ROOT.iterdir():
            if entry.name not in {".venv", ".git", "var"} and not entry.name.startswith("."):
                (workdir / entry.name).symlink_to(entry)
        self.ports = {p: free_port() for p in FIXED_PORTS}
        self.env = dict(os.environ)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["PYTHONUNBUFFERED"] = "1"
        for name in list(self.env):
            if name.startswith(("SMPPGW_", "SMPPSIM_")):
                del self.env[name]
        self.servers: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    # -- text as the harness runs it --------------------------------------------------

    def ports_of(self, text: str) -> str:
        """The fixed ports of the text replaced with this session's free ones."""
        return _PORT.sub(lambda m: str(self.ports[int(m[1])]), text)

    @staticmethod
    def as_run(command: str, argv: list[str]) -> str:
        """The command as the harness runs it (edited as text: the shell's quoting stays)."""
        if argv and argv[0] == "smpp-loadtest":
            for option, limit in _SHORTER.items():
                command = re.sub(
                    rf"{option}[ =](\d+(?:\.\d+)?)",
                    lambda m: f"{option} {min(float(m[1]), limit):g}",  # noqa: B023
                    command,
                )
        if argv and argv[0] == "curl":
            command = re.sub(
                r"(^|\s)curl\s", r"\1curl --fail-with-body --show-error --max-time 60 ", command, count=1
            )
        return command

    # -- blocks -----------------------------------------------------------------------

    def run(self, block: Block) -> None:
        if self._redis is not None and _REDIS.search(block.text):
            self._isolate_redis(self._redis())
            self._redis = None
        if "file" in block.markers:
            (self.dir / block.markers["file"]).write_text(self.ports_of(block.text), encoding="utf-8")
        if block.lang in SHELL:
            self._shell(block)
        elif block.lang == "toml":
            self._toml(block)
        elif block.lang == "python":
            self._python(block)
        elif block.lang == "json":
            try:
                json.loads(block.text)
            except ValueError as exc:
                raise DocError(f"{block.where}: not JSON: {exc}") from None
        else:
            raise DocError(
                f"{block.where}: a ```{block.lang} block is not run: mark it <!-- illustration: why -->"
            )

    def _isolate_redis(self, url: str) -> None:
        """The streams of this run on the test Redis under a prefix of their own (the
        server is shared): ``smppgw serve`` takes them as ``[streams] url`` and ``prefix``
        overrides, and a document's client reads the same variables."""
        self.env["SMPPGW_STREAMS__URL"] = url
        self.env["SMPPGW_STREAMS__PREFIX"] = f"smppgw-docs-{uuid.uuid4().hex[:12]}"

    def _shell(self, block: Block) -> None:
        script: list[str] = []
        jobs: list[subprocess.Popen[bytes]] = []  # this block's `&` servers: `kill %N`
        for command in commands(self.ports_of(block.text)):
            env, argv = _argv(command)
            background = command.rstrip().endswith("&")
            if background:
                argv = argv[:-1] if argv and argv[-1] == "&" else argv
            if self._is_server(argv):
                self._flush(block, script)
                script = []
                proc = self._start(block, env, argv)
                if background:
                    jobs.append(proc)
                continue
            if job := re.fullmatch(r"kill %(\d+)", command.strip()):
                self._flush(block, script)
                script = []
                self._kill(block, jobs, int(job[1]))
                continue
            if background:
                raise DocError(
                    f"{block.where}: {command!r} in the background is not a server the harness knows"
                )
            script.append(self.as_run(command, argv))
        self._flush(block, script)

    def _flush(self, block: Block, script: list[str]) -> None:
        if not script:
            return
        text = "set -euo pipefail\n" + "\n".join(script) + "\n"
        try:
            done = subprocess.run(
                ["bash", "-c", text],
                cwd=self.dir,
                env=self.env,
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DocError(f"{block.where}: timed out after {COMMAND_TIMEOUT} s:\n{text}") from None
        if done.returncode != 0:
            raise DocError(
                f"{block.where}: exit {done.returncode}:\n{text}\nstdout: {done.stdout.decode()[-2000:]}"
                f"\nstderr: {done.stderr.decode()[-3000:]}"
            )

    # -- servers ----------------------------------------------------------------------

    @staticmethod
    def _is_server(argv: list[str]) -> bool:
        if not argv or {"-h", "--help", "--version", "--list-profiles"} & set(argv):
            return False
        return argv[0] == "smppsim" or argv[:2] == ["smppgw", "serve"]

    def _kill(self, block: Block, jobs: list[subprocess.Popen[bytes]], n: int) -> None:
        """``kill %N``: the block's N-th background server, by its PID."""
        if not 1 <= n <= len(jobs):
            raise DocError(f"{block.where}: kill %{n}: the block started {len(jobs)} job(s)")
        self._stop(jobs[n - 1])
        self.servers = [s for s in self.servers if s[1] is not jobs[n - 1]]

    def _start(self, block: Block, env: dict[str, str], argv: list[str]) -> subprocess.Popen[bytes]:
        if argv[0] == "smppgw":
            if _option(argv, "--listen") is None:  # the default API address, 127.0.0.1:8080
                argv = [*argv, "--listen", f"127.0.0.1:{self.ports[8080]}"]
            address = _option(argv, "--listen")
        else:
            if _option(argv, "--listen") is None and _option(argv, "--port") is None:
                argv = [*argv, "--listen", f"127.0.0.1:{self.ports[2775]}"]
            address = _option(argv, "--listen") or f"127.0.0.1:{_option(argv, '--port')}"
        assert address is not None
        kind = " ".join(argv[:2]) if argv[0] == "smppgw" else argv[0]
        for i, (other, proc, _) in enumerate(self.servers):  # the reader stopped the last one
            if other == f"{kind} {address}":
                self._stop(proc)
                del self.servers[i]
                break
        log = self.dir / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            exe = str(BIN / argv[0]) if (BIN / argv[0]).exists() else argv[0]
            proc = subprocess.Popen(
                [exe, *argv[1:]], cwd=self.dir, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        self.servers.append((f"{kind} {address}", proc, log))
        host, _, port = address.rpartition(":")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DocError(
                    f"{block.where}: {shlex.join(argv)} exited {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            if self._ready(argv, host, int(port)):
                return proc
            time.sleep(0.1)  # polling a condition, bounded by the deadline
        raise DocError(f"{block.where}: {shlex.join(argv)} not ready on {address} in {START_TIMEOUT} s")

    @staticmethod
    def _ready(argv: list[str], host: str, port: int) -> bool:
        if argv[0] == "smppgw":
            try:
                return httpx.get(f"http://{host}:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        try:
            with socket.create_connection((host, port), timeout=2):
                return True
        except OSError:
            return False

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes], *, signalled: bool = False) -> None:
        if proc.poll() is None:
            if not signalled:  # one SIGTERM only: a second may mean "now" to a server
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def close(self) -> None:
        # Every server is told at once (newest first), then each is waited on: their
        # graceful shutdowns overlap instead of queueing one after another.
        for _, proc, _ in reversed(self.servers):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, _ in reversed(self.servers):
            self._stop(proc, signalled=True)
        self.servers.clear()

    # -- configs and programs ---------------------------------------------------------

    def _toml(self, block: Block) -> None:
        try:
            data = tomllib.loads(self.ports_of(block.text))
        except tomllib.TOMLDecodeError as exc:
            raise DocError(f"{block.where}: not TOML: {exc}") from None
        if "simulator" in block.markers:
            try:
                sim_config_from_dict(data)
            except ValueError as exc:
                raise DocError(f"{block.where}: the simulator config is refused: {exc}") from None
            return
        if "fragment" in block.markers:
            data = _merged(copy.deepcopy(FRAGMENT_BASE), data)
        env = self._materialise(data)
        path = self.dir / f"block-{block.line}.toml"
        path.write_text(self.ports_of(block.text), encoding="utf-8")
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            if "fragment" in block.markers:
                app_config_from_dict(data, environ=dict(os.environ), base=self.dir, store_keys=True)
            else:  # the file as written, loaded as `smppgw serve --config` loads it
                load_app_config(path, store_keys=True)
        except ValueError as exc:
            raise DocError(f"{block.where}: the config is refused: {exc}") from None
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _materialise(self, data: Any) -> dict[str, str]:
        """What a reader supplies for a config: its environment variables and PEM files."""
        env: dict[str, str] = {}
        ca = trustme.CA()
        for table in _tables(data):
            for key, value in table.items():
                if key.endswith("_env") and isinstance(value, str):
                    env[value] = _PLACEHOLDERS.get(key, "docs-key-123")
            if "tls_ca" in table:
                self._write(table["tls_ca"], ca.cert_pem.bytes())
            if "tls_cert" in table:
                cert = ca.issue_cert("127.0.0.1")
                self._write(table["tls_cert"], cert.cert_chain_pems[0].bytes())
                self._write(table.get("tls_key", "key.pem"), cert.private_key_pem.bytes())
        return env

    def _write(self, name: str, data: bytes) -> None:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def _python(self, block: Block) -> None:
        path = self.dir / f"block-{block.line}.py"
        path.write_text(self.ports_of(block.text), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, path.name],
                cwd=self.dir,
                env=self.env,
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DocError(f"{block.where}: timed out after {COMMAND_TIMEOUT} s") from None
        if done.returncode != 0:
            raise DocError(f"{block.where}: exit {done.returncode}\nstderr: {done.stderr.decode()[-3000:]}")


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        else:
            base[key] = value
    return base


def _tables(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _tables(value)
    elif isinstance(data, list):
        for item in data:
            yield from _tables(item)
