"""Batched metrics: what the registry shows equals unbatched prometheus-client calls."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from smppgw.gateway.metrics import GatewayMetrics


def test_batched_counts_are_visible_to_every_reader() -> None:
    m = GatewayMetrics()
    for _ in range(3):
        m.submit("r", "sim", 0)
        m.count(m.receipts, "sim", "DELIVRD")
    sample = m.registry.get_sample_value
    assert sample("smppgw_submits_total", {"route": "r", "smsc": "sim", "status": "ESME_ROK"}) == 3
    assert sample("smppgw_receipts_total", {"smsc": "sim", "stat": "DELIVRD"}) == 3
    m.count(m.receipts, "sim", "DELIVRD")
    assert b'smppgw_receipts_total{smsc="sim",stat="DELIVRD"} 4.0' in m.render()


def test_batched_observations_match_observe_bucket_for_bucket() -> None:
    values = [0.0, 0.001, 0.0011, 0.004, 0.25, 0.2500001, 59.9, 60.0, 61.0, 1e9, 0.003]
    m = GatewayMetrics()
    reference = Histogram(
        "smppgw_submit_resp_seconds",
        "submit_sm -> submit_sm_resp",
        ["smsc"],
        buckets=m.resp_latency._upper_bounds[:-1],
        registry=CollectorRegistry(),
    )
    for i, v in enumerate(values):
        m.resp("sim", v)
        reference.labels("sim").observe(v)
        if i == 4:
            m.flush()  # a flush in the middle loses and repeats nothing
    ours = {s.name + repr(s.labels): s.value for f in m.registry.collect() for s in f.samples
            if s.name.startswith("smppgw_submit_resp_seconds") and not s.name.endswith("_created")}  # fmt: skip
    theirs = {s.name + repr(s.labels): s.value for f in reference.collect() for s in f.samples
              if not s.name.endswith("_created")}  # fmt: skip
    assert ours == theirs
