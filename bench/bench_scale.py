"""Scale out: the aggregate throughput of 1, 2 and 3 ``smppgw serve`` processes on the
Redis store (one shared work queue) against one simulator, beside one process on SQLite,
in the same run.

    .venv/bin/python bench/bench_scale.py [--count 6000] [--gateways 1,2,3] [--max-time 120]
                                          [--redis redis://127.0.0.1:6379/0] [--json]

The job per round: ``--count`` messages (one part, a receipt each) POSTed to
``/v1/messages/batch`` (batches of 500), the batches dealt to the gateways in turn, then
waited on until every one is final (the sum over the gateways of
``smppgw_messages_total``: each final status is counted by the gateway that made it).
The carrier is ``smppsim`` in its own process (the ``fast`` profile); each gateway has
one bind of window 64 (the account allows one per gateway: ``binds`` is the total all
gateways share through leases) and its own API port, all on one Redis prefix of this run
(deleted at the end). Reported per round: msg/s from the first POST to the last final
status, and how the submit_sm were shared between the gateways. Bounded by ``--count``
and ``--max-time``; every child is stopped by its PID. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_serve import Posters, bodies, free_port, start_simulator  # noqa: E402
from procs import stop  # noqa: E402


def _config(directory: Path, name: str, sim_port: int, api_port: int, store: str, binds: int) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f"""
[[smsc]]
name = "sim"
host = "127.0.0.1"
port = {sim_port}
system_id = "smppclient1"
password = "password"
binds = {binds}
window = 64

[store]
{store}

[api]
listen = "127.0.0.1:{api_port}"
keys_env = "BENCH_SCALE_KEY"
max_queued = 1000000
"""
    )
    return path


def _start(config: Path, key: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smppgw.cli", "serve", "--config", str(config)],
        env={**os.environ, "BENCH_SCALE_KEY": key}, stdout=subprocess.PIPE,
        stderr=None if os.environ.get("BENCH_SCALE_STDERR") else subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a gateway exited early (rc={proc.wait()})")
        if b"serving" in line:
            return proc
    stop(proc)
    raise TimeoutError("a gateway did not start within 60 s")


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat(5) fields 14, 15)
    return total / tick


def _bound(client: httpx.Client) -> bool:
    return any(
        line.startswith("smppgw_binds{") and 'state="bound"' in line and float(line.rsplit(" ", 1)[1]) >= 1
        for line in client.get("/metrics").text.splitlines()
    )


def _series(client: httpx.Client, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith(name + "{") and ('status="ESME_ROK"' in line or name == "smppgw_messages_total")
    )


def run_round(backend: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    key = secrets.token_urlsafe(18)
    prefix = f"bench-scale-{secrets.token_hex(4)}"
    payloads = bodies(args.count, 500)
    gateways: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="smppgw-bench-scale-") as tmp:
        sim, sim_port = start_simulator()
        try:
            ports = [free_port() for _ in range(n)]
            for i, port in enumerate(ports):
                store = (
                    f'backend = "redis"\nurl = "{args.redis}"\nprefix = "{prefix}"'
                    if backend == "redis"
                    else f'path = "{Path(tmp) / "gw.sqlite3"}"'
                )
                gateways.append(_start(_config(Path(tmp), f"gw{i}", sim_port, port, store, n), key))
            clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports]
            # Every gateway bound before the clock starts: the first may hold every slot for a
            # while (fair shares settle at the lease renewals, every ttl / 3 = 5 s).
            settle = time.monotonic() + 60
            while time.monotonic() < settle and not all(_bound(c) for c in clients):
                time.sleep(0.2)
            until = time.monotonic() + args.max_time
            posters = [
                Posters(f"http://127.0.0.1:{p}", key, payloads[i::n], 1, until) for i, p in enumerate(ports)
            ]
            pids = [g.pid for g in gateways]
            cpu0, sim0 = _cpu(pids), _cpu([sim.pid])
            started = time.monotonic()
            for p in posters:
                p.start()
            final = 0.0
            while final < args.count and time.monotonic() < until:
                time.sleep(0.2)
                final = sum(_series(c, "smppgw_messages_total") for c in clients)
            elapsed = time.monotonic() - started
            cpu, sim_cpu = _cpu(pids) - cpu0, _cpu([sim.pid]) - sim0
            for p in posters:
                p.join()
            sent = [int(_series(c, "smppgw_submits_total")) for c in clients]
            for c in clients:
                c.close()
            errors = [e for p in posters for e in p.errors]
            return {
                "backend": backend, "gateways": n, "messages": int(final), "seconds": round(elapsed, 2),
                "msg_per_s": round(final / elapsed, 1) if elapsed else 0.0, "submit_sm_per_gateway": sent,
                "gateway_cpu_ms_per_msg": round(1e3 * cpu / max(final, 1), 3),
                "sim_cpu_ms_per_msg": round(1e3 * sim_cpu / max(final, 1), 3),
                "complete": final >= args.count and not errors, "errors": errors[:3],
            }  # fmt: skip
        finally:
            for proc in gateways:
                stop(proc)
            stop(sim)
            if backend == "redis":
                client = redis.Redis.from_url(args.redis)
                keys = list(client.scan_iter(f"{prefix}:*", count=1000))
                for start in range(0, len(keys), 1000):
                    client.delete(*keys[start : start + 1000])
                client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--gateways", default="1,2,3", help="gateway counts on Redis, comma-separated")
    parser.add_argument("--max-time", type=float, default=120.0, help="seconds per round at most")
    parser.add_argument("--redis", default=os.environ.get("SMPPGW_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds = [run_round("sqlite", 1, args)]
    rounds += [run_round("redis", int(n), args) for n in args.gateways.split(",")]
    base = next((r["msg_per_s"] for r in rounds if r["backend"] == "redis" and r["gateways"] == 1), 0.0)
    for r in rounds:
        if r["backend"] == "redis" and base:
            r["of_linear"] = round(r["msg_per_s"] / (base * r["gateways"]), 2)  # 1.0: linear
    if args.json:
        print(json.dumps({"bench": "scale", "count": args.count, "cpus": os.cpu_count(), "rounds": rounds}))
    else:
        print(f"{'backend':8} {'gateways':>8} {'msg/s':>9} {'of linear':>9} {'gw cpu ms/msg':>13} "
              f"{'sim ms/msg':>10}  submit_sm per gateway")  # fmt: skip
        for r in rounds:
            print(f"{r['backend']:8} {r['gateways']:>8} {r['msg_per_s']:>9} {r.get('of_linear', ''):>9} "
                  f"{r['gateway_cpu_ms_per_msg']:>13} {r['sim_cpu_ms_per_msg']:>10}  "
                  f"{r['submit_sm_per_gateway']}{'' if r['complete'] else '  INCOMPLETE'}")  # fmt: skip
        print(
            "gw cpu ms/msg: CPU of every gateway process together per final message; on a machine with "
            "fewer cores than gateways + simulator + Redis, throughput can't grow with gateways, this can stay flat"
        )
    return 0 if all(r["complete"] for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
