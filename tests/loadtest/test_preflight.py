"""Runs that cannot succeed stop at once, in one line, with a non-zero exit: a refused
SMPP bind, an API key the gateway refuses (before the load or in the middle of it), and
a report file that cannot be written (checked before the run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.loadtest.helpers import start_sim

BIN = Path(sys.executable).parent
# A long run: each of these must end long before it would (the bound below is generous).
LONG = ["--rate", "20", "--duration", "120", "--no-live"]


async def loadtest(*args: str) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(60):
        return await trio.run_process(
            [str(BIN / "smpp-loadtest"), *args], capture_stdout=True, capture_stderr=True, check=False
        )


def one_line(done: subprocess.CompletedProcess[bytes], code: int, *, progress: bool = False) -> str:
    """The run's one error line. ``progress``: the run had started, so the plain progress
    lines (stderr, not a terminal) may come before it; nothing else may."""
    err = done.stderr.decode()
    assert done.returncode == code, (done.returncode, err, done.stdout.decode()[-500:])
    lines = err.splitlines()
    if progress:
        assert all(not line.startswith("smpp-loadtest: error") for line in lines[:-1]), err
        assert "Traceback" not in err, err
        err = lines[-1] + "\n" if lines else ""
    assert err.startswith("smpp-loadtest: error: ") and err.count("\n") == 1, err
    return err


async def test_a_refused_bind_stops_the_run_at_once(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        sim = await start_sim(nursery)
        done = await loadtest("--smsc", f"127.0.0.1:{sim.port}", "--password", "wrong", *LONG)
        nursery.cancel_scope.cancel()
    assert "ESME_RINVPASWD" in one_line(done, 1)


async def test_a_refused_api_key_stops_the_run_before_the_load(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        done = await loadtest("--http", api.url, "--api-key", "not-the-key", *LONG)
        assert api.store.counts() == {}
    err = one_line(done, 1)
    assert "HTTP 401" in err and "--api-key" in err


class KeyRevokedAfterThePreflight:
    """A queue API (ASGI) whose key check passes the pre-flight and then refuses every POST."""

    def __init__(self) -> None:
        self.posts = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        self.posts += scope["method"] == "POST"
        status = 200 if scope["method"] == "GET" else 422 if self.posts == 1 else 401
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_a_key_refused_during_the_run_stops_it_at_once() -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve

    app = KeyRevokedAfterThePreflight()
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = config.errorlog = None
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve, app, config)  # type: ignore[arg-type]
        done = await loadtest("--http", urls[0], "--api-key", "some-key-1", *LONG)
        nursery.cancel_scope.cancel()
    assert "HTTP 401" in one_line(done, 1, progress=True)
    assert 2 <= app.posts < 100  # the pre-flight, then the first refused request(s): no more


async def test_report_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    """Nothing listens on port 1: the run would fail, but the path is found bad first."""
    for option, path in (("--json", tmp_path / "missing" / "r.json"), ("--html", tmp_path)):
        done = await loadtest("--smsc", "127.0.0.1:1", *LONG, option, str(path))
        err = one_line(done, 2)
        assert option in err and ("cannot write" in err or "is a directory" in err), err
    assert not (tmp_path / "missing").exists()


async def test_a_callback_address_in_use_is_named() -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = config.errorlog = None
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve, KeyRevokedAfterThePreflight(), config)  # type: ignore[arg-type]
        with trio.socket.socket() as taken:
            await taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            args = ["--http", urls[0], "--api-key", "some-key-1", "--wait-dlr", "1"]
            done = await loadtest(*args, "--callback-listen", f"127.0.0.1:{port}", *LONG)
        nursery.cancel_scope.cancel()
    err = one_line(done, 1, progress=True)
    assert err.endswith(f"--callback-listen: cannot listen on 127.0.0.1:{port}: Address already in use\n"), (
        err
    )
