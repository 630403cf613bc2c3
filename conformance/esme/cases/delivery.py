"""The ESME takes deliveries (SMPP 3.4 §4.6.2; checklist 65, 68, 69).

The client must answer every deliver_sm (mobile-originated messages and delivery
receipts alike) with deliver_sm_resp ESME_ROK and a NUL message_id, within the response
timer; a receipt that overtakes its submit_sm_resp and a duplicate receipt are answered
the same way. These cases need a receiver bind (RX or TRX).
"""

from __future__ import annotations

import time

from conformance.esme.context import EsmeCase, EsmeContext, HeldRequest
from conformance.model import CaseFailed, CaseSkipped, Severity
from conformance.wire import Frame
from smppgw.core.constants import CommandId, CommandStatus, EsmClass, MessageState
from smppgw.core.pdu import DeliverSm
from smppgw.core.receipt import format_receipt, format_smpp_date, receipt_tlvs
from smppgw.core.states import BindMode

__all__ = ["CASES"]

HANDSET = "447700900555"


def _judge_resp(ctx: EsmeContext, frame: Frame, what: str) -> None:
    """3.4 §4.6.2: deliver_sm_resp ESME_ROK, message_id unused and set to NULL."""
    if frame.command_id != CommandId.DELIVER_SM_RESP:
        raise CaseFailed(f"{what} answered with {frame.describe()}, expected deliver_sm_resp")
    if frame.status != 0:
        raise CaseFailed(f"{what} answered with {frame.describe()}: the client refused it")
    if len(frame.raw) == 16:
        text = "deliver_sm_resp has no body; 3.4 §4.6.2 says message_id is a single NUL"
        if ctx.strict:
            raise CaseFailed(text)
        ctx.note(f"lenient mode: {text}")
    elif frame.field("message_id") not in ("", None):
        raise CaseFailed(f"deliver_sm_resp message_id is {frame.field('message_id')!r}; it must be NULL")


def _now_date() -> str:
    t = time.localtime()
    return format_smpp_date(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, 0)


def receipt_for(
    held: HeldRequest, message_id: str, state: MessageState = MessageState.DELIVERED
) -> DeliverSm:
    """The receipt a 3.4 SMSC sends for the message ``held`` (App. B text and TLVs)."""
    sent = held.frame.pdu
    date = _now_date()
    text = format_receipt(message_id=message_id, state=state, submit_date=date, done_date=date)
    return DeliverSm(
        source_addr_ton=getattr(sent, "dest_addr_ton", 1),
        source_addr_npi=getattr(sent, "dest_addr_npi", 1),
        source_addr=str(getattr(sent, "destination_addr", HANDSET))[:20],
        dest_addr_ton=getattr(sent, "source_addr_ton", 0),
        dest_addr_npi=getattr(sent, "source_addr_npi", 0),
        destination_addr=str(getattr(sent, "source_addr", ""))[:20],
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        short_message=text.encode("latin-1"),
        tlvs=receipt_tlvs(message_id=message_id, state=state),
    )


async def _answers_mo(ctx: EsmeContext) -> None:
    session = await ctx.session(receiver=True)
    mo = DeliverSm(
        source_addr=HANDSET,
        destination_addr=ctx.harness.client_address[:20] or "12345",
        short_message=b"Hello from a handset (SMPP conformance MO)",
    )
    frame = await ctx.request(session, mo)
    _judge_resp(ctx, frame, "a mobile-originated deliver_sm")


async def _answers_receipt(ctx: EsmeContext) -> None:
    held = await ctx.submit()
    message_id = await held.respond()
    session = await ctx.session(receiver=True)
    frame = await ctx.request(session, receipt_for(held, message_id))
    _judge_resp(ctx, frame, "a delivery receipt")


async def _refused_on_tx(ctx: EsmeContext) -> None:
    """3.4 §2.3 (checklist 22): a transmitter bind takes no deliveries."""
    tx = [
        s
        for s in ctx.sessions
        if s.bind_mode is BindMode.TX and not s.closed.is_set() and s.unbind_at is None
    ]
    if not tx:
        await ctx.session()  # an ERROR if the client never bound at all
        raise CaseSkipped("the client has no transmitter-only (TX) session")
    frame = await ctx.request(
        tx[0], DeliverSm(source_addr=HANDSET, destination_addr="12345", short_message=b"MO on TX")
    )
    if (
        frame.command_id not in (CommandId.DELIVER_SM_RESP, CommandId.GENERIC_NACK)
        or frame.status != CommandStatus.ESME_RINVBNDSTS
    ):
        raise CaseFailed(
            f"deliver_sm on a transmitter bind answered with {frame.describe()}, expected ESME_RINVBNDSTS"
        )


async def _early_receipt(ctx: EsmeContext) -> None:
    """The receipt overtakes the submit_sm_resp (SMPP-REFERENCE §6.3 item 2)."""
    held = await ctx.submit()
    session = await ctx.session(receiver=True)
    from conformance.esme.harness import new_message_id

    message_id = new_message_id()
    frame = await ctx.request(session, receipt_for(held, message_id))
    await held.respond(message_id=message_id)
    _judge_resp(ctx, frame, "a receipt that arrived before its submit_sm_resp")


async def _duplicate_receipt(ctx: EsmeContext) -> None:
    held = await ctx.submit()
    message_id = await held.respond()
    session = await ctx.session(receiver=True)
    receipt = receipt_for(held, message_id)
    first = await ctx.request(session, receipt)
    _judge_resp(ctx, first, "a delivery receipt")
    second = await ctx.request(session, receipt)
    _judge_resp(ctx, second, "the same receipt delivered again")


def _case(
    id_: str,
    title: str,
    spec: str,
    severity: Severity,
    drive: object,
    submits: int,
    checklist: tuple[int, ...],
    doc: str = "",
) -> EsmeCase:
    return EsmeCase(
        id=id_,
        title=title,
        spec=spec,
        severity=severity,
        drive=drive,  # type: ignore[arg-type]
        submits=submits,
        checklist=checklist,
        doc=doc,
    )


CASES = (
    _case(
        "delivery.answers-mo",
        "A mobile-originated deliver_sm gets deliver_sm_resp ESME_ROK with a NUL message_id",
        "3.4 §4.6.2; §2.6",
        Severity.MUST,
        _answers_mo,
        0,
        (65,),
    ),
    _case(
        "delivery.answers-receipt",
        "A delivery receipt for a submitted message gets deliver_sm_resp ESME_ROK with a NUL message_id",
        "3.4 §4.6.2; §2.6; App. B",
        Severity.MUST,
        _answers_receipt,
        1,
        (65,),
    ),
    _case(
        "delivery.refuses-deliver-on-tx",
        "deliver_sm on a session the client bound as transmitter is refused with ESME_RINVBNDSTS",
        "3.4 §2.3; §5.1.3",
        Severity.SHOULD,
        _refused_on_tx,
        0,
        (22,),
        doc="Skipped for clients that bind as transceiver only.",
    ),
    _case(
        "delivery.answers-early-receipt",
        "A receipt that arrives before its submit_sm_resp is answered ESME_ROK (held, not refused)",
        "carrier practice (no spec section)",
        Severity.SHOULD,
        _early_receipt,
        1,
        (68,),
    ),
    _case(
        "delivery.answers-duplicate-receipt",
        "The same receipt delivered twice is acknowledged ESME_ROK both times",
        "carrier practice (no spec section)",
        Severity.SHOULD,
        _duplicate_receipt,
        1,
        (69,),
    ),
)
