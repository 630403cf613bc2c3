"""``make fuzz``: live fuzzing of the simulator, of the gateway's receiving side, and of
the HTTP API's OpenAPI description (issue 16). Seeded, bounded in count and time,
loopback only; not part of ``make test`` (tests/fuzz/test_fuzz_short.py is its short run).

    .venv/bin/python bench/fuzz.py [--seed 16] [--connections 2000] [--frames 20]
                                   [--gateway-frames 20000] [--examples 50] [--max-time 900]

(a) ``smppsim`` (a process of its own) gets ``--connections`` connections of
    ``--frames`` hostile frames each (tests/fuzz/frames.py: mutated valid PDUs, random
    bytes), while one clean client on its own bind submits throughout: every submit
    must succeed, the process must live, and its RSS is reported before and after.
(b) ``smppgw serve`` (a process of its own, config generated) binds two SMSCs: a fake
    SMSC in this process that sends it ``--gateway-frames`` hostile frames (mostly
    mutated deliver_sm), closing after each burst, and the simulator of (a), through
    which messages posted to the API must all be delivered meanwhile.
(c) schemathesis against the gateway's /openapi.json (``--examples`` per operation):
    no 5xx, responses as described.

Prints a table; exit 1 if a process died, a clean message failed, the RSS grew by more
than ``--rss-limit-mb``, or schemathesis saw a server error (5xx). Schema mismatches
are reported, not fatal. The logs stay in the printed work directory.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from procs import stop  # noqa: E402

from tests.fuzz.live import CleanResult, FakeSmsc, clean_client, hammer  # noqa: E402

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
KEY = "fuzz-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def wait_port(port: int, timeout: float = 30) -> None:
    with trio.fail_after(timeout):
        while True:
            try:
                stream = await trio.open_tcp_stream(HOST, port)
                await stream.aclose()
                return
            except OSError:
                await trio.sleep(0.1)


def tracebacks(path: Path) -> int:
    return path.read_text(errors="replace").count("Traceback (most recent call last)")


async def campaign(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sim_port = free_port()
    (work / "sim.toml").write_text(
        f'host = "{HOST}"\nport = {sim_port}\nseed = {args.seed}\nprofile = "fast"\n'
        '[[account]]\nsystem_id = "smppclient1"\npassword = "password"\nmax_binds = 8\n'
        '[[account]]\nsystem_id = "fuzz"\npassword = "fuzz"\nmax_binds = 1000\n'
    )
    sim_log = work / "sim.log"
    sim = subprocess.Popen(
        [str(BIN / "smppsim"), "--config", str(work / "sim.toml")],
        stdout=subprocess.DEVNULL,
        stderr=sim_log.open("w"),
    )
    gw: subprocess.Popen[bytes] | None = None
    try:
        await wait_port(sim_port)
        # (a) the simulator
        warm = CleanResult()
        await clean_client(HOST, sim_port, ("smppclient1", "password"), count=200, result=warm)
        rss_before = rss_mb(sim.pid)
        clean = CleanResult()
        started = time.monotonic()
        with trio.move_on_after(args.max_time / 2):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    functools.partial(
                        clean_client, HOST, sim_port, ("smppclient1", "password"), count=args.clean,
                        result=clean, pause=0.002,
                    )
                )  # fmt: skip
                stats = await hammer(
                    HOST,
                    sim_port,
                    seed=args.seed,
                    connections=args.connections,
                    frames_per_connection=args.frames,
                    account=("fuzz", "fuzz"),
                    concurrency=16,
                )
        out["sim"] = {
            "frames": stats.frames,
            "octets": stats.octets,
            "connections": stats.connections,
            "refused": stats.refused,
            "seconds": round(time.monotonic() - started, 1),
            "alive": sim.poll() is None,
            "tracebacks": tracebacks(sim_log),
            "clean_ok": clean.ok,
            "clean_failed": clean.failed,
            "clean_errors": clean.errors[:3],
            "rss_before": round(rss_before, 1),
            "rss_after": round(rss_mb(sim.pid), 1) if sim.poll() is None else None,
        }

        # (b) the gateway's receiving side
        fake = FakeSmsc(seed=args.seed, frames_per_connection=200, max_connections=10_000)
        async with trio.open_nursery() as nursery:
            [listener] = await nursery.start(functools.partial(trio.serve_tcp, fake.handle, 0, host=HOST))
            fake_port = listener.socket.getsockname()[1]
            api_port = free_port()
            (work / "gw.toml").write_text(
                f'[[smsc]]\nname = "sim"\nhost = "{HOST}"\nport = {sim_port}\n'
                'system_id = "smppclient1"\npassword = "password"\nbinds = 2\n'
                f'[[smsc]]\nname = "fuzz"\nhost = "{HOST}"\nport = {fake_port}\n'
                'system_id = "fuzz"\npassword = "fuzz"\nbinds = 2\n'
                '[[route]]\nname = "default"\nsmscs = ["sim"]\n'
                f'[store]\npath = "{work / "gw.sqlite3"}"\n'
                f'[api]\nlisten = "{HOST}:{api_port}"\nkeys = ["{KEY}"]\n'
            )
            gw_log = work / "gw.log"
            gw = subprocess.Popen(
                [str(BIN / "smppgw"), "serve", "--config", str(work / "gw.toml")],
                stdout=subprocess.DEVNULL,
                stderr=gw_log.open("w"),
                cwd=work,
            )
            await wait_port(api_port)
            base = f"http://{HOST}:{api_port}"
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
                await trio.sleep(1.0)
                gw_rss_before = rss_mb(gw.pid)
                ids: list[str] = []
                started = time.monotonic()
                with trio.move_on_after(args.max_time / 3):
                    i = 0
                    while fake.frames < args.gateway_frames:
                        resp = await client.post(
                            "/v1/messages",
                            json={"from": "447700900000", "to": f"4477009{i % 100000:05d}", "text": "x"},
                        )
                        if resp.status_code == 202:
                            ids.append(resp.json()["id"])
                        i += 1
                        await trio.sleep(0.02)
                seconds = time.monotonic() - started
                delivered, statuses = 0, {}
                with trio.move_on_after(60):
                    for message_id in ids:
                        while True:
                            status = (await client.get(f"/v1/messages/{message_id}")).json().get("status")
                            if status in (
                                "delivered",
                                "undeliverable",
                                "rejected",
                                "expired",
                                "unknown",
                                "failed",
                            ):
                                break
                            await trio.sleep(0.1)
                        statuses[status] = statuses.get(status, 0) + 1
                        delivered += status == "delivered"
            out["gateway"] = {
                "frames": fake.frames,
                "connections": fake.connections,
                "seconds": round(seconds, 1),
                "alive": gw.poll() is None,
                "tracebacks": tracebacks(gw_log),
                "clean_sent": len(ids),
                "clean_delivered": delivered,
                "statuses": statuses,
                "rss_before": round(gw_rss_before, 1),
                "rss_after": round(rss_mb(gw.pid), 1) if gw.poll() is None else None,
            }
            nursery.cancel_scope.cancel()

        # (c) schemathesis against the OpenAPI description
        out["schemathesis"] = await trio.to_thread.run_sync(schemathesis, args, base, work)
        out["gateway"]["alive_after_schemathesis"] = gw.poll() is None
        out["gateway"]["tracebacks_after_schemathesis"] = tracebacks(gw_log)
    finally:
        if gw is not None:
            stop(gw)
        stop(sim)
    return out


def schemathesis(args: argparse.Namespace, base: str, work: Path) -> dict[str, Any]:
    cmd = [
        str(BIN / "schemathesis"),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "-H",
        f"Authorization: Bearer {KEY}",
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--max-failures",
        "200",
    ]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.max_time / 3, cwd=work, check=False
        )
        text = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        text = (
            (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else str(exc.stdout)
        )
    (work / "schemathesis.txt").write_text(text)
    # The "Failures:" summary: "❌ ST101 Server error: 1" per kind of failure.
    failures = {
        f"{code} {name}": int(n) for code, name, n in re.findall(r"❌ (ST\d+) ([^:\n]+): (\d+)", text)
    }
    server_errors = sum(n for kind, n in failures.items() if kind.startswith("ST101"))
    schema = sum(n for kind, n in failures.items() if not kind.startswith("ST101"))
    summary = [line.strip() for line in text.splitlines() if re.search(r"generated|unique failures", line)][
        -2:
    ]
    return {
        "seconds": round(time.monotonic() - started, 1),
        "server_errors": server_errors,
        "schema_mismatches": schema,
        "failures": failures,
        "summary": summary,
        "log": str(work / "schemathesis.txt"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=20, help="hostile frames per connection")
    parser.add_argument("--clean", type=int, default=2000, help="submits of the clean client")
    parser.add_argument("--gateway-frames", type=int, default=20_000)
    parser.add_argument("--examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--max-time", type=float, default=900)
    parser.add_argument("--rss-limit-mb", type=float, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smppgw-fuzz-"))
    result = trio.run(campaign, args, work)
    sim, gw, st = result["sim"], result["gateway"], result["schemathesis"]
    rows = [
        ("target", "frames", "connections", "alive", "tracebacks", "clean ok/sent", "RSS MB before -> after"),
        ("simulator", sim["frames"], sim["connections"], sim["alive"], sim["tracebacks"],
         f"{sim['clean_ok']}/{sim['clean_ok'] + sim['clean_failed']}", f"{sim['rss_before']} -> {sim['rss_after']}"),
        ("gateway rx", gw["frames"], gw["connections"], gw["alive"], gw["tracebacks"],
         f"{gw['clean_delivered']}/{gw['clean_sent']} delivered", f"{gw['rss_before']} -> {gw['rss_after']}"),
    ]  # fmt: skip
    for row in rows:
        print(" | ".join(str(c) for c in row))
    print(
        f"simulator: {sim['seconds']} s, {sim['octets']} octets, refused {sim['refused']}; errors {sim['clean_errors']}"
    )
    print(
        f"gateway: {gw['seconds']} s; statuses {gw['statuses']}; alive after schemathesis {gw['alive_after_schemathesis']}, tracebacks then {gw['tracebacks_after_schemathesis']} (5xx logged)"
    )
    print(
        f"schemathesis: {st['seconds']} s, server errors {st['server_errors']}, schema mismatches {st['schema_mismatches']}"
    )
    for line in st["summary"]:
        print("  " + line)
    print(f"logs: {work}")
    failed = (
        not sim["alive"]
        or not gw["alive"]
        or not gw["alive_after_schemathesis"]
        or sim["clean_failed"]
        or gw["clean_delivered"] != gw["clean_sent"]
        or (sim["rss_after"] or 0) - sim["rss_before"] > args.rss_limit_mb
        or (gw["rss_after"] or 0) - gw["rss_before"] > args.rss_limit_mb
        or st["server_errors"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
