"""Binding and unbinding on the ESME side (SMPP 3.4 §2.2-§2.3, §4.1, §4.2; checklist 24-25).

The client binds before anything else, as a 3.4 (or 5.0) ESME; at the end it unbinds
by itself and closes the connection only after our unbind_resp (which the harness sends
``--unbind-resp-delay`` late on purpose). In a second run of the client the harness
unbinds first: the client must answer with unbind_resp and send nothing after it.
"""

from __future__ import annotations

import trio

from conformance.esme.context import SMSC_UNBIND, EsmeCase, EsmeContext
from conformance.model import CaseFailed, CaseSkipped, Severity
from smppgw.core.constants import CommandId
from smppgw.core.pdu import Unbind

__all__ = ["CASES"]

_BINDS = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})


def _binds_first(ctx: EsmeContext) -> None:
    if not ctx.sessions:
        raise CaseSkipped("the client never connected")
    for s in ctx.sessions:
        if not s.requests:
            continue
        first = s.requests[0].frame
        if first.command_id in _BINDS:
            continue
        if first.command_id == CommandId.ENQUIRE_LINK and not ctx.strict:
            ctx.note(f"lenient mode: {s.name} opened with enquire_link before its bind (legal in v5.0)")
            continue
        ctx.cite(f"{s.name}: {first.describe()}")
        raise CaseFailed(f"the first request on {s.name} is {first.name}, not a bind")


def _interface_version(ctx: EsmeContext) -> None:
    binds = [(s, r.frame) for s in ctx.sessions for r in s.requests if r.frame.command_id in _BINDS]
    if not binds:
        raise CaseSkipped("the client never sent a bind")
    for s, frame in binds:
        version = frame.field("interface_version")
        if version not in (0x34, 0x50):
            ctx.cite(f"{s.name}: {frame.describe()}")
            shown = f"{version:#04x}" if isinstance(version, int) else "undecodable"
            raise CaseFailed(f"bind interface_version is {shown}; a 3.4 ESME sends 0x34")


def _unbinds_cleanly(ctx: EsmeContext) -> None:
    bound = [s for s in ctx.sessions if s.bind_mode is not None]
    if not bound:
        raise CaseSkipped("the client never bound")
    stopped = ctx.harness.info.stopped
    for s in bound:
        if s.smsc_unbind_at is not None:
            continue  # we unbound that one ourselves
        if s.unbind_at is None:
            how = f" (it was stopped with {stopped})" if stopped else ""
            raise CaseFailed(f"{s.name} ended without an unbind from the client{how}")
        if s.unbind_resp_at is None or (s.closed_at is not None and s.closed_at < s.unbind_resp_at - 1e-3):
            delay = ctx.settings.unbind_resp_delay
            raise CaseFailed(
                f"{s.name}: the client closed the connection before our unbind_resp "
                f"(which we sent {delay:g}s after its unbind)"
            )
    if stopped:
        ctx.note(f"the client unbound only after {stopped} (it did not finish within --wait)")


def _quiet_after_unbind(ctx: EsmeContext) -> None:
    for s in ctx.sessions:
        if s.unbind_at is None:
            continue
        late = [
            r.frame
            for r in s.requests
            if r.order > s.unbind_order
            and r.frame.command_id not in (CommandId.UNBIND, CommandId.ENQUIRE_LINK)
        ]
        if late:
            ctx.cite(f"{s.name}: {late[0].describe()}")
            raise CaseFailed(f"{s.name}: the client sent {late[0].name} after its own unbind")


async def _answers_unbind(ctx: EsmeContext) -> None:
    session = await ctx.session()
    await trio.sleep(0.2)  # let the client settle after its bind
    frame = await ctx.request(session, Unbind())
    if frame.command_id != CommandId.UNBIND_RESP or frame.status != 0:
        raise CaseFailed(f"unbind answered with {frame.describe()}, expected unbind_resp ESME_ROK")
    answered = max(r.order for r in session.responses if r.frame is frame)
    with trio.move_on_after(ctx.settings.quiet):
        await session.closed.wait()
    late = [
        r.frame
        for r in session.requests
        if r.order > answered and r.frame.command_id != CommandId.ENQUIRE_LINK
    ]
    if late:
        raise CaseFailed(f"after answering our unbind the client still sent {late[0].describe()}")


CASES = (
    EsmeCase(
        id="session.binds-first",
        title="The first request on every connection is a bind",
        spec="3.4 §2.3",
        severity=Severity.MUST,
        checklist=(19,),
        judge=_binds_first,
    ),
    EsmeCase(
        id="session.interface-version",
        title="The bind announces interface_version 0x34 (or 0x50)",
        spec="3.4 §4.1.1; §5.2.4",
        severity=Severity.SHOULD,
        checklist=(17,),
        judge=_interface_version,
    ),
    EsmeCase(
        id="session.unbinds-cleanly",
        title="The client ends each session with unbind and closes only after unbind_resp",
        spec="3.4 §4.2; §2.2; §2.8",
        severity=Severity.MUST,
        checklist=(24, 25),
        judge=_unbinds_cleanly,
        doc="The harness sends its unbind_resp --unbind-resp-delay late, so a client that closes "
        "without waiting is caught. A client still bound when --wait runs out gets SIGTERM and "
        "--grace seconds; unbinding then passes with a note.",
    ),
    EsmeCase(
        id="session.nothing-after-unbind",
        title="After its own unbind the client sends no new request",
        spec="3.4 §4.2",
        severity=Severity.SHOULD,
        checklist=(24,),
        judge=_quiet_after_unbind,
    ),
    EsmeCase(
        id="session.answers-smsc-unbind",
        title="An unbind from the SMSC gets unbind_resp ESME_ROK and no request follows it",
        spec="3.4 §4.2; §2.8",
        severity=Severity.MUST,
        checklist=(24,),
        drive=_answers_unbind,
        run=SMSC_UNBIND,
        doc="Runs in a second start of the client (or on its next connection without COMMAND).",
    ),
)
