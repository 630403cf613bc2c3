"""Batched metrics: what the registry shows equals unbatched prometheus-client calls."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from smppgw.gateway.metrics import GatewayMetrics
from smppgw.support.metrics import BatchedCounter, BatchedHistogram


def _samples(registry: CollectorRegistry, prefix: str) -> dict[str, float]:
    return {
        s.name + repr(sorted(s.labels.items())): s.value
        for f in registry.collect()
        for s in f.samples
        if s.name.startswith(prefix) and not s.name.endswith("_created")
    }


def test_batched_counts_are_visible_to_every_reader() -> None:
    m = GatewayMetrics()
    for _ in range(3):
        m.submit("r", "sim", 0)
        m.receipts.inc("sim", "DELIVRD")
    sample = m.registry.get_sample_value
    assert sample("smppgw_submits_total", {"route": "r", "smsc": "sim", "status": "ESME_ROK"}) == 3
    assert sample("smppgw_receipts_total", {"smsc": "sim", "stat": "DELIVRD"}) == 3
    m.receipts.inc("sim", "DELIVRD")
    assert b'smppgw_receipts_total{smsc="sim",stat="DELIVRD"} 4.0' in m.render()
    m.submit("r", "sim", 0x58)  # a status by its name; a vendor one in hex
    m.submit("r", "sim", 0x401)
    text = m.render()
    assert b'smppgw_submits_total{route="r",smsc="sim",status="ESME_RTHROTTLED"} 1.0' in text
    assert b'smppgw_submits_total{route="r",smsc="sim",status="0x00000401"} 1.0' in text


def test_batched_observations_match_observe_bucket_for_bucket() -> None:
    values = [0.0, 0.001, 0.0011, 0.004, 0.25, 0.2500001, 59.9, 60.0, 61.0, 1e9, 0.003]
    m = GatewayMetrics()
    reference = Histogram(
        "smppgw_submit_resp_seconds",
        "submit_sm -> submit_sm_resp",
        ["smsc"],
        buckets=m.resp_latency.bounds[:-1],
        registry=CollectorRegistry(),
    )
    for i, v in enumerate(values):
        m.resp_latency.observe(v, "sim")
        reference.labels("sim").observe(v)
        if i == 4:
            m.render()  # a collect in the middle loses and repeats nothing
    ours = _samples(m.registry, "smppgw_submit_resp_seconds")
    theirs = _samples(_registry_of(reference), "smppgw_submit_resp_seconds")
    assert ours == theirs


def _registry_of(metric: Histogram | Counter) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(metric)
    return registry


def test_the_exposition_is_prometheus_clients_line_for_line() -> None:
    """Same text as prometheus-client's Counter and Histogram: names, HELP/TYPE, labels,
    bucket bounds, cumulative counts, _count and _sum, one _created per label set."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = BatchedCounter("demo_things", "Things by kind", ["kind"], registry=ours)
    histogram = BatchedHistogram("demo_seconds", "Durations", ["where"], buckets=(0.5, 1, 30), registry=ours)
    ref_counter = Counter("demo_things", "Things by kind", ["kind"], registry=theirs)
    ref_histogram = Histogram("demo_seconds", "Durations", ["where"], buckets=(0.5, 1, 30), registry=theirs)
    for kind, where, value in [("a", "x", 0.2), ("b", "x", 0.5), ("a", "y", 0.7), ("a", "x", 31.0)]:
        counter.inc(kind)
        ref_counter.labels(kind).inc()
        histogram.observe(value, where)
        ref_histogram.labels(where).observe(value)

    def lines(registry: CollectorRegistry) -> list[str]:
        return [
            line if "_created" not in line else line.rsplit(" ", 1)[0]  # the times differ
            for line in generate_latest(registry).decode().splitlines()
        ]

    assert lines(ours) == lines(theirs)
    text = generate_latest(ours).decode()
    assert 'demo_seconds_bucket{le="0.5",where="x"} 2.0' in text  # 0.2 and 0.5 (le is <=)
    assert 'demo_seconds_bucket{le="30.0",where="x"} 2.0' in text
    assert 'demo_seconds_bucket{le="+Inf",where="x"} 3.0' in text
    assert 'demo_seconds_count{where="x"} 3.0' in text
    assert 'demo_seconds_sum{where="x"} 31.7' in text
    assert 'demo_things_total{kind="a"} 3.0' in text


def test_a_family_registered_twice_is_refused() -> None:
    registry = CollectorRegistry(auto_describe=True)
    BatchedCounter("demo_things", "Things", ["kind"], registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("demo_things", "Things", ["kind"], registry=registry)
