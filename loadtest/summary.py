"""The summary table printed at the end of a run (rich; plain text when not a terminal)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from loadtest.checks import shown

__all__ = ["print_summary", "summary_table"]


def _ms(v: Any) -> str:
    return "—" if v is None else f"{v:,.2f}"


def summary_table(result: dict[str, Any]) -> Table:
    p, s = result["params"], result["summary"]
    rates = s["throughput_per_s"]
    title = (
        f"smpp-loadtest: {p['target']} {p['address'] or ''} · {p['workload']} · "
        f"{s['duration_s']:.1f}s · {p['binds']} bind(s) x window {p['window']}"
    )
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("measure")
    t.add_column("count", justify="right")
    t.add_column("per second", justify="right")
    for key in ("offered", "sent", "acked", "receipts"):
        t.add_row(key, f"{s[key]:,}", f"{rates[key]:,.1f}")
    t.add_row("errors", f"{s['errors']:,}", "")
    t.add_row("  throttled", f"{s['throttled']:,}", "")
    t.add_row("  timeouts", f"{s['timeouts']:,}", "")
    if s.get("unsent"):
        t.add_row("[bold yellow]unsent[/]", f"{s['unsent']:,}", "never sent: not in the latency figures")
    for status, n in s["errors_by_status"].items():
        t.add_row(f"  {status}", f"{n:,}", "")
    if p["wait_dlr_s"]:
        t.add_row("receipts expected", f"{s['receipts_expected']:,}", "")
    t.add_row("binds lost / re-established", f"{s['binds_lost']} / {s['binds_reestablished']}", "")
    t.add_section()
    for name, block in s["latency_ms"].items():
        if block is None:
            continue
        t.add_row(
            f"{name.replace('_', '->')} ms",
            f"n={block['count']:,}",
            f"p50 {_ms(block['p50'])} · p90 {_ms(block['p90'])} · p99 {_ms(block['p99'])} · "
            f"p99.9 {_ms(block['p999'])} · max {_ms(block['max'])}",
        )
    cl = s["client"]
    t.add_section()
    verdict = "[bold red]SATURATED[/]: results measure the load generator" if cl["saturated"] else "ok"
    t.add_row(
        "client",
        f"cpu {cl['cpu_percent']:.0f}%",
        f"rss {cl['max_rss_mb']:.0f} MB · lag p99 {cl['lag_ms_p99']:.1f} ms · {verdict}",
    )
    t.add_section()
    for ch in result["checks"]:
        mark = "[green]PASS[/]" if ch["passed"] else "[bold red]FAIL[/]"
        t.add_row(f"check {ch['name']}", mark, f"value {shown(ch['metric'], ch['value'])}")
    if not result["checks"]:
        t.add_row("checks", "none", "no checks: nothing was judged (add --check EXPR)")
    return t


def print_summary(result: dict[str, Any], *, err: bool = False) -> None:
    Console(stderr=err).print(summary_table(result))
