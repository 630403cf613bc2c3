"""Run ESME cases: one harness and one client run per ``EsmeCase.run`` (see ``conformance.esme``).

For each client run: listen, start COMMAND (or wait for the client), drive the run's
active cases one after another (each bounded), then let the client finish by itself
until ``--wait`` is up; after that it gets SIGTERM and ``--grace`` seconds to unbind,
then SIGKILL. Only then are the judges run, over everything the run recorded.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from conformance.esme.context import MAIN, SMSC_UNBIND, EsmeCase, EsmeContext, EsmeSettings
from conformance.esme.harness import ClientRun, Harness, HarnessError
from conformance.model import (
    CaseError,
    CaseFailed,
    CaseResult,
    CaseSkipped,
    Outcome,
    Severity,
    stronger,
    verdict_for,
)
from smppgw.support.groups import leaves

__all__ = ["EsmeReport", "run_esme_cases"]

log = logging.getLogger(__name__)

Progress = Callable[[CaseResult], None]
_RUN_ORDER = (MAIN, SMSC_UNBIND)
_TAIL = 20  # transcript lines shown for a failed judge that cited nothing


@attrs.frozen
class EsmeReport:
    results: tuple[CaseResult, ...]
    runs: tuple[ClientRun, ...]


@attrs.define
class _Partial:
    outcome: Outcome = Outcome.PASSED
    message: str = ""
    finding: Severity | None = None  # a finding's own severity, when it has one
    started: float = 0.0
    ended: float = 0.0


async def _guard(ctx: EsmeContext, partial: _Partial, body: Callable[[], Awaitable[None]]) -> None:
    """Run a case body, turning its exceptions into the outcome."""
    try:
        await body()
    except CaseFailed as exc:
        partial.outcome, partial.message, partial.finding = Outcome.FAILED, str(exc), exc.severity
    except CaseSkipped as exc:
        partial.outcome, partial.message = Outcome.SKIPPED, str(exc)
    except CaseError as exc:
        partial.outcome, partial.message = Outcome.ERROR, str(exc)
    except Exception as exc:
        log.debug("case %s crashed", ctx.case.id, exc_info=True)
        partial.outcome, partial.message = Outcome.ERROR, f"suite error: {exc!r}"
        ctx.note("".join(traceback.format_exception_only(exc)).strip())


async def _drive(case: EsmeCase, ctx: EsmeContext, partial: _Partial, deadline: float) -> None:
    assert case.drive is not None
    drive = case.drive
    partial.started = trio.current_time()
    with trio.move_on_at(deadline) as scope:
        await _guard(ctx, partial, lambda: drive(ctx))
    if scope.cancelled_caught:
        partial.outcome, partial.message = (
            Outcome.SKIPPED,
            "the run's --wait budget ran out before the case finished",
        )
    partial.ended = trio.current_time()


def _judging(case: EsmeCase, ctx: EsmeContext) -> Callable[[], Awaitable[None]]:
    async def judge() -> None:
        assert case.judge is not None
        case.judge(ctx)

    return judge


def _observed(harness: Harness, ctx: EsmeContext, partial: _Partial) -> tuple[str, ...]:
    """What the case cited, plus the transcript while it was driven; a judge that failed
    without citing anything gets the end of the run's transcript."""
    lines = list(ctx.observed)
    t0 = harness.transcript.t0
    if partial.ended > partial.started:
        lines += [
            o.render(True)
            for o in harness.transcript.lines
            if partial.started - t0 - 1e-6 <= o.t <= partial.ended - t0 + 1e-6
        ]
    elif not lines and partial.outcome in (Outcome.FAILED, Outcome.ERROR):
        lines = [o.render(True) for o in harness.transcript.lines[-_TAIL:]]
    return tuple(lines)


async def _run_client(
    run: str, cases: Sequence[EsmeCase], settings: EsmeSettings, progress: Progress | None
) -> tuple[list[CaseResult], ClientRun]:
    plan = [(c.id, c.submits) for c in cases if c.drive is not None and c.submits]
    harness = Harness(settings, run, plan)
    contexts = {c.id: EsmeContext(case=c, harness=harness) for c in cases}
    partials = {c.id: _Partial() for c in cases}
    async with trio.open_nursery() as nursery:
        await nursery.start(harness.serve)
        if settings.command:
            await harness.start_client(nursery)
        end = harness.started_at + settings.wait
        for case in cases:
            if case.drive is not None:
                await _drive(case, contexts[case.id], partials[case.id], end)
                await harness.release(case.id)
        if not await harness.wait_finished(end) and settings.command:
            await harness.stop_client(settings.grace)
            await harness.wait_finished(trio.current_time() + 1.0)
        await harness.close_sessions()
        await harness.stop_client(settings.grace)
        harness.collect_output()
        nursery.cancel_scope.cancel()
    results = []
    for case in cases:
        ctx, partial = contexts[case.id], partials[case.id]
        if case.judge is not None and partial.outcome is Outcome.PASSED:
            await _guard(ctx, partial, _judging(case, ctx))
        severity = stronger(case.severity, partial.finding)
        if severity is not case.severity:
            ctx.note(f"judged as {severity.value}, not {case.severity.value}: the spec words this finding so")
        result = CaseResult(
            case=case,
            outcome=partial.outcome,
            verdict=verdict_for(partial.outcome, severity, settings.strict),
            message=partial.message,
            notes=tuple(ctx.notes),
            duration=max(0.0, partial.ended - partial.started),
            observed=_observed(harness, ctx, partial),
        )
        results.append(result)
        if progress is not None:
            progress(result)
    return results, harness.info


async def run_esme_cases(
    cases: Sequence[EsmeCase], settings: EsmeSettings, progress: Progress | None = None
) -> EsmeReport:
    """Run ``cases`` (in their order within each client run) against the client under test.

    Raises:
        HarnessError: cannot listen, or cannot start COMMAND.
    """
    by_id = {c.id: i for i, c in enumerate(cases)}
    results: list[CaseResult] = []
    runs: list[ClientRun] = []
    for run in _RUN_ORDER + tuple(sorted({c.run for c in cases} - set(_RUN_ORDER))):
        selected = [c for c in cases if c.run == run]
        if not selected:
            continue
        try:
            got, info = await _run_client(run, selected, settings, progress)
        except BaseExceptionGroup as group:
            # trio wraps the harness's own failure in a group: surface it as itself
            errors = leaves(group)
            if all(isinstance(e, HarnessError) for e in errors):
                raise errors[0] from None
            raise
        results += got
        runs.append(info)
    results.sort(key=lambda r: by_id[r.case.id])
    return EsmeReport(results=tuple(results), runs=tuple(runs))
