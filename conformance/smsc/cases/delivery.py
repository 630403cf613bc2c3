"""deliver_sm and delivery receipts (SMPP 3.4 §4.6, §5.2.17, §5.3.2.12, §5.3.2.35, Appendix B;
checklist 6, 9, 61-64).

Each case binds as a transceiver, submits with registered_delivery set and waits up to
``--receipt-timeout`` for the receipt, which it finds by its id (receipted_message_id
or the ``id:`` field, compared after normalisation, so a receipt with a mangled id is
still *found* and then judged by the case about ids). The destination must be one the
SMSC really delivers to (or fails to), or no receipt ever comes.
"""

from __future__ import annotations

import re
from typing import Any, Final

from conformance.model import CaseFailed, Severity
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import MUST, SHOULD, case, is_receipt_for, receipt_of, submit
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import Answer, Bind, Call, Check, Deliveries, ExpectDeliver, Request, Setup, Step
from smppgw.core.constants import CommandId, CommandStatus, MessageState, TlvTag
from smppgw.core.receipt import ids_match
from smppgw.core.session import MAX_SEQUENCE_NUMBER
from smppgw.core.states import BindMode

__all__ = ["CASES"]

_FINAL_STATS: Final = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"})
_FINAL_STATES: Final = frozenset(
    int(s) for s in MessageState if s not in (MessageState.SCHEDULED, MessageState.ENROUTE)
)
_KEYS: Final = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err")


def _receipt_steps(registered_delivery: int = 1) -> tuple[Step, ...]:
    return (
        Bind(mode=BindMode.TRX),
        Setup(Request(pdu=submit(registered_delivery=registered_delivery), save="s1")),
        ExpectDeliver(where=is_receipt_for("s1"), save="r1", what="the delivery receipt of s1"),
    )


def _receipt_case(
    id_: str,
    title: str,
    spec: str,
    severity: Severity,
    check: Check,
    checklist: tuple[int, ...],
    doc: str = "",
) -> SmscCase:
    # The receipt's arrival is delivery.receipt-delivered's requirement; here it is setup.
    return case(id_, title, spec, severity, Setup(*_receipt_steps()), check, checklist=checklist, doc=doc)


def _swapped(ctx: SmscContext) -> str | None:
    sent: Any = ctx.vars["s1.request"]
    got: Any = ctx.frame("r1").pdu
    assert got is not None
    problems = []
    if got.source_addr != sent.destination_addr:
        problems.append(
            f"source_addr {got.source_addr!r} should be the submit's destination {sent.destination_addr!r}"
        )
    if got.destination_addr != sent.source_addr:
        problems.append(
            f"destination_addr {got.destination_addr!r} should be the submit's source {sent.source_addr!r}"
        )
    tons = (got.source_addr_ton, got.source_addr_npi, got.dest_addr_ton, got.dest_addr_npi)
    wanted = (sent.dest_addr_ton, sent.dest_addr_npi, sent.source_addr_ton, sent.source_addr_npi)
    if not problems and tons != wanted:
        text = f"TON/NPI are not swapped: got {tons}, expected {wanted}"
        if ctx.strict:
            problems.append(text)
        else:
            ctx.note(f"lenient mode: {text}")
    return "; ".join(problems) or None


def _id_exact(ctx: SmscContext) -> str | None:
    receipt = receipt_of(ctx.frame("r1"))
    assert receipt is not None
    sent_id = ctx.message_id("s1")
    found = receipt.tlv_id or receipt.text_id
    if found == sent_id:
        return None
    if found is not None and ids_match(found, sent_id) and not ctx.strict:
        ctx.note(f"lenient mode: receipt id {found!r} equals {sent_id!r} only after normalisation")
        return None
    return f"the receipt names message {found!r}; submit_sm_resp said {sent_id!r}"


def _tlvs(ctx: SmscContext) -> str | None:
    pdu = ctx.frame("r1").pdu
    assert pdu is not None
    rid = pdu.get_tlv(TlvTag.RECEIPTED_MESSAGE_ID)
    state = pdu.get_tlv(TlvTag.MESSAGE_STATE)
    if rid is None or state is None:
        missing = [n for n, t in (("receipted_message_id", rid), ("message_state", state)) if t is None]
        return f"the receipt lacks the {' and '.join(missing)} TLV"
    if not ids_match(rid.as_str(), ctx.message_id("s1")):
        return f"receipted_message_id {rid.as_str()!r} is not message {ctx.message_id('s1')!r}"
    if len(state.value) != 1 or state.value[0] not in _FINAL_STATES:
        return f"message_state {state.value.hex()} is not a final state (2-9)"
    return None


def _field(text: str, key: str) -> str | None:
    match = re.search(rf"(?i)(?:^|\s){key}:(\S*)", text)
    return match.group(1) if match else None


def _appendix_b(ctx: SmscContext) -> str | None:
    pdu = ctx.frame("r1").pdu
    assert pdu is not None
    raw = getattr(pdu, "short_message", b"")
    if not raw:
        payload = pdu.get_tlv(TlvTag.MESSAGE_PAYLOAD)
        raw = payload.value if payload is not None else b""
    if not raw:
        return "the receipt carries no Appendix B text (short_message and message_payload are empty)"
    text = raw.decode("latin-1")
    missing = [k for k in _KEYS if _field(text, k.replace(" ", r"\s")) is None]
    if missing:
        return f"receipt text lacks {', '.join(missing)}: {text!r}"
    stat = _field(text, "stat") or ""
    if stat.upper() not in _FINAL_STATS:
        return f"stat:{stat} is not one of {', '.join(sorted(_FINAL_STATS))}"
    deviations = []
    for key in ("sub", "dlvrd", "err"):
        value = _field(text, key) or ""
        if not (len(value) == 3 and (value.isdigit() or key == "err")):
            deviations.append(f"{key}:{value} is not 3 characters")
    for key in ("submit date", "done date"):
        value = _field(text, key.replace(" ", r"\s")) or ""
        if not (len(value) == 10 and value.isdigit()):
            if len(value) in (12, 14) and value.isdigit():
                deviations.append(f"{key}:{value} has {len(value)} digits, not 10 (YYMMDDhhmm)")
            else:
                return f"{key}:{value} is not a date"
    if deviations:
        if ctx.strict:
            return "receipt text deviates from Appendix B: " + "; ".join(deviations)
        ctx.note("lenient mode: " + "; ".join(deviations))
    if _field(text, "text") is None:
        ctx.note("the receipt text has no text: field (Appendix B lists one)")
    return None


def _stat_agrees(ctx: SmscContext) -> str | None:
    pdu = ctx.frame("r1").pdu
    assert pdu is not None
    tlv = pdu.get_tlv(TlvTag.MESSAGE_STATE)
    raw = getattr(pdu, "short_message", b"").decode("latin-1")
    stat = _field(raw, "stat")
    if tlv is None or stat is None:
        ctx.note("the receipt lacks message_state or stat:, nothing to compare")
        return None
    try:
        state = MessageState(tlv.as_int())
    except ValueError:
        return f"message_state {tlv.value.hex()} is not a 3.4 §5.2.28 value"
    return None if state.stat == stat.upper() else f"stat:{stat} disagrees with message_state {state.name}"


def _null_fields(ctx: SmscContext) -> str | None:
    pdu = ctx.frame("r1").pdu
    assert pdu is not None
    wrong = [
        f"{name}={getattr(pdu, name)!r}"
        for name in (
            "schedule_delivery_time",
            "validity_period",
            "replace_if_present_flag",
            "sm_default_msg_id",
        )
        if getattr(pdu, name, None)
    ]
    return f"deliver_sm must leave these NULL: {', '.join(wrong)}" if wrong else None


def _header(ctx: SmscContext) -> str | None:
    frame = ctx.frame("r1")
    if not 1 <= frame.seq <= MAX_SEQUENCE_NUMBER:
        return f"deliver_sm sequence_number {frame.seq:#x} is outside 1..0x7FFFFFFF"
    if frame.status != 0:
        return f"deliver_sm is a request but carries command_status {frame.status:#x}"
    return None


async def _nothing_more(ctx: SmscContext, what: str, bad: str) -> None:
    probe = await ctx.probe()
    await probe.idle(ctx.settings.quiet)
    where = is_receipt_for("s1")
    extra = probe.take(lambda f: f.command_id in (CommandId.DELIVER_SM, CommandId.DATA_SM) and where(f, ctx))
    if extra is not None:
        receipt = receipt_of(extra)
        if what == "failure" and receipt is not None and receipt.state is not MessageState.DELIVERED:
            return
        raise CaseFailed(f"{bad}: {extra.describe()}")


async def _no_receipt(ctx: SmscContext) -> None:
    await _nothing_more(ctx, "none", "a receipt arrived although registered_delivery was 0")


async def _only_on_failure(ctx: SmscContext) -> None:
    await _nothing_more(
        ctx, "failure", "registered_delivery 2 asks for failure receipts only, yet a DELIVRD receipt came"
    )


async def _no_duplicate(ctx: SmscContext) -> None:
    await _nothing_more(
        ctx, "none", "the receipt was delivered again although it was acknowledged with ESME_ROK"
    )


CASES = (
    case(
        "delivery.receipt-delivered",
        "registered_delivery 1 produces a deliver_sm with esm_class 0x04 naming the message",
        "3.4 §5.2.17; §4.6.1; App. B",
        MUST,
        *_receipt_steps(),
        checklist=(61, 62),
    ),
    _receipt_case(
        "delivery.receipt-addresses-swapped",
        "The receipt's source is the message's destination and its destination the message's source",
        "3.4 §4.6.1; carrier practice",
        SHOULD,
        Check(fn=_swapped, title="addresses (and TON/NPI) swapped"),
        (61,),
        doc="3.4 §4.6.1 defines source_addr as the 'Address of SME which originated this message' and "
        "no 3.4 text says how a receipt fills it; the swap is what carriers do and ESMEs match on, "
        "hence should.",
    ),
    _receipt_case(
        "delivery.receipt-id-exact",
        "The receipt carries exactly the message_id the submit_sm_resp returned",
        "3.4 §5.3.2.12; App. B",
        MUST,
        Check(fn=_id_exact, title="receipt id == submit_sm_resp message_id"),
        (34, 61),
        doc="Hex in the resp and decimal in the receipt (the Kannel msg-id-type trap) passes only in "
        "lenient mode, with a note.",
    ),
    _receipt_case(
        "delivery.receipt-tlvs",
        "The receipt carries receipted_message_id and a final message_state TLV",
        "3.4 §5.3.2.12, §5.3.2.35; App. B",
        SHOULD,
        Check(fn=_tlvs, title="receipted_message_id and message_state present and right"),
        (61,),
    ),
    _receipt_case(
        "delivery.receipt-text-appendix-b",
        "The receipt text has Appendix B's id, sub, dlvrd, submit date, done date, stat and err fields",
        "3.4 App. B; carrier practice",
        SHOULD,
        Check(fn=_appendix_b, title="Appendix B text"),
        (63,),
        doc="3.4 App. B calls the receipt text 'SMSC vendor specific' and gives it as 'a typical "
        "example'; ESMEs parse it, so carriers keep to it (should). Strict mode also wants 3-character "
        "sub/dlvrd/err and 10-digit dates.",
    ),
    _receipt_case(
        "delivery.receipt-stat-agrees",
        "The receipt's stat: word and its message_state TLV agree",
        "3.4 §5.2.28; App. B",
        SHOULD,
        Check(fn=_stat_agrees, title="stat: equals message_state"),
        (63,),
    ),
    _receipt_case(
        "delivery.deliver-sm-null-fields",
        "deliver_sm leaves schedule_delivery_time, validity_period, replace_if_present_flag, sm_default_msg_id NULL",
        "3.4 §4.6.1",
        MUST,
        Check(fn=_null_fields, title="the MC-unused fields are NULL"),
        (61,),
    ),
    _receipt_case(
        "delivery.deliver-sm-header",
        "deliver_sm from the SMSC has command_status 0 and a sequence_number in 1..0x7FFFFFFF",
        "3.4 §3.2.1; §5.1.4",
        MUST,
        Check(fn=_header, title="request header rules"),
        (6, 9),
    ),
    case(
        "delivery.no-receipt-unrequested",
        "registered_delivery 0 produces no receipt",
        "3.4 §5.2.17; §4.6",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Setup(Request(pdu=submit(registered_delivery=0), save="s1")),
        Call(fn=_no_receipt, title="watch for a receipt of s1: none may come"),
        checklist=(62,),
        doc="3.4 §4.6 describes a receipt as sent for a message whose ESME 'had requested a delivery "
        "receipt', and §5.2.17 0 means 'No SMSC Delivery Receipt requested'; no text says one must "
        "not be sent, hence should.",
    ),
    case(
        "delivery.receipt-on-failure-only",
        "registered_delivery 2 produces a receipt only if delivery failed",
        "3.4 §5.2.17",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Setup(Request(pdu=submit(registered_delivery=2), save="s1")),
        Call(fn=_only_on_failure, title="any receipt of s1 must report a failure"),
        checklist=(62,),
    ),
    case(
        "delivery.redelivered-after-rx-t-appn",
        "A receipt answered with ESME_RX_T_APPN is delivered again later",
        "3.4 §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TRX),
        Deliveries(auto=False),
        Setup(
            Request(pdu=submit(registered_delivery=1), save="s1"),
            ExpectDeliver(where=is_receipt_for("s1"), save="r1", what="the receipt of s1"),
        ),
        Answer(to="r1", status=CommandStatus.ESME_RX_T_APPN),
        ExpectDeliver(where=is_receipt_for("s1"), save="r2", what="the same receipt again"),
        Answer(to="r2"),
        checklist=(64,),
        doc="ESME_RX_T_APPN: 'ESME receiver temporary app error code': the MC should retry.",
    ),
    case(
        "delivery.acknowledged-not-redelivered",
        "A receipt acknowledged with ESME_ROK is not delivered again",
        "3.4 §4.6.2",
        SHOULD,
        Setup(*_receipt_steps()),
        Call(fn=_no_duplicate, title="watch for a second receipt of s1: none may come"),
        checklist=(64, 69),
    ),
)
