"""What a conformance case is, and what running one produced.

A case is data: an id, a title, the spec section it is tied to, the role it tests (the
peer under test: an SMSC or an ESME), an area and a severity. The severity says how much
the spec insists, and with ``--strict`` it decides the verdict:

============  ============================  ============================
severity      failed, lenient mode          failed, strict mode
============  ============================  ============================
``must``      FAIL                          FAIL
``should``    WARN (reported, exit 0)       FAIL
``may``       WARN                          WARN
============  ============================  ============================

Where real SMSCs legitimately differ (a generic_nack instead of the matching *_resp, a
12-digit receipt date), a case accepts the variant only in lenient mode: the step that
sees it passes with a note in lenient mode and fails in strict mode.

Running a case gives an ``Outcome`` (passed, failed, skipped, error); severity and the
mode turn it into a ``Verdict``. An ERROR is the suite's own trouble or an unmet
precondition (cannot connect, cannot bind, a setup step the case needs went wrong): it
always counts as a failure of the run, but it is never a FAIL of the case's own
requirement. A finding the spec words more strongly than the case (a response whose
command_id is not its request's, 3.4 §3.2, in a should case) carries its own severity
(``CaseFailed(severity=MUST)``) and is judged at the stronger of the two.

The exit status of a run (``exit_status``): 0 every case ran and none failed (WARN
included), 1 a case FAILed or ERRORed, 3 none failed but a must case was SKIPPED (could
not be judged in this run, so the run does not show the peer conforms); 2 is bad usage.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Sequence
from typing import TypeVar

import attrs

from smppgw.core.states import Role

__all__ = [
    "EXIT_FAILED",
    "EXIT_MUST_SKIPPED",
    "EXIT_OK",
    "Case",
    "CaseError",
    "CaseFailed",
    "CaseResult",
    "CaseSkipped",
    "Outcome",
    "Role",
    "Severity",
    "Verdict",
    "exit_status",
    "select_cases",
    "stronger",
    "verdict_for",
    "wrong_response",
]

#: Exit statuses of a run (``exit_status``); 2 is bad usage (``smppgw.support.cli``).
EXIT_OK, EXIT_FAILED, EXIT_MUST_SKIPPED = 0, 1, 3


class Severity(enum.Enum):
    """How strongly the spec requires the behaviour (RFC 2119 words, as the spec uses them)."""

    MUST = "must"
    SHOULD = "should"
    MAY = "may"


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


class Verdict(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    ERROR = "ERROR"

    @property
    def is_failure(self) -> bool:
        return self in (Verdict.FAIL, Verdict.ERROR)


_RANK = {Severity.MAY: 0, Severity.SHOULD: 1, Severity.MUST: 2}


def stronger(a: Severity, b: Severity | None) -> Severity:
    """The stronger of a case's severity and a finding's own (None: the case's)."""
    return a if b is None or _RANK[a] >= _RANK[b] else b


def exit_status(results: Iterable[CaseResult]) -> int:
    """0, 1 or 3 (see the module docstring)."""
    results = list(results)
    if any(r.verdict.is_failure for r in results):
        return EXIT_FAILED
    if any(r.verdict is Verdict.SKIP and r.case.severity is Severity.MUST for r in results):
        return EXIT_MUST_SKIPPED
    return EXIT_OK


def verdict_for(outcome: Outcome, severity: Severity, strict: bool) -> Verdict:
    """The verdict of ``outcome`` for a case of ``severity`` (see the module docstring)."""
    if outcome is Outcome.PASSED:
        return Verdict.PASS
    if outcome is Outcome.SKIPPED:
        return Verdict.SKIP
    if outcome is Outcome.ERROR:
        return Verdict.ERROR
    if severity is Severity.MUST or (severity is Severity.SHOULD and strict):
        return Verdict.FAIL
    return Verdict.WARN


class CaseFailed(Exception):
    """The peer under test did not behave as the case requires.

    ``severity``: how strongly the spec words this particular finding, when that is
    stronger than the case's own severity (the verdict takes the stronger)."""

    def __init__(self, message: str, *, severity: Severity | None = None) -> None:
        super().__init__(message)
        self.severity = severity


class CaseSkipped(Exception):
    """The case cannot be judged here (not applicable, or the peer never gave the chance)."""


class CaseError(Exception):
    """A precondition failed (cannot connect or bind) or the suite itself went wrong."""


def wrong_response(request_id: int, seq: int, response_id: int, got: str) -> CaseFailed | None:
    """A response whose command_id is neither its request's | 0x80000000 nor generic_nack:
    a must-level finding (3.4 §3.2: a response's command_id is its request's with bit 31
    set), whatever the case it arrives in. None if the command_id is right."""
    if response_id in (request_id | 0x8000_0000, _GENERIC_NACK):
        return None
    return CaseFailed(
        f"request #{seq} (command_id 0x{request_id:08X}) was answered with {got}: a response's command_id "
        f"must be its request's | 0x80000000 (3.4 §3.2)",
        severity=Severity.MUST,
    )


_GENERIC_NACK = 0x8000_0000


@attrs.frozen(kw_only=True)
class Case:
    """The metadata every case has, in both suites.

    ``id`` is ``area.slug`` (``framing.length-below-16``); ``spec`` cites the section
    (``3.4 §3.2.1``, checked against the 3.4 Issue 1.2 text);
    ``checklist`` lists the items of SMPP-REFERENCE §8 the case covers.
    """

    id: str
    title: str
    spec: str
    role: Role
    severity: Severity
    checklist: tuple[int, ...] = ()
    doc: str = ""

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


@attrs.frozen(kw_only=True)
class CaseResult:
    """What happened when one case ran. ``observed`` is the transcript of the PDUs."""

    case: Case
    outcome: Outcome
    verdict: Verdict
    message: str = ""
    notes: tuple[str, ...] = ()
    duration: float = 0.0
    observed: tuple[str, ...] = ()


C = TypeVar("C", bound=Case)


def _matches(case: Case, pattern: str) -> bool:
    """An id, an area, or a glob over ids (``submit.*``, ``*nack*``)."""
    pattern = pattern.strip()
    return case.id == pattern or case.area == pattern or fnmatch.fnmatchcase(case.id, pattern)


def select_cases(cases: Sequence[C], only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[C]:
    """The cases selected by ``--only`` (any pattern matches) minus ``--skip``, in order.

    Patterns may be comma-separated. Raises ValueError naming a pattern that selects
    nothing, so a typo is never a silently empty run.
    """
    only_list = [p for item in only for p in item.split(",") if p.strip()]
    skip_list = [p for item in skip for p in item.split(",") if p.strip()]
    for pattern in only_list + skip_list:
        if not any(_matches(c, pattern) for c in cases):
            raise ValueError(f"no case matches {pattern.strip()!r}")
    chosen = [c for c in cases if not only_list or any(_matches(c, p) for p in only_list)]
    return [c for c in chosen if not any(_matches(c, p) for p in skip_list)]
