"""Prometheus metrics of one simulator (``smppsim_`` prefix, DESIGN §4.4).

Each simulator owns its ``CollectorRegistry`` so several can run in one process (tests).
Label children are cached: ``labels()`` per PDU would cost more than the PDU.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from smppgw.core.constants import CommandId, status_name

__all__ = ["SimMetrics"]


class SimMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.pdus = Counter(
            "smppsim_pdus",
            "PDUs by direction, command and status",
            ["direction", "command", "status"],
            registry=r,
        )
        self.receipts = Counter("smppsim_receipts", "Receipts generated, by stat", ["stat"], registry=r)
        self.throttled = Counter(
            "smppsim_throttled", "Submits answered ESME_RTHROTTLED", ["account"], registry=r
        )
        self.messages = Counter("smppsim_messages", "Messages accepted", ["account"], registry=r)
        self.deliveries = Counter(
            "smppsim_deliveries", "deliver_sm outcomes (receipts and MO)", ["kind", "result"], registry=r
        )
        self.binds = Gauge("smppsim_binds", "Bound sessions", ["account", "mode"], registry=r)
        self.connections = Counter("smppsim_connections", "TCP connections accepted", registry=r)
        self._pdu_children: dict[tuple[str, int, int], Counter] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}

    def pdu(self, direction: str, command_id: int, status: int) -> None:
        key = (direction, command_id, status)
        child = self._pdu_children.get(key)
        if child is None:
            try:
                command = CommandId(command_id).name.lower()
            except ValueError:
                command = f"0x{command_id:08x}"
            child = self._pdu_children[key] = self.pdus.labels(direction, command, status_name(status))
        child.inc()

    def inc(self, metric: Counter, *labels: str) -> None:
        """``metric.labels(*labels).inc()`` with the child cached (hot path)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
