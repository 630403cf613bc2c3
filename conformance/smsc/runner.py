"""Run SMSC cases: each on fresh connections, bounded in time, always cleaned up.

``run_smsc_cases`` runs the cases one after the other. A case's steps run inside
``trio.fail_after`` (the case's limit), and whatever happens (a finding, a suite bug,
Ctrl-C) the context's ``cleanup`` unbinds every bound connection (bounded) and closes
them all, so a run never leaves a bind behind on the SMSC under test.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence

import attrs
import trio

from conformance.model import (
    Case,
    CaseError,
    CaseFailed,
    CaseResult,
    CaseSkipped,
    Outcome,
    Role,
    Severity,
    stronger,
    verdict_for,
)
from conformance.probe import Transcript
from conformance.smsc.context import SmscContext, SmscSettings
from conformance.smsc.exchange import Step

__all__ = ["Progress", "SmscCase", "run_smsc_case", "run_smsc_cases"]

log = logging.getLogger(__name__)

Progress = Callable[[CaseResult], None]


@attrs.frozen(kw_only=True)
class SmscCase(Case):
    """A case against an SMSC: a script of steps (``conformance.smsc.steps``).

    ``extra_time`` adds to the per-case limit for cases that wait on a timer of the SMSC.
    """

    role: Role = Role.SMSC
    steps: tuple[Step, ...] = ()
    extra_time: Callable[[SmscSettings], float] | None = None

    def limit(self, settings: SmscSettings) -> float:
        extra = self.extra_time(settings) if self.extra_time is not None else 0.0
        return settings.case_limit + extra

    def explain(self) -> list[str]:
        return [step.explain() for step in self.steps]


async def run_smsc_case(case: SmscCase, settings: SmscSettings) -> CaseResult:
    t0 = trio.current_time()
    ctx = SmscContext(settings, Transcript(t0))
    outcome, message = Outcome.PASSED, ""
    finding: Severity | None = None
    try:
        with trio.fail_after(case.limit(settings)):
            for step in case.steps:
                await step.run(ctx)
    except CaseFailed as exc:
        outcome, message, finding = Outcome.FAILED, str(exc), exc.severity
    except CaseSkipped as exc:
        outcome, message = Outcome.SKIPPED, str(exc)
    except CaseError as exc:
        outcome, message = Outcome.ERROR, str(exc)
    except trio.TooSlowError:
        outcome, message = Outcome.FAILED, f"the case did not finish within {case.limit(settings):g}s"
    except Exception as exc:
        log.debug("case %s crashed", case.id, exc_info=True)
        outcome, message = Outcome.ERROR, f"suite error: {exc!r}"
        ctx.note("".join(traceback.format_exception_only(exc)).strip())
    finally:
        await ctx.cleanup()
    severity = stronger(case.severity, finding)
    if severity is not case.severity:
        ctx.note(f"judged as {severity.value}, not {case.severity.value}: the spec words this finding so")
    return CaseResult(
        case=case,
        outcome=outcome,
        verdict=verdict_for(outcome, severity, settings.strict),
        message=message,
        notes=tuple(ctx.notes),
        duration=trio.current_time() - t0,
        observed=ctx.transcript.render(),
    )


async def run_smsc_cases(
    cases: Sequence[SmscCase], settings: SmscSettings, progress: Progress | None = None
) -> list[CaseResult]:
    results = []
    for case in cases:
        result = await run_smsc_case(case, settings)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
