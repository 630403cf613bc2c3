"""Gateway metrics (prometheus-client, ``smppgw_`` prefix; DESIGN §4.4).

One ``CollectorRegistry`` per gateway, so tests can run several in one process. Label
children are cached: a ``labels()`` lookup per PDU costs more than the PDU.

The per-message series (submits, response and receipt latencies, receipts, finals) are
batched: the hot path adds to plain ints and the batch goes into prometheus-client when
the registry is collected (a collector registered first flushes it, so ``render``,
``generate_latest(registry)`` and ``get_sample_value`` always see every count) and once
a second from the gateway's housekeeping. A ``Counter.inc`` or ``Histogram.observe``
per message cost ~10 us of the ~120 us a message cost in all (bench_gateway).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from smppgw.core.constants import status_name
from smppgw.net.metrics import FlushCollector

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_RECEIPT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 86400)


class _Observations:
    """Observations of one histogram child not yet flushed: counts per bucket and a sum."""

    __slots__ = ("bounds", "child", "counts", "direct", "total")

    def __init__(self, child: Any) -> None:
        self.child = child
        # prometheus-client keeps per-bucket values (``_buckets``, ``_upper_bounds``,
        # ``_sum``); without them (another version) each observation goes through
        # ``observe`` at flush time: slower, still exact.
        self.bounds: list[float] | None = getattr(child, "_upper_bounds", None)
        self.direct = self.bounds is None or not hasattr(child, "_buckets") or not hasattr(child, "_sum")
        self.counts: list[Any] = []  # per bucket; or the raw values when ``direct``
        if not self.direct:
            assert self.bounds is not None
            self.counts = [0] * len(self.bounds)
        self.total = 0.0

    def add(self, value: float) -> None:
        if self.direct:
            self.counts.append(value)
        else:
            # observe(): the first bucket whose upper bound is >= value (the last is +Inf).
            self.counts[bisect_left(self.bounds, value)] += 1  # type: ignore[arg-type]
            self.total += value

    def flush(self) -> None:
        child, counts = self.child, self.counts
        if self.direct:
            self.counts = []
            for value in counts:
                child.observe(value)
            return
        if not any(counts):
            return
        self.counts = [0] * len(counts)
        total, self.total = self.total, 0.0
        for bucket, n in zip(child._buckets, counts, strict=True):
            if n:
                bucket.inc(n)
        child._sum.inc(total)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        r.register(FlushCollector(self.flush))  # first: see the module docstring
        self.submits = Counter(
            "smppgw_submits", "submit_sm by route, SMSC and status", ["route", "smsc", "status"], registry=r
        )
        self.resp_latency = Histogram(
            "smppgw_submit_resp_seconds",
            "submit_sm -> submit_sm_resp",
            ["smsc"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.receipt_latency = Histogram(
            "smppgw_submit_receipt_seconds",
            "submit_sm -> final receipt",
            ["smsc"],
            buckets=_RECEIPT_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("smppgw_window_in_flight", "Requests in flight per SMSC", ["smsc"], registry=r)
        self.binds = Gauge("smppgw_binds", "Binds by SMSC and state", ["smsc", "state"], registry=r)
        self.throttle_rate = Gauge(
            "smppgw_throttle_rate", "Current send rate limit (segments/s)", ["scope", "name"], registry=r
        )
        self.receipts = Counter("smppgw_receipts", "Receipts by stat", ["smsc", "stat"], registry=r)
        self.unmatched = Counter(
            "smppgw_unmatched_receipts", "Receipts matching no submitted part", ["smsc"], registry=r
        )
        self.duplicates = Counter("smppgw_duplicate_receipts", "Receipts seen twice", ["smsc"], registry=r)
        self.messages = Counter("smppgw_messages", "Messages reaching a final status", ["status"], registry=r)
        self.inbound = Counter("smppgw_inbound", "Inbound (MO) messages", ["smsc"], registry=r)
        self.resent_unknown = Counter(
            "smppgw_resent_unknown",
            "Parts resubmitted after a timeout or lost bind (may duplicate)",
            ["smsc"],
            registry=r,
        )
        self.reconnects = Counter(
            "smppgw_reconnects", "Bind attempts after a loss", ["smsc", "result"], registry=r
        )
        # Counter child -> increments not yet flushed. A hot path may add to it directly
        # (``pending[child] = pending.get(child, 0) + 1``), reading it each time: flush replaces it.
        self.pending: dict[Any, int] = {}
        self._observations: dict[Any, _Observations] = {}  # histogram child -> pending
        self._submit_children: dict[tuple[str, str, int], Any] = {}
        self._resp_observers: dict[str, Callable[[float], None]] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def submit(self, route: str, smsc: str, status: int, round_trip: float | None = None) -> None:
        """One submit_sm_resp (or a submit that got none: ``round_trip`` None)."""
        key = (route, smsc, status)
        child = self._submit_children.get(key)
        if child is None:
            child = self._submit_children[key] = self.submits.labels(route, smsc, status_name(status))
        counts = self.pending
        counts[child] = counts.get(child, 0) + 1
        if round_trip is not None:
            resp = self._resp_observers.get(smsc)
            if resp is None:
                resp = self._resp_observers[smsc] = self.observer(self.resp_latency, smsc)
            resp(round_trip)

    def resp(self, smsc: str, seconds: float) -> None:
        resp = self._resp_observers.get(smsc)
        if resp is None:
            resp = self._resp_observers[smsc] = self.observer(self.resp_latency, smsc)
        resp(seconds)

    def count(self, metric: Counter, *labels: str) -> None:
        """``metric.labels(*labels).inc()``, batched (hot path: receipts, finals)."""
        key = (id(metric), labels)  # ``child``, inlined: twice per message
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        counts = self.pending
        counts[child] = counts.get(child, 0) + 1

    def observe(self, metric: Histogram, value: float, *labels: str) -> None:
        """``metric.labels(*labels).observe(value)``, batched (hot path: latencies)."""
        self.observer(metric, *labels)(value)

    def observer(self, metric: Histogram, *labels: str) -> Callable[[float], None]:
        """``observe`` for one label set, looked up once: for a caller that keeps it."""
        child = self.child(metric, *labels)
        pending = self._observations.get(child)
        if pending is None:
            pending = self._observations[child] = _Observations(child)
        return pending.add

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def flush(self) -> None:
        """Move the batched counts into prometheus-client (see the module docstring)."""
        counts, self.pending = self.pending, {}
        for child, n in counts.items():
            child.inc(n)
        for pending in self._observations.values():
            pending.flush()

    def render(self) -> bytes:
        return generate_latest(self.registry)
