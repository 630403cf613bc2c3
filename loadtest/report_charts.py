"""The charts of the HTML load-test report (``loadtest.report_html``): one ``<figure>``
per chart, each an inline SVG from :mod:`loadtest.report_svg`.

Counts are drawn per second. The last timeline entry usually covers part of a second
(``span_s`` below 1): its counts are scaled by that part, and its CPU share, mostly the
noise of shutting down, is left out; each chart's caption says so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from loadtest.report_svg import (
    Axis,
    HLine,
    Series,
    empty_chart,
    esc,
    fmt_float,
    fmt_int,
    fmt_ms,
    fmt_rate,
    fmt_secs,
    line_chart,
    num,
    percentile_points,
    wants_log,
)

__all__ = ["COLORS", "charts_section"]

COLORS = {
    "offered": "#9aa5b1", "sent": "#1f6feb", "acked": "#1a7f37", "receipts": "#8250df",
    "p50": "#1f6feb", "p90": "#1a7f37", "p99": "#d97706", "max": "#c62828",
    "errors": "#c62828", "throttled": "#d97706", "cpu": "#0e7490",
    "submit_resp": "#1f6feb", "submit_receipt": "#8250df", "inflight": "#1f6feb", "backlog": "#d97706",
}  # fmt: skip


def _span(e: Mapping[str, Any]) -> float:
    """The part of its second a timeline entry covers (older results: always 1)."""
    span = num(e.get("span_s"))
    return 1.0 if span is None or span >= 1 else span


def _series(tl: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
    return [(float(e.get("t", i)), num(e.get(key))) for i, e in enumerate(tl)]


def _per_second(tl: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
    """Counts per second; a partial last second is scaled by the part it covers (a
    tenth of a second with 50 messages is 500/s, not 50/s). A sliver under 50 ms is left
    out: scaled up, it would be noise."""
    out: list[tuple[float, float | None]] = []
    for i, e in enumerate(tl):
        v, span = num(e.get(key)), _span(e)
        if span < 0.05:
            continue
        out.append((float(e.get("t", i)), None if v is None else v / span))
    return out


def _sampled(tl: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
    """A gauge sampled when its entry closed: drawn at the end of the entry's interval."""
    return [(float(e.get("t", i)) + _span(e), num(e.get(key))) for i, e in enumerate(tl)]


def _full_seconds(tl: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
    """Only whole seconds: a CPU share over a partial second is mostly shutdown noise."""
    return [(float(e.get("t", i)), num(e.get(key))) for i, e in enumerate(tl) if _span(e) >= 1]


def _partial_note(tl: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(note for per-second charts, note for the CPU chart) about a partial last second."""
    if not tl or _span(tl[-1]) >= 1:
        return "", ""
    span = _span(tl[-1])
    if span < 0.05:
        return f"; the last {span:.2f} s is left out", f"; the last {span:.2f} s is left out"
    return f"; the last second covers {span:.2f} s, scaled", f"; the last {span:.2f} s is left out"


def _latency_hlines(r: Mapping[str, Any], prefix: str) -> list[HLine]:
    return [
        HLine(
            float(c["threshold"]), f"check: {c.get('name', '')}", "#1a7f37" if c.get("passed") else "#c62828"
        )
        for c in r.get("checks") or []
        if str(c.get("metric", "")).startswith(prefix)
        and num(c.get("threshold"))
        and c.get("op") in ("<", "<=")
    ]


def _hover(e: Mapping[str, Any]) -> str:
    g = e.get
    return (
        f"t={g('t')}s  offered {fmt_int(g('offered'))}  sent {fmt_int(g('sent'))}  acked {fmt_int(g('acked'))}"
        f"  receipts {fmt_int(g('receipts'))}\nerrors {fmt_int(g('errors'))}  throttled {fmt_int(g('throttled'))}"
        f"  cpu {fmt_float(g('cpu_percent'), '%')}\np50 {fmt_float(g('p50_ms'))} ms  p90 {fmt_float(g('p90_ms'))} ms"
        f"  p99 {fmt_float(g('p99_ms'))} ms  max {fmt_float(g('max_ms'))} ms"
        f"\nin flight {fmt_int(g('inflight'))}  backlog {fmt_int(g('backlog'))}"
        + (f"\npartial second: {_span(e):.3f} s" if _span(e) < 1 else "")
    )


def _figure(cid: str, title: str, note: str, svg: str) -> str:
    return (
        f'<figure class="chart" id="chart-{cid}" data-chart="{cid}"><figcaption>{esc(title)}'
        f"<span>{esc(note)}</span></figcaption>{svg}</figure>"
    )


def charts_section(r: Mapping[str, Any]) -> str:
    tl = [e for e in r.get("timeline") or [] if isinstance(e, Mapping)]
    xa = Axis("seconds since start", fmt_secs)
    hover = [(float(e.get("t", i)), float(e.get("t", i)) + 1, _hover(e)) for i, e in enumerate(tl)]
    full = functools.partial(line_chart, x=xa, hover=hover, width=1180)
    half = functools.partial(line_chart, x=xa, hover=hover, width=570, height=230)
    thr = [
        Series(k, COLORS[k], _per_second(tl, k), dash="6 4" if k == "offered" else None, area=k == "acked")
        for k in ("offered", "sent", "acked", "receipts")
    ]
    rate_note, cpu_note = _partial_note(tl)
    queue = [
        Series("in flight", COLORS["inflight"], _sampled(tl, "inflight"), area=True),
        Series("backlog", COLORS["backlog"], _sampled(tl, "backlog"), dash="5 3"),
    ]
    has_queue = any(y is not None for s in queue for _, y in s.points)
    lat = [Series(k, COLORS[k], _series(tl, f"{k}_ms")) for k in ("p50", "p90", "p99", "max")]
    lat_log = wants_log([p[1] for s in lat for p in s.points], ratio=20)
    err = [Series("errors", COLORS["errors"], _per_second(tl, "errors"), area=True)]
    err.append(Series("throttled", COLORS["throttled"], _per_second(tl, "throttled"), dash="5 3"))
    cpu = [Series("client CPU %", COLORS["cpu"], _full_seconds(tl, "cpu_percent"), area=True)]
    cpu_hi = max([100.0] + [y for _, y in cpu[0].points if y is not None])
    hist = r.get("histogram") or {}
    counts = [sum(c for _, c in hist.get(k) or [] if num(c)) for k in ("submit_resp", "submit_receipt")]
    nines = min(6.0, max(2.0, math.ceil(math.log10(max(*counts, 100)))))
    dist = [
        Series(k, COLORS[k], percentile_points(hist.get(k) or [], nines))
        for k in ("submit_resp", "submit_receipt")
        if hist.get(k)
    ]
    dist_log = wants_log([p[1] for s in dist for p in s.points], ratio=20)
    ticks = [(0.0, "0%"), (math.log10(2), "50%")]
    ticks += [(float(n), f"{100 - 10 ** (2 - n):.{max(0, n - 2)}f}%") for n in range(1, int(nines) + 1)]
    log_note = ", log scale"
    figs = [
        _figure(
            "throughput", "Throughput over time", "messages per second" + rate_note,
            full(thr, y=Axis("messages / s", fmt_rate), title="Throughput over time"),
        ),
        _figure(
            "latency", "submit_resp latency percentiles over time", "per second" + log_note * lat_log,
            full(lat, y=Axis("latency", fmt_ms, log=lat_log), title="Latency over time",
                 hlines=_latency_hlines(r, "latency_ms.submit_resp")),
        ),
        _figure(
            "errors", "Errors per second", "error responses and timeouts; throttled ones are a subset" + rate_note,
            half(err, y=Axis("per second", fmt_rate), title="Errors per second"),
        ),
        _figure(
            "cpu", "Load generator CPU", "process CPU % (100 = one core)" + cpu_note,
            half(cpu, y=Axis("CPU", lambda v: f"{v:g}%", hi=cpu_hi), title="Client CPU"),
        ),
        _figure(
            "distribution", "Latency distribution", "value at percentile, full histogram" + log_note * dist_log,
            line_chart(dist, x=Axis("percentile", str, lo=0.0, hi=nines, ticks=ticks),
                       y=Axis("latency", fmt_ms, log=dist_log), title="Latency distribution", height=320,
                       width=1180, hlines=_latency_hlines(r, "latency_ms."))
            if dist else empty_chart("Latency distribution", width=1180),
        ),
        _figure(
            "queue", "In flight and backlog", "submits awaiting a response; messages due but waiting for"
            " a window (sampled at the end of each second)",
            full(queue, y=Axis("messages", fmt_rate), title="In flight and backlog", height=230)
            if has_queue else empty_chart("In flight and backlog", width=1180),
        ),
    ]  # fmt: skip
    return (
        f'<section id="charts"><h2>Charts</h2>{figs[0]}{figs[1]}{figs[5]}<div class="grid2">{figs[2]}{figs[3]}'
        f'</div>{figs[4]}<p class="muted">Hover a chart for the per-second values.</p></section>'
    )
