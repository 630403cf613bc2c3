"""Gateway metrics (prometheus-client, ``smppgw_`` prefix; DESIGN §4.4).

One ``CollectorRegistry`` per gateway, so tests can run several in one process. Label
children are cached: a ``labels()`` lookup per PDU costs more than the PDU.

The per-message series (submits, response and receipt latencies, receipts, final
statuses) are ``support.metrics`` batched series: a count is a dict update, turned into
samples when the registry is collected. The others (gauges, reconnects, unmatched
receipts, ...) change rarely and are prometheus-client's own metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from smppgw.core.constants import status_name
from smppgw.support.metrics import BatchedCounter, BatchedHistogram

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_RECEIPT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 86400)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.submits = BatchedCounter(
            "smppgw_submits", "submit_sm by route, SMSC and status", ["route", "smsc", "status"], registry=r
        )
        self.resp_latency = BatchedHistogram(
            "smppgw_submit_resp_seconds",
            "submit_sm -> submit_sm_resp",
            ["smsc"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.receipt_latency = BatchedHistogram(
            "smppgw_submit_receipt_seconds",
            "submit_sm -> final receipt",
            ["smsc"],
            buckets=_RECEIPT_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("smppgw_window_in_flight", "Requests in flight per SMSC", ["smsc"], registry=r)
        self.queued = Gauge("smppgw_queued_parts", "Parts waiting to be sent, per SMSC", ["smsc"], registry=r)
        self.scheduled = Gauge("smppgw_scheduled_messages", "Messages waiting for their send_at", registry=r)
        self.binds = Gauge("smppgw_binds", "Binds by SMSC and state", ["smsc", "state"], registry=r)
        self.throttle_rate = Gauge(
            "smppgw_throttle_rate", "Current send rate limit (segments/s)", ["scope", "name"], registry=r
        )
        self.receipts = BatchedCounter("smppgw_receipts", "Receipts by stat", ["smsc", "stat"], registry=r)
        self.unmatched = Counter(
            "smppgw_unmatched_receipts", "Receipts matching no submitted part", ["smsc"], registry=r
        )
        self.duplicates = Counter("smppgw_duplicate_receipts", "Receipts seen twice", ["smsc"], registry=r)
        self.messages = BatchedCounter(
            "smppgw_messages", "Messages reaching a final status", ["status"], registry=r
        )
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
        # What the bounded buffers let go (issue 16: bounded everything), by SMSC.
        self.reassembly_evicted = Counter(
            "smppgw_reassembly_evicted",
            "MO messages in reassembly evicted, oldest first, at inbound.max_groups",
            ["smsc"],
            registry=r,
        )
        self.early_receipts_evicted = Counter(
            "smppgw_early_receipts_evicted",
            "Receipts held for their submit_sm_resp evicted, oldest first, at receipts.max_held",
            ["smsc"],
            registry=r,
        )
        self.over_window = Counter(
            "smppgw_receive_window_refused",
            "deliver_sm/data_sm beyond the receiving window, answered ESME_RX_T_APPN",
            ["smsc"],
            registry=r,
        )
        self.unsolicited = Counter(
            "smppgw_unsolicited_responses",
            "Responses from an SMSC matching no request in flight (generic_nack included), by command",
            ["smsc", "command"],
            registry=r,
        )
        self._status_names: dict[int, str] = {}

    def submit(self, route: str, smsc: str, status: int, round_trip: float | None = None) -> None:
        """One submit_sm_resp (or a submit that got none: ``round_trip`` None)."""
        name = self._status_names.get(status)
        if name is None:
            name = self._status_names[status] = status_name(status)
        self.submits.inc(route, smsc, name)
        if round_trip is not None:
            self.resp_latency.observe(round_trip, smsc)

    def render(self) -> bytes:
        return generate_latest(self.registry)
