"""Soak: does ``smppgw serve`` keep its memory flat over a million messages? (issue 13)

    .venv/bin/python bench/soak.py [--count 1000000] [--batch 1000] [--max-time 3600]

Starts the embedded default (``smppgw serve`` with no config: the bundled simulator as
the carrier, SQLite under ``./var/`` of a temporary directory, the API on
127.0.0.1:8080), pushes ``--count`` messages through the batch API (``--batch`` per
POST, honouring 429 backpressure; loopback only), samples the gateway's RSS every
``--sample`` seconds, and prints the samples and the RSS once the message number
``count / 10`` and the last one are final. Exit 1 if the RSS at the end exceeds the RSS
at the first checkpoint by more than ``--limit-mb`` (50), or if the run does not finish
within ``--max-time``; 0 otherwise. With ``--count`` below a million it also prints the
growth projected to a million (linear in messages). ``make soak`` runs it; it is not
part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import secrets
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

from procs import stop  # noqa: E402

API = "http://127.0.0.1:8080"


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Sampler(threading.Thread):
    """Samples the RSS of one process every ``interval`` seconds and prints each sample."""

    def __init__(self, pid: int, interval: float, progress: list[int]) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.progress = pid, interval, progress
        self.samples: list[tuple[float, int, float]] = []
        self.done = threading.Event()
        self.start_time = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                sample = (time.monotonic() - self.start_time, self.progress[0], rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            self.samples.append(sample)
            print(f"  t={sample[0]:7.1f}s  accepted={sample[1]:>9,}  rss={sample[2]:7.1f} MB", flush=True)


def start_gateway(directory: str, key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMPPGW_API_KEY": key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smppgw.cli", "serve"],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"smppgw serve exited early (rc={proc.wait()}); is 127.0.0.1:8080 free?")
        if b"serving" in line:
            return proc
    stop(proc)
    raise TimeoutError("smppgw serve did not start within 60 s")


_FINAL = {"delivered", "undeliverable", "expired", "rejected", "failed", "blocked", "canceled", "unknown"}


def is_final(client: httpx.Client, message_id: str) -> bool:
    view = client.get(f"/v1/messages/{message_id}").json()
    return bool(view.get("final")) or view.get("status") in _FINAL


class Checkpoints:
    """The RSS once the message number ``point`` is final, for each point, in order;
    checked at most twice a second while posting and then until ``until``."""

    def __init__(self, pid: int, points: list[int]) -> None:
        self.pid, self.points = pid, points
        self.ids: list[str] = []  # the id of each point's message, once posted
        self.rss: list[float] = []
        self._checked = 0.0

    def poll(self, client: httpx.Client) -> None:
        if len(self.rss) < len(self.ids) and time.monotonic() - self._checked >= 0.5:
            self._checked = time.monotonic()
            if is_final(client, self.ids[len(self.rss)]):
                self.rss.append(rss_mb(self.pid))

    def finish(self, client: httpx.Client, until: float) -> bool:
        while len(self.rss) < len(self.points) and time.monotonic() < until:
            if len(self.rss) == len(self.ids):
                return False  # never posted
            self.poll(client)
            time.sleep(0.1)
        return len(self.rss) == len(self.points)


def post_all(
    client: httpx.Client, args: argparse.Namespace, progress: list[int], marks: Checkpoints, until: float
) -> None:
    """POST every message (honouring 429), noting the checkpoint messages' ids."""
    sent = 0
    while sent < args.count and time.monotonic() < until:
        marks.poll(client)
        n = min(args.batch, args.count - sent)
        body: dict[str, Any] = {
            "messages": [
                {"to": f"+4477009{(sent + i) % 100_000:05d}", "from": "12345", "text": f"soak {sent + i}"}
                for i in range(n)
            ]
        }
        response = client.post("/v1/messages/batch", json=body)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("retry-after", "1")))
            continue
        response.raise_for_status()
        results = response.json()["results"]
        before, sent = sent, sent + n
        progress[0] = sent
        for point in marks.points:
            if before < point <= sent:
                marks.ids.append(results[point - before - 1]["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--limit-mb", type=float, default=50.0)
    parser.add_argument("--max-time", type=float, default=3600.0, help="seconds for the whole run")
    args = parser.parse_args()
    key = secrets.token_urlsafe(18)
    until = time.monotonic() + args.max_time
    with tempfile.TemporaryDirectory(prefix="smppgw-soak-") as directory:
        proc = start_gateway(directory, key)
        progress = [0]
        first = max(args.count // 10, args.batch)
        marks = Checkpoints(proc.pid, [first, args.count])
        sampler = Sampler(proc.pid, args.sample, progress)
        print(f"soak: {args.count:,} messages, batches of {args.batch}, gateway pid {proc.pid}", flush=True)
        sampler.start()
        try:
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=API, headers=headers, timeout=60) as client:
                post_all(client, args, progress, marks, until)
                if not marks.finish(client, until):
                    print(f"soak: not settled within --max-time ({progress[0]:,} accepted)", flush=True)
                    return 1
        finally:
            sampler.done.set()
            stop(proc)
    rss = marks.rss
    growth = rss[1] - rss[0]
    print(
        f"rss after {first:,}: {rss[0]:.1f} MB; after {args.count:,}: {rss[1]:.1f} MB; growth {growth:+.1f} MB"
    )
    if args.count < 1_000_000:
        per_message = growth / (args.count - first)
        print(f"projected growth from 100,000 to 1,000,000: {per_message * 900_000:+.1f} MB (linear)")
    return 1 if growth > args.limit_mb else 0


if __name__ == "__main__":
    sys.exit(main())
