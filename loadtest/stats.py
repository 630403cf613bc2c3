"""Counters, latency recording and the per-second timeline of one run.

The hot path only appends integer microseconds to a plain list (``resp_lat`` /
``dlr_lat``) and bumps integer attributes; once per second ``Recorder.tick`` swaps the
lists out, takes exact percentiles of that second from the sorted list and folds the
values into the whole-run HDR histograms (``hdrhistogram``, microseconds, 3 significant
digits) through a ``collections.Counter``, so the histogram sees one ``record_value`` per
distinct value, not one per message.

Client CPU is ``time.process_time`` over wall time (100 = one core busy); the maximum
resident set comes from ``resource.getrusage``. With ``--sim`` the simulator runs in
the same process and its CPU is included.
"""

from __future__ import annotations

import collections
import resource
import sys
import time
from typing import Any, Final

from hdrh.histogram import HdrHistogram

from smppgw.core.constants import CommandStatus, status_name

__all__ = ["Counters", "Recorder", "latency_block"]

_MAX_US: Final = 3_600_000_000  # one hour: anything slower is clamped
_PERCENTILES: Final = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


class Counters:
    """Cumulative counts of one run; a plain slotted class (bumped per message)."""

    __slots__ = (
        "acked",
        "binds_lost",
        "binds_reestablished",
        "dlr_lat",
        "errors",
        "errors_by_status",
        "offered",
        "receipts",
        "receipts_expected",
        "resp_lat",
        "sent",
        "throttled",
        "timeouts",
        "unmatched_receipts",
        "unsent",
    )

    def __init__(self) -> None:
        self.offered = 0
        self.sent = 0
        self.acked = 0
        self.errors = 0
        self.throttled = 0
        self.timeouts = 0
        self.unsent = 0  # offered but still waiting for a window when the load phase ended
        self.receipts = 0
        self.receipts_expected = 0
        self.unmatched_receipts = 0
        self.binds_lost = 0
        self.binds_reestablished = 0
        self.errors_by_status: dict[str, int] = {}
        self.resp_lat: list[int] = []  # microseconds, this second
        self.dlr_lat: list[int] = []

    def error(self, key: str, n: int = 1) -> None:
        self.errors += n
        self.errors_by_status[key] = self.errors_by_status.get(key, 0) + n

    def status(self, status: int) -> None:
        """A non-zero command_status in a response (or generic_nack)."""
        if status == CommandStatus.ESME_RTHROTTLED:
            self.throttled += 1
        self.error(status_name(status))


_TIMELINE_KEYS: Final = ("offered", "sent", "acked", "receipts", "errors", "throttled")


def _pct(sorted_values: list[int], q: float) -> float:
    i = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[i] / 1000.0, 3)


def latency_block(h: HdrHistogram) -> dict[str, Any]:
    """The schema's ``{"count", "mean", "p50", ..., "max"}`` in milliseconds."""
    out: dict[str, Any] = {"count": h.get_total_count()}
    if not out["count"]:
        return {**out, "mean": None, **{k: None for k, _ in _PERCENTILES}, "max": None}
    out["mean"] = round(h.get_mean_value() / 1000.0, 3)
    for key, q in _PERCENTILES:
        out[key] = round(h.get_value_at_percentile(q) / 1000.0, 3)
    out["max"] = round(h.get_max_value() / 1000.0, 3)
    return out


class Recorder:
    """Turns the counters into timeline entries, once per second of the run."""

    def __init__(self, counters: Counters) -> None:
        self.c = counters
        self.resp_hist = HdrHistogram(1, _MAX_US, 3)
        self.dlr_hist = HdrHistogram(1, _MAX_US, 3)
        self.lag_hist = HdrHistogram(1, _MAX_US, 3)
        self.timeline: list[dict[str, Any]] = []
        self._last = dict.fromkeys(_TIMELINE_KEYS, 0)
        self._cpu0 = self._cpu_last = time.process_time()
        self._wall0 = self._wall_last = time.perf_counter()

    def start(self) -> None:
        """The load phase begins: CPU is measured from here."""
        self._cpu0 = self._cpu_last = time.process_time()
        self._wall0 = self._wall_last = time.perf_counter()

    def record_lag(self, lag_us: int) -> None:
        self.lag_hist.record_value(min(max(lag_us, 1), _MAX_US))

    @staticmethod
    def _fold(values: list[int], hist: HdrHistogram) -> None:
        for value, n in collections.Counter(values).items():
            hist.record_value(min(max(value, 1), _MAX_US), n)

    def pending(self) -> bool:
        """Anything happened since the last tick?"""
        c = self.c
        return bool(c.resp_lat or c.dlr_lat) or any(getattr(c, k) != self._last[k] for k in _TIMELINE_KEYS)

    def tick(self, t: int, *, span: float = 1.0, inflight: int = 0, backlog: int = 0) -> dict[str, Any]:
        """Close second ``t``: append and return its timeline entry.

        ``span`` is the part of the second the entry covers (under 1 only for the last,
        partial one); ``inflight`` and ``backlog`` are gauges at the moment of the tick."""
        c = self.c
        resp, c.resp_lat = c.resp_lat, []
        dlr, c.dlr_lat = c.dlr_lat, []
        self._fold(resp, self.resp_hist)
        self._fold(dlr, self.dlr_hist)
        entry: dict[str, Any] = {"t": t}
        for key in _TIMELINE_KEYS:
            now = getattr(c, key)
            entry[key] = now - self._last[key]
            self._last[key] = now
        if resp:
            resp.sort()
            entry.update(
                p50_ms=_pct(resp, 0.50),
                p90_ms=_pct(resp, 0.90),
                p99_ms=_pct(resp, 0.99),
                max_ms=resp[-1] / 1000.0,
            )
        else:
            entry.update(p50_ms=None, p90_ms=None, p99_ms=None, max_ms=None)
        entry["inflight"], entry["backlog"] = inflight, backlog
        entry["span_s"] = round(min(max(span, 0.0), 1.0), 3)
        cpu, wall = time.process_time(), time.perf_counter()
        entry["cpu_percent"] = round(100.0 * (cpu - self._cpu_last) / max(wall - self._wall_last, 1e-6), 1)
        self._cpu_last, self._wall_last = cpu, wall
        self.timeline.append(entry)
        return entry

    def client(self, saturation_cpu: float = 90.0, saturation_lag_ms: float = 20.0) -> dict[str, Any]:
        cpu = 100.0 * (time.process_time() - self._cpu0) / max(time.perf_counter() - self._wall0, 1e-6)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_mb = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
        lag = self.lag_hist.get_value_at_percentile(99) / 1000.0 if self.lag_hist.get_total_count() else 0.0
        full = self.timeline[:-1] if len(self.timeline) > 1 else self.timeline
        hot = sum(1 for e in full if e["cpu_percent"] >= 95.0)
        saturated = cpu > saturation_cpu or lag > saturation_lag_ms or (full and hot >= 0.25 * len(full))
        return {
            "cpu_percent": round(cpu, 1),
            "max_rss_mb": round(rss_mb, 1),
            "saturated": bool(saturated),
            "lag_ms_p99": round(lag, 3),
        }

    @staticmethod
    def flatten(h: HdrHistogram) -> list[list[float]]:
        """HDR buckets as ``[[value_ms, count], ...]`` (the bucket's highest equivalent value)."""
        return [
            [round(item.value_iterated_to / 1000.0, 4), item.count_added_in_this_iter_step]
            for item in h.get_recorded_iterator()
        ]
