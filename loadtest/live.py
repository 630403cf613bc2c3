"""A live terminal view of a running load test (rich).

    display = LiveDisplay()
    display.start(params)        # the result's "params" block
    display.update(snapshot)     # typically once per second
    display.stop()

A snapshot holds the running totals ``offered``, ``sent``, ``acked``, ``receipts``, ``errors``,
``throttled`` (cumulative since the start), ``elapsed_s``, the current ``rate_target``, the
newest second's ``p50_ms`` / ``p99_ms`` / ``cpu_percent``, and ``planned_s`` or
``planned_count`` for the progress bar; ``inflight`` and ``backlog`` are shown when present. Per-second rates are derived from the change of the
totals between two updates. Any key may be missing or None (shown as "—").

:meth:`LiveDisplay.update` never raises: a display problem must not abort a load test, so
it is logged (once per kind of error) and the run goes on. On a terminal the view is
redrawn in place; elsewhere (a pipe, CI) rich prints only the final state at :meth:`stop`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from loadtest.report_html import target_text, workload_text

__all__ = ["LiveDisplay"]

log = logging.getLogger(__name__)

COUNTERS = ("offered", "sent", "acked", "receipts", "errors", "throttled")
SATURATION_CPU = 90.0


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _int(v: Any) -> str:
    n = _num(v)
    return "—" if n is None else f"{round(n):,}"


def _float(v: Any, unit: str = "", digits: int = 1) -> str:
    n = _num(v)
    return "—" if n is None else f"{n:,.{digits}f}{unit}"


class LiveDisplay:
    """The live view: progress, counters with their rates, latency and client CPU."""

    def __init__(self, console: Console | None = None, *, refresh_per_second: float = 4.0) -> None:
        self.console = console or Console(stderr=True)
        self._refresh = refresh_per_second
        self._live: Live | None = None
        self._params: Mapping[str, Any] = {}
        self._prev: tuple[float, dict[str, float]] | None = None
        self._rates: dict[str, float | None] = dict.fromkeys(COUNTERS)
        self._logged: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, params: Mapping[str, Any]) -> None:
        """Show the view for a run with these parameters (the result's ``params`` block)."""
        self._params = dict(params or {})
        self._prev = None
        self._rates = dict.fromkeys(COUNTERS)
        if self._live is not None:
            return
        self._live = Live(
            self._render({}),
            console=self.console,
            auto_refresh=False,
            refresh_per_second=self._refresh,
            transient=False,
        )
        self._live.start(refresh=True)

    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Redraw with a new snapshot. Never raises."""
        try:
            if self._live is None:
                return
            self._track_rates(snapshot)
            self._live.update(self._render(snapshot), refresh=True)
        except Exception as exc:
            self._log_once(exc)

    def stop(self) -> None:
        """Leave the final state on screen and release the terminal. Idempotent."""
        live, self._live = self._live, None
        if live is None:
            return
        try:
            live.stop()
            if not self.console.is_terminal:  # off a terminal rich leaves the last line open
                self.console.line()
        except Exception as exc:
            self._log_once(exc)

    # -- internals ------------------------------------------------------------------------

    def _log_once(self, exc: BaseException) -> None:
        kind = f"{type(exc).__name__}: {exc}"
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("live display failed (the run continues): %s", kind, exc_info=exc)

    def _track_rates(self, snap: Mapping[str, Any]) -> None:
        elapsed = _num(snap.get("elapsed_s"))
        totals = {k: v for k in COUNTERS if (v := _num(snap.get(k))) is not None}
        if elapsed is None:
            return
        if self._prev is None:  # first update: the average since the start
            self._rates = {
                k: (totals[k] / elapsed if elapsed > 0 and k in totals else None) for k in COUNTERS
            }
        else:
            t0, before = self._prev
            if elapsed - t0 < 0.2:  # too close to the last update for a meaningful rate
                return
            self._rates = {
                k: (totals[k] - before[k]) / (elapsed - t0) if k in totals and k in before else None
                for k in COUNTERS
            }
        self._prev = (elapsed, totals)

    def _progress(self, snap: Mapping[str, Any]) -> RenderableType:
        elapsed = _num(snap.get("elapsed_s"))
        planned_s, planned_n = _num(snap.get("planned_s")), _num(snap.get("planned_count"))
        sent = _num(snap.get("sent")) or 0.0
        if planned_s:
            done, total = min(elapsed or 0.0, planned_s), planned_s
            label = f"{_float(elapsed, ' s')} / {_float(planned_s, ' s')}"
        elif planned_n:
            done, total = min(sent, planned_n), planned_n
            label = f"{_int(sent)} / {_int(planned_n)} messages · {_float(elapsed, ' s')}"
        else:
            return Text(f"elapsed {_float(elapsed, ' s')}")
        if (elapsed or 0.0) > (planned_s or math.inf) or (planned_n and sent >= planned_n):
            label += " · draining"
        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            ProgressBar(total=total, completed=done, width=40), Text(f"{100 * done / total:3.0f}%"), label
        )
        return grid

    def _render(self, snap: Mapping[str, Any]) -> RenderableType:
        p = self._params
        counters = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
        counters.add_column("")
        counters.add_column("total", justify="right")
        counters.add_column("per second", justify="right")
        for key in COUNTERS:
            style = "red" if key in ("errors", "throttled") and (_num(snap.get(key)) or 0) > 0 else ""
            counters.add_row(key, Text(_int(snap.get(key)), style=style), _int(self._rates.get(key)))
        cpu = _num(snap.get("cpu_percent"))
        stats = Table.grid(padding=(0, 2))
        stats.add_column(style="dim")
        stats.add_column(justify="right")
        stats.add_row("target rate", f"{_int(snap.get('rate_target'))}/s")
        stats.add_row("latency p50", _float(snap.get("p50_ms"), " ms", 2))
        stats.add_row("latency p99", _float(snap.get("p99_ms"), " ms", 2))
        for key, label in (("inflight", "in flight"), ("backlog", "backlog")):
            if key in snap:
                stats.add_row(label, _int(snap.get(key)))
        stats.add_row(
            "client CPU", Text(_float(cpu, "%"), style="bold red" if (cpu or 0) >= SATURATION_CPU else "")
        )
        body = Table.grid(padding=(0, 4))
        body.add_row(counters, stats)
        parts: list[RenderableType] = [self._progress(snap), Text(""), body]
        if cpu is not None and cpu >= SATURATION_CPU:
            parts.append(
                Text("⚠ load generator near saturation: results may measure the client", style="bold red")
            )
        title = f"smpp-loadtest · {workload_text(p)} → {target_text(p)}" if p else "smpp-loadtest"
        return Panel(Group(*parts), title=title, title_align="left", border_style="blue")
