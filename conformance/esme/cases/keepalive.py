"""The ESME answers enquire_link (SMPP 3.4 §4.11).

enquire_link may come from either side (3.4 §4.11: "both"); an ESME that does not
answer one is declared dead by the SMSC and unbound.
"""

from __future__ import annotations

from conformance.esme.context import EsmeCase, EsmeContext
from conformance.model import CaseFailed, Severity
from smppgw.core.constants import CommandId
from smppgw.core.pdu import EnquireLink

__all__ = ["CASES"]

BURST = 3


async def _answers(ctx: EsmeContext) -> None:
    await ctx.session()
    live = [
        s for s in ctx.sessions if s.bind_mode is not None and not s.closed.is_set() and s.unbind_at is None
    ]
    for session in live:
        frame = await ctx.request(session, EnquireLink())
        if frame.command_id != CommandId.ENQUIRE_LINK_RESP or frame.status != 0:
            raise CaseFailed(f"enquire_link on {session.name} answered with {frame.describe()}")
        if len(frame.raw) != 16:
            raise CaseFailed(f"enquire_link_resp is {len(frame.raw)} octets; it is a 16-octet header")


async def _burst(ctx: EsmeContext) -> None:
    session = await ctx.session()
    for i in range(BURST):
        frame = await ctx.request(session, EnquireLink())
        if frame.command_id != CommandId.ENQUIRE_LINK_RESP or frame.status != 0:
            raise CaseFailed(f"enquire_link {i + 1} of {BURST} answered with {frame.describe()}")


CASES = (
    EsmeCase(
        id="keepalive.answers-enquire-link",
        title="enquire_link from the SMSC gets a 16-octet enquire_link_resp ESME_ROK on every bound session",
        spec="3.4 §4.11; §2.8",
        severity=Severity.MUST,
        drive=_answers,
        checklist=(29,),
    ),
    EsmeCase(
        id="keepalive.answers-repeated-enquire-link",
        title=f"{BURST} enquire_link in a row are each answered",
        spec="3.4 §4.11; §2.8",
        severity=Severity.MUST,
        drive=_burst,
        checklist=(29,),
    ),
)
