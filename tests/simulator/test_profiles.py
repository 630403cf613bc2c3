"""The shipped profiles' receipt timing: ``default`` answers like a carrier (a receipt
seconds after the submit, never at once), ``fast`` at once for load runs (issue 17 item 9).

Kannel, with separate transmitter and receiver binds, lost 2 of 17 receipts against a
simulator that sent them at once: a receipt on the receiver bind overtook the
submit_sm_resp on the transmitter bind, and a receipt whose id is not known yet is lost.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest
import trio
from trio.testing import MockClock

from simulator.config import SimConfig, config_from_dict
from simulator.dist import Dist, parse_dist
from smppgw.core.constants import CommandStatus
from smppgw.core.events import ResponseReceived
from smppgw.core.pdu import DeliverSm
from smppgw.core.states import BindMode
from smppgw.net.connection import Outcome
from tests.simulator.helpers import bound, receipt_of, running, sms

COUNT = 20


def _dlr_delay(profile: str) -> Dist:
    config = config_from_dict({"profile": profile})
    return config.behaviour_for(config.accounts[0]).dlr_delay


def test_the_default_profile_delays_receipts_as_a_carrier_does() -> None:
    delay = _dlr_delay("default")
    assert SimConfig().profile == "default"
    assert delay.kind == "lognormal"
    assert 1.0 <= delay.a <= 2.0  # the median
    assert 0 < delay.floor and delay.cap <= 30  # within an ESME's usual 30 s receipt wait
    rng = random.Random(3)
    samples = [delay.sample(rng) for _ in range(10_000)]
    assert 1.0 <= statistics.median(samples) <= 2.0
    assert delay.floor <= min(samples) and max(samples) <= delay.cap
    assert max(samples) > 10  # a tail: some receipts take a while


def test_the_fast_profile_sends_receipts_at_once() -> None:
    assert _dlr_delay("fast").is_zero


def test_a_distribution_can_be_clamped() -> None:
    d = parse_dist({"kind": "lognormal", "p50": 1.0, "p99": 100.0, "min": 0.5, "max": 2.0}, "d")
    rng = random.Random(1)
    samples = [d.sample(rng) for _ in range(2000)]
    assert min(samples) == 0.5 and max(samples) == 2.0
    assert d.describe() == {"kind": "lognormal", "p50": 1.0, "p99": 100.0, "min": 0.5, "max": 2.0}
    assert parse_dist(d.describe(), "d") == d  # what GET /accounts shows, PATCH takes back
    unclamped = parse_dist({"kind": "uniform", "low": 1, "high": 2}, "d")
    assert (unclamped.floor, unclamped.cap) == (0.0, math.inf)
    assert parse_dist({"kind": "exponential", "mean": 1, "max": 3}, "d").describe() == {
        "kind": "exponential",
        "mean": 1.0,
        "max": 3.0,
    }


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"kind": "uniform", "low": 1, "high": 2, "min": 3, "max": 2}, r"^d: min 3\.0 > max 2\.0$"),
        ({"kind": "lognormal", "p50": 1, "p99": 2, "max": -1}, r"^d\.max: must be a finite number >= 0"),
        ({"kind": "lognormal", "p50": 1, "p99": 2, "max": "60"}, r"^d\.max: must be a finite number >= 0"),
        ({"kind": "const", "value": 1, "max": 2}, r"^d: unknown key\(s\) max for kind 'const'$"),
    ],
)
def test_a_bad_clamp_is_named(value: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_dist(value, "d")


@pytest.fixture
def clock() -> MockClock:
    """Virtual time ten times as fast as real time: the default profile's receipts (up to
    20 s) arrive within two seconds, over real loopback TCP."""
    return MockClock(rate=10)


async def test_separate_binds_match_every_receipt_under_the_default_profile(clock: MockClock) -> None:
    """A Kannel-like client: submits on a transmitter bind, receipts on a receiver bind,
    and a receipt matches only a message_id already returned in a submit_sm_resp."""
    known: set[str] = set()  # message_ids from submit_sm_resps, as they arrive
    answered: list[object] = []
    matched: list[str] = []
    unmatched: list[str] = []

    def on_resp(outcome: Outcome) -> None:
        answered.append(outcome)
        if isinstance(outcome, ResponseReceived):
            known.add(outcome.response.message_id)

    def on_receipt(pdu: DeliverSm, _n: int) -> int:
        receipt_id = receipt_of(pdu).message_id
        (matched if receipt_id in known else unmatched).append(receipt_id)
        return CommandStatus.ESME_ROK

    with trio.fail_after(600):  # virtual seconds: a minute of real time at most
        async with (
            running(profile="default") as sim,
            bound(sim, BindMode.RX, answer=on_receipt, timeout=60) as rx,
            bound(sim, BindMode.TX, timeout=60) as tx,
        ):
            submitted_at = trio.current_time()
            for i in range(COUNT):
                tx.conn.start_request(sms(destination_addr=f"4477009{i:05d}"), on_resp)
            await tx.wait_until(lambda: len(answered) == COUNT, timeout=60)
            await rx.wait_until(lambda: len(rx.arrivals) == COUNT, timeout=300)
    assert len(known) == COUNT
    assert sorted(matched) == sorted(known) and unmatched == []
    delays = [a.at - submitted_at for a in rx.arrivals]
    assert min(delays) >= 0.2  # the profile's floor: never "at once"
    assert statistics.median(delays) > 0.5
