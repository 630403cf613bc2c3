"""Pure parts of the load tester: schedules, message pool, checks, receipts, params, schema."""

from __future__ import annotations

import copy
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from loadtest.checks import parse_check
from loadtest.messages import build_pool
from loadtest.params import (
    Phase,
    RunParams,
    UsageError,
    parse_destinations,
    parse_hostport,
    parse_mix,
    parse_steps,
)
from loadtest.receipts import ReceiptTracker
from loadtest.schedule import arrivals
from loadtest.schema import validate
from loadtest.stats import Counters
from smppgw.core.codec import HEADER_SIZE, Header, decode_body
from smppgw.core.constants import status_name
from smppgw.core.pdu import SubmitSm

_LAT = {"count": 2, "mean": 1.5, "p50": 1.0, "p90": 2.0, "p99": 2.0, "p999": 2.0, "max": 2.0}
DOC: dict[str, Any] = {
    "schema": "smpp-loadtest/1",
    "params": {
        "target": "smsc", "address": "127.0.0.1:2775", "profile": None, "system_id": "acme",
        "workload": "steps", "rate": None, "ramp": None, "steps": [[1, 1], [2, 1]], "duration_s": 2,
        "count": None, "binds": 1, "window": 8, "mix": {"gsm": 1.0}, "destinations": "4470",
        "wait_dlr_s": 1, "scenario": None, "started_at": "2026-01-01T00:00:00Z", "host": "h",
        "version": "smppgw 0.1.0",
    },
    "summary": {
        "duration_s": 2.0, "offered": 3, "sent": 3, "acked": 2, "errors": 1, "throttled": 0,
        "timeouts": 1, "receipts": 2, "receipts_expected": 2,
        "throughput_per_s": {"offered": 1.5, "sent": 1.5, "acked": 1.0, "receipts": 1.0},
        "latency_ms": {"submit_resp": _LAT, "submit_receipt": _LAT},
        "errors_by_status": {"timeout": 1}, "binds_lost": 0, "binds_reestablished": 0,
        "client": {"cpu_percent": 1.0, "max_rss_mb": 30.0, "saturated": False, "lag_ms_p99": 0.5},
    },
    "timeline": [
        {"t": 0, "offered": 1, "sent": 1, "acked": 1, "receipts": 1, "errors": 0, "throttled": 0,
         "p50_ms": 1.0, "p90_ms": 1.0, "p99_ms": 1.0, "max_ms": 1.0, "cpu_percent": 1.0},
        {"t": 1, "offered": 2, "sent": 2, "acked": 1, "receipts": 1, "errors": 1, "throttled": 0,
         "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "cpu_percent": 1.0},
    ],
    "histogram": {"submit_resp": [[1.0, 1], [2.0, 1]], "submit_receipt": [[1.0, 2]]},
    "checks": [{"name": "p99 < 5ms", "metric": "latency_ms.submit_resp.p99", "op": "<", "threshold": 5,
                "value": 2.0, "passed": True}],
    "passed": True,
}  # fmt: skip

# -- schedules ---------------------------------------------------------------------------------


def test_constant_rate_arrivals_are_evenly_spaced() -> None:
    times = list(arrivals([Phase(rate=100, duration=2.0)]))
    assert len(times) == 200
    assert times[0] == 0.0
    assert times[1] == pytest.approx(0.01)
    assert times[-1] == pytest.approx(1.99)


def test_ramp_offers_the_area_under_the_line() -> None:
    times = list(arrivals([Phase(ramp=(100, 300), duration=2.0)]))
    assert len(times) == pytest.approx(400, abs=1)  # (100 + 300) / 2 * 2 s
    first_half = sum(1 for t in times if t < 1.0)
    assert first_half == pytest.approx(150, abs=1)  # 100 -> 200 over the first second
    assert times == sorted(times)


def test_ramp_from_zero_and_down_to_zero() -> None:
    up = list(arrivals([Phase(ramp=(0, 200), duration=1.0)]))
    down = list(arrivals([Phase(ramp=(200, 0), duration=1.0)]))
    assert len(up) == pytest.approx(100, abs=1)
    assert len(down) == pytest.approx(100, abs=1)
    assert all(0 <= t < 1 for t in up + down)


def test_steps_follow_each_other() -> None:
    times = list(
        arrivals([Phase(rate=10, duration=1.0), Phase(rate=0, duration=1.0), Phase(rate=20, duration=1.0)])
    )
    assert sum(1 for t in times if t < 1) == 10
    assert sum(1 for t in times if 1 <= t < 2) == 0
    assert sum(1 for t in times if t >= 2) == 20


def test_poisson_arrivals_have_the_mean_rate_and_random_gaps() -> None:
    times = list(arrivals([Phase(rate=1000, duration=5.0, poisson=True)], random.Random(7)))
    assert len(times) == pytest.approx(5000, rel=0.05)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) > 3 * min(gaps) + 0.002  # not a metronome
    assert times == list(arrivals([Phase(rate=1000, duration=5.0, poisson=True)], random.Random(7)))


# -- message pool ------------------------------------------------------------------------------


def _decode(body: bytes) -> SubmitSm:
    frame = bytes(HEADER_SIZE) + body
    pdu = decode_body(Header(len(frame), 4, 0, 1), frame)
    assert isinstance(pdu, SubmitSm)
    return pdu


def test_pool_follows_the_mix_and_cycles_destinations() -> None:
    mix = parse_mix("gsm:0.8,ucs2:0.1,long:0.1")
    pool = build_pool(
        mix, parse_destinations("447700900000-447700900009"), source="ACME", registered_delivery=1, seed=3
    )
    pdus = [_decode(b) for b in pool.bodies]
    assert pool.messages == 2000
    assert len(pdus) == 1600 + 200 + 3 * 200
    assert sum(1 for p in pdus if p.data_coding == 8) == 200
    assert sum(1 for p in pdus if p.esm_class & 0x40) == 600
    assert {p.destination_addr for p in pdus} == {f"44770090000{i}" for i in range(10)}
    assert all(p.registered_delivery == 1 and p.source_addr == "ACME" for p in pdus)
    # the parts of each long message are consecutive: 1/3, 2/3, 3/3 with one reference
    for i, p in enumerate(pdus):
        if p.esm_class & 0x40 and p.short_message[5] == 1:
            refs = {q.short_message[3] for q in pdus[i : i + 3]}
            assert [q.short_message[5] for q in pdus[i : i + 3]] == [1, 2, 3] and len(refs) == 1


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "target"),
        ({"target": "smsc"}, "HOST:PORT"),
        ({"target": "http", "address": "http://x"}, "--api-key"),
        ({"target": "sim"}, "no workload"),
        ({"target": "sim", "phases": (Phase(rate=10),)}, "needs a duration"),
        ({"target": "sim", "phases": (Phase(ramp=(1, 2), duration=1), Phase(rate=1, duration=1))}, "ramp"),
        ({"target": "sim", "closed": True}, "--duration or --count"),
        ({"target": "sim", "closed": True, "count": 5, "phases": (Phase(rate=1, duration=1),)}, "closed"),
        ({"target": "sim", "phases": (Phase(rate=-1, duration=1),)}, "rate"),
        ({"target": "sim", "phases": (Phase(rate=0, duration=1),)}, "rate 0"),
        ({"target": "sim", "count": 0, "closed": True}, "--count"),
        ({"target": "sim", "binds": 0, "count": 1, "closed": True}, "--binds"),
        ({"target": "sim", "password": "123456789", "count": 1, "closed": True}, "--password"),
        ({"target": "sim", "bind_mode": "tx", "wait_dlr": 1.0, "count": 1, "closed": True}, "--bind trx"),
    ],
)
def test_bad_params_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RunParams(**kwargs)  # type: ignore[arg-type]


def test_option_parsers() -> None:
    assert parse_hostport("127.0.0.1:2775") == ("127.0.0.1", 2775)
    assert parse_hostport("[::1]:2775") == ("::1", 2775)
    assert parse_mix("gsm:3,ucs2:1") == (("gsm", 0.75), ("ucs2", 0.25))
    assert parse_steps("100:10, 200:5") == ((100.0, 10.0), (200.0, 5.0))
    d = parse_destinations("0044770-0044779")
    assert (d.size, d.number(0), d.number(10), d.describe()) == (10, "0044770", "0044770", "0044770-0044779")
    for bad in (":1", "host", "host:0", "host:99999", "host:x"):
        with pytest.raises(UsageError):
            parse_hostport(bad)
    for bad in ("sms:1", "gsm:x", "gsm:-1", "gsm:0"):
        with pytest.raises(UsageError, match="--mix"):
            parse_mix(bad)
    for bad in ("12-1", "12-123", "abc"):
        with pytest.raises(UsageError, match="--destinations"):
            parse_destinations(bad)


def test_json_params_describe_the_workload() -> None:
    steps = RunParams(target="sim", phases=(Phase(rate=10, duration=1), Phase(rate=20, duration=2.5)))
    assert (steps.workload, steps.json_params()["steps"], steps.json_params()["duration_s"]) == (
        "steps",
        [[10, 1], [20, 2.5]],
        3.5,
    )
    ramp = RunParams(target="sim", phases=(Phase(ramp=(5, 50), duration=10),)).json_params()
    assert (ramp["workload"], ramp["ramp"], ramp["rate"]) == ("ramp", [5, 50], None)
    poisson = RunParams(target="sim", phases=(Phase(rate=7, duration=1, poisson=True),)).json_params()
    assert (poisson["workload"], poisson["rate"]) == ("poisson", 7)


# -- checks ------------------------------------------------------------------------------------


SUMMARY = {
    "sent": 1000,
    "errors": 3,
    "throttled": 1,
    "receipts": 990,
    "receipts_expected": 1000,
    "binds_lost": 0,
    "throughput_per_s": {"acked": 499.0, "sent": 500.0},
    "latency_ms": {"submit_resp": {"p99": 150.0, "p50": 4.0}, "submit_receipt": None},
    "errors_by_status": {"ESME_RSYSERR": 3},
    "client": {"cpu_percent": 40.0},
}


@pytest.mark.parametrize(
    ("expr", "metric", "threshold", "passed"),
    [
        ("p99 < 200ms", "latency_ms.submit_resp.p99", 200, True),
        ("p99<0.1s", "latency_ms.submit_resp.p99", 100, False),
        ("p50 <= 4000us", "latency_ms.submit_resp.p50", 4, True),
        ("error_rate < 0.1%", "error_rate", 0.001, False),
        ("error_rate < 0.01", "error_rate", 0.01, True),
        ("receipt_ratio >= 99%", "receipt_ratio", 0.99, True),
        ("rate >= 450/s", "throughput_per_s.acked", 450, True),
        ("binds_lost == 0", "binds_lost", 0, True),
        ("errors_by_status.ESME_RTHROTTLED == 0", "errors_by_status.ESME_RTHROTTLED", 0, True),
        ("client.cpu_percent < 90%", "client.cpu_percent", 90, True),
        ("dlr_p99 < 5s", "latency_ms.submit_receipt.p99", 5000, False),  # no value: fails
    ],
)
def test_checks(expr: str, metric: str, threshold: float, passed: bool) -> None:
    entry = parse_check(expr).evaluate(SUMMARY)
    assert (entry["metric"], entry["threshold"], entry["passed"]) == (metric, threshold, passed)
    assert entry["name"] == " ".join(expr.split())


@pytest.mark.parametrize(
    "expr", ["p99", "p99 < fast", "p99 < 5%", "error_rate < 5ms", "bogus < 1", "p99 ~ 1"]
)
def test_bad_checks_are_usage_errors(expr: str) -> None:
    with pytest.raises(UsageError, match="--check"):
        parse_check(expr)


# -- receipts ----------------------------------------------------------------------------------


def test_receipt_tracker_with_long_ids_matches_at_once_and_holds_strangers() -> None:
    c = Counters()
    r = ReceiptTracker(c)
    ids = [str(4_100_000_000 + 7 * i) for i in range(20)]
    for i, mid in enumerate(ids):
        r.submitted(mid, i)
    r.receipt("uuid-like-" + "x", 50)  # not a hex or decimal reading: a stranger
    for i, mid in enumerate(ids[:15]):
        r.receipt(mid, 1_000 + i)
    assert c.receipts == 15  # ten readings agreed on "same": the held ones were resolved too
    r.receipt("0" + ids[15].upper(), 2_000)  # leading zeros do not matter
    r.receipt(None, 2_001)
    assert (c.receipts, r.outstanding) == (16, 4)
    r.resolve(final=True)
    assert r.unmatched == 2


def test_receipt_tracker_learns_hex_resp_ids_with_decimal_receipts() -> None:
    """The Kannel msg-id-type trap with small ids: receipt "16" is submit "10" (hex), not
    submit "16"; some receipts overtake their submit_sm_resp."""
    c = Counters()
    r = ReceiptTracker(c)
    numbers = list(range(1, 200))
    for n in numbers:
        if n % 17 != 0:  # every 17th response comes after its receipt
            r.submitted(f"{n:x}", n)
    for n in numbers:
        r.receipt(str(n), 10_000 + n)
    for n in numbers:
        if n % 17 == 0:
            r.submitted(f"{n:x}", n)
    r.resolve(final=True)
    assert (c.receipts, c.receipts_expected, r.outstanding) == (199, 199, 0)
    assert c.dlr_lat == [10_000] * 199  # every receipt met its own submit


def test_receipt_tracker_decimal_resp_ids_with_hex_receipts() -> None:
    c = Counters()
    r = ReceiptTracker(c)
    for n in range(1, 100):
        r.submitted(str(n), n)
    for n in range(1, 100):
        r.receipt(f"{n:X}", 1_000 + n)
    r.resolve(final=True)
    assert c.receipts == 99 and c.dlr_lat == [1_000] * 99


def test_status_names() -> None:
    """loadtest names statuses with the core's status_name (one implementation)."""
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x401) == "0x00000401"
    c = Counters()
    c.status(0x58)
    c.status(0x401)
    assert c.errors_by_status == {"ESME_RTHROTTLED": 1, "0x00000401": 1}
    assert c.throttled == 1 and c.errors == 2


# -- schema ------------------------------------------------------------------------------------


def test_schema_accepts_a_valid_document_and_names_what_is_wrong() -> None:
    doc = copy.deepcopy(DOC)
    assert validate(doc, strict=True) == []
    broken = copy.deepcopy(doc)
    del broken["summary"]["throttled"]
    broken["params"]["workload"] = "sometimes"
    broken["timeline"][0]["p50_ms"] = "fast"
    broken["extra"] = 1
    problems = validate(broken, strict=True)
    assert "$.summary.throttled: missing" in problems
    assert any(p.startswith("$.params.workload: expected one of") for p in problems)
    assert any(p.startswith("$.timeline[0].p50_ms: expected a number or null") for p in problems)
    assert "$.extra: not in the schema" in problems
    assert "$.extra: not in the schema" not in validate(broken)  # readers accept new keys
    inconsistent = copy.deepcopy(doc)
    inconsistent["summary"]["errors"] += 1
    assert validate(inconsistent) == ["$.summary.errors_by_status: does not add up to errors"]


def test_schema_doc_carries_the_schema_block() -> None:
    text = (Path(__file__).parents[2] / "loadtest" / "SCHEMA.md").read_text()
    assert '"schema": "smpp-loadtest/1"' in text
    for key in (
        "errors_by_status",
        "lag_ms_p99",
        "submit_receipt",
        "receipts_expected",
        "histogram",
        "passed",
    ):
        assert key in text
