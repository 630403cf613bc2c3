"""generic_nack: when the SMSC must send one, and when it must not (SMPP 3.4 §3.3, §4.3).

An unknown request command_id is answered with a 16-octet generic_nack ESME_RINVCMDID
echoing the sequence number, and the session goes on. A response (including a
generic_nack, and a response to nothing we sent) is never answered at all.
"""

from __future__ import annotations

from conformance.model import CaseFailed, Severity
from conformance.probe import Closed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import MAY, MUST, SHOULD, Raw, case
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import ERROR, Bind, Call, ExpectNoReply, Request, Send, nack, resp
from conformance.wire import Frame, encode, raw_header
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import AlertNotification, DeliverSm, EnquireLink, SubmitSmResp
from smppgw.core.states import BindMode

__all__ = ["CASES"]

S = CommandStatus
ALIVE = Request(pdu=EnquireLink(), note="the session must still be up")


def _header_only(frame: Frame, ctx: SmscContext) -> str | None:
    return None if len(frame.raw) == 16 else f"generic_nack is {len(frame.raw)} octets; it is header only"


def _command(command_id: int, label: str) -> Raw:
    return Raw(command_id, lambda ctx, seq: raw_header(command_id, seq), label)


def _unknown_command(id_: str, title: str, command_id: int, severity: Severity, doc: str = "") -> SmscCase:
    return case(
        id_,
        title,
        "3.4 §3.3; §4.3",
        severity,
        Bind(mode=BindMode.TX),
        Request(
            raw=_command(command_id, f"command_id {command_id:#010x}"),
            expect=(nack(S.ESME_RINVCMDID, _header_only),),
            lenient=(nack(ERROR),),
        ),
        ALIVE,
        checklist=(4,),
        doc=doc,
    )


async def _alert_tolerated(ctx: SmscContext) -> None:
    probe = await ctx.probe()
    seq = await probe.send_pdu(
        AlertNotification(source_addr=ctx.settings.dest_addr, esme_addr=ctx.settings.source_addr)
    )
    try:
        frame = await probe.wait_reply(seq, ctx.settings.quiet)
    except Closed:
        raise CaseFailed("the SMSC closed the connection after an alert_notification") from None
    if frame is not None and frame.command_id != CommandId.GENERIC_NACK:
        raise CaseFailed(f"alert_notification has no response PDU; got {frame.describe()}")


def _stray_response(ctx: SmscContext, seq: int) -> bytes:
    return encode(SubmitSmResp(message_id="1"), 0x0007_7777)


CASES = (
    _unknown_command(
        "generic_nack.unknown-command-id",
        "An unknown command_id gets a 16-octet generic_nack ESME_RINVCMDID; the session stays up",
        0x0000_0077,
        MUST,
    ),
    _unknown_command(
        "generic_nack.reserved-command-id",
        "The reserved command_id 0x0000000A gets generic_nack ESME_RINVCMDID",
        0x0000_000A,
        MUST,
        doc="3.4 §5.1.2.1 reserves 0x0000000A between bind_transceiver and outbind; §3.3: an "
        "unrecognized command 'must return a generic_nack PDU indicating an invalid command_id'.",
    ),
    _unknown_command(
        "generic_nack.v50-command-on-34-bind",
        "broadcast_sm (a v5.0 command) on a 3.4 bind gets generic_nack ESME_RINVCMDID",
        0x0000_0111,
        SHOULD,
        doc="A 3.4 SMSC does not know broadcast_sm; a v5.0 one should still refuse it on a 3.4 bind.",
    ),
    case(
        "generic_nack.not-for-generic-nack",
        "A generic_nack from the ESME is never answered",
        "3.4 §4.3; §2.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(
            save="n",
            raw=Raw(
                CommandId.GENERIC_NACK,
                lambda ctx, seq: raw_header(CommandId.GENERIC_NACK, 0x0007_7776, status=S.ESME_RSYSERR),
            ),
        ),
        ExpectNoReply(why="a generic_nack from the ESME gets no reply"),
        ALIVE,
        checklist=(33,),
        doc="generic_nack is a response (3.4 §4.3; §2.1 pairs each request with one response), so "
        "answering it makes no sense, but the 3.4 text has no 'must not answer', hence should.",
    ),
    case(
        "generic_nack.not-for-stray-response",
        "A submit_sm_resp matching no request of the SMSC is discarded without a reply",
        "3.4 §4.3; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="r", raw=Raw(CommandId.SUBMIT_SM_RESP, _stray_response, "submit_sm_resp nobody asked for")),
        ExpectNoReply(why="a response matching no request gets no reply"),
        ALIVE,
        checklist=(5, 33),
        doc="3.4 §4.3 names when a generic_nack is returned (an invalid command_length, an unknown "
        "command_id); a response that matches no request is neither, but the 3.4 text has no 'must not "
        "answer' for it. That comes from carrier practice (log and discard), hence should.",
    ),
    case(
        "generic_nack.not-for-unknown-response",
        "A response with an unknown command_id (0x80000077) is discarded without a reply",
        "3.4 §3.3; §4.3; carrier practice",
        MAY,
        Bind(mode=BindMode.TX),
        Send(save="r", raw=_command(0x8000_0077, "unknown response 0x80000077")),
        ExpectNoReply(why="a response with an unknown command_id gets no reply"),
        ALIVE,
        checklist=(5,),
        doc="Read literally, 3.4 §3.3 and §4.3 ask for a generic_nack to any unrecognized command_id, "
        "responses included; not answering a response is carrier practice (a nack to a response can "
        "start a nack loop). The 3.4 text words it the other way, so this is only a may.",
    ),
    case(
        "generic_nack.deliver-sm-from-esme",
        "deliver_sm sent by the ESME (an SMSC-to-ESME PDU) is refused with ESME_RINVBNDSTS",
        "3.4 §2.3; §2.8; §5.1.3",
        MUST,
        Bind(mode=BindMode.TRX),
        Request(
            pdu=lambda ctx: DeliverSm(
                source_addr=ctx.settings.dest_addr,
                destination_addr=ctx.settings.source_addr,
                short_message=b"MO?",
            ),
            expect=(resp(S.ESME_RINVBNDSTS), nack(S.ESME_RINVBNDSTS)),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(20,),
    ),
    case(
        "generic_nack.alert-notification-from-esme",
        "alert_notification sent by the ESME gets no reply or a generic_nack; the session survives",
        "3.4 §4.12; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Call(fn=_alert_tolerated, title="send alert_notification; any reply must be a generic_nack"),
        ALIVE,
        checklist=(28,),
        doc="3.4 §4.12 defines no response to alert_notification, and the SMSC is its sender, "
        "never its receiver: ignoring it or refusing it with generic_nack are both fine. No 3.4 text "
        "says the session must survive it, hence should; any other reply is a wrong command_id, which "
        "is judged as must on its own (3.4 §3.2.1).",
    ),
)
