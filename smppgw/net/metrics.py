"""What the gateway's and the simulator's prometheus registries share."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric

__all__ = ["FlushCollector"]


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
