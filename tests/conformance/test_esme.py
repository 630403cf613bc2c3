"""The ESME suite against a well-behaved client (everything passes) and against a
deliberately bad one (the matching cases fail, and every case fails for some fault)."""

from __future__ import annotations

import re
import socket
import sys

import pytest
import trio

from conformance.esme import ALL, EsmeSettings, HarnessError, run_esme_cases
from conformance.model import CaseResult, Outcome
from tests.conformance.helpers import BAD_CLIENT, GOOD_CLIENT, HERE, esme_settings, explain, failed, run_esme

#: flags of bad_esme_client.py -> (cases that must fail, cases that must still pass)
BAD_RUNS: dict[str, tuple[tuple[str, ...], set[str], set[str]]] = {
    "rude": (
        (
            "submit-before-bind",
            "v33",
            "ignore-enquire-link",
            "nack-deliveries",
            "reuse-seq",
            "status-nonzero",
            "seq-zero",
            "stray-response",
            "no-unbind",
            "close-on-nack",
        ),
        {
            "keepalive.answers-enquire-link",
            "keepalive.answers-repeated-enquire-link",
            "delivery.answers-mo",
            "delivery.answers-receipt",
            "delivery.answers-early-receipt",
            "delivery.answers-duplicate-receipt",
            "flow.survives-generic-nack",
            "flow.sequence-in-range",
            "flow.sequence-unique-in-flight",
            "flow.sequence-increasing",
            "flow.request-status-zero",
            "flow.responses-match-requests",
            "flow.no-generic-nack-to-valid-pdus",
            "session.binds-first",
            "session.interface-version",
            "session.unbinds-cleanly",
        },
        {"session.answers-smsc-unbind"},
    ),
    "reckless": (
        ("overflow-window", "hammer", "close-before-unbind-resp", "submit-after-unbind"),
        {
            "flow.window-respected",
            "flow.throttle-backoff",
            "session.unbinds-cleanly",
            "session.nothing-after-unbind",
        },
        {
            "keepalive.answers-enquire-link",
            "delivery.answers-receipt",
            "flow.sequence-unique-in-flight",
            "session.binds-first",
        },
    ),
    "stubborn": (
        ("no-retry", "ignore-unbind", "tx"),
        {"flow.throttled-resubmitted", "session.answers-smsc-unbind", "delivery.refuses-deliver-on-tx"},
        {
            "flow.throttle-backoff",
            "flow.window-respected",
            "session.unbinds-cleanly",
            "keepalive.answers-enquire-link",
        },
    ),
}


async def test_well_behaved_client_passes_everything() -> None:
    results = await run_esme(esme_settings((*GOOD_CLIENT, "--messages", "16", "--window", "10")))
    assert set(results) == {c.id for c in ALL}
    # it binds as a transceiver only, so the transmitter-only case has nothing to judge
    assert failed(results) == {"delivery.refuses-deliver-on-tx"}, explain(results, failed(results))
    assert results["delivery.refuses-deliver-on-tx"].outcome is Outcome.SKIPPED


async def test_a_bad_client_fails_the_matching_cases_and_every_case_can_fail() -> None:
    got: dict[str, dict[str, CaseResult]] = {}

    async def one(name: str) -> None:
        flags, _, _ = BAD_RUNS[name]
        command = (*BAD_CLIENT, "--stay", "3", *(x for f in flags for x in ("--flag", f)))
        got[name] = await run_esme(esme_settings(command, wait=8.0))

    async with trio.open_nursery() as nursery:
        for name in BAD_RUNS:
            nursery.start_soon(one, name)
    never_failed = {c.id for c in ALL}
    for name, (_, must_fail, must_pass) in BAD_RUNS.items():
        results = got[name]
        bad = failed(results)
        assert must_fail <= bad, f"{name} should have failed:\n" + explain(results, must_fail - bad)
        assert not (must_pass & bad), f"{name} should have passed:\n" + explain(results, must_pass & bad)
        for case_id in must_fail:
            r = results[case_id]
            assert r.outcome is Outcome.FAILED, explain(results, [case_id])
            assert r.observed, f"{case_id}: a failure carries the observed PDUs"
        never_failed -= {cid for cid, r in results.items() if r.outcome is Outcome.FAILED}
    # only what was seen: the run ended, so "not within N s", never "never submitted again"
    message = got["stubborn"]["flow.throttled-resubmitted"].message
    assert re.fullmatch(
        r"the throttled message was not resubmitted within \d+ s of ESME_RTHROTTLED .*", message
    )
    assert not never_failed, f"ESME cases no bad client made fail: {sorted(never_failed)}"


async def test_client_still_bound_at_the_end_gets_sigterm_then_judged() -> None:
    """The client stays bound 30 s: --wait runs out, it gets SIGTERM and unbinds then (with a note)."""
    command = (*GOOD_CLIENT, "--messages", "3", "--stay", "30")
    cases = [c for c in ALL if c.id in ("session.unbinds-cleanly", "flow.sequence-in-range")]
    report = await run_esme_cases(cases, esme_settings(command, wait=2.0, grace=3.0))
    [run] = report.runs
    assert run.stopped == "SIGTERM"
    assert any("SIGTERM, unbinding" in line for line in run.output_tail)
    results = {r.case.id: r for r in report.results}
    unbind = results["session.unbinds-cleanly"]
    assert unbind.outcome is Outcome.PASSED, explain(results, [unbind.case.id])
    assert any("SIGTERM" in n for n in unbind.notes)


async def test_without_command_the_harness_waits_for_the_client() -> None:
    """No COMMAND: the harness listens and the client is started by someone else (twice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = EsmeSettings(
        host="127.0.0.1",
        port=port,
        command=None,
        wait=6.0,
        timeout=1.0,
        quiet=0.3,
        connect_timeout=6.0,
        strict=True,
    )
    cases = [
        c
        for c in ALL
        if c.id
        in ("keepalive.answers-enquire-link", "session.unbinds-cleanly", "session.answers-smsc-unbind")
    ]
    argv = [
        sys.executable,
        str(HERE / "esme_client.py"),
        "--port",
        str(port),
        "--messages",
        "2",
        "--stay",
        "0.5",
        "--retry-connect",
        "8",
    ]
    report = None

    async def run_suite() -> None:
        nonlocal report
        report = await run_esme_cases(cases, settings)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_suite)
        for _ in range(2):  # one client per client run
            await trio.run_process(argv, capture_stdout=True, capture_stderr=True)
    assert report is not None
    results = {r.case.id: r for r in report.results}
    assert not failed(results), explain(results, failed(results))


async def test_bad_command_is_a_harness_error() -> None:
    with pytest.raises(HarnessError, match="cannot start"):
        await run_esme_cases(ALL[:1], esme_settings(("/nonexistent/client-under-test",)))
