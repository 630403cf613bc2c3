"""Flow control and sequence numbers on the ESME side (SMPP 3.4 §2.5.2, §3.2.1, §4.3, §5.1.3-§5.1.4;
v5.0 §2.6; checklist 6-8, 10, 46, 48).

Active cases hold back some of the client's submit_sm: one is answered with generic_nack
(the client must survive it), one with ESME_RTHROTTLED (the client must pause before it
submits again on that bind, then resubmit), and up to ``--client-window`` are left unanswered
(the client must not send more than its window). Passive cases then judge every request
the client sent during the run: sequence numbers in range, increasing, never reused
while in flight, command_status 0, and every response matching one of our requests.
"""

from __future__ import annotations

import itertools
from typing import Final

import trio

from conformance.esme.context import EsmeCase, EsmeContext, HeldRequest
from conformance.esme.session import UNWINDOWED
from conformance.model import CaseFailed, CaseSkipped, Severity
from conformance.wire import Frame
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import EnquireLink
from smppgw.core.session import MAX_SEQUENCE_NUMBER

__all__ = ["CASES"]

#: Submits the client sent before it could have seen our answer are not held against it.
IN_FLIGHT_GRACE: Final = 0.1
_SUBMITS: Final = frozenset({CommandId.SUBMIT_SM, CommandId.DATA_SM, CommandId.SUBMIT_MULTI})


async def _survives_nack(ctx: EsmeContext) -> None:
    held = await ctx.submit()
    await held.nack(CommandStatus.ESME_RSYSERR)
    await trio.sleep(ctx.settings.quiet)
    if held.session.closed.is_set():
        raise CaseFailed("the client closed the connection after a generic_nack for one submit_sm")
    frame = await ctx.request(held.session, EnquireLink())
    if frame.command_id != CommandId.ENQUIRE_LINK_RESP or frame.status != 0:
        raise CaseFailed(f"after the generic_nack the session no longer works: {frame.describe()}")


def _same_message(a: Frame, b: Frame) -> bool:
    fields = ("destination_addr", "short_message", "tlvs")
    return a.command_id == b.command_id and all(a.field(f) == b.field(f) for f in fields)


async def _backs_off(ctx: EsmeContext) -> None:
    held = await ctx.submit()
    answered = trio.current_time()  # before sending: the reader may book the reply first
    await held.respond(CommandStatus.ESME_RTHROTTLED)
    ctx.shared["throttled"], ctx.shared["throttled_at"] = held, answered
    backoff = ctx.settings.throttle_backoff
    await trio.sleep(backoff)
    # Any submit after the grace, and the throttled message itself at any time, is too early.
    early = [
        r.frame.describe()
        for r in held.session.requests
        if r.frame.command_id in _SUBMITS
        and answered < r.at < answered + backoff
        and (r.at > answered + IN_FLIGHT_GRACE or _same_message(r.frame, held.frame))
    ]
    if early:
        for line in early:
            ctx.cite(line)
        raise CaseFailed(
            f"{len(early)} submit_sm within {backoff:g}s of ESME_RTHROTTLED on the same bind "
            "(carrier practice: pause that bind, then resubmit)"
        )


def _resubmitted(ctx: EsmeContext) -> None:
    held = ctx.shared.get("throttled")
    if not isinstance(held, HeldRequest):
        raise CaseSkipped("no submit_sm was throttled in this run (flow.throttle-backoff did not run)")
    later = [
        r for s in ctx.sessions for r in s.requests if r.at > held.at and _same_message(r.frame, held.frame)
    ]
    if not later:
        ctx.cite(held.frame.describe())
        answered = float(ctx.shared.get("throttled_at", held.at))
        seen = [r.at for s in ctx.sessions for r in s.requests] + [s.closed_at or 0.0 for s in ctx.sessions]
        watched = max(0.0, max(seen, default=answered) - answered)
        # Only what was seen: a client may resend later than this run lasted (Kannel: 60 s).
        raise CaseFailed(
            f"the throttled message was not resubmitted within {watched:.0f} s of ESME_RTHROTTLED "
            "(until the client's run ended; a longer --wait would show a later resubmission)"
        )


async def _respects_window(ctx: EsmeContext) -> None:
    window = ctx.settings.window
    held: list[HeldRequest] = []
    try:
        deadline = trio.current_time() + ctx.settings.timeout
        while len(held) < window and trio.current_time() < deadline:
            try:
                with trio.move_on_at(deadline):
                    held.append(await ctx.submit())
            except CaseSkipped:
                break
        await trio.sleep(ctx.settings.quiet)  # does a submit beyond the window arrive?
        sessions = {h.session for h in held}
        worst = max((s.max_outstanding for s in ctx.sessions), default=0)
        for session in ctx.sessions:
            if session.max_outstanding > window:
                over = [f.describe() for f in session.outstanding.values() if f.command_id not in UNWINDOWED]
                for line in over[-5:]:
                    ctx.cite(line)
                raise CaseFailed(
                    f"{session.max_outstanding} requests were outstanding at once on {session.name}; "
                    f"--client-window is {window}"
                )
        if not held:
            raise CaseSkipped("the client sent no submit_sm to hold")
        if len(held) < window:
            ctx.note(
                f"only {len(held)} submit_sm held back on {len(sessions)} session(s) (at most {worst} outstanding); "
                f"the window of {window} was never filled"
            )
    finally:
        for h in held:
            if not h.answered:
                await h.respond()


def _seq_in_range(ctx: EsmeContext) -> None:
    bad = [
        f"{s.name}: {r.frame.describe()}"
        for s in ctx.sessions
        for r in s.requests
        if not 1 <= r.frame.seq <= MAX_SEQUENCE_NUMBER
    ]
    if bad:
        for line in bad[:10]:
            ctx.cite(line)
        raise CaseFailed(f"{len(bad)} request(s) use a sequence number outside 1..0x7FFFFFFF")
    if not any(s.requests for s in ctx.sessions):
        raise CaseSkipped("the client sent no request")


def _seq_unique(ctx: EsmeContext) -> None:
    reused = [f"{s.name}: {text}" for s in ctx.sessions for text in s.reused]
    if reused:
        for line in reused[:10]:
            ctx.cite(line)
        raise CaseFailed(f"{len(reused)} request(s) reuse a sequence number still in flight")


def _seq_increasing(ctx: EsmeContext) -> None:
    for s in ctx.sessions:
        seqs = [r.frame.seq for r in s.requests]
        for before, after in itertools.pairwise(seqs):
            wrapped = before == MAX_SEQUENCE_NUMBER and after == 1
            if after <= before and not wrapped:
                ctx.cite(f"{s.name}: sequence {before} then {after}")
                raise CaseFailed(f"on {s.name} the sequence numbers go from {before} back to {after}")


def _status_zero(ctx: EsmeContext) -> None:
    bad = [f"{s.name}: {r.frame.describe()}" for s in ctx.sessions for r in s.requests if r.frame.status != 0]
    if bad:
        for line in bad[:10]:
            ctx.cite(line)
        raise CaseFailed(f"{len(bad)} request(s) carry a non-zero command_status")


def _responses_match(ctx: EsmeContext) -> None:
    problems = []
    for s in ctx.sessions:
        for r in s.responses:
            frame = r.frame
            sent = s.sent.get(frame.seq)
            if sent is None:
                problems.append(f"{s.name}: {frame.describe()} answers nothing we sent")
            elif frame.command_id not in (sent | 0x8000_0000, CommandId.GENERIC_NACK):
                problems.append(f"{s.name}: {frame.describe()} answers a {CommandId(sent).name.lower()}")
    if problems:
        for line in problems[:10]:
            ctx.cite(line)
        raise CaseFailed(problems[0])


def _no_nack_to_valid(ctx: EsmeContext) -> None:
    nacks = [
        f"{s.name}: {r.frame.describe()}"
        for s in ctx.sessions
        for r in s.responses
        if r.frame.command_id == CommandId.GENERIC_NACK
    ]
    if nacks:
        for line in nacks[:10]:
            ctx.cite(line)
        raise CaseFailed(f"the client answered {len(nacks)} valid PDU(s) of ours with generic_nack")


def _case(
    id_: str, title: str, spec: str, severity: Severity, checklist: tuple[int, ...], **kw: object
) -> EsmeCase:
    return EsmeCase(id=id_, title=title, spec=spec, severity=severity, checklist=checklist, **kw)  # type: ignore[arg-type]


CASES = (
    _case(
        "flow.survives-generic-nack",
        "A submit_sm answered with generic_nack does not break the session",
        "3.4 §4.3; carrier practice",
        Severity.SHOULD,
        (49,),
        drive=_survives_nack,
        submits=1,
        doc="3.4 §4.3 defines generic_nack but never says what its receiver does next; keeping the "
        "session (and answering enquire_link on it) is carrier practice, hence should.",
    ),
    _case(
        "flow.throttle-backoff",
        "After ESME_RTHROTTLED the client sends no submit_sm on that bind for --throttle-backoff seconds",
        "3.4 §5.1.3; carrier practice",
        Severity.SHOULD,
        (46,),
        drive=_backs_off,
        submits=1,
        doc=f"Other submits arriving within {IN_FLIGHT_GRACE}s of the answer were in flight and are not "
        "counted; the throttled message itself coming back within the back-off always is.",
    ),
    _case(
        "flow.throttled-resubmitted",
        "A message refused with ESME_RTHROTTLED is submitted again later (it is transient)",
        "3.4 §5.1.3; carrier practice",
        Severity.SHOULD,
        (46,),
        judge=_resubmitted,
    ),
    _case(
        "flow.window-respected",
        "With submit_sm left unanswered the client never has more than --client-window requests outstanding",
        "3.4 §2.5.2; carrier practice",
        Severity.SHOULD,
        (48,),
        drive=_respects_window,
        submits=10_000,
        doc="3.4 §2.5.2 leaves the number of outstanding operations to the implementation ('it is "
        "recommended that no more than 10 (ten) SMPP messages are outstanding'); a window agreed with "
        "the carrier is carrier practice, hence should. The harness holds back up to --client-window "
        "submit_sm for --timeout seconds, then watches for --quiet seconds whether one more arrives.",
    ),
    _case(
        "flow.sequence-in-range",
        "Every request uses a sequence_number in 1..0x7FFFFFFF",
        "3.4 §3.2.1; §5.1.4",
        Severity.MUST,
        (8,),
        judge=_seq_in_range,
    ),
    _case(
        "flow.sequence-unique-in-flight",
        "No request reuses the sequence_number of a request still awaiting its response",
        "3.4 §4.4.1; §3.2.1",
        Severity.MUST,
        (10,),
        judge=_seq_unique,
    ),
    _case(
        "flow.sequence-increasing",
        "Sequence numbers increase monotonically on each session (wrapping from 0x7FFFFFFF to 1)",
        "3.4 §3.2.1; 5.0 §4.7.24",
        Severity.SHOULD,
        (8,),
        judge=_seq_increasing,
    ),
    _case(
        "flow.request-status-zero",
        "Every request the client sends carries command_status 0",
        "3.4 §3.2.1; §5.1.3",
        Severity.MUST,
        (6,),
        judge=_status_zero,
    ),
    _case(
        "flow.responses-match-requests",
        "Every response the client sends echoes one of our requests' sequence_number and command_id",
        "3.4 §3.2.1; §5.1.4",
        Severity.MUST,
        (7,),
        judge=_responses_match,
    ),
    _case(
        "flow.no-generic-nack-to-valid-pdus",
        "The client never answers our valid PDUs with generic_nack",
        "3.4 §4.3",
        Severity.SHOULD,
        (33,),
        judge=_no_nack_to_valid,
    ),
)
