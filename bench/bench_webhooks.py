"""The webhook worker alone: an outbox of N events in SQLite, delivered to a fast receiver.

    .venv/bin/python bench/bench_webhooks.py [--count 50000] [--concurrency 8]
                                             [--store sqlite|memory] [--max-time 120] [--json]

The job: ``--count`` ``message.status`` events are written to a fresh store (SQLite in a
temporary directory, or the memory store) for one signed endpoint, before the clock
starts. Then ``Webhooks.run`` (smppgw.gateway.notify) delivers them, in this process,
to a receiver in a child process (this script with ``--receive``: asyncio protocol
callbacks and httptools, answering 204 to every POST; a few microseconds a request, so
the worker is what is measured). The clock stops when every delivery is recorded as
``delivered`` in the store (the backlog is empty), not merely sent.

Reported: events/s delivered; the CPU of this process (the worker; the filling is not
counted) and of the receiver, in microseconds per event; how many POSTs the receiver
counted (at least ``--count``: a webhook is at least once, and here exactly once).
Bounded by ``--count`` and ``--max-time``; the receiver is stopped by its PID, also on
failure. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from procs import first_line, stop  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


# -- the receiver (a child process) ------------------------------------------------------------

_ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


def receive(max_time: float) -> None:
    """Answer 204 to every request on a free loopback port (printed first); print the
    count of requests on SIGTERM or after ``max_time`` seconds."""
    import signal

    import httptools

    count = 0

    class Peer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_complete(self) -> None:
            nonlocal count
            count += 1
            self.transport.write(_ANSWER)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, done.set)
        server = await loop.create_server(Peer, "127.0.0.1", 0, backlog=128)
        print(server.sockets[0].getsockname()[1], flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), max_time)
        server.close()
        print(count, flush=True)

    asyncio.run(main())


# -- the worker (this process) ------------------------------------------------------------------


def fill(store: Any, count: int) -> None:
    from smppgw.store.base import EventRecord, event_id

    now = time.time()
    data = {
        "id": "",
        "status": "delivered",
        "final": True,
        "parts": [{"index": 1, "receipt_stat": "DELIVRD"}],
    }
    for start in range(0, count, 5000):
        for i in range(start, min(count, start + 5000)):
            subject = f"{i:032x}"
            store.append_event(
                EventRecord(id=event_id(subject, 1), type="message.status", subject=subject, sequence=1,
                            occurred_at=now, data={**data, "id": subject})
            )  # fmt: skip
        store.flush()


def worker(store: Any, port: int, concurrency: int) -> Any:
    from prometheus_client import CollectorRegistry

    from smppgw.gateway.notify import Webhooks
    from smppgw.gateway.webhook_config import Endpoint, WebhookSettings

    endpoint = Endpoint(name="bench", url=f"http://127.0.0.1:{port}/hook", secrets=(b"bench-secret-0123",))
    settings = WebhookSettings(endpoints=(endpoint,), max_concurrency=concurrency)
    hooks = Webhooks(settings, store, registry=CollectorRegistry(), clock=time.time)
    store.route_events(hooks.targets)
    return hooks


async def deliver(hooks: Any, store: Any, count: int, max_time: float) -> float:
    import trio

    delivered = hooks.calls.labels("bench", "delivered")
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hooks.run)
        with trio.move_on_after(max_time):
            # The worker's counter first (a count of the backlog would cost as much as a
            # share of the work), then the store: recorded as delivered.
            while delivered._value.get() < count:
                await trio.sleep(0.01)
            while store.backlog().get("bench", 0):
                await trio.sleep(0.005)
        nursery.cancel_scope.cancel()
    return time.perf_counter() - t0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import trio

    from smppgw.store.memory import MemoryStore
    from smppgw.store.sqlite import SqliteStore

    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receive", "--max-time", str(args.max_time + 60)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        port = int(first_line(receiver, 30, "the receiver"))
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(Path(tmp) / "bench.db") if args.store == "sqlite" else MemoryStore()
            hooks = worker(store, port, args.concurrency)
            fill(store, args.count)  # before the clock starts
            cpu0, rcpu0 = time.process_time(), cpu_seconds(receiver.pid)
            elapsed = trio.run(deliver, hooks, store, args.count, args.max_time)
            cpu = time.process_time() - cpu0
            rcpu = cpu_seconds(receiver.pid) - rcpu0
            left = store.backlog().get("bench", 0)
            delivered = len(store.deliveries(state="delivered", limit=args.count + 1))
            if isinstance(store, SqliteStore):
                store.close()
        receiver.terminate()  # it prints its count and exits
        out, _ = receiver.communicate(timeout=10)
        received = int(out.split()[-1]) if receiver.returncode == 0 else -1
    finally:
        stop(receiver)
    return {
        "store": args.store,
        "count": args.count,
        "delivered": delivered,
        "left": left,
        "received": received,
        "seconds": round(elapsed, 3),
        "events_per_s": round(delivered / elapsed),
        "worker_cpu_us_per_event": round(cpu / max(1, delivered) * 1e6, 1),
        "receiver_cpu_us_per_event": round(rcpu / max(1, delivered) * 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=8, help="max_concurrency of the endpoint")
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--max-time", type=float, default=120.0, help="seconds of delivery at most")
    parser.add_argument("--json", action="store_true", help="end with one JSON line (bench/run.py)")
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        receive(args.max_time)
        return 0
    result = measure(args)
    print(
        f"{result['store']}: {result['delivered']:,} of {result['count']:,} delivered in {result['seconds']} s "
        f"= {result['events_per_s']:,} events/s; worker {result['worker_cpu_us_per_event']} us CPU/event, "
        f"receiver {result['receiver_cpu_us_per_event']} us; receiver counted {result['received']:,} POSTs"
    )
    if args.json:
        print(json.dumps({"bench": "webhooks", **result}))
    return 0 if result["left"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
