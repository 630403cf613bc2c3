"""The store backends side by side: SQLite and Redis (and memory, the floor), in one run.

    .venv/bin/python bench/bench_store.py [--redis redis://127.0.0.1:6379/0] [--count 2000]
                                          [--batch 100] [--rounds 3] [--time-limit 30] [--json]

Two measurements per backend, each bounded in count and time:

- store calls (in this process, the way the gateway makes them): ``add`` of one message
  (the API's accept), ``commit`` of a batch of ``--batch`` status changes (each with its
  history entry, a correlation and a ``message.status`` event: a dispatcher's or a
  receipt batch's group commit), ``get`` of a message the process does not hold (a read
  from the store) and of one it holds (the in-memory answer). Microseconds per call,
  the median of the repeats.
- end to end: ``--count`` messages through the ``Gateway`` engine on that store
  (``gw.submit``, the outbox on, the 50 ms write-behind flusher as in ``smppgw serve``)
  to a fresh simulator process (the bench's ``fast`` profile), each delivered by its
  receipt: messages/s from the first submit to the last ``delivered``. ``--rounds``
  rounds, every backend in each; the ratio Redis/SQLite is taken within a round and the
  median reported.

Redis runs under a key prefix of its own (``bench-store:<random>``), deleted at the end;
nothing else on the server is touched. The simulator process is stopped by its PID.
Absolute numbers mean little on a shared machine; the ratio Redis/SQLite is the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_client  # noqa: E402
from bench_gateway import simulator  # noqa: E402

from smppgw.store.base import (  # noqa: E402
    EventRecord,
    MessageRecord,
    PartRecord,
    Status,
    Store,
    advance,
    event_id,
)
from smppgw.store.config import StoreSettings, open_store  # noqa: E402


def _record(i: int, now: float) -> MessageRecord:
    return MessageRecord(
        id=uuid.uuid4().hex, source="12345", destination=f"4477009{i % 100000:05d}", text=bench_client.TEXT,
        created_at=now, updated_at=now, parts=[PartRecord(index=1, total=1)],
    )  # fmt: skip


def _median_us(samples: list[float], per: int = 1) -> float:
    return round(statistics.median(samples) / per * 1e6, 1)


def store_calls(store: Store, batch: int, repeats: int, time_limit: float) -> dict[str, float]:
    """µs per call of what the gateway asks most."""
    store.route_events(lambda kind, url: [])  # the outbox on, no endpoint (as serve without webhooks)
    out: dict[str, list[float]] = {"add_1": [], "commit_batch": [], "get_stored": [], "get_held": []}
    deadline = time.monotonic() + time_limit
    n = 0
    for _ in range(repeats):
        if time.monotonic() > deadline:
            break
        records = [_record(n + i, 100.0) for i in range(batch)]
        n += batch
        t = time.perf_counter()
        for r in records:
            store.add([r])
        out["add_1"].append((time.perf_counter() - t) / batch)
        for k, r in enumerate(records):
            advance(r, Status.SUBMITTED, "smpp", 101.0, "ESME_ROK")
            r.parts[0].status, r.parts[0].smsc_message_id = Status.SUBMITTED, f"{n + k:x}"
            store.save(r)
            store.put_correlation("sim", f"{n + k:x}", r.id, 1, 101.0)
            store.append_event(
                EventRecord(
                    id=event_id(r.id, 1),
                    type="message.status",
                    subject=r.id,
                    sequence=1,
                    occurred_at=101.0,
                    data={"status": "submitted"},
                ),
            )
        t = time.perf_counter()
        store.commit()
        out["commit_batch"].append(time.perf_counter() - t)
        held = records[0]
        t = time.perf_counter()
        store.get(held.id)
        out["get_held"].append(time.perf_counter() - t)
        for r in records[1:]:  # final: the store no longer holds them in memory
            advance(r, Status.DELIVERED, "receipt", 102.0, "DELIVRD")
            store.save(r)
        store.commit()
        t = time.perf_counter()
        for r in records[1:11]:
            store.get(r.id)
        out["get_stored"].append((time.perf_counter() - t) / 10)
    return {
        "add_1_us": _median_us(out["add_1"]),
        f"commit_{batch}_us": _median_us(out["commit_batch"]),
        "commit_per_change_us": _median_us(out["commit_batch"], batch),
        "get_stored_us": _median_us(out["get_stored"]),
        "get_held_us": _median_us(out["get_held"]),
    }


def end_to_end(settings: StoreSettings, port: int, count: int, time_limit: float) -> dict[str, Any]:
    import trio

    from smppgw.gateway.config import config_from_dict
    from smppgw.gateway.engine import Gateway
    from smppgw.store.base import FINAL
    from smppgw.store.config import flusher

    config = config_from_dict(
        {
            "smsc": [
                {
                    "name": "sim",
                    "host": bench_client.HOST,
                    "port": port,
                    "system_id": bench_client.SYSTEM_ID,
                    "password": bench_client.PASSWORD,
                    "binds": 1,
                    "window": 256,
                }
            ]
        }
    )
    report: dict[str, Any] = {}

    async def run() -> None:
        store = open_store(settings, clock_offset=time.time() - trio.current_time())
        store.route_events(lambda kind, url: [])
        gw = Gateway(config, store=store, events=store)
        finals: set[str] = set()
        delivered = 0
        done = trio.Event()

        def listener(record: MessageRecord) -> None:
            nonlocal delivered
            if record.status in FINAL and record.id not in finals:
                finals.add(record.id)
                delivered += record.status is Status.DELIVERED
                if len(finals) == count:
                    done.set()

        gw.add_listener(listener)
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.run)
            nursery.start_soon(flusher, store, 0.05)
            with trio.fail_after(15):
                while len(gw.smscs["sim"].pool.senders) < 1:
                    await trio.sleep(0.005)
            t0 = time.perf_counter()
            with trio.move_on_after(time_limit):
                for i in range(count):
                    gw.submit(
                        source=bench_client.SOURCE, destination=bench_client.DEST, text=bench_client.TEXT
                    )
                    if i % 50 == 49:
                        await trio.sleep(0)
                await done.wait()
            elapsed = time.perf_counter() - t0
            report.update(
                delivered=delivered, complete=delivered == count, seconds=round(elapsed, 3),
                msg_per_s=round(delivered / elapsed, 1),
            )  # fmt: skip
            with trio.move_on_after(10):
                await gw.aclose()
            nursery.cancel_scope.cancel()
        store.close()

    trio.run(run)
    return report


def _drop_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    finally:
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--count", type=int, default=2000, help="messages end to end, per backend")
    ap.add_argument("--batch", type=int, default=100, help="changes per measured commit")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="end-to-end rounds (each runs every backend)")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per measurement at most")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    prefix = f"bench-store:{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends = {
            "memory": StoreSettings(backend="memory"),
            "sqlite": StoreSettings(backend="sqlite", path=Path(tmp) / "calls.sqlite3"),
            "redis": StoreSettings(backend="redis", url=args.redis, prefix=prefix + ":calls"),
        }
        try:
            for name, settings in backends.items():
                store = open_store(settings)
                try:
                    results[name] = store_calls(store, args.batch, args.repeats, args.time_limit)
                finally:
                    store.close()
            ratios = []
            with simulator(Path(tmp) / "sim.log", 512) as (port, _pid):
                for n in range(args.rounds):  # backends side by side in each round
                    rates = {}
                    for name, settings in backends.items():
                        fresh = settings  # a fresh file or prefix each round
                        if name == "sqlite":
                            fresh = attrs.evolve(settings, path=Path(tmp) / f"e2e{n}.sqlite3")
                        elif name == "redis":
                            fresh = attrs.evolve(settings, prefix=f"{prefix}:e2e{n}")
                        run = end_to_end(fresh, port, args.count, args.time_limit)
                        results[name].setdefault("end_to_end", []).append(run)
                        rates[name] = run["msg_per_s"]
                    ratios.append(round(rates["redis"] / max(rates["sqlite"], 1e-9), 2))
        finally:
            _drop_prefix(args.redis, prefix)
    for r in results.values():
        r["msg_per_s_median"] = statistics.median(run["msg_per_s"] for run in r["end_to_end"])
    results["ratio_redis_over_sqlite"] = {"per_round": ratios, "median": statistics.median(ratios)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(name, {k: v for k, v in r.items()})


if __name__ == "__main__":
    main()
