"""Load generator throughput: the highest submit_sm rate one smpp-loadtest process reaches.

    .venv/bin/python bench/bench_loadtest.py [--json] [--count 300000] [--binds 4]

Every run uses two processes on this machine (the target and the client each get a
core) and fresh ones per run, all on 127.0.0.1, stopped by PID at the end:

- ``loadtest@refsmsc``: ``smpp-loadtest --closed`` (N binds, window 256 each) against
  ``python -m loadtest.refsmsc``, the lean reference SMSC that answers from headers;
- ``loadtest-open@refsmsc``: the same generator open loop at ``--open-rate`` (default
  50,000/s) for a few seconds; its rate is what was *sent* (a generator that cannot keep
  up falls behind its schedule and shows it here and in ``lag_ms_p99``);
- ``loadtest@simulator``: the closed loop against the full simulator (``smppsim --port 0``);
- ``smpplib@refsmsc`` and ``aiosmpplib@refsmsc``: the peers' closed-loop clients from
  ``bench/bench_client.py`` (one bind, window 64, as documented there) against the same
  reference SMSC; ``smppgw-conn@refsmsc`` is our general-purpose ``SmppConnection``
  client from the same file, for scale.

Rates are acknowledged submit_sm per second over the run (closed loop) or submit_sm sent
per second (open loop). Ratios are ours (``loadtest@refsmsc``) over each peer. The
last line with ``--json`` is ``{"bench": "loadtest", "unit": "msg/s", "results": ...,
"ratios": ...}`` (DESIGN §6). Every run is bounded by a count and a time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # procs, when imported from elsewhere

from procs import first_line, stop  # noqa: E402

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def server(kind: str, binds: int, max_seconds: float) -> Iterator[int]:
    if kind == "refsmsc":
        cmd = [sys.executable, "-m", "loadtest.refsmsc", "--port", "0", "--max-seconds", str(max_seconds)]
    else:
        cmd = [str(BIN / "smppsim"), "--port", "0", "--profile", "fast", "--max-binds", str(max(4, binds))]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = first_line(proc, timeout=30).decode()
        m = re.search(r":(\d+)\b", line) if kind != "refsmsc" else re.match(r"(\d+)$", line.strip())
        if m is None:
            raise RuntimeError(f"no port in {line!r}")
        yield int(m.group(1))
    finally:
        stop(proc)


def run_loadtest(
    port: int, args: argparse.Namespace, *, open_rate: float | None = None, count: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [
            str(BIN / "smpp-loadtest"),
            "--target",
            f"127.0.0.1:{port}",
            "--binds",
            str(args.binds),
            "--window",
            str(args.window),
            "--json",
            str(out),
            "-q",
            "--no-live",
            "--max-seconds",
            str(args.time_limit),
        ]
        if open_rate is None:
            cmd += ["--closed", "--count", str(count), "--duration", str(args.time_limit)]
        else:
            cmd += ["--rate", str(open_rate), "--duration", str(args.open_seconds)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.time_limit + 60, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"smpp-loadtest failed (rc={proc.returncode}): {proc.stderr.strip()[-500:]}")
        doc: dict[str, Any] = json.loads(out.read_text())
    s = doc["summary"]
    rate = s["throughput_per_s"]["sent" if open_rate else "acked"]
    return {
        "msg_per_s": rate,
        "seconds": s["duration_s"],
        "count": s["acked"],
        "errors": s["errors"],
        "cpu": s["client"]["cpu_percent"],
        "saturated": s["client"]["saturated"],
        "lag_ms_p99": s["client"]["lag_ms_p99"],
        "p99_ms": s["latency_ms"]["submit_resp"]["p99"],
        "offered": s["offered"],
        "sent": s["sent"],
    }


def run_peer(impl: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(HERE / "bench_client.py"),
        "--worker",
        impl,
        "--port",
        str(port),
        "--count",
        str(args.peer_count),
        "--time-limit",
        str(args.time_limit),
        "--no-receipts",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.time_limit + 60, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{impl} failed (rc={proc.returncode}): {proc.stderr.strip()[-500:]}")
    r = json.loads(lines[-1])
    return {
        "msg_per_s": r["msg_per_s"],
        "seconds": r["seconds"],
        "count": r["responses"],
        "errors": r["errors"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument(
        "--count", type=int, default=1_000_000, help="submit_sm per closed-loop run vs refsmsc"
    )
    parser.add_argument("--sim-count", type=int, default=60_000, help="submit_sm per run vs the simulator")
    parser.add_argument("--peer-count", type=int, default=20_000, help="submit_sm per peer run")
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--open-rate", type=float, default=50_000.0, help="rate of the open-loop run")
    parser.add_argument("--open-seconds", type=float, default=4.0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per run at most")
    args = parser.parse_args(argv)
    if not (1 <= args.count <= 10_000_000 and 0 < args.time_limit <= 600 and 1 <= args.binds <= 64):
        parser.error("--count 1..10000000, --time-limit (0, 600], --binds 1..64")
    signal.signal(signal.SIGTERM, lambda signum, _f: sys.exit(128 + signum))  # unwind: stop our servers

    plan: list[tuple[str, str, Any]] = [
        ("loadtest@refsmsc", "refsmsc", lambda port: run_loadtest(port, args, count=args.count)),
        (
            "loadtest-open@refsmsc",
            "refsmsc",
            lambda port: run_loadtest(port, args, open_rate=args.open_rate, count=0),
        ),
        ("loadtest@simulator", "simulator", lambda port: run_loadtest(port, args, count=args.sim_count)),
        ("smpplib@refsmsc", "refsmsc", lambda port: run_peer("smpplib", port, args)),
        ("aiosmpplib@refsmsc", "refsmsc", lambda port: run_peer("aiosmpplib", port, args)),
        ("smppgw-conn@refsmsc", "refsmsc", lambda port: run_peer("ours", port, args)),
    ]
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name, kind, fn in plan:
        try:
            with server(kind, args.binds, max_seconds=args.time_limit + 60) as port:
                results[name] = fn(port)
        except Exception as exc:  # report it, run the rest, exit non-zero at the end
            failed[name] = f"{type(exc).__name__}: {exc}"[:600]
            print(f"!! {name}: {failed[name]}", file=sys.stderr, flush=True)
            continue
        print(f"  {name:<24}{results[name]['msg_per_s']:>12,.0f} msg/s", file=sys.stderr, flush=True)

    print(
        f"load generator benchmark: {os.cpu_count()} cpus, target and client in separate processes; "
        f"smpp-loadtest with {args.binds} binds x window {args.window}, peers 1 bind x window 64"
    )
    head = f"{'run':<24}{'msg/s':>10}{'seconds':>9}{'count':>11}{'errors':>7}{'cpu%':>6}{'p99 ms':>8}  notes"
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        notes = []
        if "sent" in r and name.startswith("loadtest-open"):
            notes.append(f"offered {r['offered']:,} sent {r['sent']:,} lag p99 {r['lag_ms_p99']} ms")
        if r.get("saturated"):
            notes.append("client saturated")
        cpu = f"{r['cpu']:>6.0f}" if "cpu" in r else f"{'':>6}"
        p99 = f"{r['p99_ms']:>8.1f}" if r.get("p99_ms") is not None else f"{'':>8}"
        print(
            f"{name:<24}{r['msg_per_s']:>10,.0f}{r['seconds']:>9.2f}{r['count']:>11,}{r['errors']:>7}{cpu}{p99}"
            f"  {'; '.join(notes)}"
        )
    ours = results.get("loadtest@refsmsc", {}).get("msg_per_s")
    ratios: dict[str, float | None] = {}
    for peer in ("smpplib", "aiosmpplib"):
        theirs = results.get(f"{peer}@refsmsc", {}).get("msg_per_s")
        ratios[f"ours/{peer}"] = round(ours / theirs, 2) if ours and theirs else None
    print("  ".join(f"{k}: {v}x" for k, v in ratios.items()))
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "loadtest",
                    "unit": "msg/s",
                    "results": {name: r["msg_per_s"] for name, r in results.items()},
                    "ratios": ratios,
                    "failed": failed,
                    "binds": args.binds,
                    "window": args.window,
                }
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
