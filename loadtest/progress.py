"""Plain-text progress for logs: one line every few seconds when there is no terminal.

A CI log otherwise stays silent until the summary at the end; a line such as

    smpp-loadtest: 10.0 s  offered 2,000  sent 2,000  acked 1,998  errors 2 (throttled 0)
      · acked 200/s · p99 3.2 ms · in flight 3 · backlog 0 · cpu 12%

(one line in the log) every ``every`` seconds shows a run is alive and how it goes. It is
a ``loadtest.display.Display``; ``Tee`` hands the runner's calls to several of them.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from loadtest.report_svg import fmt_float, fmt_int

__all__ = ["PlainProgress", "Tee"]

log = logging.getLogger(__name__)


def _n(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


class PlainProgress:
    """One plain line every ``every`` seconds of the run, and one at the end."""

    def __init__(self, every: float = 5.0, stream: TextIO | None = None, prog: str = "smpp-loadtest") -> None:
        self.every = every
        self.stream = stream
        self.prog = prog
        self._next = every
        self._last: tuple[float, float] | None = None  # (elapsed, acked) of the last line
        self._snap: Mapping[str, Any] = {}

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"{self.prog}: {text}\n")
        stream.flush()

    def start(self, params: Mapping[str, Any]) -> None:
        from loadtest.report_html import target_text, workload_text

        self._write(f"load {workload_text(params)} → {target_text(params)}")

    def update(self, snapshot: Mapping[str, Any]) -> None:
        self._snap = snapshot
        elapsed = _n(snapshot.get("elapsed_s")) or 0.0
        if elapsed + 1e-3 >= self._next:
            self._next = (math.floor(elapsed / self.every) + 1) * self.every
            self._write(self.line(snapshot))

    def stop(self) -> None:
        if self._snap:
            self._write("done " + self.line(self._snap))

    def line(self, s: Mapping[str, Any]) -> str:
        elapsed, acked = _n(s.get("elapsed_s")) or 0.0, _n(s.get("acked")) or 0.0
        t0, a0 = self._last or (0.0, 0.0)
        rate = (acked - a0) / (elapsed - t0) if elapsed > t0 else None
        self._last = (elapsed, acked)
        g = s.get
        parts = [
            f"{elapsed:.1f} s  offered {fmt_int(g('offered'))}  sent {fmt_int(g('sent'))}"
            f"  acked {fmt_int(g('acked'))}  errors {fmt_int(g('errors'))} (throttled {fmt_int(g('throttled'))})",
            f"acked {fmt_float(rate)}/s",
            f"p99 {fmt_float(g('p99_ms'), ' ms')}",
            f"in flight {fmt_int(g('inflight'))}",
            f"backlog {fmt_int(g('backlog'))}",
            f"cpu {fmt_float(g('cpu_percent'), '%')}",
        ]
        return " · ".join(parts)


class Tee:
    """Several displays as one; one that raises is dropped (logged) and the rest go on."""

    def __init__(self, displays: Sequence[Any]) -> None:
        self.displays = list(displays)

    def _each(self, method: str, *args: Any) -> None:
        for display in list(self.displays):
            try:
                getattr(display, method)(*args)
            except Exception as exc:
                log.warning("%s disabled after an error in %s(): %r", type(display).__name__, method, exc)
                self.displays.remove(display)

    def start(self, params: Mapping[str, Any]) -> None:
        self._each("start", params)

    def update(self, snapshot: Mapping[str, Any]) -> None:
        self._each("update", snapshot)

    def stop(self) -> None:
        self._each("stop")
