"""Windowing and sequence numbers (SMPP 3.4 §2.5.2, §3.2.1, §5.1.4; checklist 7-10, 49).

SMPP is asynchronous: an ESME may have many requests outstanding and the SMSC may answer
them in any order, each response echoing its request's sequence number. The ESME's
numbers need not be consecutive, the largest is 0x7FFFFFFF and after it comes 1; the two
directions of a transceiver session are independent sequence spaces.
"""

from __future__ import annotations

from conformance.model import CaseFailed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import MUST, SHOULD, case, good_message_id, is_receipt_for, query, submit
from conformance.smsc.steps import (
    ANY,
    Answer,
    Bind,
    Call,
    Check,
    Deliveries,
    ExpectDeliver,
    ExpectReply,
    Request,
    Send,
    Setup,
    Step,
    nack,
    resp,
)
from smppgw.core.constants import CommandId
from smppgw.core.pdu import EnquireLink
from smppgw.core.states import BindMode

__all__ = ["CASES"]

WINDOW = 10
MAX_SEQ = 0x7FFF_FFFF


def _pipelined() -> tuple[Step, ...]:
    sends = tuple(Send(save=f"p{i}", pdu=submit()) for i in range(WINDOW))
    replies = tuple(
        ExpectReply(to=f"p{i}", expect=(resp(0, good_message_id),), save=f"r{i}") for i in range(WINDOW)
    )
    return sends + replies


def _ids_distinct(ctx: SmscContext) -> str | None:
    ids = [ctx.message_id(f"r{i}") for i in range(WINDOW)]
    if len(set(ids)) != len(ids):
        return f"the {WINDOW} pipelined messages did not get {WINDOW} distinct message_ids: {ids}"
    return None


async def _no_redelivery(ctx: SmscContext) -> None:
    """The receipt answered with a re-used sequence number must not come back."""
    probe = await ctx.probe()
    where = is_receipt_for("s1")
    await probe.idle(ctx.settings.quiet)
    again = probe.take(lambda f: f.command_id == CommandId.DELIVER_SM and where(f, ctx))
    if again is not None:
        raise CaseFailed(
            f"the receipt (deliver_sm #{ctx.frame('r1').seq}), answered after our submit_sm with the "
            f"same sequence number, was delivered again ({again.describe()})"
        )


async def _submit_with_delivery_seq(ctx: SmscContext) -> None:
    """Send a submit_sm whose sequence number equals the SMSC's unanswered deliver_sm."""
    await Request(pdu=submit(), seq=ctx.frame("r1").seq, note="same number as the SMSC's deliver_sm").run(ctx)


CASES = (
    case(
        "window.pipelined-submits",
        f"{WINDOW} submit_sm sent without waiting are each answered ESME_ROK, echoing their numbers",
        "3.4 §2.5.2; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        *_pipelined(),
        Check(fn=_ids_distinct, title="the message_ids are distinct"),
        checklist=(7, 49),
    ),
    case(
        "window.sequence-max",
        "A submit_sm with sequence_number 0x7FFFFFFF is answered with that number",
        "3.4 §5.1.4; §3.2.1",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(), seq=MAX_SEQ),
        checklist=(7, 8),
    ),
    case(
        "window.sequence-wraps",
        "After sequence_number 0x7FFFFFFF the next request uses 1, and both are answered",
        "3.4 §5.1.4; §3.2.1",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(), seq=MAX_SEQ - 1),
        Request(pdu=submit(), seq=MAX_SEQ),
        Request(pdu=submit(), seq=1),
        Request(pdu=EnquireLink(), seq=2),
        checklist=(8,),
    ),
    case(
        "window.sequence-not-consecutive",
        "Sequence numbers need not be consecutive or increasing: 500, 3, 77 are each echoed",
        "3.4 §3.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(), seq=500),
        Request(pdu=submit(), seq=3),
        Request(pdu=EnquireLink(), seq=77),
        checklist=(7,),
    ),
    case(
        "window.mixed-pipeline",
        "submit_sm, enquire_link and query_sm in flight together each get their own response type",
        "3.4 §2.5.2; §3.2.1",
        MUST,
        Bind(mode=BindMode.TX),
        Send(save="a", pdu=submit()),
        Send(save="b", pdu=EnquireLink()),
        Send(save="c", pdu=query(message_id="CONF-NO-SUCH-ID")),
        Send(save="d", pdu=EnquireLink()),
        ExpectReply(to="d"),
        ExpectReply(to="c", expect=(resp(ANY), nack(ANY))),
        ExpectReply(to="b"),
        ExpectReply(to="a", expect=(resp(0, good_message_id),)),
        checklist=(7, 49),
    ),
    case(
        "window.directions-independent",
        "On a transceiver bind our sequence numbers and the SMSC's are independent",
        "3.4 §3.2.1; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Deliveries(auto=False),
        Setup(
            Request(pdu=submit(registered_delivery=1), save="s1"),
            ExpectDeliver(where=is_receipt_for("s1"), save="r1", what="the receipt of s1 (left unanswered)"),
        ),
        Call(fn=_submit_with_delivery_seq, title="submit_sm with the sequence number of that deliver_sm"),
        Answer(to="r1"),
        Deliveries(auto=True),
        Call(fn=_no_redelivery, title="the answered receipt must not be redelivered"),
        checklist=(9,),
    ),
)
