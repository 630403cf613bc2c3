"""Message management: query_sm, cancel_sm, replace_sm (SMPP 3.4 §4.8-§4.10; checklist 52-54).

Each case first submits a message and then acts on the message_id the SMSC returned.
A message scheduled a day ahead (schedule_delivery_time 000001000000000R) is pending for
certain, so cancel_sm and replace_sm on it must succeed; once a message is final both
must fail. replace_sm has no service_type: a successful replace also shows the SMSC
reads message_id as its first field (checklist 54).
"""

from __future__ import annotations

from typing import Final

import trio

from conformance.model import CaseFailed, CaseSkipped
from conformance.probe import Closed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import (
    SHOULD,
    cancel,
    case,
    is_receipt_for,
    query,
    receipt_of,
    replace,
    submit,
)
from conformance.smsc.steps import ERROR, Bind, Call, ExpectDeliver, FrameCheck, Request, Setup, nack, resp
from conformance.wire import Frame
from smppgw.core.constants import CommandStatus, MessageState
from smppgw.core.states import BindMode

__all__ = ["CASES"]

S = CommandStatus
ONE_DAY: Final = "000001000000000R"
NO_SUCH_ID: Final = "CONF-NO-SUCH-ID"
_STATES: Final = frozenset(int(m) for m in MessageState)
_PENDING: Final = frozenset({MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.ACCEPTED})


def _query_resp_ok(name: str) -> FrameCheck:
    def check(frame: Frame, ctx: SmscContext) -> str | None:
        if frame.field("message_id") != ctx.message_id(name):
            return f"query_sm_resp message_id {frame.field('message_id')!r} is not the queried {ctx.message_id(name)!r}"
        state = frame.field("message_state")
        if state not in _STATES:
            return f"message_state {state!r} is not a 3.4 §5.2.28 value"
        final_date = frame.field("final_date", "")
        if state in _PENDING and final_date:
            return f"a pending message ({MessageState(state).name}) has final_date {final_date!r}"
        return None

    return check


def _state_is(wanted: MessageState) -> FrameCheck:
    def check(frame: Frame, ctx: SmscContext) -> str | None:
        state = frame.field("message_state")
        return None if state == wanted else f"message_state {state!r}, expected {int(wanted)} ({wanted.name})"

    return check


async def _wait_final(ctx: SmscContext) -> None:
    """Poll query_sm until s1 is final; skip when query_sm cannot tell."""
    probe = await ctx.probe()
    deadline = trio.current_time() + ctx.settings.receipt_timeout
    while True:
        try:
            seq = await probe.send_pdu(query(of="s1")(ctx))
            frame = await probe.wait_reply(seq, ctx.settings.timeout)
        except Closed as exc:
            raise CaseFailed(f"connection closed while polling query_sm: {exc}") from None
        if frame is None or frame.status != 0:
            raise CaseSkipped(
                f"query_sm cannot tell when the message is final ({frame.describe() if frame else 'no answer'})"
            )
        if frame.field("message_state") not in _PENDING:
            return
        if trio.current_time() >= deadline:
            raise CaseSkipped(f"the message was not final within {ctx.settings.receipt_timeout:g}s")
        await probe.idle(0.2)


async def _same_state(ctx: SmscContext) -> None:
    receipt = receipt_of(ctx.frame("r1"))
    if receipt is None or receipt.state is None:
        raise CaseSkipped("the receipt reports no state to compare")
    await Request(
        pdu=query(of="s1"),
        expect=(resp(0, _state_is(receipt.state)),),
        lenient=(resp(ERROR), nack(ERROR)),
    ).run(ctx)


CASES = (
    case(
        "manage.query-submitted",
        "query_sm for a submitted message returns its message_id and a valid message_state",
        "3.4 §4.8.1-§4.8.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(), save="s1")),
        Request(pdu=query(of="s1"), expect=(resp(0, _query_resp_ok("s1")),)),
        checklist=(52,),
    ),
    case(
        "manage.query-unknown",
        "query_sm for an unknown message_id gets ESME_RQUERYFAIL or ESME_RINVMSGID",
        "3.4 §4.8; §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            pdu=query(message_id=NO_SUCH_ID),
            expect=(resp((S.ESME_RQUERYFAIL, S.ESME_RINVMSGID)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(52,),
    ),
    case(
        "manage.query-wrong-source",
        "query_sm with a source_addr other than the original's gets ESME_RQUERYFAIL or ESME_RINVMSGID",
        "3.4 §4.8.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(), save="s1")),
        Request(
            pdu=query(of="s1", source_addr="447700900999"),
            expect=(resp((S.ESME_RQUERYFAIL, S.ESME_RINVMSGID, S.ESME_RINVSRCADR)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(52,),
        doc='3.4 §4.8.1: source_addr "must match" the original submission (for verification).',
    ),
    case(
        "manage.cancel-scheduled",
        "cancel_sm of a message scheduled one day ahead succeeds; query_sm then says DELETED",
        "3.4 §4.9.1-§4.9.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(schedule_delivery_time=ONE_DAY), save="s1")),
        Request(pdu=cancel(of="s1")),
        Request(
            pdu=query(of="s1"),
            expect=(resp(0, _state_is(MessageState.DELETED)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(53,),
    ),
    case(
        "manage.cancel-by-address",
        "cancel_sm with a NULL message_id cancels the pending messages from source to destination",
        "3.4 §4.9.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(schedule_delivery_time=ONE_DAY), save="s1")),
        Request(pdu=cancel(message_id="")),
        checklist=(53,),
    ),
    case(
        "manage.cancel-unknown",
        "cancel_sm for an unknown message_id gets ESME_RCANCELFAIL or ESME_RINVMSGID",
        "3.4 §4.9; §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            pdu=cancel(message_id=NO_SUCH_ID),
            expect=(resp((S.ESME_RCANCELFAIL, S.ESME_RINVMSGID)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(53,),
    ),
    case(
        "manage.cancel-final",
        "cancel_sm of a message already in a final state gets ESME_RCANCELFAIL",
        "3.4 §4.9",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(), save="s1")),
        Call(fn=_wait_final, title="poll query_sm until the message is final"),
        Request(pdu=cancel(of="s1"), expect=(resp(S.ESME_RCANCELFAIL),), lenient=(resp(ERROR), nack(ERROR))),
        checklist=(53,),
    ),
    case(
        "manage.replace-scheduled",
        "replace_sm (message_id first, no service_type) of a scheduled message succeeds",
        "3.4 §4.10.1-§4.10.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(schedule_delivery_time=ONE_DAY), save="s1")),
        Request(pdu=replace(of="s1")),
        Request(pdu=cancel(of="s1"), note="tidy up: the message was only a test"),
        checklist=(54,),
    ),
    case(
        "manage.replace-unknown",
        "replace_sm for an unknown message_id gets ESME_RREPLACEFAIL or ESME_RINVMSGID",
        "3.4 §4.10; §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            pdu=replace(message_id=NO_SUCH_ID),
            expect=(resp((S.ESME_RREPLACEFAIL, S.ESME_RINVMSGID)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(53,),
    ),
    case(
        "manage.replace-final",
        "replace_sm of a message already in a final state gets ESME_RREPLACEFAIL",
        "3.4 §4.10",
        SHOULD,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(), save="s1")),
        Call(fn=_wait_final, title="poll query_sm until the message is final"),
        Request(
            pdu=replace(of="s1"), expect=(resp(S.ESME_RREPLACEFAIL),), lenient=(resp(ERROR), nack(ERROR))
        ),
        checklist=(53,),
    ),
    case(
        "manage.query-agrees-with-receipt",
        "After the delivery receipt, query_sm reports the state the receipt reported",
        "3.4 §4.8.2; §5.2.28; App. B",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Setup(
            Request(pdu=submit(registered_delivery=1), save="s1"),
            ExpectDeliver(where=is_receipt_for("s1"), save="r1", what="the receipt of s1"),
        ),
        Call(fn=_same_state, title="query_sm: message_state equals the receipt's"),
        checklist=(52,),
    ),
)
