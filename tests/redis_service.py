"""The Redis server the tests that talk to Redis use (issue 19).

In order: the URL in ``SMPPGW_TEST_REDIS_URL``; else a Redis answering PING on
127.0.0.1:6379; else a ``redis-server`` this module starts on a free loopback port (keeping
nothing on disk), installed with apt first when it is missing and we run as root. The
server we start is stopped at the end of the session, by its PID.

With ``CI=true`` a Redis that can't be had is a failure that says why; elsewhere the
tests that need it are skipped with that reason (``redis_url`` fixture, tests/conftest.py).

Tests share the server, so each one works under its own key prefix (``redis_prefix``):
nothing is flushed, and a developer's own keys on 6379 are left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlsplit

__all__ = ["RedisService", "RedisUnavailable"]

_DEFAULT = ("127.0.0.1", 6379)


class RedisUnavailable(RuntimeError):
    """No Redis answered and none could be started; the message says why."""


def _ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """A raw RESP PING (no client library: this runs before any import of coredis)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """A Redis server answers a PING there (+PONG, or an error such as -NOAUTH: a server
    that wants a password the URL gives)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64)[:1] in (b"+", b"-")
    except OSError:
        return False


def _address(url: str) -> tuple[str | None, int]:
    """The TCP host and port of a redis:// or rediss:// URL; (None, 0) for another kind
    (unix://), which is not checked here."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return None, 0
    return parts.hostname, parts.port or 6379


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RedisUnavailable("redis-server is not installed and apt-get can't be run here to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "redis-server"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RedisUnavailable(
                f"installing redis-server failed: {' '.join(cmd)}: {done.stderr.strip()[-300:]}"
            )
    found = shutil.which("redis-server")
    if not found:
        raise RedisUnavailable("apt-get installed redis-server but it is not on PATH")
    return found


class RedisService:
    """One Redis for the test session: found, or started here and stopped by ``close``."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> str:
        if self.url is not None:
            return self.url
        if self.error is not None:
            raise RedisUnavailable(self.error)
        try:
            self.url = self._find_or_start()
        except RedisUnavailable as exc:
            self.error = str(exc)
            raise
        return self.url

    def _find_or_start(self) -> str:
        given = os.environ.get("SMPPGW_TEST_REDIS_URL")
        if given:
            # Checked here, so a wrong URL is one failure that says why (in CI), not a
            # connection error in every test that takes it.
            host, port = _address(given)
            if host is not None and not _answers(host, port):
                raise RedisUnavailable(f"SMPPGW_TEST_REDIS_URL={given}: nothing answers at {host}:{port}")
            return given
        if _ping(*_DEFAULT):
            return "redis://127.0.0.1:6379/0"
        server = _redis_server()
        port = _free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="smppgw-redis-")
        # Loopback only; nothing on disk (the tests need no persistence; the README says
        # what production needs).
        cmd = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", self._dir.name, "--protected-mode", "yes"]  # fmt: skip
        self._process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if _ping("127.0.0.1", port):
                return f"redis://127.0.0.1:{port}/0"
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RedisUnavailable(
                    f"redis-server exited with {self._process.returncode}: {err.strip()[-300:]}"
                )
            time.sleep(0.05)
        self.close()
        raise RedisUnavailable(f"redis-server on 127.0.0.1:{port} did not answer PING within 10 s")

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # our own child, by its PID
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
