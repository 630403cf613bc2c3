"""Live Prometheus metrics of a running load test (``--prometheus-port``).

A ``loadtest.display.Display``: the runner hands it a snapshot once a second and a
scrape of ``http://127.0.0.1:PORT/metrics`` reads the newest one. Loopback unless
``--prometheus-host`` says otherwise (a Prometheus in another container). The series, all ``smpp_loadtest_``:

- counters ``offered``, ``sent``, ``acked``, ``errors``, ``throttled``, ``timeouts``,
  ``receipts``, ``binds_lost`` (``_total``): running totals since the load began;
- gauges ``inflight`` (submits awaiting a response), ``backlog`` (messages due but
  waiting for a window), ``target_rate`` (the intended submit_sm/s; absent in a closed
  loop), ``elapsed_seconds``, ``client_cpu_percent`` (the last second, 100 = one core),
  ``latency_seconds{quantile}`` (submit_sm -> submit_sm_resp over the last second, from
  the intended send time; absent for a second without responses);
- ``info{target, address, workload}`` = 1.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["PrometheusExporter"]

_COUNTERS = {
    "offered": "Messages whose intended send time came",
    "sent": "submit_sm written to a bind (HTTP: requests started)",
    "acked": "Responses with ESME_ROK (HTTP: 2xx)",
    "errors": "Submits that did not end acked (error status, timeout, lost connection)",
    "throttled": "Responses with ESME_RTHROTTLED (HTTP: 429)",
    "timeouts": "Submits without a response within --timeout",
    "receipts": "Delivery receipts matched to a submit",
    "binds_lost": "Connections lost during the run",
}
_GAUGES = {
    "inflight": ("inflight", "Submits awaiting a response"),
    "backlog": ("backlog", "Messages due but waiting for a window"),
    "rate_target": ("target_rate", "Intended submit_sm per second"),
    "elapsed_s": ("elapsed_seconds", "Seconds since the load began"),
    "cpu_percent": ("client_cpu_percent", "Load generator CPU over the last second (100 = one core)"),
}
_QUANTILES = (("0.5", "p50_ms"), ("0.9", "p90_ms"), ("0.99", "p99_ms"), ("1", "max_ms"))


def _n(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


class _Snapshots(Collector):
    def __init__(self) -> None:
        self.params: Mapping[str, Any] = {}
        self.snap: Mapping[str, Any] = {}  # replaced whole, read by the server's thread

    def collect(self) -> Iterator[Metric]:
        p, s = self.params, self.snap
        info = GaugeMetricFamily(
            "smpp_loadtest_info", "The run being measured", labels=["target", "address", "workload"]
        )
        info.add_metric([str(p.get(k) or "") for k in ("target", "address", "workload")], 1.0)
        yield info
        for key, text in _COUNTERS.items():
            yield CounterMetricFamily(f"smpp_loadtest_{key}", text, value=_n(s.get(key)) or 0.0)
        for key, (name, text) in _GAUGES.items():
            if (value := _n(s.get(key))) is not None:
                yield GaugeMetricFamily(f"smpp_loadtest_{name}", text, value=value)
        lat = GaugeMetricFamily(
            "smpp_loadtest_latency_seconds",
            "submit_sm -> submit_sm_resp latency over the last second, from the intended send time",
            labels=["quantile"],
        )
        for q, key in _QUANTILES:
            if (ms := _n(s.get(key))) is not None:
                lat.add_metric([q], ms / 1000.0)
        yield lat


class PrometheusExporter:
    """Serves the metrics from construction until :meth:`stop` (``port`` 0: any free one)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._data = _Snapshots()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._data)
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = self._server.server_port
        self._host = host
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/metrics"

    def start(self, params: Mapping[str, Any]) -> None:
        self._data.params = dict(params)

    def update(self, snapshot: Mapping[str, Any]) -> None:
        self._data.snap = dict(snapshot)

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        with self._lock:
            if self._thread.is_alive():
                self._server.shutdown()
                self._server.server_close()
                self._thread.join(timeout=5.0)
