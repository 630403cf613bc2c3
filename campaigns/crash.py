"""The crash campaign: ``smppgw serve`` SIGKILLed at random moments under load, restarted.

    .venv/bin/python -m campaigns.crash [--count 20000] [--kills 5] [--seed 1] [--max-time 900]

``--count`` messages (every tenth in two parts) go through ``POST /v1/messages/batch``
(batches of 100, each message with an idempotency key) to ``smppgw serve --config`` (a
generated config, SQLite in a temporary directory, two binds) in front of ``smppsim`` in
its own process (receipts 50 ms after the submit). ``--kills`` times, at moments drawn
from ``--seed`` (a point of the run's progress, accepted plus final messages, then up to
0.3 s more), the gateway is SIGKILLed (no flush, no unbind) and started again. A batch
that got no answer is posted again (same keys: a message stored before the kill answers
as a repeat, with its first id).

At the end, from the gateway's listing API and the simulator's control API (its log of
what it received, its receipt counters):

- every acknowledged message reached the SMSC (each part), and the gateway holds exactly
  one record per message;
- every message is final, and ``delivered`` (the simulator delivers all): no receipt is
  lost, and the simulator has none left undelivered, expired or refused;
- the only duplicates at the SMSC are parts the gateway resent after a kill and counted
  in their ``resent_unknown`` (a part in a window at a kill); an uncounted duplicate is
  a violation.

Prints a table per kill and a summary; exit status 1 on a violation (or if the run does
not finish within ``--max-time``), else 0. ``make faults`` runs it; not part of
``make test`` (``tests/campaigns`` runs a short version).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from campaigns.common import Gateway, Poster, Simulator, rss_mb, workdir
from campaigns.reconcile import Reconciled, reconcile, table

__all__ = ["CrashResult", "run"]


@attrs.define
class CrashResult:
    kills: list[dict[str, Any]] = attrs.field(factory=list)
    summary: Reconciled = attrs.field(factory=Reconciled)
    records: int = 0  # messages the gateway holds
    receipts: dict[str, float] = attrs.field(factory=dict)
    pending_receipts: int = 0
    deliveries: str = ""
    resent_unknown: int = 0
    reposts: int = 0
    seconds: float = 0.0
    violations: list[str] = attrs.field(factory=list)


def _submitting_on_disk(db: Path) -> int:
    """Messages ``submitting`` in the store's file: what a restart will resend."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(con.execute("SELECT count(*) FROM messages WHERE status = 'submitting'").fetchone()[0])
    finally:
        con.close()


def run(
    count: int = 20_000,
    kills: int = 5,
    seed: int = 1,
    max_time: float = 900.0,
    say: Callable[[str], Any] = print,
) -> CrashResult:
    rng = random.Random(seed)
    points = sorted(rng.uniform(0.05, 0.9) for _ in range(kills))
    result = CrashResult()
    started = time.monotonic()
    until = started + max_time
    with workdir("smppgw-crash-") as tmp:
        directory = Path(tmp)
        sim = Simulator(directory, {"dlr_delay": 0.05, "deliver_retry": [0.2, 0.5, 1, 2, 5, 10, 20]}, seed)
        gateway: Gateway | None = None
        try:
            sim.start()
            gateway = Gateway(
                directory, sim, {"binds": 2, "window": 64, "response_timeout": 5.0, "enquire_link_interval": 5.0},
                "\n[receipts]\nhold = 2\n",
            )  # fmt: skip
            gateway.start()
            # Two posters (each half the messages): more in the windows at a kill.
            half = count // 2
            posters = [
                Poster(gateway, 0, half, f"crash{seed}", until, batch=200),
                Poster(gateway, half, count - half, f"crash{seed}", until, batch=200),
            ]
            for poster in posters:
                poster.start()

            def acked() -> int:
                return sum(len(p.acked) for p in posters)

            for n, point in enumerate(points, 1):
                while time.monotonic() < until:
                    progress = (acked() + gateway.final_count()) / (2 * count)
                    if progress >= point:
                        break
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.3))
                rss = rss_mb(gateway.pid)
                at, n_acked = time.monotonic() - started, acked()
                gateway.kill()
                row = {"kill": n, "at_s": round(at, 1), "acked": n_acked, "final": gateway.final_count(),
                       "submitting": _submitting_on_disk(gateway.db), "rss_mb": round(rss, 1)}  # fmt: skip
                time.sleep(rng.uniform(0, 0.5))
                row["restart_s"] = round(gateway.start(), 2)
                result.kills.append(row)
                say(f"crash: kill {n} at {row['at_s']} s ({n_acked:,} acknowledged, {row['final']:,} final)")
            for poster in posters:
                poster.join(max(0.0, until - time.monotonic()))
            all_acked = {i: m for p in posters for i, m in p.acked.items()}
            while time.monotonic() < until and gateway.final_count() < count:
                time.sleep(0.1)
            # Receipts the SMSC still owes (duplicates' receipts among them): a minute at most.
            drained = min(until, time.monotonic() + 60)
            while time.monotonic() < drained and sim.pending_receipts():
                time.sleep(0.1)
            result.seconds = round(time.monotonic() - started, 1)
            views = gateway.messages()
            result.records = len(views)
            result.summary = reconcile(all_acked, views, sim.received(), range(count))
            result.receipts = sim.receipts()
            result.pending_receipts = sim.pending_receipts()
            result.deliveries = sim.deliveries()
            result.resent_unknown = sum(p["resent_unknown"] for v in views.values() for p in v["parts"])
            result.reposts = sum(p.reposts for p in posters)
            result.violations = _violations(result, count, kills, [r for p in posters for r in p.refused])
        finally:
            if gateway is not None:
                gateway.stop()
            sim.stop()
    return result


def _violations(result: CrashResult, count: int, kills: int, refused: list[str]) -> list[str]:
    s = result.summary
    out = []
    if s.sent != count:
        out.append(f"{s.sent:,} of {count:,} acknowledged ({refused[:3]})")
    if result.records != count:
        out.append(f"the gateway holds {result.records:,} messages for {count:,}")
    if s.delivered != s.sent:
        out.append(f"{s.sent - s.delivered:,} not delivered: {dict(s.failed)}, {s.stuck} not final")
    if s.unreached or s.lost:
        out.append(f"{s.unreached} parts never reached the SMSC, {s.lost} lost")
    if s.uncounted:
        out.append(f"{s.uncounted} duplicates at the SMSC beyond resent_unknown")
    if s.strangers:
        out.append(f"{s.strangers} parts at the SMSC never acknowledged")
    bad = {k: v for k, v in result.receipts.items() if k in ("expired", "rejected") and v}
    if bad or result.pending_receipts:
        out.append(f"receipts lost at the SMSC: {bad}, {result.pending_receipts} still pending")
        out.append(f"the SMSC's deliveries: {result.deliveries}")
    if len(result.kills) < kills:
        out.append("not every kill happened")
    return out + s.problems[:10]


def report(result: CrashResult, count: int, kills: int) -> str:
    s = result.summary
    rows = [[k["kill"], k["at_s"], f"{k['acked']:,}", f"{k['final']:,}", k["submitting"], k["rss_mb"], k["restart_s"]]
            for k in result.kills]  # fmt: skip
    lost_receipts = result.receipts.get("expired", 0) + result.receipts.get("rejected", 0)
    totals: list[tuple[str, Any]] = [
        ("acked", f"{s.sent:,}"),
        ("records", f"{result.records:,}"),
        ("delivered", f"{s.delivered:,}"),
        ("not final", s.stuck),
        ("unreached", s.unreached),
        ("lost", s.lost),
        ("duplicates", s.duplicated),
        ("counted", s.counted),
        ("uncounted", s.uncounted),
        ("resent_unknown", result.resent_unknown),
        ("receipts ok", f"{int(result.receipts.get('delivered', 0)):,}"),
        ("receipts lost", int(lost_receipts) + result.pending_receipts),
        ("reposted batches", result.reposts),
    ]
    lines = [
        f"crash campaign: {count:,} messages, {len(result.kills)} of {kills} SIGKILLs, {result.seconds} s",
        table(["kill", "at s", "acked", "final", "submitting on disk", "rss MB before", "restart s"], rows),
        "",
        table([h for h, _ in totals], [[v for _, v in totals]]),
        "",
        "PASS" if not result.violations else "FAIL\n  " + "\n  ".join(result.violations),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-time", type=float, default=900.0, help="seconds for the whole run")
    args = parser.parse_args()
    if not 0 < args.count <= 100_000:
        parser.error("--count: 1..100000")
    result = run(args.count, args.kills, args.seed, args.max_time)
    print(report(result, args.count, args.kills), flush=True)
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
