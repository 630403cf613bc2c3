"""Session timers (SMPP 3.4 §2.9, §7.2; SMPP-REFERENCE §4.3; checklist 18 and 32).

Timer values are carrier configuration, not protocol constants, so these cases take the
bounds from the command line (``--session-init-timeout``, ``--inactivity-timeout``) and
are ``should``/``may``: a carrier with a different value is not broken, only different.
"""

from __future__ import annotations

from conformance.model import CaseFailed, CaseSkipped
from conformance.smsc.context import SmscContext, SmscSettings
from conformance.smsc.factories import MAY, SHOULD, case
from conformance.smsc.steps import Bind, Call, ExpectClose, Request
from smppgw.core.constants import CommandId
from smppgw.core.pdu import EnquireLink
from smppgw.core.states import BindMode

__all__ = ["CASES"]


def _init_bound(ctx: SmscContext) -> float:
    return ctx.settings.session_init_timeout + ctx.settings.timeout


def _init_extra(settings: SmscSettings) -> float:
    return settings.session_init_timeout + settings.timeout


def _inactivity_extra(settings: SmscSettings) -> float:
    return (settings.inactivity_timeout or 0.0) + settings.timeout


async def _connect(ctx: SmscContext) -> None:
    await ctx.probe()


async def _idle_past_init(ctx: SmscContext) -> None:
    probe = await ctx.probe()
    await probe.idle(ctx.settings.session_init_timeout + 0.5)
    if probe.closed:
        raise CaseFailed(f"the SMSC closed a bound session: {probe.close_reason}")


async def _inactivity(ctx: SmscContext) -> None:
    """Silent bound session: the SMSC must unbind and/or close within the timer."""
    timer = ctx.settings.inactivity_timeout
    if timer is None:
        raise CaseSkipped("give --inactivity-timeout to test the SMSC's inactivity timer")
    probe = await ctx.probe()
    bound = timer + ctx.settings.timeout
    if await probe.wait_closed(bound):
        return
    if any(f.command_id == CommandId.UNBIND for f in probe.inbox):
        return
    raise CaseFailed(f"a silent session was neither unbound nor closed after {bound:g}s")


CASES = (
    case(
        "timers.session-init",
        "A connection that never binds is closed by the SMSC within --session-init-timeout",
        "3.4 §2.9; §7.2; carrier practice",
        SHOULD,
        Call(fn=_connect, title="connect and send nothing"),
        ExpectClose(within=_init_bound),
        checklist=(18,),
        extra_time=_init_extra,
        doc="Carriers use 5-60 s (smppex 10 s, cloudhopper 5 s). Set --session-init-timeout to the "
        "carrier's value; the default 60 s covers the common range.",
    ),
    case(
        "timers.bind-stops-session-init",
        "A bound session outlives the session_init timer",
        "3.4 §2.9; §7.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Call(fn=_idle_past_init, title="stay bound past --session-init-timeout"),
        Request(pdu=EnquireLink(), note="the session must still be up"),
        checklist=(18,),
        extra_time=_init_extra,
    ),
    case(
        "timers.inactivity",
        "A bound session with no traffic at all is unbound or closed after --inactivity-timeout",
        "3.4 §2.9; §7.2; carrier practice",
        MAY,
        Bind(mode=BindMode.TX),
        Call(fn=_inactivity, title="stay silent; expect unbind or close"),
        checklist=(32,),
        extra_time=_inactivity_extra,
        doc="Skipped unless --inactivity-timeout is given. The suite answers the SMSC's own "
        "enquire_link, which an SMSC may count as traffic.",
    ),
)
