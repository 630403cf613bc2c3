"""How findings are graded: a wrong command_id is a must-level FAIL wherever it comes, a
failed setup step is an ERROR (never a FAIL of the case's own requirement), a must case
that could not be judged makes the exit status say so, and severities follow the spec."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import trio

from conformance.esme import ALL as ESME_CASES
from conformance.model import (
    EXIT_FAILED,
    EXIT_MUST_SKIPPED,
    EXIT_OK,
    CaseResult,
    Outcome,
    Severity,
    Verdict,
    exit_status,
)
from conformance.smsc import ALL as SMSC_CASES
from conformance.wire import raw_pdu
from smppgw.core.constants import CommandId
from tests.conformance.doubles import no_man, serve_double
from tests.conformance.helpers import GOOD_CLIENT, explain, run_smsc, smsc_settings
from tests.conformance.test_cli import cli, smsc_args

_BINDS = {CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER}


async def _frames(stream: trio.abc.Stream, answer: object) -> None:
    buf = bytearray()
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        while data := await stream.receive_some(65536):
            buf += data
            while len(buf) >= 16 and len(buf) >= (length := int.from_bytes(buf[:4], "big")) >= 16:
                frame = bytes(buf[:length])
                del buf[:length]
                cid, seq = int.from_bytes(frame[4:8], "big"), int.from_bytes(frame[12:16], "big")
                if not await answer(stream, cid, seq):  # type: ignore[operator]
                    await stream.aclose()
                    return


async def crossed_wires(stream: trio.abc.Stream) -> None:
    """Binds anyone; answers enquire_link with submit_sm_resp, everything else correctly."""

    async def answer(s: trio.abc.Stream, cid: int, seq: int) -> bool:
        if cid & 0x8000_0000:
            return True
        if cid == CommandId.ENQUIRE_LINK:
            await s.send_all(raw_pdu(CommandId.SUBMIT_SM_RESP, seq, b"1\x00"))
        else:
            await s.send_all(raw_pdu(cid | 0x8000_0000, seq, b"x\x00" if cid in _BINDS else b""))
        return True

    await _frames(stream, answer)


async def silent_unbind(stream: trio.abc.Stream) -> None:
    """Binds anyone; closes the connection at an unbind without an unbind_resp."""

    async def answer(s: trio.abc.Stream, cid: int, seq: int) -> bool:
        if cid == CommandId.UNBIND:
            return False
        if cid in _BINDS:
            await s.send_all(raw_pdu(cid | 0x8000_0000, seq, b"x\x00"))
        return True

    await _frames(stream, answer)


# -- a response with the wrong command_id -----------------------------------------------------------


async def test_wrong_command_id_fails_even_a_should_case_and_the_run(tmp_path: Path) -> None:
    """enquire_link answered with submit_sm_resp: enquire_link.burst is a should case, but
    3.4 §3.2 is a must, so it FAILs in lenient mode too, and the run exits 1."""
    report = tmp_path / "r.json"
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_double, crossed_wires)
        done = await cli(
            *smsc_args(port, "--only", "enquire_link.burst,bind.transmitter", "--json", str(report))
        )
        nursery.cancel_scope.cancel()
    assert done.returncode == EXIT_FAILED, done.stdout.decode()
    cases = {c["id"]: c for c in json.loads(report.read_text())["cases"]}
    burst = cases["enquire_link.burst"]
    assert burst["severity"] == "should" and burst["verdict"] == "FAIL"
    assert "submit_sm_resp" in burst["message"] and "3.4 §3.2" in burst["message"]
    assert any("judged as must" in note for note in burst["notes"])
    assert cases["bind.transmitter"]["verdict"] == "PASS"  # the binds were answered right


async def test_wrong_command_id_is_a_must_finding_in_the_esme_suite_too() -> None:
    from conformance.model import wrong_response

    finding = wrong_response(CommandId.ENQUIRE_LINK, 7, CommandId.SUBMIT_SM_RESP, "submit_sm_resp #7")
    assert finding is not None and finding.severity is Severity.MUST
    assert wrong_response(CommandId.ENQUIRE_LINK, 7, CommandId.ENQUIRE_LINK_RESP, "") is None
    assert wrong_response(CommandId.ENQUIRE_LINK, 7, CommandId.GENERIC_NACK, "") is None


# -- a failed setup step --------------------------------------------------------------------------


async def test_a_failed_setup_step_is_an_error_not_a_fail() -> None:
    """No unbind_resp (the connection is closed instead): the unbind cases FAIL, but the
    case about what follows an unbind could not test its requirement: ERROR."""
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_double, silent_unbind)
        results = await run_smsc(
            smsc_settings(port, timeout=0.5), only=["unbind.tx", "unbind.then-submit-refused"]
        )
        nursery.cancel_scope.cancel()
    assert results["unbind.tx"].verdict is Verdict.FAIL, explain(results, ["unbind.tx"])
    then = results["unbind.then-submit-refused"]
    assert then.outcome is Outcome.ERROR and then.verdict is Verdict.ERROR, explain(results, [then.case.id])
    assert then.message.startswith("setup failed, so the case's own requirement was not tested")


async def test_a_refused_setup_submit_is_an_error_for_the_query_case() -> None:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_double, no_man)  # refuses every submit_sm
        results = await run_smsc(smsc_settings(port, timeout=0.3), only=["manage.query-submitted"])
        nursery.cancel_scope.cancel()
    result = results["manage.query-submitted"]
    assert result.verdict is Verdict.ERROR and "ESME_RSYSERR" in result.message, result.message


# -- a must case that could not run ---------------------------------------------------------------


async def test_a_skipped_must_case_exits_3() -> None:
    """A client that sends no submit_sm: delivery.answers-receipt (must) cannot be judged."""
    done = await cli(
        "esme", "--listen", "127.0.0.1:0", "--wait", "5", "--timeout", "0.5", "--quiet-period", "0.2",
        "--only", "delivery.answers-receipt,flow.sequence-in-range", "--plain",
        "--", *GOOD_CLIENT, "--messages", "0", "--stay", "0.2",
    )  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode == EXIT_MUST_SKIPPED, out + done.stderr.decode()
    assert re.search(r"SKIP\s+delivery\.answers-receipt", out) and "INCOMPLETE:" in out


def test_exit_status() -> None:
    must = next(c for c in SMSC_CASES if c.severity is Severity.MUST)
    should = next(c for c in SMSC_CASES if c.severity is Severity.SHOULD)

    def result(case: object, verdict: Verdict) -> CaseResult:
        return CaseResult(case=case, outcome=Outcome.PASSED, verdict=verdict)  # type: ignore[arg-type]

    assert exit_status([result(must, Verdict.PASS), result(should, Verdict.WARN)]) == EXIT_OK
    assert exit_status([result(should, Verdict.SKIP)]) == EXIT_OK
    assert exit_status([result(must, Verdict.SKIP)]) == EXIT_MUST_SKIPPED
    assert exit_status([result(must, Verdict.SKIP), result(should, Verdict.ERROR)]) == EXIT_FAILED


# -- severities follow the spec's words -----------------------------------------------------------


def test_practice_only_cases_are_at_most_should_and_say_so() -> None:
    for case in (*SMSC_CASES, *ESME_CASES):
        cites_spec = re.search(r"\b(3\.4|5\.0|3GPP)\b", case.spec)
        if not cites_spec:
            assert "carrier practice" in case.spec, case.id
            assert case.severity is not Severity.MUST, case.id
        assert "REFERENCE" not in case.spec + case.doc + case.title, case.id  # no internal document names


def test_must_wording_the_34_text_does_not_carry_is_should() -> None:
    by_id = {c.id: c for c in SMSC_CASES}
    for cid in (
        "generic_nack.not-for-stray-response",
        "submit.empty-destination",
        "tlv.payload-with-short-message",
        "framing.length-below-16-closes",
        "bind.transmitter",
        "bind.wrong-password",
    ):
        assert by_id[cid].severity is Severity.SHOULD, cid
        assert by_id[cid].doc, f"{cid}: say why it is not a must"
    # 3.4 §6.2: the SMSC "may reject or truncate" an over-long message
    for cid in ("text.gsm7-161-refused", "text.octet-141-refused", "generic_nack.not-for-unknown-response"):
        assert by_id[cid].severity is Severity.MAY, cid
        assert by_id[cid].doc, f"{cid}: say why it is only a may"
    window = next(c for c in ESME_CASES if c.id == "flow.window-respected")
    assert window.severity is Severity.SHOULD and "recommended" in window.doc  # 3.4 §2.5.2


def test_every_section_number_was_checked() -> None:
    """A dagger marked a section number given from memory; every one is now checked."""
    for case in (*SMSC_CASES, *ESME_CASES):
        assert "\u2020" not in case.spec + case.doc, case.id
