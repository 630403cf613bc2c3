"""Prometheus series counted on a hot path, shared by the gateway and the simulator.

prometheus-client's ``Counter.inc`` and ``Histogram.observe`` take a lock and walk a few
Python frames: ~10 us of the ~120 us a gateway message once cost in all (bench_gateway).
The series here count in plain Python values instead and turn them into samples only
when the registry is collected, through prometheus-client's public custom-collector API
(``CounterMetricFamily``, ``HistogramMetricFamily``):

- ``BatchedCounter``: a counter with labels; ``inc(*labels)`` is one dict update.
- ``BatchedHistogram``: a histogram with labels; ``observe(value, *labels)`` adds one to
  a bucket count and the value to a sum.

Each registers itself with a registry, like prometheus-client's own metrics, and shows
the same exposition (``_total``/``_bucket``/``_count``/``_sum`` and a ``_created`` sample
per label set). They count in the thread that calls them, without a lock: collect them
in that thread (the gateway serves ``/metrics`` from its trio thread).

``FlushCollector`` is for registries that batch counts themselves and move them into
prometheus-client metrics when collected (the simulator's ``Tally``).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

__all__ = ["BatchedCounter", "BatchedHistogram", "FlushCollector"]


class FlushCollector:
    """A collector with no series of its own: collecting it calls ``flush``, which moves
    counts batched on a hot path into prometheus-client. Register it before every metric:
    a registry collects in registration order, so every scrape sees every count."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        self._flush()
        return ()


class BatchedCounter:
    """A labelled counter whose ``inc`` is a dict update (see the module docstring)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], *, registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.counts: dict[tuple[str, ...], int] = {}  # label values -> count so far
        self._created: dict[tuple[str, ...], float] = {}  # label values -> first count (unix time)
        registry.register(self)

    def inc(self, *labels: str) -> None:
        """Count one for ``labels`` (the label values, in ``labelnames`` order)."""
        counts = self.counts
        n = counts.get(labels)
        if n is None:
            self._created[labels] = time.time()
            n = 0
        counts[labels] = n + 1

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = self._created
        for labels, n in list(self.counts.items()):
            family.add_metric(labels, float(n), created=created[labels])
        return [family]


class _Series:
    """One label set of a ``BatchedHistogram``: observations per bucket and their sum."""

    __slots__ = ("counts", "created", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0
        self.created = time.time()


class BatchedHistogram:
    """A labelled histogram whose ``observe`` adds to a bucket (see the module docstring).

    ``buckets``: the upper bounds, ascending, without +Inf (added, as prometheus-client
    does). A value goes into the first bucket whose bound is >= it, as ``observe`` does.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds: tuple[float, ...] = (*(float(b) for b in buckets), float("inf"))
        self._les = [floatToGoString(b) for b in self.bounds]
        self.series: dict[tuple[str, ...], _Series] = {}
        registry.register(self)

    def observe(self, value: float, *labels: str) -> None:
        """One observation of ``value`` for ``labels`` (the label values)."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = _Series(len(self.bounds))
        series.counts[bisect_left(self.bounds, value)] += 1
        series.total += value

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, series in list(self.series.items()):
            cumulative, buckets = 0, []
            for le, n in zip(self._les, list(series.counts), strict=True):
                cumulative += n
                buckets.append((le, float(cumulative)))
            family.add_metric(labels, buckets, series.total)
            # HistogramMetricFamily takes no ``created``: the sample prometheus-client's
            # Histogram adds after each label set's _sum.
            family.samples.append(
                Sample(
                    self.name + "_created", dict(zip(self.labelnames, labels, strict=True)), series.created
                )
            )
        return [family]
