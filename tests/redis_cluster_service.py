"""A real Redis Cluster for the tests that run smppgw on one (README "Scale out on
Redis": Redis Cluster).

Three masters, no replicas, started here on free loopback ports (``redis-server`` with
``cluster-enabled yes``, keeping nothing on disk; node files in a temporary directory),
joined with ``redis-cli --cluster create`` and waited for until every node says
``cluster_state:ok``. They are stopped at the end of the session, by their PIDs.

Unlike the single server (tests/redis_service.py) nothing already running is reused:
the cluster is always this session's own. ``SMPPGW_TEST_REDIS_CLUSTER_URL`` names one to
use instead (any node of it). With ``CI=true`` a cluster that can't be had is a failure
that says why (``redis_cluster_url`` fixture, tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.redis_service import RedisUnavailable, _address, _answers, _redis_server

__all__ = ["RedisClusterService"]

_MASTERS = 3
_WAIT = 20.0  # seconds the nodes may take to start and agree


def _ask(port: int, *words: str, timeout: float = 0.5) -> bytes:
    """One RESP command to 127.0.0.1:``port``, its raw answer (b"" when nothing answers)."""
    body = b"".join(b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in words)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*%d\r\n" % len(words) + body)
            return sock.recv(4096)
    except OSError:
        return b""


def _free_ports(n: int) -> list[int]:
    """``n`` free loopback ports whose cluster bus ports (+10000) are free too."""
    out: list[int] = []
    while len(out) < n:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535 or port in out:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        out.append(port)
    return out


class RedisClusterService:
    """One Redis Cluster for the test session, started by ``start``, stopped by ``close``;
    ``replicas``: each master's (a failover test's cluster)."""

    def __init__(self, *, replicas: int = 0) -> None:
        self.replicas = replicas
        # ms before a silent node counts as failed: short where a failover is the test,
        # long where none is wanted (a node slowed by a busy machine must not be failed).
        self._node_timeout = 1000 if replicas else 5000
        self.url: str | None = None
        self.error: str | None = None
        self.ports: list[int] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> str:
        if self.url is not None:
            return self.url
        if self.error is not None:
            raise RedisUnavailable(self.error)
        try:
            given = os.environ.get("SMPPGW_TEST_REDIS_CLUSTER_URL") if not self.replicas else None
            if given:
                host, port = _address(given)
                if host is not None and not _answers(host, port):
                    raise RedisUnavailable(
                        f"SMPPGW_TEST_REDIS_CLUSTER_URL={given}: nothing answers at {host}:{port}"
                    )
            self.url = given or self._start()
        except RedisUnavailable as exc:
            self.error = str(exc)
            self.close()
            raise
        return self.url

    def _start(self) -> str:
        server = _redis_server()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RedisUnavailable("redis-cli is not installed (it joins the nodes into a cluster)")
        for attempt in range(3):  # a port taken between the probe and the bind: new ports
            self.ports = _free_ports(_MASTERS * (1 + self.replicas))
            self._dir = tempfile.TemporaryDirectory(prefix="smppgw-redis-cluster-")
            for port in self.ports:
                self._processes.append(self._node(server, port, Path(self._dir.name)))
            if self._answering():
                break
            self.close()
            if attempt == 2:
                raise RedisUnavailable(
                    f"redis-server cluster nodes on {self.ports} did not start: {self._why()}"
                )
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        done = subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=_WAIT, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RedisUnavailable(
                f"redis-cli --cluster create failed: {(done.stdout + done.stderr).strip()[-400:]}"
            )
        deadline = time.monotonic() + _WAIT
        while time.monotonic() < deadline:
            if all(b"cluster_state:ok" in _ask(p, "CLUSTER", "INFO") for p in self.ports) and self._synced():
                return f"redis://127.0.0.1:{self.ports[0]}"
            time.sleep(0.05)
        raise RedisUnavailable(
            f"the cluster on {self.ports} did not reach cluster_state:ok within {_WAIT:.0f} s"
        )

    def _synced(self) -> bool:
        """Every replica has its master's data (its link is up): a failover keeps it."""
        for port in self.ports:
            info = _ask(port, "INFO", "replication")
            if b"role:slave" in info and b"master_link_status:up" not in info:
                return False
        return True

    def process(self, port: int) -> subprocess.Popen[bytes]:
        """The node on ``port`` (a failover test kills a master by its PID)."""
        return self._processes[self.ports.index(port)]

    def _node(self, server: str, port: int, base: Path) -> subprocess.Popen[bytes]:
        home = base / str(port)
        home.mkdir()
        # Loopback only, nothing on disk but the node file the cluster needs.
        cmd = [server, "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes",
               "--cluster-config-file", str(home / "nodes.conf"), "--cluster-node-timeout", str(self._node_timeout),
               "--repl-diskless-sync-delay", "0",
               "--save", "", "--appendonly", "no", "--dir", str(home), "--protected-mode", "yes"]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _answering(self) -> bool:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._processes):
                return False
            if all(_ask(port, "PING").startswith(b"+PONG") for port in self.ports):
                return True
            time.sleep(0.05)
        return False

    def _why(self) -> str:
        for p in self._processes:
            if p.poll() is not None and p.stderr is not None:
                return (
                    f"exited with {p.returncode}: {p.stderr.read().decode(errors='replace').strip()[-300:]}"
                )
        return "no PONG within 10 s"

    def close(self) -> None:
        for process in self._processes:  # our own children, by their PIDs
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._processes = []
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
