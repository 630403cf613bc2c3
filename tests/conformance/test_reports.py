"""Reports from synthetic results: the terminal table, JSON and JUnit XML."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.model import CaseResult, Outcome, Role, Severity, Verdict
from conformance.report import Meta, render_table, summary, to_json, write_json, write_junit
from conformance.smsc import ALL

CASE = ALL[0]


def result(
    verdict: Verdict, outcome: Outcome, message: str = "", observed: tuple[str, ...] = ()
) -> CaseResult:
    return CaseResult(
        case=CASE, outcome=outcome, verdict=verdict, message=message, observed=observed, notes=("a note",)
    )


RESULTS = [
    result(Verdict.PASS, Outcome.PASSED, observed=("   0.001s > bind_transceiver #1",)),
    result(
        Verdict.FAIL,
        Outcome.FAILED,
        "expected X; got Y \x07[red]",
        ("   0.002s < submit_sm_resp #2 ESME_RSYSERR",),
    ),
    result(Verdict.WARN, Outcome.FAILED, "should-level"),
    result(Verdict.SKIP, Outcome.SKIPPED, "not applicable"),
    result(Verdict.ERROR, Outcome.ERROR, "cannot connect"),
]
META = Meta(suite="smsc", target="127.0.0.1:2775", strict=False, duration=1.5)


def test_summary_counts_every_verdict() -> None:
    assert summary(RESULTS) == {"PASS": 1, "WARN": 1, "FAIL": 1, "ERROR": 1, "SKIP": 1}


def test_plain_table_shows_failures_with_observed_pdus() -> None:
    out = io.StringIO()
    render_table(RESULTS, META, out, plain=True)
    text = out.getvalue()
    assert text.splitlines()[0].split() == ["RESULT", "CASE", "SEV", "SPEC", "TITLE"]
    assert "submit_sm_resp #2 ESME_RSYSERR" in text  # failure evidence
    assert "bind_transceiver #1" not in text  # passing transcripts only with --show-pdus
    assert text.rstrip().splitlines()[-1].startswith("FAILED: 5 SMSC cases")
    out = io.StringIO()
    render_table(RESULTS, META, out, plain=True, verbose=True)
    assert "bind_transceiver #1" in out.getvalue()


def test_rich_table_renders_brackets_literally() -> None:
    out = io.StringIO()
    render_table(RESULTS, META, out)
    text = out.getvalue()
    assert "[red]" in text  # transcripts and messages are never rich markup
    assert CASE.spec.split()[0] in text


def test_json_report(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(path, RESULTS, META)
    data = json.loads(path.read_text())
    assert data["passed"] is False
    assert data["summary"]["FAIL"] == 1
    fail = data["cases"][1]
    assert fail["verdict"] == "FAIL" and fail["spec"] == CASE.spec and fail["role"] == Role.SMSC.value
    assert fail["observed"] == ["   0.002s < submit_sm_resp #2 ESME_RSYSERR"]
    assert data["cases"][0]["observed"] == []
    assert to_json(RESULTS, META, verbose=True)["cases"][0]["observed"]


def test_junit_report_parses_with_one_testcase_per_case(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    write_junit(path, RESULTS, META)
    root = ET.parse(path).getroot()
    [suite] = root.findall("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = suite.findall("testcase")
    assert len(cases) == 5
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == Severity.MUST.value
    assert "ESME_RSYSERR" in (failure.text or "") and "\x07" not in (failure.get("message") or "")
    assert cases[2].find("system-out") is not None
    assert cases[3].find("skipped") is not None
    assert cases[4].find("error") is not None
    props = {p.get("name"): p.get("value") for p in cases[0].iter("property")}
    assert props["spec"] == CASE.spec and props["severity"] == CASE.severity.value
