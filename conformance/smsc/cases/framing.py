"""Framing and the PDU header (SMPP 3.4 §3.1-§3.2; SMPP-REFERENCE §4.2, checklist 1-12).

The SMSC must frame by command_length over a byte stream (PDUs may be split across TCP
segments or share one), give up on a stream whose framing is lost (close, ideally after
a generic_nack ESME_RINVCMDLEN), and answer a PDU whose body does not match its header
with an error without losing the session.
"""

from __future__ import annotations

import trio

from conformance.model import CaseFailed
from conformance.probe import Closed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import MUST, SHOULD, Raw, case, raw_submit, submit, submit_truncated
from conformance.smsc.steps import (
    ERROR,
    Bind,
    Call,
    Check,
    ExpectClose,
    ExpectFrame,
    Request,
    Send,
    nack,
    resp,
)
from conformance.wire import Frame, encode, raw_header, raw_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import BindTransceiver, EnquireLink
from smppgw.core.states import BindMode

__all__ = ["CASES"]

S = CommandStatus
#: After a recoverable error the session must still work (checklist 11: "never crashes").
ALIVE = Request(pdu=EnquireLink(), note="the session must still be up")


def _header_only(frame: Frame, ctx: SmscContext) -> str | None:
    return None if len(frame.raw) == 16 else f"{frame.name} is {len(frame.raw)} octets, not a 16-octet header"


def _decodes(frame: Frame, ctx: SmscContext) -> str | None:
    return None if frame.pdu is not None else f"{frame.name} does not decode: {frame.error}"


def _length_frame(length: int) -> Raw:
    """A 16-octet header whose command_length says ``length`` (an enquire_link otherwise)."""
    return Raw(
        CommandId.ENQUIRE_LINK,
        lambda ctx, seq: raw_header(CommandId.ENQUIRE_LINK, seq, length=length),
        f"command_length {length}",
    )


def _nack_arrives() -> ExpectFrame:
    def where(frame: Frame, ctx: SmscContext) -> bool:
        return frame.command_id == CommandId.GENERIC_NACK

    return ExpectFrame(where=where, what="generic_nack", save="nack")


def _nack_status(status: int) -> Check:
    def check(ctx: SmscContext) -> str | None:
        frame = ctx.frame("nack")
        if frame.status != status:
            return f"generic_nack carries {frame.describe()}, expected status {status:#04x}"
        return None

    return Check(fn=check, title=f"the generic_nack carries status {status:#04x}")


async def _split_bind(ctx: SmscContext) -> None:
    """One bind_transceiver written in three TCP segments, 50 ms apart."""
    probe = await ctx.probe()
    s = ctx.settings
    pdu = BindTransceiver(
        system_id=s.system_id,
        password=s.password,
        system_type=s.system_type,
        interface_version=s.interface_version,
    )
    seq = probe.next_seq()
    data = encode(pdu, seq)
    try:
        for piece in (data[:3], data[3:20], data[20:]):
            await probe.send(piece, "one PDU in three segments")
            await trio.sleep(0.05)
        frame = await probe.wait_reply(seq, s.timeout)
    except Closed:
        raise CaseFailed("the SMSC closed the connection while the bind arrived in segments") from None
    if frame is None:
        raise CaseFailed(f"no response to the segmented bind within {s.timeout:g}s")
    if frame.command_id != CommandId.BIND_TRANSCEIVER_RESP or frame.status != 0:
        raise CaseFailed(f"expected bind_transceiver_resp ESME_ROK; got {frame.describe()}")


async def _coalesced(ctx: SmscContext) -> None:
    """Three PDUs in one TCP segment: each must be answered with its own sequence number."""
    probe = await ctx.probe()
    base = probe.next_seq()
    seqs = (base, base + 100, base + 200)
    sub = submit()(ctx)
    data = encode(EnquireLink(), seqs[0]) + encode(sub, seqs[1]) + encode(EnquireLink(), seqs[2])
    await probe.send(data, "three PDUs in one segment")
    wanted = {
        seqs[0]: CommandId.ENQUIRE_LINK_RESP,
        seqs[1]: CommandId.SUBMIT_SM_RESP,
        seqs[2]: CommandId.ENQUIRE_LINK_RESP,
    }
    for seq, cid in wanted.items():
        frame = await probe.wait_reply(seq, ctx.settings.timeout)
        if frame is None:
            raise CaseFailed(f"no response with sequence number {seq} within {ctx.settings.timeout:g}s")
        ok = (
            (0, CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL)
            if cid == CommandId.SUBMIT_SM_RESP
            else (0,)
        )
        if frame.command_id != cid or frame.status not in ok:
            raise CaseFailed(
                f"sequence {seq} answered with {frame.describe()}, expected {CommandId(cid).name.lower()} ESME_ROK"
            )


def _header_with_body(ctx: SmscContext, seq: int) -> bytes:
    return raw_pdu(CommandId.ENQUIRE_LINK, seq, b"\x00\x00\x00\x00")


CASES = (
    case(
        "framing.responses-well-formed",
        "Responses are well-formed big-endian PDUs whose command_length counts the whole PDU",
        "3.4 §3.1; §3.2.1",
        MUST,
        Bind(mode=BindMode.TRX, check=_decodes),
        Request(pdu=EnquireLink(), expect=(resp(0, _header_only),)),
        Request(pdu=submit(), expect=(resp(0, _decodes),)),
        checklist=(1,),
    ),
    case(
        "framing.response-echoes-header",
        "A response echoes the request's sequence_number; its command_id is the request's | 0x80000000",
        "3.4 §3.2.1; §5.1.4",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=EnquireLink(), seq=0x1234_5678),
        Request(pdu=submit(), seq=0x0ABC_DEF0),
        checklist=(7,),
    ),
    case(
        "framing.length-below-16-closes",
        "command_length below 16: framing is lost and the SMSC closes the connection",
        "3.4 §4.3; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="bad", raw=_length_frame(8)),
        ExpectClose(within=lambda ctx: ctx.settings.timeout),
        checklist=(2,),
        doc="3.4 §4.3: on an invalid command_length the receiver 'should assume that the data is corrupt' "
        "and returns a generic_nack; no 3.4 text says it closes the connection. Closing (the stream "
        "cannot be re-framed) is carrier practice, hence should.",
    ),
    case(
        "framing.length-below-16-nack",
        "command_length below 16 is answered with generic_nack ESME_RINVCMDLEN before the close",
        "3.4 §4.3; §2.8; §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="bad", raw=_length_frame(8)),
        _nack_arrives(),
        _nack_status(S.ESME_RINVCMDLEN),
        checklist=(2,),
        doc="3.4 §4.3 says a generic_nack 'must be returned' for an invalid command_length, but §2.8 "
        "words the same rule 'should return a generic_nak'; with the text at odds the case takes the "
        "weaker word. Kannel answers an unusable header with generic_nack sequence 0, then closes.",
    ),
    case(
        "framing.length-above-max-closes",
        "command_length of 0x7FFFFFFF (far above any maximum) makes the SMSC close the connection",
        "3.4 §4.3; carrier practice",
        SHOULD,
        Bind(mode=BindMode.TX),
        Send(save="bad", raw=_length_frame(0x7FFF_FFFF)),
        ExpectClose(within=lambda ctx: ctx.settings.timeout),
        checklist=(3,),
        doc="3.4 §4.3 counts a command_length 'too long' as invalid (the data is corrupt); 3.4 sets no "
        "maximum and never says to close, so the close is carrier practice: an SMSC that waits for 2 GiB "
        "of body can be held hostage by one bad frame.",
    ),
    case(
        "framing.split-across-segments",
        "A PDU split across several TCP segments is reassembled and answered",
        "3.4 §2.4; §2.8",
        MUST,
        Call(
            fn=_split_bind, title="send one bind_transceiver in three segments; expect bind_transceiver_resp"
        ),
        checklist=(1,),
    ),
    case(
        "framing.several-in-one-segment",
        "Several PDUs in one TCP segment are each answered with their own sequence number",
        "3.4 §3.2.2; §2.8; §5.1.4",
        MUST,
        Bind(mode=BindMode.TX),
        Call(fn=_coalesced, title="enquire_link + submit_sm + enquire_link in one write; three responses"),
        checklist=(1, 7),
    ),
    case(
        "framing.body-on-header-only-pdu",
        "An enquire_link with 4 body octets (command_length 20) is refused with ESME_RINVCMDLEN",
        "3.4 §3.2; §4.11.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            raw=Raw(CommandId.ENQUIRE_LINK, _header_with_body, "enquire_link with a body"),
            expect=(resp(S.ESME_RINVCMDLEN), nack(S.ESME_RINVCMDLEN)),
            lenient=(resp(ERROR), nack(ERROR), resp(0)),
        ),
        ALIVE,
        checklist=(11,),
    ),
    case(
        "framing.cstring-without-nul",
        "A C-Octet String with no NUL within its maximum gets an error response; the session survives",
        "3.4 §3.1; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            raw=raw_submit("source_addr of 30 digits, no NUL", source_addr=b"4" * 30),
            expect=(
                resp((S.ESME_RINVSRCADR, S.ESME_RINVCMDLEN, S.ESME_RINVMSGLEN)),
                nack((S.ESME_RINVSRCADR, S.ESME_RINVCMDLEN, S.ESME_RINVMSGLEN)),
            ),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(11,),
    ),
    case(
        "framing.body-ends-early",
        "A submit_sm whose body stops inside destination_addr gets an error; the session survives",
        "3.4 §3.1; §4.4.1; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            raw=submit_truncated("body cut after 18 octets", 18),
            expect=(
                resp((S.ESME_RINVCMDLEN, S.ESME_RINVMSGLEN, S.ESME_RINVDSTADR)),
                nack((S.ESME_RINVCMDLEN, S.ESME_RINVMSGLEN)),
            ),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(11,),
    ),
    case(
        "framing.validity-period-bad-length",
        "validity_period of 10 characters (neither 1 nor 17 octets) gets ESME_RINVEXPIRY",
        "3.4 §7.1.1; §4.4.1; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            raw=raw_submit("validity_period '2501011200'", validity_period=b"2501011200\x00"),
            expect=(resp(S.ESME_RINVEXPIRY),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(12,),
    ),
    case(
        "framing.schedule-time-bad-length",
        "schedule_delivery_time of 12 characters gets ESME_RINVSCHED",
        "3.4 §7.1.1; §4.4.1; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            raw=raw_submit(
                "schedule_delivery_time '250101120000'", schedule_delivery_time=b"250101120000\x00"
            ),
            expect=(resp(S.ESME_RINVSCHED),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(12,),
    ),
    case(
        "framing.request-status-ignored",
        "A request carrying a non-zero command_status is still answered (the field is ignored)",
        "3.4 §3.2.1; §5.1.3",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            raw=Raw(
                CommandId.ENQUIRE_LINK,
                lambda ctx, seq: raw_header(CommandId.ENQUIRE_LINK, seq, status=S.ESME_RSYSERR),
                "enquire_link with command_status 0x08",
            ),
            expect=(resp(0),),
        ),
        checklist=(6,),
        doc="Carrier practice: be liberal; only a strict peer flags it.",
    ),
)
