"""Store CPU per MT message with threads off and on (SQLite, in this process), in one run.

    .venv/bin/python bench/bench_threads.py [--count 4000] [--runs 3]

Three cases, each in batches of 16 (a group commit) and one message per transaction
(``--count`` / 4 messages there): threads off; threads on, to numbers that never
answered (lazy: no thread, a set look-up); threads on, to numbers that each answered once
(a thread each: the entry, the thread's row and a ``thread.message`` event per message).
Figures: the median over the ``add`` calls of CPU seconds per message (``process_time``),
then the median of ``--runs`` runs, in microseconds. Each run uses a fresh database in a
temporary directory; bounded by ``--count``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from smppgw.store.base import MessageRecord  # noqa: E402
from smppgw.store.sqlite import SqliteStore  # noqa: E402


def one_run(*, threads: bool, answered: bool, batch: int, count: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        store = SqliteStore(Path(d) / "s.sqlite3")
        store.route_events(lambda kind, url: [])  # the outbox on, no endpoint
        if threads:
            store.keep_threads({})
        numbers = [f"4477{i:08d}" for i in range(count)]
        if answered:
            for n in numbers:
                store.add_inbound(smsc="sim", source=n, destination="12345", text="hi", data_coding=0, parts=1,
                                  complete=True, received_at=1.0)  # fmt: skip
        per_message: list[float] = []
        for k in range(0, count, batch):
            messages = [
                MessageRecord(id=os.urandom(16).hex(), source="12345", destination=numbers[i],
                              text="Your code is 1234", created_at=10.0 + i, updated_at=10.0 + i)
                for i in range(k, min(count, k + batch))
            ]  # fmt: skip
            before = time.process_time()
            store.add(messages)
            per_message.append((time.process_time() - before) / len(messages))
        store.close()
    return statistics.median(per_message) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("store CPU per MT message, us (median of runs)")
    for batch, count in ((16, args.count), (1, max(1, args.count // 4))):
        for threads, answered, what in (
            (False, False, "threads off"),
            (True, False, "threads on, no reply yet (no thread)"),
            (True, True, "threads on, a thread each"),
        ):
            runs = [
                one_run(threads=threads, answered=answered, batch=batch, count=count)
                for _ in range(args.runs)
            ]
            print(f"batch {batch:2}  {what:38} {statistics.median(runs):7.1f}")


if __name__ == "__main__":
    main()
