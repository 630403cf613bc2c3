"""Message submission: submit_sm, data_sm, submit_multi (SMPP 3.4 §4.4, §4.5, §4.7, §5.2;
checklist 34-44, 51, 55).

A valid message gets ESME_ROK and a usable message_id; a wrong field gets the status
3.4 §5.1.3 names for that field. Statuses carriers legitimately vary on are accepted
only in lenient mode.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conformance.model import Severity
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import (
    MAY,
    MUST,
    SHOULD,
    Make,
    Raw,
    case,
    data_sm,
    field_bytes,
    good_message_id,
    raw_submit,
    submit,
    submit_multi,
)
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import ERROR, Bind, Check, Request, nack, resp
from conformance.wire import Frame, raw_pdu
from smppgw.core.constants import CommandId, CommandStatus, Npi, Ton
from smppgw.core.pdu import DestAddress, EnquireLink, SubmitMulti
from smppgw.core.states import BindMode
from smppgw.core.timefmt import format_smpp_time

__all__ = ["CASES"]

S = CommandStatus
ALIVE = Request(pdu=EnquireLink(), note="the session must still be up")


#: 3.4 §3.3 on reserved values: use the default or ignore the parameter, not refuse the PDU.
_RESERVED = (
    "3.4 §3.3: 'An SMPP entity receiving a parameter value defined as reserved should use the default "
    "value if a default setting is defined, otherwise the parameter should be ignored.' An SMSC that "
    "does so conforms; refusing with the §5.1.3 status is what many do, so this is only a may."
)


def _refused(
    id_: str,
    title: str,
    spec: str,
    status: int | tuple[int, ...],
    make: Make | Raw,
    *,
    severity: Severity = SHOULD,
    checklist: tuple[int, ...] = (),
    doc: str = "",
) -> SmscCase:
    """``make`` on a transmitter bind must be refused with ``status``; any error is
    accepted in lenient mode (carriers differ in the exact code)."""
    statuses = status if isinstance(status, tuple) else (status,)
    request = (
        Request(raw=make, expect=(resp(statuses), nack(statuses)), lenient=(resp(ERROR), nack(ERROR)))
        if isinstance(make, Raw)
        else Request(pdu=make, expect=(resp(statuses),), lenient=(resp(ERROR), nack(ERROR)))
    )
    return case(id_, title, spec, severity, Bind(mode=BindMode.TX), request, checklist=checklist, doc=doc)


def _distinct(*names: str) -> Check:
    def check(ctx: SmscContext) -> str | None:
        ids = [ctx.message_id(n) for n in names]
        return None if len(set(ids)) == len(ids) else f"message_ids repeat: {ids}"

    return Check(fn=check, title="the message_ids are distinct")


def _absolute_validity(ctx: SmscContext) -> dict[str, str]:
    return {"validity_period": format_smpp_time(datetime.now(UTC) + timedelta(days=1))}


def _no_unsuccess(frame: Frame, ctx: SmscContext) -> str | None:
    problem = good_message_id(frame, ctx)
    if problem is not None:
        return problem
    failed = frame.field("unsuccess_smes", ())
    return f"submit_multi_resp lists failures for valid destinations: {failed!r}" if failed else None


BAD_DEST = DestAddress(
    dest_addr_ton=Ton.INTERNATIONAL, dest_addr_npi=Npi.ISDN, destination_addr="4477009A0002"
)


def _lists_bad_dest(frame: Frame, ctx: SmscContext) -> str | None:
    failed = frame.field("unsuccess_smes", ())
    assert isinstance(failed, tuple)
    bad = [u for u in failed if u.destination_addr == BAD_DEST.destination_addr]
    if not bad:
        return f"unsuccess_sme does not list {BAD_DEST.destination_addr!r}: {failed!r}"
    if bad[0].error_status_code == 0:
        return "the failed destination carries error_status_code 0"
    good = [u for u in failed if u.destination_addr == ctx.settings.dest_addr]
    if good:
        return f"unsuccess_sme lists the valid destination too: {good!r}"
    return None


def _multi_raw(label: str, dests: bytes) -> Raw:
    """submit_multi whose dest_address list (number_of_dests included) is ``dests``."""

    def build(ctx: SmscContext, seq: int) -> bytes:
        s = ctx.settings
        pdu = SubmitMulti(
            source_addr=s.source_addr,
            source_addr_ton=s.source_ton,
            source_addr_npi=s.source_npi,
            dest_addresses=(DestAddress(destination_addr=s.dest_addr),),
            short_message=b"SMPP conformance test",
        )
        return raw_pdu(CommandId.SUBMIT_MULTI, seq, field_bytes(pdu, dest_addresses=dests))

    return Raw(CommandId.SUBMIT_MULTI, build, label)


def _bad_flag_dests(ctx: SmscContext) -> bytes:
    return b"\x01\x03\x01\x01" + ctx.settings.dest_addr.encode() + b"\x00"


CASES = (
    case(
        "submit.accepted",
        "A valid submit_sm gets ESME_ROK with a message_id of 1-64 printable characters",
        "3.4 §4.4.2",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(), expect=(resp(0, good_message_id),)),
        checklist=(34,),
    ),
    case(
        "submit.message-ids-unique",
        "Three submit_sm get three different message_ids",
        "3.4 §2.5.1; §4.4.2",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(), save="a"),
        Request(pdu=submit(), save="b"),
        Request(pdu=submit(), save="c"),
        _distinct("a", "b", "c"),
        checklist=(34,),
    ),
    case(
        "submit.sm-length-past-body",
        "sm_length 200 with 10 octets of short_message gets ESME_RINVMSGLEN or ESME_RINVCMDLEN",
        "3.4 §4.4.1; §2.8",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            raw=raw_submit("sm_length 200, 10 octets", short_message=bytes([200]) + b"0123456789"),
            expect=(
                resp((S.ESME_RINVMSGLEN, S.ESME_RINVCMDLEN)),
                nack((S.ESME_RINVMSGLEN, S.ESME_RINVCMDLEN)),
            ),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=(35,),
    ),
    _refused(
        "submit.sm-length-255",
        "sm_length 255 (above the 254 maximum) gets ESME_RINVMSGLEN or ESME_RINVCMDLEN",
        "3.4 §4.4.1; §3.2.3; §2.8",
        (S.ESME_RINVMSGLEN, S.ESME_RINVCMDLEN),
        raw_submit("sm_length 255", short_message=bytes([255]) + b"a" * 255),
        severity=MUST,
        checklist=(35,),
    ),
    _refused(
        "submit.empty-destination",
        "An empty destination_addr gets ESME_RINVDSTADR",
        "3.4 §4.4.1; §5.1.3",
        S.ESME_RINVDSTADR,
        submit(destination_addr=""),
        severity=SHOULD,
        checklist=(38,),
        doc="3.4 §5.1.3 defines ESME_RINVDSTADR; neither it nor §4.4.1 says an SMSC must refuse an "
        "empty destination_addr with it (the field is a C-Octet String that may be NULL), hence should.",
    ),
    _refused(
        "submit.destination-too-long",
        "A destination_addr of 25 digits (no NUL within 21 octets) gets ESME_RINVDSTADR",
        "3.4 §4.4.1; §2.8; §5.1.3",
        S.ESME_RINVDSTADR,
        raw_submit("destination_addr of 25 digits", destination_addr=b"4" * 25 + b"\x00"),
        severity=MUST,
        checklist=(38,),
    ),
    _refused(
        "submit.destination-not-digits",
        "An international (TON 1) destination_addr with letters gets ESME_RINVDSTADR",
        "3.4 §5.2.5-§5.2.6; §5.1.3",
        S.ESME_RINVDSTADR,
        submit(destination_addr="4477009X0001"),
        checklist=(38,),
    ),
    _refused(
        "submit.source-ton-invalid",
        "source_addr_ton 7 (undefined) gets ESME_RINVSRCTON",
        "3.4 §5.2.5; §3.3",
        S.ESME_RINVSRCTON,
        submit(source_addr_ton=7),
        checklist=(39,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.source-npi-invalid",
        "source_addr_npi 2 (undefined) gets ESME_RINVSRCNPI",
        "3.4 §5.2.6; §3.3",
        S.ESME_RINVSRCNPI,
        submit(source_addr_npi=2),
        checklist=(39,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.dest-ton-invalid",
        "dest_addr_ton 7 (undefined) gets ESME_RINVDSTTON",
        "3.4 §5.2.5; §3.3",
        S.ESME_RINVDSTTON,
        submit(dest_addr_ton=7),
        checklist=(39,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.dest-npi-invalid",
        "dest_addr_npi 2 (undefined) gets ESME_RINVDSTNPI",
        "3.4 §5.2.6; §3.3",
        S.ESME_RINVDSTNPI,
        submit(dest_addr_npi=2),
        checklist=(39,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.registered-delivery-reserved-bits",
        "registered_delivery with reserved bit 7 set (0x81) gets ESME_RINVREGDLVFLG",
        "3.4 §5.2.17; §3.3",
        S.ESME_RINVREGDLVFLG,
        submit(registered_delivery=0x81),
        checklist=(40,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.priority-flag-invalid",
        "priority_flag 4 gets ESME_RINVPRTFLG",
        "3.4 §5.2.14; §3.3",
        S.ESME_RINVPRTFLG,
        submit(priority_flag=4),
        checklist=(41,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.replace-if-present-invalid",
        "replace_if_present_flag 2 gets ESME_RINVREPFLAG",
        "3.4 §5.2.18; §3.3",
        S.ESME_RINVREPFLAG,
        submit(replace_if_present_flag=2),
        checklist=(42,),
        severity=MAY,
        doc=_RESERVED,
    ),
    _refused(
        "submit.esm-class-receipt-type",
        "esm_class 0x04 (SMSC delivery receipt) on submit_sm gets ESME_RINVESMCLASS",
        "3.4 §5.2.12",
        S.ESME_RINVESMCLASS,
        submit(esm_class=0x04),
        checklist=(43,),
    ),
    case(
        "submit.validity-relative",
        "A relative validity_period (000001000000000R, one day) is accepted",
        "3.4 §7.1.1",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(validity_period="000001000000000R")),
        checklist=(44,),
    ),
    case(
        "submit.validity-absolute",
        "An absolute validity_period one day ahead (UTC, offset 00+) is accepted",
        "3.4 §7.1.1",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(extra=_absolute_validity)),
        checklist=(44,),
    ),
    _refused(
        "submit.validity-relative-tenths",
        "A relative validity_period with tenths not 0 (000001000000100R) gets ESME_RINVEXPIRY",
        "3.4 §7.1.1.2",
        S.ESME_RINVEXPIRY,
        submit(validity_period="000001000000100R"),
        checklist=(44,),
        severity=MAY,
        doc="3.4 §7.1.1.2: in a relative time 'values for tenths of seconds t and UTC offset nn are "
        "ignored and should be set to 0 and 00'; an SMSC that ignores them and accepts conforms, so "
        "refusing is only a may.",
    ),
    _refused(
        "submit.validity-offset-49",
        "An absolute validity_period with a UTC offset of 49 quarter hours gets ESME_RINVEXPIRY",
        "3.4 §7.1.1",
        S.ESME_RINVEXPIRY,
        submit(validity_period="350101120000049+"),
        checklist=(44,),
    ),
    _refused(
        "submit.schedule-month-13",
        "schedule_delivery_time with month 13 gets ESME_RINVSCHED",
        "3.4 §7.1.1",
        S.ESME_RINVSCHED,
        submit(schedule_delivery_time="351301120000000+"),
        checklist=(44,),
    ),
    case(
        "submit.schedule-relative",
        "A relative schedule_delivery_time (one minute ahead) is accepted",
        "3.4 §7.1.1; §4.4.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(schedule_delivery_time="000000000100000R")),
        checklist=(44,),
    ),
    case(
        "submit.alphanumeric-source",
        "An alphanumeric source_addr (TON 5, NPI 0, 'ConfTest') is accepted",
        "3.4 §5.2.5; carrier practice",
        MAY,
        Bind(mode=BindMode.TX),
        Request(
            pdu=submit(source_addr="ConfTest", source_addr_ton=Ton.ALPHANUMERIC, source_addr_npi=Npi.UNKNOWN)
        ),
        checklist=(76,),
        doc="Carriers may refuse unregistered sender ids: that is provisioning, not a protocol fault.",
    ),
    case(
        "submit.data-sm-accepted",
        "A data_sm with its text in message_payload gets data_sm_resp ESME_ROK and a message_id",
        "3.4 §4.7.1-§4.7.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=data_sm(), expect=(resp(0, good_message_id),)),
        checklist=(55,),
    ),
    case(
        "submit.data-sm-without-payload",
        "A data_sm without message_payload is accepted or refused with ESME_RMISSINGOPTPARAM, nothing else",
        "3.4 §4.7.1; 5.0 §4.2.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=data_sm(tlvs=()), expect=(resp(0), resp(S.ESME_RMISSINGOPTPARAM))),
        checklist=(55,),
    ),
    case(
        "submit.multi-accepted",
        "submit_multi to two valid destinations gets ESME_ROK, a message_id and no unsuccess_sme",
        "3.4 §4.5.1-§4.5.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            pdu=submit_multi(None, DestAddress(destination_addr="447700900002")),
            expect=(resp(0, _no_unsuccess),),
        ),
        checklist=(51,),
    ),
    case(
        "submit.multi-lists-failures",
        "submit_multi with one bad destination lists it in unsuccess_sme with a non-zero error_status_code",
        "3.4 §4.5.2",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=submit_multi(None, BAD_DEST), expect=(resp(0, _lists_bad_dest),)),
        checklist=(51,),
    ),
    _refused(
        "submit.multi-zero-dests",
        "submit_multi with number_of_dests 0 gets ESME_RINVNUMDESTS",
        "3.4 §4.5.1",
        S.ESME_RINVNUMDESTS,
        _multi_raw("number_of_dests 0", b"\x00"),
        checklist=(51,),
    ),
    _refused(
        "submit.multi-bad-dest-flag",
        "submit_multi with dest_flag 3 gets ESME_RINVDESTFLAG",
        "3.4 §4.5.1.1",
        S.ESME_RINVDESTFLAG,
        Raw(
            CommandId.SUBMIT_MULTI,
            lambda ctx, seq: _multi_raw("", _bad_flag_dests(ctx)).build(ctx, seq),
            "dest_flag 3",
        ),
        checklist=(51,),
    ),
)
