"""unbind (SMPP 3.4 §4.2; checklist 24 and 26).

The SMSC answers unbind with a 16-octet unbind_resp ESME_ROK in every bound state, still
answers what was in flight before it, refuses submissions afterwards (or closes), and
refuses an unbind on a session that was never bound.
"""

from __future__ import annotations

from conformance.smsc.factories import MUST, SHOULD, case, submit
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import (
    ANY,
    ERROR,
    Accept,
    Bind,
    ExpectReply,
    Request,
    Send,
    Setup,
    UnbindStep,
    nack,
    resp,
)
from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import Unbind
from smppgw.core.states import BindMode

__all__ = ["CASES"]

S = CommandStatus


def _in_state(mode: BindMode) -> SmscCase:
    return case(
        f"unbind.{mode.name.lower()}",
        f"unbind on a {mode.value} bind gets a 16-octet unbind_resp ESME_ROK",
        "3.4 §4.2",
        MUST,
        Bind(mode=mode),
        UnbindStep(),
        checklist=(24,),
    )


CASES = (
    _in_state(BindMode.TX),
    _in_state(BindMode.RX),
    _in_state(BindMode.TRX),
    case(
        "unbind.then-submit-refused",
        "After unbind/unbind_resp a submit_sm is refused with ESME_RINVBNDSTS (or the connection is closed)",
        "3.4 §2.3; §2.8; §5.1.3",
        MUST,
        Bind(mode=BindMode.TX),
        Setup(UnbindStep()),
        Request(
            pdu=submit(),
            expect=(resp(S.ESME_RINVBNDSTS), nack(S.ESME_RINVBNDSTS)),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.ALWAYS,
        ),
        checklist=(26,),
    ),
    case(
        "unbind.when-not-bound",
        "unbind on a session that never bound gets ESME_RINVBNDSTS",
        "3.4 §2.3; §2.8; §5.1.3",
        MUST,
        Request(
            pdu=Unbind(),
            expect=(resp(S.ESME_RINVBNDSTS), nack(S.ESME_RINVBNDSTS)),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.LENIENT,
        ),
        checklist=(19,),
    ),
    case(
        "unbind.answers-pending-first",
        "A submit_sm in flight when unbind arrives is still answered, then unbind_resp follows",
        "3.4 §2.8; §4.2; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="s1", pdu=submit()),
        Send(save="u1", pdu=Unbind()),
        ExpectReply(to="s1", expect=(resp(ANY),)),
        ExpectReply(to="u1", expect=(resp(0),)),
        checklist=(24,),
        doc="Carrier practice: outstanding requests are drained or answered before the "
        "session ends; an ESME must never be left guessing whether a message was accepted.",
    ),
)
