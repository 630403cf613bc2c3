"""Reports: a terminal table (rich when installed, plain text otherwise), JSON, JUnit XML.

Every report cites the spec section of each case and carries, for each case that did not
pass, the PDUs observed while it ran (``CaseResult.observed``): the evidence an engineer
needs to argue with a carrier. ``Meta`` is what the run was: suite, target, mode, time,
and (ESME suite) what the client under test printed and how it ended.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import attrs

from conformance.model import EXIT_FAILED, EXIT_MUST_SKIPPED, EXIT_OK, CaseResult, Verdict, exit_status

__all__ = [
    "Meta",
    "render_table",
    "summary",
    "summary_line",
    "to_json",
    "to_junit",
    "write_json",
    "write_junit",
]

TOOL: Final = "smpp-conformance"
_ORDER: Final = (Verdict.PASS, Verdict.WARN, Verdict.FAIL, Verdict.ERROR, Verdict.SKIP)
_STYLE: Final = {
    Verdict.PASS: "green",
    Verdict.WARN: "yellow",
    Verdict.FAIL: "bold red",
    Verdict.ERROR: "bold magenta",
    Verdict.SKIP: "dim",
}
# XML 1.0 forbids most C0 controls even when escaped.
_XML_BAD: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@attrs.frozen(kw_only=True)
class Meta:
    suite: str  # "smsc" | "esme"
    target: str  # HOST:PORT of the SMSC, or where the fake SMSC listened
    strict: bool
    started: datetime = attrs.field(factory=lambda: datetime.now(UTC))
    duration: float = 0.0
    extra: dict[str, Any] = attrs.field(factory=dict)


#: The run's verdict by exit status: INCOMPLETE is "nothing failed, but a must case was skipped".
_VERDICT: Final = {EXIT_OK: "PASSED", EXIT_FAILED: "FAILED", EXIT_MUST_SKIPPED: "INCOMPLETE"}


def summary(results: Sequence[CaseResult]) -> dict[str, int]:
    counts = Counter(r.verdict for r in results)
    return {v.value: counts.get(v, 0) for v in _ORDER}


def summary_line(results: Sequence[CaseResult], meta: Meta) -> str:
    counts = summary(results)
    parts = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    mode = "strict" if meta.strict else "lenient"
    verdict = _VERDICT[exit_status(results)]
    return f"{verdict}: {len(results)} {meta.suite.upper()} cases against {meta.target}: {parts} ({mode} mode, {meta.duration:.1f}s)"


def _details(result: CaseResult, verbose: bool) -> list[str]:
    lines = []
    if result.message:
        lines.append(f"    {result.message}")
    lines += [f"    note: {n}" for n in result.notes]
    if result.observed and (verbose or result.verdict is not Verdict.PASS):
        lines.append("    observed:")
        lines += [f"      {o}" for o in result.observed]
    return lines


def _plain(results: Sequence[CaseResult], meta: Meta, out: IO[str], verbose: bool) -> None:
    width = max((len(r.case.id) for r in results), default=10)
    spec_w = min(max((len(r.case.spec) for r in results), default=8), 36)
    out.write(f"{'RESULT':6} {'CASE':{width}} {'SEV':6} {'SPEC':{spec_w}} TITLE\n")
    for r in results:
        spec = r.case.spec if len(r.case.spec) <= spec_w else r.case.spec[: spec_w - 1] + "…"
        out.write(
            f"{r.verdict.value:6} {r.case.id:{width}} {r.case.severity.value:6} {spec:{spec_w}} {r.case.title}\n"
        )
    shown = [r for r in results if r.verdict is not Verdict.PASS or verbose]
    for r in shown:
        body = _details(r, verbose)
        if body:
            out.write(f"\n{r.verdict.value} {r.case.id} [{r.case.severity.value}, {r.case.spec}]\n")
            out.write("\n".join(body) + "\n")
    _runs_plain(meta, out)
    out.write("\n" + summary_line(results, meta) + "\n")


def _runs_plain(meta: Meta, out: IO[str]) -> None:
    for run in meta.extra.get("client_runs", ()):
        out.write(
            f"\nclient run {run['name']!r}: exit status {run['exit_code']}"
            f"{' after ' + run['stopped'] if run['stopped'] else ''}, {run['sessions']} connection(s)\n"
        )
        for line in run["output_tail"]:
            out.write(f"    | {line}\n")


def render_table(
    results: Sequence[CaseResult], meta: Meta, out: IO[str], *, verbose: bool = False, plain: bool = False
) -> None:
    """The terminal report: rich if it is installed and ``plain`` is False."""
    if not plain:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            plain = True
    if plain:
        _plain(results, meta, out, verbose)
        return
    console = Console(file=out, highlight=False, soft_wrap=False)
    table = Table(show_lines=False, header_style="bold")
    for name in ("Result", "Case", "Sev", "Spec", "Title"):
        table.add_column(name, overflow="fold")
    for r in results:
        table.add_row(
            f"[{_STYLE[r.verdict]}]{r.verdict.value}[/]",
            r.case.id,
            r.case.severity.value,
            _escape(r.case.spec),
            _escape(r.case.title),
        )
    console.print(table)
    for r in results:
        body = _details(r, verbose)
        if body and (verbose or r.verdict is not Verdict.PASS):
            console.print(
                f"[{_STYLE[r.verdict]}]{r.verdict.value}[/] [bold]{r.case.id}[/] ({r.case.severity.value}, {_escape(r.case.spec)})"
            )
            console.print("\n".join(body), markup=False)
    if meta.extra.get("client_runs"):
        import io

        buf = io.StringIO()
        _runs_plain(meta, buf)
        console.print(buf.getvalue(), markup=False)
    failed = exit_status(results) != EXIT_OK
    console.print(f"[{'bold red' if failed else 'bold green'}]{_escape(summary_line(results, meta))}[/]")


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


# -- JSON ------------------------------------------------------------------------------


def _case_json(r: CaseResult, verbose: bool) -> dict[str, Any]:
    c = r.case
    return {
        "id": c.id,
        "title": c.title,
        "area": c.area,
        "spec": c.spec,
        "role": c.role.value,
        "severity": c.severity.value,
        "checklist": list(c.checklist),
        "verdict": r.verdict.value,
        "outcome": r.outcome.value,
        "message": r.message,
        "notes": list(r.notes),
        "duration": round(r.duration, 4),
        "observed": list(r.observed) if (verbose or r.verdict is not Verdict.PASS) else [],
    }


def to_json(results: Sequence[CaseResult], meta: Meta, *, verbose: bool = False) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "suite": meta.suite,
        "target": meta.target,
        "strict": meta.strict,
        "started": meta.started.isoformat(),
        "duration": round(meta.duration, 3),
        "passed": exit_status(results) == EXIT_OK,
        "exit_status": exit_status(results),  # 0 passed, 1 a FAIL or ERROR, 3 a must case skipped
        "summary": summary(results),
        "cases": [_case_json(r, verbose) for r in results],
        **meta.extra,
    }


def write_json(path: str | Path, results: Sequence[CaseResult], meta: Meta, *, verbose: bool = False) -> None:
    Path(path).write_text(
        json.dumps(to_json(results, meta, verbose=verbose), indent=2, ensure_ascii=False) + "\n"
    )


# -- JUnit XML ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def _evidence(r: CaseResult) -> str:
    lines = [r.message] if r.message else []
    lines += [f"note: {n}" for n in r.notes]
    if r.observed:
        lines.append("observed:")
        lines += [f"  {o}" for o in r.observed]
    return _clean("\n".join(lines))


def to_junit(results: Sequence[CaseResult], meta: Meta) -> ET.ElementTree:
    """One <testsuite> for the run and one <testcase> per case.

    FAIL is a <failure>, ERROR an <error>, SKIP <skipped>; WARN (a should/may case that
    failed where the mode tolerates it) passes, with the evidence in <system-out>, so CI
    stays green but shows it. classname is ``SUITE.AREA``; the spec and severity are
    testcase properties.
    """
    counts = summary(results)
    attrs_ = {
        "name": f"{TOOL}.{meta.suite}",
        "tests": str(len(results)),
        "failures": str(counts["FAIL"]),
        "errors": str(counts["ERROR"]),
        "skipped": str(counts["SKIP"]),
        "time": f"{meta.duration:.3f}",
        "timestamp": meta.started.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    root = ET.Element(
        "testsuites",
        name=TOOL,
        tests=attrs_["tests"],
        failures=attrs_["failures"],
        errors=attrs_["errors"],
        time=attrs_["time"],
    )
    suite = ET.SubElement(root, "testsuite", attrs_)
    props = ET.SubElement(suite, "properties")
    for name, value in (("target", meta.target), ("strict", str(meta.strict).lower())):
        ET.SubElement(props, "property", name=name, value=_clean(value))
    for r in results:
        c = r.case
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{meta.suite}.{c.area}",
            name=_clean(f"{c.id}: {c.title}"),
            time=f"{r.duration:.3f}",
        )
        cprops = ET.SubElement(case, "properties")
        for name, value in (
            ("spec", c.spec),
            ("severity", c.severity.value),
            ("checklist", ",".join(map(str, c.checklist))),
        ):
            ET.SubElement(cprops, "property", name=name, value=_clean(value))
        message = _clean(r.message[:500])
        if r.verdict is Verdict.FAIL:
            ET.SubElement(case, "failure", message=message, type=c.severity.value).text = _evidence(r)
        elif r.verdict is Verdict.ERROR:
            ET.SubElement(case, "error", message=message, type="error").text = _evidence(r)
        elif r.verdict is Verdict.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif r.verdict is Verdict.WARN:
            ET.SubElement(case, "system-out").text = _clean(
                f"WARN ({c.severity.value}, tolerated in this mode)\n"
            ) + _evidence(r)
    runs = meta.extra.get("client_runs")
    if runs:
        text = "\n".join(
            f"client run {run['name']}: exit {run['exit_code']} {run['stopped']}\n"
            + "\n".join(run["output_tail"])
            for run in runs
        )
        ET.SubElement(suite, "system-out").text = _clean(text)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: str | Path, results: Sequence[CaseResult], meta: Meta) -> None:
    to_junit(results, meta).write(path, encoding="utf-8", xml_declaration=True)
