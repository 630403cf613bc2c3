"""Assemble the result document, schema ``smpp-loadtest/1`` (see ``loadtest/SCHEMA.md``)."""

from __future__ import annotations

import socket
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final

from loadtest.checks import evaluate, parse_check
from loadtest.stats import Recorder, latency_block

if TYPE_CHECKING:
    from loadtest.runner import _Run

__all__ = ["SCHEMA", "build_result", "version"]

SCHEMA: Final = "smpp-loadtest/1"


def version() -> str:
    try:
        return f"smppgw {metadata.version('smppgw')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "smppgw unknown"


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


def build_result(run: _Run) -> dict[str, Any]:
    p, c, rec = run.p, run.c, run.recorder
    params = p.json_params()
    params["address"] = run.address
    params["started_at"] = run.started_at
    params["host"] = socket.gethostname()
    params["version"] = version()
    duration = max(run.load_end_us / 1e6, 1e-6)
    awaited = run.receipts is not None
    summary: dict[str, Any] = {
        "duration_s": round(duration, 3),
        "offered": c.offered,
        "sent": c.sent,
        "acked": c.acked,
        "errors": c.errors,
        "throttled": c.throttled,
        "timeouts": c.timeouts,
        "unsent": c.unsent,
        "receipts": c.receipts,
        "receipts_expected": c.receipts_expected,
        "throughput_per_s": {
            "offered": _rate(c.offered, duration),
            "sent": _rate(c.sent, duration),
            "acked": _rate(c.acked, duration),
            "receipts": _rate(c.receipts, duration),
        },
        "latency_ms": {
            "submit_resp": latency_block(rec.resp_hist),
            "submit_receipt": latency_block(rec.dlr_hist) if awaited else None,
        },
        "errors_by_status": dict(sorted(c.errors_by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
        "binds_lost": c.binds_lost,
        "binds_reestablished": c.binds_reestablished,
        "client": rec.client(),
    }
    checks = evaluate([parse_check(text) for text in p.checks], summary)
    return {
        "schema": SCHEMA,
        "params": params,
        "summary": summary,
        "timeline": rec.timeline,
        "histogram": {
            "submit_resp": Recorder.flatten(rec.resp_hist),
            "submit_receipt": Recorder.flatten(rec.dlr_hist) if awaited else [],
        },
        "checks": checks,
        "passed": all(ch["passed"] for ch in checks),
    }
