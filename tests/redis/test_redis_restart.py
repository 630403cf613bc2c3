"""Redis restarted mid-run (issue 19): with the append-only file (``appendfsync always``,
README "Scale out on Redis") nothing the gateway acknowledged is lost, and the gateway
goes on by itself once Redis is back (reconnect with backoff).

The test starts its own ``redis-server`` on a free loopback port, keeping its AOF in the
test's directory, and stops and restarts it by the PID it started (never the shared one).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from smppgw.store.redis import RedisStore
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.redis_service import RedisUnavailable, _ping, _redis_server

MESSAGE = {"from": "12345", "text": "hi"}


class OwnRedis:
    """A ``redis-server`` of this test's own, with an AOF that survives its restarts."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        try:
            server = _redis_server()
        except RedisUnavailable as exc:
            pytest.fail(f"redis-server is needed for this test: {exc}")
        self.proc = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _ping("127.0.0.1", self.port):
            assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # our own child, by its PID
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_a_redis_restart_mid_run_loses_nothing(tmp_path: Path, own_redis: OwnRedis) -> None:
    store = RedisStore(own_redis.url, clock_offset=time.time() - trio.current_time(), timeout=1.0)
    async with (
        simulator(behaviour={"dlr_delay": 0.3, "deliver_retry": [1.0, 1.0, 2.0, 5.0]}) as sim,
        serving(app_config([smsc(sim, binds=1)], tmp_path / "unused.sqlite3"), store=store) as api,
    ):
        await api.wait_ready()
        ids = []
        for i in range(10):
            r = await api.post("/v1/messages", {**MESSAGE, "to": f"4477009005{i:02d}"})
            assert r.status_code == 202
            ids.append(r.json()["id"])
        own_redis.stop()  # receipts still on their way: the SMSC delivers them again later
        r = await api.post("/v1/messages", {**MESSAGE, "to": "447700900599"})
        assert r.status_code == 503
        await trio.sleep(0.5)
        own_redis.start()  # the same port and AOF
        with trio.fail_after(10):
            while (r := await api.post("/v1/messages", {**MESSAGE, "to": "447700900599"})).status_code != 202:
                await trio.sleep(0.1)
        ids.append(r.json()["id"])
        for message_id in ids:
            await api.wait_status(message_id, {"delivered"}, timeout=20)
        assert len(sim.store.select(limit=100)) == 11  # each sent once
    again = RedisStore(own_redis.url)
    try:
        assert again.counts() == {"delivered": 11} and again.unfinished() == []
    finally:
        again.close()
