"""The fault campaign: each of the simulator's faults in turn, against one ``smppgw serve``.

    .venv/bin/python -m campaigns.faults [--per-fault 1000] [--seed 1] [--phase-time 120] [--only NAME]

``smppsim`` runs in its own process with its control API; ``smppgw serve --config`` (a
generated config, SQLite in a temporary directory, two binds, window 32, response
timeout 2 s, enquire_link every second, receipt grace 10 s) in front of it. For each
fault in ``FAULTS``: the fault is switched on (``PATCH /behaviour``), ``--per-fault``
messages (every tenth in two parts) are posted through the batch API, the fault is
switched off once they are all final (the black hole after 3 s; at the latest 10 s before
the phase's end), and the phase waits until every message is final (at most
``--phase-time`` seconds). "SMSC restart" kills the
simulator mid-phase (SIGKILL, while every receipt of its messages is still 60 s away)
and starts a new one on the same port: it counts its message ids from 1 again, so the
gateway meets ids it has seen, and the old receipts never come.

One row per fault: messages acknowledged (sent), final ``delivered``, final another
status (reported: ``unknown`` when the SMSC lost the receipt), stuck (not final at the
phase's end), lost (acknowledged but missing, or shown sent and never at the SMSC),
duplicates at the SMSC (counted: within the parts' ``resent_unknown``; uncounted:
beyond it), receipts misapplied (a part the SMSC never sent a receipt for, shown with
one: another message's receipt, through a reused id), the gateway's RSS before and
after, and the longest time a bind was down before the gateway had it back ("rebind";
for the restart, from the new SMSC's start). Exit status 1 on a violation (stuck, lost,
uncounted, misapplied, or a message the SMSC got that was never acknowledged).
``make faults`` runs it; ``tests/campaigns`` runs it with 100 messages per fault.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from campaigns.common import FINAL, PREFIX, Gateway, Poster, Simulator, rss_mb, workdir
from campaigns.reconcile import Reconciled, part_of, reconcile, table

__all__ = ["FAULTS", "Fault", "PhaseResult", "run"]


@attrs.frozen
class Fault:
    name: str
    patch: dict[str, Any]
    hold: float | None = None  # seconds the fault stays on (None: until the messages are posted)
    restart: bool = False  # kill the SMSC mid-phase and start a new one on its port


FAULTS: tuple[Fault, ...] = (
    Fault("none", {}),
    Fault("drops (every 40 PDUs)", {"drop_after_pdus": 40}),
    Fault("black hole 3 s", {"black_hole": True}, hold=3.0),
    Fault("delays (p99 2.5 s)", {"response_delay": {"kind": "lognormal", "p50": 0.05, "p99": 2.5}}),
    Fault("generic_nack 5%", {"nack_probability": 0.05}),
    Fault("ESME_RSYSERR 5%", {"error_probability": 0.05}),
    Fault("throttling 100/s", {"tps": 100.0}),
    Fault("SMSC unbind at 0.5 s", {"unbind_after": 0.5}),
    Fault("malformed 1%", {"malformed_probability": 0.01}),
    Fault("slow reader 10 ms", {"read_delay": 0.01}),
    Fault("duplicate receipts 30%", {"duplicate_receipts": 0.3}),
    Fault("receipt before resp 50%", {"dlr_before_resp": 0.5, "resp_latency": {"kind": "uniform", "low": 0.05, "high": 0.2}}),
    Fault("SMSC restart, ids from 1", {"dlr_delay": 60.0}, restart=True),
)  # fmt: skip

# Every key a fault sets, at the value the campaign's simulator starts with.
_CLEAR: dict[str, Any] = {
    "drop_after_pdus": None, "black_hole": False, "response_delay": 0.0, "nack_probability": 0.0,
    "error_probability": 0.0, "tps": None, "unbind_after": None, "malformed_probability": 0.0,
    "read_delay": 0.0, "duplicate_receipts": 0.0, "dlr_before_resp": 0.0, "resp_latency": 0.0,
    "dlr_delay": 0.05,
}  # fmt: skip
_BASE: dict[str, Any] = {"dlr_delay": 0.05, "deliver_retry": [0.2, 0.5, 1, 2, 5, 10, 20]}
_SMSC: dict[str, Any] = {
    "binds": 2, "window": 32, "response_timeout": 2.0, "enquire_link_interval": 1.0, "connect_timeout": 3.0,
    "receipt_grace": 10.0,
}  # fmt: skip
_EXTRA = "\n[receipts]\nhold = 2\n\n[retry]\ninitial = 0.2\nmaximum = 2\nmax_attempts = 10\n"
_SPAN = 5000  # destinations per phase


@attrs.define
class PhaseResult:
    fault: str
    summary: Reconciled
    misapplied: int = 0
    refusals: int = 0  # the SMSC's answers other than ESME_ROK (the fault firing)
    rss_before: float = 0.0
    rss_after: float = 0.0
    rebind: float | None = None  # seconds; None: the binds never dropped
    seconds: float = 0.0
    violations: list[str] = attrs.field(factory=list)


class BindWatch(threading.Thread):
    """Samples the gateway's bound binds every 50 ms. Each bind lost (the count falls) is
    matched, oldest first, with a bind regained (the count rises): one outage each."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(daemon=True)
        self.gateway = gateway
        self.done = threading.Event()
        self.outages: list[tuple[float, float]] = []  # (lost at, back at)

    def run(self) -> None:
        lost: list[float] = []
        bound = self.gateway.binds
        while not self.done.wait(0.05):
            now, count = time.monotonic(), self.gateway.bound()
            lost += [now] * (bound - count)
            for _ in range(count - bound):
                if lost:
                    self.outages.append((lost.pop(0), now))
            bound = count
        self.outages += [(t, float("inf")) for t in lost]

    def longest(self, since: float = 0.0) -> float | None:
        """The longest outage; ``since`` (the SMSC back): counted from then, and an
        outage that ended before it counts as 0."""
        spans = [max(0.0, end - max(start, since)) for start, end in self.outages]
        return max(spans) if spans else None


def _phase(
    n: int, fault: Fault, count: int, gateway: Gateway, sim: Simulator, phase_time: float
) -> PhaseResult:
    first = n * _SPAN
    started = time.monotonic()
    until = started + phase_time
    rss_before = rss_mb(gateway.pid)
    watch = BindWatch(gateway)
    watch.start()
    if fault.patch:
        sim.patch(fault.patch)
    poster = Poster(gateway, first, count, f"f{n}", until, batch=max(10, count // 20))
    earlier: list[dict[str, Any]] = []
    sim_up = 0.0
    before, refused = sim.stats()["messages"], sim.refusals()
    if fault.restart:  # half the messages to the old SMSC, half to the new one
        poster.gate_at = first + count // 2
        poster.start()
        poster.waiting.wait(max(0.0, until - time.monotonic()))
        # Killed once the old SMSC has 80 % of the first half's parts: the rest are in a
        # window or queued, and go to the new one (those in a window counted as resent).
        parts = sum(2 if i % 10 == 3 else 1 for i in range(first, first + count // 2))
        while sim.stats()["messages"] - before < 0.8 * parts and time.monotonic() < until:
            time.sleep(0.01)
        earlier = sim.received()  # what the old SMSC got: its receipts are all 60 s away
        sim.kill()
        time.sleep(0.5)
        sim.start()  # the same port, the campaign's behaviour, ids from 1 again
        sim_up, refused = time.monotonic(), 0
        poster.gate.set()
    else:
        poster.start()
    if fault.hold is not None:
        time.sleep(fault.hold)
    poster.join(max(0.0, until - time.monotonic()))
    if fault.hold is None and not fault.restart:
        # The fault stays on until the phase's messages are final (or its last 10 s).
        while gateway.final_count(poster.tag) < len(poster.acked) and time.monotonic() < until - 10:
            time.sleep(0.1)
    if fault.patch and not fault.restart:
        sim.patch({k: _CLEAR[k] for k in fault.patch})
    ids = set(poster.acked.values())
    while time.monotonic() < until:
        views = {i: v for i, v in gateway.messages().items() if i in ids}
        if len(views) == len(ids) and all(v["status"] in FINAL for v in views.values()):
            break
        time.sleep(0.5)
    while time.monotonic() < until and gateway.bound() < gateway.binds:
        time.sleep(0.05)  # the rebind is part of the phase
    time.sleep(0.1)
    watch.done.set()
    watch.join()
    views = {i: v for i, v in gateway.messages().items() if i in ids}
    received = earlier + sim.received()
    summary = reconcile(poster.acked, views, received, range(first, first + _SPAN))
    result = PhaseResult(fault.name, summary, rss_before=rss_before, rss_after=rss_mb(gateway.pid))
    result.refusals = sim.refusals() - refused
    result.rebind = watch.longest(sim_up)
    result.seconds = round(time.monotonic() - started, 1)
    if fault.restart:
        result.misapplied = _misapplied(poster.acked, views, earlier, received[len(earlier) :])
    result.violations = _violations(result, count, poster.refused)
    return result


def _misapplied(
    acked: dict[int, str], views: dict[str, Any], old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> int:
    """Parts only the killed SMSC got (it never sent their receipts) shown with a receipt."""

    def keys(log: list[dict[str, Any]]) -> set[tuple[int, int]]:
        return {(int(r["destination_addr"][len(PREFIX) :]), part_of(r)) for r in log if r["destination_addr"].startswith(PREFIX)}  # fmt: skip

    only_old = keys(old) - keys(new)
    bad = 0
    for i, message_id in acked.items():
        for part in views.get(message_id, {}).get("parts", []):
            if (i, part["index"]) in only_old and part["receipt_stat"] is not None:
                bad += 1
    return bad


def _violations(result: PhaseResult, count: int, refused: list[str]) -> list[str]:
    s, out = result.summary, []
    if s.sent != count:
        out.append(f"{s.sent} of {count} acknowledged ({refused[:2]})")
    for what, n in (("stuck", s.stuck), ("lost", s.lost), ("uncounted duplicates", s.uncounted),
                    ("never acknowledged at the SMSC", s.strangers), ("misapplied receipts", result.misapplied)):  # fmt: skip
        if n:
            out.append(f"{n} {what}")
    return out + s.problems[:5]


def run(
    per_fault: int = 1000,
    seed: int = 1,
    phase_time: float = 120.0,
    faults: tuple[Fault, ...] = FAULTS,
    say: Callable[[str], Any] = print,
) -> list[PhaseResult]:
    results = []
    with workdir("smppgw-faults-") as tmp:
        directory = Path(tmp)
        sim = Simulator(directory, _BASE, seed)
        gateway: Gateway | None = None
        try:
            sim.start()
            gateway = Gateway(directory, sim, _SMSC, _EXTRA)
            gateway.start()
            for n, fault in enumerate(faults):
                result = _phase(n, fault, per_fault, gateway, sim, phase_time)
                results.append(result)
                say(
                    f"faults: {fault.name}: {result.seconds} s, {'ok' if not result.violations else result.violations}"
                )
        finally:
            if gateway is not None:
                gateway.stop()
            sim.stop()
    return results


def report(results: list[PhaseResult], per_fault: int) -> str:
    rows = []
    for r in results:
        s = r.summary
        failed = ", ".join(f"{k} {v}" for k, v in sorted(s.failed.items())) or "0"
        rebind = "-" if r.rebind is None else ("never" if r.rebind == float("inf") else f"{r.rebind:.2f}")
        rows.append([r.fault, s.sent, r.refusals, s.delivered, failed, s.stuck, s.lost, s.duplicated, s.counted, s.uncounted,
                     r.misapplied, f"{r.rss_before:.0f}", f"{r.rss_after:.0f}", rebind, r.seconds,
                     "ok" if not r.violations else "FAIL"])  # fmt: skip
    head = ["fault", "sent", "smsc errors", "delivered", "reported failed", "stuck", "lost", "dup", "counted", "uncounted",
            "misapplied", "rss MB before", "after", "rebind s", "phase s", ""]  # fmt: skip
    lines = [f"fault campaign: {per_fault} messages per fault", table(head, rows)]
    for r in results:
        if r.violations:
            lines.append(f"FAIL {r.fault}:\n  " + "\n  ".join(r.violations))
    lines.append("PASS" if not any(r.violations for r in results) else "FAIL")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--per-fault", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phase-time", type=float, default=120.0, help="seconds per fault at most")
    parser.add_argument("--only", action="append", help="run only faults whose name starts with this")
    args = parser.parse_args()
    if not 0 < args.per_fault <= _SPAN:
        parser.error(f"--per-fault: 1..{_SPAN}")
    faults = tuple(f for f in FAULTS if not args.only or any(f.name.startswith(o) for o in args.only))
    results = run(args.per_fault, args.seed, args.phase_time, faults)
    print(report(results, args.per_fault), flush=True)
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
