"""The HTTP target against a stub of the queue API, and the reference SMSC."""

from __future__ import annotations

import struct
import subprocess
import sys
from functools import partial
from typing import Any

import trio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypercorn.config import Config
from hypercorn.trio import serve

from loadtest.params import Phase, RunParams, parse_mix
from loadtest.refsmsc import RefSmsc
from loadtest.refsmsc import serve as serve_refsmsc
from tests.loadtest.helpers import run_checked

# -- the HTTP queue API (a stub of DESIGN §4.2: test code only) --------------------------------


def stub_api(api_key: str, seen: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/messages")
    async def submit(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return JSONResponse({"detail": "bad api key"}, status_code=401)
        body = await request.json()
        if not {"to", "from", "text"} <= body.keys():
            return JSONResponse({"detail": "missing field"}, status_code=422)
        seen.append(body)
        if len(seen) % 10 == 0:
            return JSONResponse({"detail": "slow down"}, status_code=429)
        return JSONResponse({"id": str(len(seen)), "segments": 1}, status_code=202)

    return app


async def start_api(nursery: trio.Nursery, app: FastAPI) -> str:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    urls = await nursery.start(partial(serve, app, config))  # type: ignore[arg-type]
    return str(urls[0])


async def test_http_target_counts_accepted_and_throttled() -> None:
    seen: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        url = await start_api(nursery, stub_api("k3y", seen))
        params = RunParams(
            target="http",
            address=url,
            api_key="k3y",
            phases=(Phase(rate=50, duration=1.0),),  # stub and client share one core: keep it light
            binds=1,
            window=16,
            mix=parse_mix("gsm:1"),
            max_seconds=10,
        )
        result = await run_checked(params)
        nursery.cancel_scope.cancel()
    s = result["summary"]
    assert s["sent"] == s["offered"] == 50
    assert s["throttled"] == 5
    assert s["acked"] == 45
    assert s["errors_by_status"] == {"HTTP_429": 5}
    assert s["latency_ms"]["submit_resp"]["count"] == 50
    assert result["params"]["target"] == "http"
    assert seen[0]["from"] == "LOADTEST" and seen[0]["to"].startswith("4477009")


async def test_http_target_with_a_wrong_key_fails_the_run_before_the_load() -> None:
    import pytest

    from loadtest.runner import RunFailed

    seen: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        url = await start_api(nursery, stub_api("right", seen))
        params = RunParams(
            target="http", address=url, api_key="wrong", closed=True, count=30, duration=5.0, window=4
        )
        with pytest.raises(RunFailed, match=r"HTTP 401: the API key is unknown"):
            await run_checked(params)
        nursery.cancel_scope.cancel()
    assert seen == []


async def test_http_target_unreachable_fails_the_run() -> None:
    import pytest

    from loadtest.runner import RunFailed

    params = RunParams(
        target="http", address="http://127.0.0.1:1", api_key="k", phases=(Phase(rate=1, duration=1),)
    )
    with pytest.raises(RunFailed, match="cannot reach"):
        await run_checked(params)


# -- the reference SMSC ------------------------------------------------------------------------


async def test_closed_loop_against_refsmsc() -> None:
    smsc = RefSmsc()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_refsmsc, smsc, 0)
        params = RunParams(
            target="smsc",
            address=f"127.0.0.1:{port}",
            closed=True,
            count=20_000,
            duration=20.0,
            binds=2,
            window=256,
        )
        result = await run_checked(params)
        nursery.cancel_scope.cancel()
    s = result["summary"]
    assert s["sent"] == s["acked"] == smsc.submitted == 20_000
    assert s["errors"] == 0
    assert smsc.connections == 2


async def test_refsmsc_receipts_are_matched() -> None:
    smsc = RefSmsc(receipts=True)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_refsmsc, smsc, 0)
        params = RunParams(
            target="smsc",
            address=f"127.0.0.1:{port}",
            phases=(Phase(rate=500, duration=1.0),),
            wait_dlr=2.0,
            mix=parse_mix("gsm:0.5,long:0.5"),
        )
        result = await run_checked(params)
        nursery.cancel_scope.cancel()
    s = result["summary"]
    assert s["receipts"] == s["receipts_expected"] == s["acked"] == 500
    assert s["latency_ms"]["submit_receipt"]["count"] == 500


def _pdu(command_id: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body


async def test_refsmsc_process_prints_its_port_and_speaks_smpp() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtest.refsmsc", "--port", "0", "--max-seconds", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(await trio.to_thread.run_sync(proc.stdout.readline))
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            bind = b"acme\0pw\0\0\x34\0\0\0"
            await stream.send_all(_pdu(0x09, 1, bind) + _pdu(0x15, 2) + _pdu(0x103, 3) + _pdu(0x06, 4))
            data = b""
            while len(data) < 16 * 4 + 8:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                data += chunk
        answers = []
        pos = 0
        while pos < len(data):
            length, cmd, status, seq = struct.unpack_from(">IIII", data, pos)
            answers.append((cmd, status, seq))
            pos += length
        assert answers == [(0x80000009, 0, 1), (0x80000015, 0, 2), (0x80000000, 3, 3), (0x80000006, 0, 4)]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "refsmsc: 0 submit_sm answered on 1 connection(s)" in err
