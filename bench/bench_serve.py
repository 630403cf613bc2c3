"""End to end through ``smppgw serve``: batch API -> SMSC -> receipt -> final status on disk.

    .venv/bin/python bench/bench_serve.py [--count 100000] [--store sqlite|memory|both]
                                          [--posters 3] [--batch 1000] [--max-time 300] [--json]

The job: ``--count`` messages (one part, a receipt each) POSTed to
``/v1/messages/batch`` (``--batch`` per request, ``--posters`` threads, each honouring
429 and its Retry-After), then waited on until every one is final. The carrier is
``smppsim`` in its own process (default account, the ``fast`` profile: every message
delivered at once) on a free loopback port; the gateway is ``smppgw serve --config``
with a generated config (one SMSC entry, ``--binds`` transceivers, window ``--window``,
the SQLite store in a temporary directory, the API on a free loopback port).

"Final on disk": for the SQLite store the bench reads the store's file itself (a
read-only connection, WAL: it never blocks the gateway), counting the rows whose
status is final; a change counts only once committed. The memory store is not a
``serve`` option: ``--store memory`` runs the same composition root (``run_app``) with
a ``MemoryStore`` in a child process of this script, and completion is read from the
``smppgw_messages_total`` series (messages reaching a final status). The two together
split the store's cost from the engine's.

Reported per store: msg/s from the first POST to the moment the last message is final;
the accept rate (POSTs alone); the CPU time of the gateway and of the simulator over
that span (``/proc/PID/stat``) in microseconds per message; their peak RSS (VmHWM).
Request bodies are built before the clock starts, so this process costs little CPU
while it runs (``BENCH_SERVE_STDERR=1`` shows the gateway's stderr). Bounded by
``--count`` and ``--max-time``; every child is stopped by its
PID, also on failure. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from procs import first_line, stop  # noqa: E402

_FINAL = ("delivered", "undeliverable", "expired", "rejected", "failed", "blocked", "canceled", "unknown")
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def written_bytes(pid: int) -> int:
    """Bytes ``pid`` handed to write calls so far (/proc/PID/io ``wchar``: files and sockets)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "--port",
            "0",
            "--seed",
            "1",
            "--window",
            "512",
            "--profile",
            "fast",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    banner = first_line(proc, 30, "smppsim").decode()
    port = int(banner.split(" listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
    return proc, port


def write_config(directory: Path, sim_port: int, api_port: int, args: argparse.Namespace) -> Path:
    path = directory / "smppgw.toml"
    path.write_text(
        f"""
[[smsc]]
name = "sim"
host = "127.0.0.1"
port = {sim_port}
system_id = "smppclient1"
password = "password"
binds = {args.binds}
window = {args.window}

[store]
path = "{directory / "smppgw.sqlite3"}"

[api]
listen = "127.0.0.1:{api_port}"
keys_env = "BENCH_SERVE_KEY"
max_queued = {args.max_queued}
"""
    )
    return path


def start_gateway(config: Path, store: str, key: str) -> subprocess.Popen[bytes]:
    if store == "sqlite":
        command = [sys.executable, "-m", "smppgw.cli", "serve", "--config", str(config)]
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "--child-memory", str(config)]
    proc = subprocess.Popen(
        command,
        env={**os.environ, "BENCH_SERVE_KEY": key},
        stdout=subprocess.PIPE,
        stderr=None if os.environ.get("BENCH_SERVE_STDERR") else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the gateway exited early (rc={proc.wait()})")
        if b"serving" in line:
            return proc
    stop(proc)
    raise TimeoutError("the gateway did not start within 60 s")


def run_memory_child(config_path: str) -> None:
    """``smppgw serve`` with a ``MemoryStore``: ``run_app`` as ``serve`` runs it."""
    import trio

    from smppgw.app import load_app_config, run_app
    from smppgw.store.memory import MemoryStore
    from smppgw.support.gc import server_gc

    config = load_app_config(config_path)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            store = MemoryStore(clock_offset=time.time() - trio.current_time())
            gateway, _, port = await nursery.start(
                lambda task_status: run_app(config, store=store, task_status=task_status)
            )
            print(f"smppgw serving http://127.0.0.1:{port} (memory store)", flush=True)
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals, server_gc():
                async for _ in signals:
                    break
            await gateway.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main)


def profiler(pid: int, store: str, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` on the gateway for the run (``--profile DIR``): collapsed stacks
    in DIR/STORE.txt (``py-spy`` from this Python's directory or PATH)."""
    if args.profile is None:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    out = Path(args.profile) / f"{store}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(spy) if spy.exists() else "py-spy", "record", "--pid", str(pid), "--format", "raw"]
    return subprocess.Popen(
        [*command, "--rate", "250", "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def bodies(count: int, batch: int) -> list[bytes]:
    """The request bodies, built before the clock starts."""
    out = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        messages = [
            {"to": f"4477009{(start + i) % 100_000:05d}", "from": "12345", "text": f"bench serve {start + i}"}
            for i in range(n)
        ]
        out.append(json.dumps({"messages": messages}).encode())
    return out


class Posters:
    """``n`` threads POSTing the prepared bodies in turn, honouring 429."""

    def __init__(self, base: str, key: str, payloads: list[bytes], n: int, until: float) -> None:
        self.base, self.payloads, self.until = base, payloads, until
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.next = 0
        self.accepted = 0
        self.throttled = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]
        self.done_at = 0.0

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(max(0.0, self.until - time.monotonic()) + 1)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as client:
            while time.monotonic() < self.until:
                with self.lock:
                    if self.next >= len(self.payloads):
                        return
                    payload = self.payloads[self.next]
                    self.next += 1
                while time.monotonic() < self.until:
                    response = client.post("/v1/messages/batch", content=payload)
                    if response.status_code == 429:
                        with self.lock:
                            self.throttled += 1
                        time.sleep(float(response.headers.get("retry-after", "1")))
                        continue
                    if response.status_code != 202:
                        with self.lock:
                            self.errors.append(f"{response.status_code} {response.text[:200]}")
                        return
                    accepted = int(response.json()["accepted"])
                    with self.lock:
                        self.accepted += accepted
                        self.done_at = time.monotonic()
                    break


def finals_on_disk(db: sqlite3.Connection) -> dict[str, int]:
    marks = ", ".join("?" * len(_FINAL))
    rows = db.execute(
        f"SELECT status, count(*) FROM messages WHERE status IN ({marks}) GROUP BY status", _FINAL
    ).fetchall()
    return dict(rows)


def finals_in_metrics(client: httpx.Client) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("smppgw_messages_total{"):
            labels, value = line.rsplit(" ", 1)
            status = labels.split('status="', 1)[1].split('"', 1)[0]
            out[status] = int(float(value))
    return out


def run_once(store: str, args: argparse.Namespace) -> dict[str, Any]:
    key = secrets.token_urlsafe(18)
    payloads = bodies(args.count, args.batch)
    with tempfile.TemporaryDirectory(prefix="smppgw-bench-serve-") as tmp:
        directory = Path(tmp)
        sim, sim_port = start_simulator()
        gateway: subprocess.Popen[bytes] | None = None
        try:
            api_port = free_port()
            gateway = start_gateway(write_config(directory, sim_port, api_port, args), store, key)
            base = f"http://127.0.0.1:{api_port}"
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            db = None
            if store == "sqlite":
                db = sqlite3.connect(f"file:{directory / 'smppgw.sqlite3'}?mode=ro", uri=True)
            time.sleep(0.5)  # the binds come up
            until = time.monotonic() + args.max_time
            gw_cpu0, sim_cpu0 = cpu_seconds(gateway.pid), cpu_seconds(sim.pid)
            gw_written0 = written_bytes(gateway.pid)
            spy = profiler(gateway.pid, store, args)
            started = time.monotonic()
            posters = Posters(base, key, payloads, args.posters, until)
            posters.start()
            finals: dict[str, int] = {}
            while time.monotonic() < until:
                time.sleep(args.poll)
                finals = finals_on_disk(db) if db is not None else finals_in_metrics(client)
                if sum(finals.values()) >= args.count or posters.errors:
                    break
            ended = time.monotonic()
            gw_cpu, sim_cpu = cpu_seconds(gateway.pid) - gw_cpu0, cpu_seconds(sim.pid) - sim_cpu0
            gw_written = written_bytes(gateway.pid) - gw_written0
            posters.join()
            if spy is not None:
                stop(spy, signal.SIGINT, grace=30)
            done = sum(finals.values())
            result = {
                "store": store,
                "count": args.count,
                "final": done,
                "complete": done >= args.count and not posters.errors,
                "statuses": finals,
                "seconds": round(ended - started, 2),
                "msg_per_s": round(done / (ended - started)),
                "accept_per_s": round(posters.accepted / max(posters.done_at - started, 1e-9)),
                "gateway_cpu_us_per_msg": round(gw_cpu / max(done, 1) * 1e6, 1),
                "simulator_cpu_us_per_msg": round(sim_cpu / max(done, 1) * 1e6, 1),
                "gateway_written_kb_per_msg": round(gw_written / max(done, 1) / 1024, 2),
                "gateway_cpu_pct": round(100 * gw_cpu / (ended - started)),
                "simulator_cpu_pct": round(100 * sim_cpu / (ended - started)),
                "gateway_peak_rss_mb": round(peak_rss_mb(gateway.pid), 1),
                "simulator_peak_rss_mb": round(peak_rss_mb(sim.pid), 1),
                "throttled_posts": posters.throttled,
                "errors": posters.errors[:3],
            }
            if db is not None:
                db.close()
            client.close()
            return result
        finally:
            if gateway is not None:
                stop(gateway)
            stop(sim)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--posters", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "memory", "both"), default="both")
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--max-queued", type=int, default=100_000)
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between completion checks")
    parser.add_argument("--max-time", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the gateway: DIR/STORE.txt")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--child-memory", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        run_memory_child(args.child_memory)
        return 0
    stores = ("sqlite", "memory") if args.store == "both" else (args.store,)
    results = []
    print(
        f"{'store':<7} {'msg/s':>7} {'accept/s':>9} {'seconds':>8} {'gw us/msg':>10} {'sim us/msg':>11} "
        f"{'gw cpu%':>8} {'gw rss MB':>10} {'gw KB/msg':>10}"
    )
    for store in stores:
        r = run_once(store, args)
        results.append(r)
        flag = "" if r["complete"] else f"  INCOMPLETE ({r['final']:,} final) {r['errors']}"
        print(
            f"{store:<7} {r['msg_per_s']:>7,} {r['accept_per_s']:>9,} {r['seconds']:>8} "
            f"{r['gateway_cpu_us_per_msg']:>10} {r['simulator_cpu_us_per_msg']:>11} {r['gateway_cpu_pct']:>8} "
            f"{r['gateway_peak_rss_mb']:>10} {r['gateway_written_kb_per_msg']:>10}{flag}",
            flush=True,
        )
    if args.json:
        print(json.dumps({"bench": "serve", "unit": "msg/s", "results": results}))
    return 0 if all(r["complete"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
