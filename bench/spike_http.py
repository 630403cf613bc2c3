"""Spike: how fast can each Python HTTP server stack answer a trivial JSON POST here?

    .venv/bin/python bench/spike_http.py [--seconds 5] [--connections 16] [--only NAME ...] [--json]

The framework ceiling for the HTTP intake (issue 14): before designing the intake, what
does the server stack alone cost? One route, ``POST /v1/messages``: read the body, parse
it as JSON (a small message: to, from, text, dlr), answer 202 with a small JSON object.
No store, no gateway. Each option runs as its own server process on a free loopback port
and gets ``wrk`` with ``--connections`` connections (2 threads) for ``--seconds``, each
request with a distinct destination; the table gives req/s, p50/p99 latency, errors,
and the server's CPU (its worker processes included) per request.

Options:

- ``hypercorn-trio fastapi``: FastAPI (a pydantic body model) on Hypercorn's trio worker,
  in-process as ``smppgw serve`` runs it today;
- ``hypercorn-trio raw``: a bare ASGI callable on the same worker;
- ``uvicorn raw wN`` / ``uvicorn fastapi wN``: uvicorn with httptools and uvloop, N = 1, 2
  worker processes (one listening socket, shared);
- ``granian raw wN`` / ``granian fastapi wN``: granian's ASGI interface, N = 1, 2, if
  granian is installed.

uvicorn[standard] and granian are dev dependencies for this spike only; ``smppgw serve``
does not use them. The machine has 2 cores and wrk runs on it too: with 2 server workers
the server and wrk compete for the same cores, so compare options within one run.
"""

# No `from __future__ import annotations`: FastAPI resolves the route's body model (a local
# class) from its annotation at run time.

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from procs import stop  # noqa: E402
from wrkload import WRK, proc_tree, tree_cpu, tree_hwm_mb, wrk_run  # noqa: E402

BODY = '{"to":"+{to}","from":"12345","text":"spike message","dlr":true}'
ANSWER = b'{"id":"0123456789abcdef","status":"accepted","segments":1}'

# -- the apps (imported by the server processes as ``spike_http:raw_app`` etc.) ----------------


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: POST with a JSON object -> 202 JSON; anything else 404."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, answer = 202, ANSWER
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or "to" not in data:
            status, answer = 422, b'{"detail":"to is required"}'
    except ValueError:
        status, answer = 422, b'{"detail":"not JSON"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def _fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field

    class Small(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        to: str = Field(min_length=1, max_length=21)
        from_: str = Field(alias="from", min_length=1, max_length=21)
        text: str
        dlr: bool = True

    app = FastAPI()

    @app.post("/v1/messages", status_code=202)
    async def post_message(body: Small) -> JSONResponse:
        return JSONResponse({"id": "0123456789abcdef", "status": "accepted", "segments": 1}, status_code=202)

    return app


def __getattr__(name: str) -> Any:
    # Built on first use: the raw options never import FastAPI.
    if name == "fastapi_app":
        app = _fastapi_app()
        globals()["fastapi_app"] = app
        return app
    raise AttributeError(name)


# -- serving one option (in its own process) ----------------------------------------------------


def serve(server: str, app_name: str, port: int, workers: int) -> None:
    target = f"spike_http:{app_name}_app"
    if server == "hypercorn-trio":
        import trio
        from hypercorn.config import Config
        from hypercorn.trio import serve as hypercorn_serve

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        app = raw_app if app_name == "raw" else _fastapi_app()
        trio.run(hypercorn_serve, app, config)  # type: ignore[arg-type]
    elif server == "uvicorn":
        import uvicorn

        uvicorn.run(target, host="127.0.0.1", port=port, workers=workers, loop="uvloop", http="httptools",
                    log_level="warning", access_log=False, app_dir=str(HERE))  # fmt: skip
    elif server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(target, address="127.0.0.1", port=port, interface=Interfaces.ASGI, workers=workers,
                log_enabled=False).serve()  # fmt: skip
    else:
        raise SystemExit(f"unknown server {server}")


# -- the parent ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until a POST answers 202 (every worker started is not knowable; one answering is)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early (rc={proc.returncode})")
        try:
            r = httpx.post(f"http://127.0.0.1:{port}/v1/messages", content=BODY.replace("{to}", "447700900001"),
                           headers={"content-type": "application/json"}, timeout=2)  # fmt: skip
            if r.status_code == 202:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not ready in time")


def options(have_granian: bool) -> list[tuple[str, str, str, int]]:
    out = [
        ("hypercorn-trio fastapi", "hypercorn-trio", "fastapi", 1),
        ("hypercorn-trio raw", "hypercorn-trio", "raw", 1),
    ]
    for workers in (1, 2):
        out += [(f"uvicorn raw w{workers}", "uvicorn", "raw", workers)]
        out += [(f"uvicorn fastapi w{workers}", "uvicorn", "fastapi", workers)]
    if have_granian:
        for workers in (1, 2):
            out += [(f"granian raw w{workers}", "granian", "raw", workers)]
            out += [(f"granian fastapi w{workers}", "granian", "fastapi", workers)]
    return out


def run_option(server: str, app: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", server, "--app", app,
           "--port", str(port), "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        wait_ready(port, proc)
        time.sleep(1.0 if workers > 1 else 0.2)  # the other workers come up
        pids = proc_tree(proc.pid)
        cpu0 = tree_cpu(pids)
        r = wrk_run(f"http://127.0.0.1:{port}", path="/v1/messages", body=BODY,
                    headers={"Content-Type": "application/json"}, connections=args.connections,
                    seconds=args.seconds)  # fmt: skip
        cpu = tree_cpu(pids) - cpu0
        r["server_cpu_s"] = round(cpu, 2)
        r["server_cpu_us_per_req"] = round(1e6 * cpu / max(r["requests"], 1), 1)
        r["server_peak_rss_mb"] = tree_hwm_mb(pids)
        r["processes"] = len(pids)
        return r
    finally:
        stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="framework ceiling: trivial JSON POST per server stack")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per option")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="options whose name contains any of these")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--app", default="raw", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.app, args.port, args.workers)
        return 0
    if not (0 < args.seconds <= 60 and 1 <= args.connections <= 1000):
        parser.error("--seconds in (0, 60], --connections in 1..1000")
    if WRK is None:
        print("wrk is not installed (apt-get install wrk): nothing measured")
        if args.json:
            print(json.dumps({"bench": "spike_http", "results": {}, "failed": {"wrk": "not installed"}}))
        return 0
    have_granian = importlib.util.find_spec("granian") is not None
    plan = options(have_granian)
    if args.only:
        plan = [o for o in plan if any(word in o[0] for word in args.only)]
    rows: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name, server, app, workers in plan:
        try:
            rows[name] = run_option(server, app, workers, args)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"!! {name}: {failed[name]}", file=sys.stderr, flush=True)
            continue
        r = rows[name]
        print(
            f"  {name:<26}{r['rps']:>9,.0f} req/s  p99 {r['p99_us'] / 1000:6.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    if not have_granian:
        failed["granian"] = "not installed"
    print(f"trivial JSON POST, wrk {args.connections} connections x {args.seconds:g}s, 2 wrk threads")
    print(
        f"{'option':<26}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}{'cpu us/req':>12}{'peak MB':>9}"
    )
    for name, r in rows.items():
        errors = r["status_errors"] + r["socket_errors"]
        print(f"{name:<26}{r['rps']:>9,.0f}{r['p50_us'] / 1000:>8.2f}{r['p99_us'] / 1000:>8.2f}{errors:>8}"
              f"{r['server_cpu_us_per_req']:>12.0f}{r['server_peak_rss_mb']:>9.0f}")  # fmt: skip
    for name, why in failed.items():
        print(f"{name:<26} not measured: {why}")
    if args.json:
        print(json.dumps({"bench": "spike_http", "unit": "req/s", "results": {n: r["rps"] for n, r in rows.items()},
                          "runs": rows, "failed": failed, "seconds": args.seconds,
                          "connections": args.connections}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
