"""enquire_link (SMPP 3.4 §4.11; v5.0 §4.1.2; checklist 29-30).

The SMSC answers enquire_link in every bound state with a 16-octet enquire_link_resp,
status 0, same sequence number; it does so for a burst, and without waiting for a
submit_sm it is still working on. Before a bind, v5.0 makes it legal too.
"""

from __future__ import annotations

from conformance.model import CaseFailed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import MAY, MUST, SHOULD, case, submit
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import Bind, Call, ExpectReply, Request, Send, resp
from conformance.wire import Frame, encode
from smppgw.core.constants import CommandId
from smppgw.core.pdu import EnquireLink
from smppgw.core.states import BindMode

__all__ = ["CASES"]

BURST = 20


def _header_only(frame: Frame, ctx: SmscContext) -> str | None:
    return None if len(frame.raw) == 16 else f"enquire_link_resp is {len(frame.raw)} octets, not 16"


ANSWERED = Request(pdu=EnquireLink(), expect=(resp(0, _header_only),))


def _in_state(mode: BindMode) -> SmscCase:
    return case(
        f"enquire_link.bound-{mode.name.lower()}",
        f"enquire_link on a {mode.value} bind gets a 16-octet enquire_link_resp ESME_ROK",
        "3.4 §4.11; §2.8",
        MUST,
        Bind(mode=mode),
        ANSWERED,
        checklist=(29,),
    )


async def _burst(ctx: SmscContext) -> None:
    probe = await ctx.probe()
    first = probe.next_seq()
    seqs = [first + i for i in range(BURST)]
    for _ in seqs[1:]:
        probe.next_seq()
    await probe.send(b"".join(encode(EnquireLink(), s) for s in seqs), f"{BURST} enquire_link in one write")
    for seq in seqs:
        frame = await probe.wait_reply(seq, ctx.settings.timeout)
        if frame is None:
            raise CaseFailed(
                f"enquire_link #{seq} of the burst was not answered within {ctx.settings.timeout:g}s"
            )
        if frame.command_id != CommandId.ENQUIRE_LINK_RESP or frame.status:
            raise CaseFailed(f"enquire_link #{seq} answered with {frame.describe()}")


CASES = (
    _in_state(BindMode.TX),
    _in_state(BindMode.RX),
    _in_state(BindMode.TRX),
    case(
        "enquire_link.before-bind",
        "enquire_link before any bind gets enquire_link_resp ESME_ROK",
        "5.0 §4.1.2; 3.4 §4.11",
        MAY,
        ANSWERED,
        checklist=(30,),
        doc="3.4's state table lists enquire_link for bound states only; v5.0 allows it in OPEN.",
    ),
    case(
        "enquire_link.burst",
        f"{BURST} enquire_link written at once are each answered with their own sequence number",
        "3.4 §4.11; §2.5.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Call(fn=_burst, title=f"{BURST} pipelined enquire_link, {BURST} enquire_link_resp"),
        checklist=(29,),
    ),
    case(
        "enquire_link.while-submit-pending",
        "enquire_link sent right after a submit_sm is answered too (nothing waits behind the submit)",
        "3.4 §4.11",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="s1", pdu=submit()),
        Request(pdu=EnquireLink()),
        ExpectReply(to="s1"),
        checklist=(29,),
    ),
)
