"""Deliberately broken simulators make exactly the expected SMSC cases fail.

Each scenario sets simulator behaviour on the test account (so binds still work and the
fault hits what comes after) and runs the cases it should break plus cases it should
leave alone: a fault that broke everything would prove nothing about the cases.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from conformance.model import Outcome, Verdict
from tests.conformance.helpers import ACCOUNT, explain, failed, run_smsc, smsc_settings, start_simulator


def _account(**behaviour: Any) -> dict[str, Any]:
    return {"account": [{**ACCOUNT, "behaviour": behaviour}]}


SCENARIOS: dict[str, tuple[dict[str, Any], set[str], set[str]]] = {
    # name: (simulator config, cases that must fail, cases that must pass)
    "black_hole": (
        # A true black hole once bound: not even enquire_link is answered. Binding still
        # works (the fault is the account's; the connection is not bound yet).
        _account(black_hole=True),
        {
            "submit.accepted",
            "window.pipelined-submits",
            "manage.query-submitted",
            "delivery.receipt-delivered",
            "enquire_link.bound-tx",
        },
        set(),  # every bound case ends by talking to a dead peer
    ),
    "nack_probability=1": (
        _account(nack_probability=1.0),
        {
            "submit.accepted",
            "submit.data-sm-accepted",
            "window.sequence-max",
            "text.gsm7-160",
            "tlv.unknown-tag-ignored",
        },
        {"enquire_link.bound-trx", "unbind.trx", "framing.length-below-16-closes"},
    ),
    "error_probability=1": (
        _account(error_probability=1.0, error_status="ESME_RSYSERR"),
        # positive cases fail, and in strict mode so do the negative ones: RSYSERR is not
        # the status 3.4 names for a bad destination or priority_flag.
        {
            "submit.accepted",
            "text.udh8-concatenated",
            "submit.empty-destination",
            "submit.priority-flag-invalid",
        },
        {"bind.receiver", "enquire_link.burst", "manage.query-unknown"},
    ),
    "message_id=uuid": (
        # Cases assume nothing about the format of message ids: 36-character UUIDs pass.
        _account(message_id="uuid"),
        set(),
        {
            "submit.accepted",
            "submit.message-ids-unique",
            "manage.query-submitted",
            "delivery.receipt-id-exact",
            "delivery.receipt-tlvs",
        },
    ),
    "receipt_tlvs=false": (
        _account(receipt_tlvs=False),
        {"delivery.receipt-tlvs"},
        {"delivery.receipt-delivered", "delivery.receipt-text-appendix-b", "delivery.receipt-id-exact"},
    ),
    "receipt_text=false": (
        _account(receipt_text=False),
        {"delivery.receipt-text-appendix-b"},
        {"delivery.receipt-delivered", "delivery.receipt-tlvs"},
    ),
    "hex ids, decimal receipts": (
        # ids from 11 on: below 10, hex and decimal are the same string
        _account(message_id="hex", receipt_id_base="decimal"),
        {"delivery.receipt-id-exact"},
        {"window.pipelined-submits", "delivery.receipt-delivered", "submit.accepted"},
    ),
    "duplicate receipts": (
        _account(duplicate_receipts=1.0),
        {"delivery.acknowledged-not-redelivered"},
        {"delivery.receipt-delivered"},
    ),
    "receipts for nothing requested": (
        # an SMSC that ignores registered_delivery's "only on failure": force failures
        _account(outcomes={"UNDELIV": 1.0}),
        set(),
        {"delivery.receipt-on-failure-only", "delivery.receipt-stat-agrees"},
    ),
    "malformed responses": (
        _account(malformed_probability=1.0),
        {"submit.accepted", "manage.query-unknown"},
        {"enquire_link.bound-tx"},
    ),
    "slow responses": (
        _account(response_delay=3.0),
        {"submit.accepted", "tlv.any-order"},
        {"enquire_link.bound-tx", "bind.receiver"},
    ),
    "drops the connection": (
        _account(drop_after_pdus=2),
        {"window.pipelined-submits", "submit.message-ids-unique"},
        {"bind.receiver"},
    ),
    "unbinds everyone": (
        _account(unbind_after=0.05),
        {"timers.bind-stops-session-init", "bind.tx-gets-no-deliveries", "generic_nack.not-for-generic-nack"},
        set(),
    ),
    "refuses binds": (
        _account(refuse_binds=True),
        {"bind.transmitter", "bind.receiver", "submit.accepted"},
        {"bind.wrong-password", "enquire_link.before-bind"},
    ),
    "lax session timers": (
        {"session": {"bind_timeout": 30.0, "inactivity_timeout": None, "enquire_link_interval": None}},
        {"timers.session-init", "timers.inactivity"},
        {"timers.bind-stops-session-init"},
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_fault_fails_the_expected_cases(name: str) -> None:
    config, must_fail, must_pass = SCENARIOS[name]
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **config)
        results = await run_smsc(smsc_settings(sim.port, receipt_timeout=1.0), only=must_fail | must_pass)
        nursery.cancel_scope.cancel()
    bad = failed(results)
    assert must_fail <= bad, "should have failed:\n" + explain(results, must_fail - bad)
    assert not (must_pass & bad), "should have passed:\n" + explain(results, must_pass & bad)
    for case_id in must_fail:
        assert results[case_id].observed, f"{case_id}: a failure carries the observed PDUs"


async def test_lenient_mode_accepts_what_strict_mode_refuses() -> None:
    """A carrier answering every bad submit with ESME_RSYSERR: lenient passes (any error
    refuses the message), strict fails (3.4 names another status)."""
    negative = {"submit.empty-destination", "submit.destination-not-digits", "submit.esm-class-receipt-type"}
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **_account(error_probability=1.0))
        lenient = await run_smsc(smsc_settings(sim.port, strict=False), only=negative)
        strict = await run_smsc(smsc_settings(sim.port, strict=True), only=negative)
        nursery.cancel_scope.cancel()
    for case_id in negative:
        assert lenient[case_id].verdict is Verdict.PASS, explain(lenient, [case_id])
        assert any("lenient mode" in n for n in lenient[case_id].notes)
        assert strict[case_id].verdict is Verdict.FAIL, explain(strict, [case_id])
        assert "lenient mode accepts" in strict[case_id].message


async def test_should_failures_warn_in_lenient_mode() -> None:
    """A 'should' case that fails is WARN in lenient mode and FAIL in strict mode."""
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **_account(receipt_tlvs=False))
        lenient = await run_smsc(
            smsc_settings(sim.port, strict=False, receipt_timeout=1.0), only=["delivery.receipt-tlvs"]
        )
        strict = await run_smsc(
            smsc_settings(sim.port, strict=True, receipt_timeout=1.0), only=["delivery.receipt-tlvs"]
        )
        nursery.cancel_scope.cancel()
    assert lenient["delivery.receipt-tlvs"].verdict is Verdict.WARN
    assert strict["delivery.receipt-tlvs"].verdict is Verdict.FAIL


async def test_throttling_smsc_is_not_a_finding() -> None:
    """An SMSC enforcing 5 submit/s answers ESME_RTHROTTLED; the suite backs off and resends."""
    cases = {"window.pipelined-submits", "submit.message-ids-unique", "text.udh8-concatenated"}
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **_account(tps=5.0))
        results = await run_smsc(
            smsc_settings(sim.port, throttle_backoff=0.2, throttle_retries=8), only=cases
        )
        nursery.cancel_scope.cancel()
    assert not failed(results), explain(results, failed(results))
    assert any("ESME_RTHROTTLED" in n for r in results.values() for n in r.notes)


async def test_receipt_overtaking_its_response_is_found() -> None:
    """dlr-before-resp: the receipt arrives before the submit_sm_resp; the suite still finds it."""
    cases = {"delivery.receipt-delivered", "delivery.receipt-id-exact", "bind.trx-both-directions"}
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **_account(dlr_before_resp=1.0, resp_latency=0.05))
        results = await run_smsc(smsc_settings(sim.port), only=cases)
        nursery.cancel_scope.cancel()
    assert all(r.outcome is Outcome.PASSED for r in results.values()), explain(results, failed(results))
