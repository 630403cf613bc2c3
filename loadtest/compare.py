"""Two ``smpp-loadtest/1`` results side by side (``smpp-loadtest report --compare A B``).

``compare_rows`` lists the measures both runs have, each with A, B and the change from
A to B; ``compare_text`` lays them out as a plain table (for a terminal or a CI log) and
``compare_html`` as a self-contained page with the table and the two runs' throughput
and p99 latency over time on shared axes. Ratios are shown in percent, latencies in
milliseconds; a measure one of the runs lacks (an older result, no receipts awaited)
shows "—".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from loadtest.checks import metric_value
from loadtest.report_html import CSS, target_text, verdict_text, workload_text
from loadtest.report_svg import Axis, Series, esc, fmt_ms, fmt_rate, fmt_secs, line_chart, num

__all__ = ["Row", "compare_html", "compare_rows", "compare_text"]


@attrs.frozen
class Row:
    label: str
    a: str
    b: str
    change: str
    worse: bool = False  # B is worse than A by this measure (more errors, more latency...)


# (label, metric as in checks, kind, higher is better)
_MEASURES: Final = (
    ("duration", "duration_s", "s", None),
    ("offered", "offered", "n", None),
    ("sent", "sent", "n", True),
    ("unsent", "unsent", "n", False),
    ("acked", "acked", "n", True),
    ("acked per second", "throughput_per_s.acked", "rate", True),
    ("sent per second", "throughput_per_s.sent", "rate", True),
    ("errors", "errors", "n", False),
    ("error rate", "error_rate", "%", False),
    ("throttle rate", "throttle_rate", "%", False),
    ("timeouts", "timeouts", "n", False),
    ("receipts / expected", "receipt_ratio", "%", True),
    ("submit_resp p50", "latency_ms.submit_resp.p50", "ms", False),
    ("submit_resp p90", "latency_ms.submit_resp.p90", "ms", False),
    ("submit_resp p99", "latency_ms.submit_resp.p99", "ms", False),
    ("submit_resp p99.9", "latency_ms.submit_resp.p999", "ms", False),
    ("submit_resp max", "latency_ms.submit_resp.max", "ms", False),
    ("receipt p50", "latency_ms.submit_receipt.p50", "ms", False),
    ("receipt p99", "latency_ms.submit_receipt.p99", "ms", False),
    ("binds lost", "binds_lost", "n", False),
    ("client CPU", "client.cpu_percent", "cpu", None),
    ("client lag p99", "client.lag_ms_p99", "ms", None),
)
_FMT: Final[dict[str, Callable[[float], str]]] = {
    "n": lambda v: f"{v:,.0f}",
    "rate": lambda v: f"{v:,.1f}/s",
    "s": lambda v: f"{v:,.1f} s",
    "%": lambda v: f"{100 * v:.3g}%",
    "ms": lambda v: f"{v:,.4g} ms",
    "cpu": lambda v: f"{v:.0f}%",
}


def _change(a: float | None, b: float | None, kind: str) -> str:
    if a is None or b is None:
        return ""
    if kind == "%":
        return f"{100 * (b - a):+.3g} pts"
    if kind == "cpu":  # already a percentage: the change in points, not a ratio of ratios
        return f"{b - a:+.0f} pts"
    delta = _FMT[kind](abs(b - a))
    sign = "+" if b > a else "-" if b < a else "±"
    rel = f" ({100 * (b - a) / a:+.1f}%)" if a else ""
    return f"{sign}{delta}{rel}"


def compare_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Row]:
    sa, sb = a.get("summary") or {}, b.get("summary") or {}
    rows = [
        Row("target", target_text(a.get("params") or {}), target_text(b.get("params") or {}), ""),
        Row("workload", workload_text(a.get("params") or {}), workload_text(b.get("params") or {}), ""),
        Row("started", str((a.get("params") or {}).get("started_at", "?")), str((b.get("params") or {}).get("started_at", "?")), ""),
    ]  # fmt: skip
    for label, metric, kind, better_up in _MEASURES:
        va, vb = metric_value(sa, metric), metric_value(sb, metric)
        if va is None and vb is None:
            continue
        worse = (
            better_up is not None
            and va is not None
            and vb is not None
            and (vb < va if better_up else vb > va)
        )
        shown = [("—" if v is None else _FMT[kind](v)) for v in (va, vb)]
        rows.append(Row(label, shown[0], shown[1], _change(va, vb, kind), worse))
    saturated = [bool(((r.get("summary") or {}).get("client") or {}).get("saturated")) for r in (a, b)]
    if any(saturated):
        yes_no = ["yes" if x else "no" for x in saturated]
        rows.append(Row("client saturated", yes_no[0], yes_no[1], "", saturated[1] and not saturated[0]))
    verdicts = [_verdict(r) for r in (a, b)]
    rows.append(Row("checks", verdicts[0], verdicts[1], ""))
    return rows


def _verdict(r: Mapping[str, Any]) -> str:
    checks = r.get("checks") or []
    _, word = verdict_text(r)
    return f"{word} ({sum(1 for c in checks if c.get('passed'))}/{len(checks)})" if checks else "no checks"


def compare_text(a: Mapping[str, Any], b: Mapping[str, Any], names: Sequence[str] = ("A", "B")) -> str:
    rows = compare_rows(a, b)
    head = ("", names[0], names[1], "B - A")
    cells = [head] + [(r.label, r.a, r.b, r.change + (" (worse)" if r.worse else "")) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = []
    for i, c in enumerate(cells):
        lines.append(
            "  ".join(c[k].ljust(widths[k]) if k == 0 else c[k].rjust(widths[k]) for k in range(4)).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _timeline(r: Mapping[str, Any], key: str, scale: bool) -> list[tuple[float, float | None]]:
    out: list[tuple[float, float | None]] = []
    for i, e in enumerate(r.get("timeline") or []):
        span = num(e.get("span_s"))
        span = 1.0 if span is None or span >= 1 else span
        if scale and span < 0.05:
            continue
        v = num(e.get(key))
        out.append((float(e.get("t", i)), None if v is None else (v / span if scale else v)))
    return out


def compare_html(a: Mapping[str, Any], b: Mapping[str, Any], names: Sequence[str] = ("A", "B")) -> str:
    rows = "".join(
        f'<tr class="{"worse" if r.worse else ""}"><td>{esc(r.label)}</td><td class="n">{esc(r.a)}</td>'
        f'<td class="n">{esc(r.b)}</td><td class="n">{esc(r.change)}</td></tr>'
        for r in compare_rows(a, b)
    )
    table = (
        f'<table class="compare"><thead><tr><th></th><th class="n">A: {esc(names[0])}</th>'
        f'<th class="n">B: {esc(names[1])}</th><th class="n">B - A</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    xa = Axis("seconds since start", fmt_secs)
    colors = ("#1f6feb", "#d97706")
    charts = []
    for cid, title, key, scale, axis in (
        ("acked", "Acked per second", "acked", True, Axis("messages / s", fmt_rate)),
        ("p99", "submit_resp p99 per second", "p99_ms", False, Axis("latency", fmt_ms)),
    ):
        series = [Series(f"{label}: {name}", color, _timeline(run, key, scale))
                  for label, name, color, run in (("A", names[0], colors[0], a), ("B", names[1], colors[1], b))]  # fmt: skip
        svg = line_chart(series, x=xa, y=axis, title=title, width=1180, height=260)
        charts.append(
            f'<figure class="chart" id="chart-{cid}" data-chart="{cid}"><figcaption>{esc(title)}</figcaption>'
            f"{svg}</figure>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>SMPP load test comparison</title><style>{CSS}"
        "tr.worse td{color:var(--bad)}</style></head><body><main>"
        f'<header class="top"><div><h1>SMPP load test comparison</h1><div class="subtitle">A: {esc(names[0])}'
        f" · B: {esc(names[1])}</div></div></header>"
        f'<section id="compare"><h2>Side by side</h2>{table}<p class="muted">Red: B is worse than A by that'
        " measure.</p></section>"
        f'<section id="charts"><h2>Over time</h2>{"".join(charts)}</section></main></body></html>\n'
    )
