"""Optional parameters (TLVs) (SMPP 3.4 §3.2.4, §3.3, §5.3; v5.0 §4.7.6; checklist 36, 56-60).

Unknown tags are skipped by their length; TLVs come in any order; a TLV area that does
not parse is ESME_RINVOPTPARSTREAM (0xC0), a known tag with an illegal length
ESME_RINVPARLEN (0xC2), a bad value ESME_RINVOPTPARAMVAL (0xC4). The SAR TLVs carry
concatenation, and message_payload replaces short_message but never joins it.
"""

from __future__ import annotations

from conformance.smsc.factories import MUST, SHOULD, case, submit, submit_plus
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import ERROR, Bind, Request, nack, resp
from conformance.wire import raw_tlv
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.pdu import EnquireLink
from smppgw.core.states import BindMode
from smppgw.core.tlv import Tlv

__all__ = ["CASES"]

S = CommandStatus
T = TlvTag
ALIVE = Request(pdu=EnquireLink(), note="the session must still be up")


def _sar(ref: int, total: int, seqnum: int) -> tuple[Tlv, ...]:
    return (
        Tlv.from_int(T.SAR_MSG_REF_NUM, ref, 2),
        Tlv.from_int(T.SAR_TOTAL_SEGMENTS, total, 1),
        Tlv.from_int(T.SAR_SEGMENT_SEQNUM, seqnum, 1),
    )


def _refused(
    id_: str, title: str, spec: str, extra: bytes, status: int, checklist: tuple[int, ...]
) -> SmscCase:
    """A valid submit_sm plus ``extra`` raw TLV octets must get ``status``."""
    return case(
        id_,
        title,
        spec,
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            raw=submit_plus(title, extra),
            expect=(resp(status), nack(status)),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        ALIVE,
        checklist=checklist,
    )


def _sar_refused(id_: str, title: str, total: int, seqnum: int) -> SmscCase:
    return case(
        id_,
        title,
        "3.4 §5.3.2.22-§5.3.2.24",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            pdu=submit(short_message=b"part", tlvs=_sar(0x1234, total, seqnum)),
            expect=(resp((S.ESME_RINVOPTPARAMVAL, S.ESME_RSUBMITFAIL)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(60,),
    )


_PAYLOAD_TEXT = ("SMPP conformance: a message_payload of more than one SMS. " * 6).encode()

CASES = (
    case(
        "tlv.unknown-tag-ignored",
        "An unknown TLV (tag 0x0077, 3 octets) is skipped and the submit_sm accepted",
        "3.4 §3.3; §3.2.4",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(tlvs=(Tlv(0x0077, b"abc"),))),
        checklist=(56,),
    ),
    case(
        "tlv.unknown-empty-tag-ignored",
        "An unknown TLV of length 0 is skipped and the submit_sm accepted",
        "3.4 §3.3; §3.2.4.1",
        MUST,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(tlvs=(Tlv(0x0078, b""), Tlv(T.USER_MESSAGE_REFERENCE, b"\x00\x07")))),
        checklist=(56,),
    ),
    case(
        "tlv.any-order",
        "TLVs are accepted in any order (source_port, user_message_reference, privacy_indicator)",
        "3.4 §3.2.4",
        MUST,
        Bind(mode=BindMode.TX),
        Request(
            pdu=submit(
                tlvs=(
                    Tlv.from_int(T.PRIVACY_INDICATOR, 0),
                    Tlv.from_int(T.USER_MESSAGE_REFERENCE, 42),
                    Tlv.from_int(T.SOURCE_PORT, 2948),
                    Tlv.from_int(T.DESTINATION_PORT, 2948),
                )
            )
        ),
        Request(
            pdu=submit(
                tlvs=(
                    Tlv.from_int(T.DESTINATION_PORT, 2948),
                    Tlv.from_int(T.SOURCE_PORT, 2948),
                    Tlv.from_int(T.USER_MESSAGE_REFERENCE, 43),
                    Tlv.from_int(T.PRIVACY_INDICATOR, 0),
                )
            )
        ),
        checklist=(59,),
    ),
    _refused(
        "tlv.stray-octets",
        "Two stray octets after the last TLV get ESME_RINVOPTPARSTREAM",
        "3.4 §3.2.4.1; 5.0 §4.7.6",
        b"\x02\x04",
        S.ESME_RINVOPTPARSTREAM,
        (57,),
    ),
    _refused(
        "tlv.length-past-end",
        "A TLV whose length runs past command_length gets ESME_RINVOPTPARSTREAM",
        "3.4 §3.2.4.1; 5.0 §4.7.6",
        raw_tlv(T.USER_MESSAGE_REFERENCE, b"\x00\x01", length=200),
        S.ESME_RINVOPTPARSTREAM,
        (57,),
    ),
    _refused(
        "tlv.known-tag-bad-length",
        "sar_msg_ref_num with length 1 (it is 2) gets ESME_RINVPARLEN",
        "3.4 §3.3; §5.3.2.22; 5.0 §4.7.6",
        raw_tlv(T.SAR_MSG_REF_NUM, b"\x01"),
        S.ESME_RINVPARLEN,
        (58,),
    ),
    case(
        "tlv.sar-segments-accepted",
        "The three parts of a SAR-concatenated message (sar_* TLVs) are each accepted",
        "3.4 §5.3.2.22-§5.3.2.24",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(short_message=b"Part one of three, ", tlvs=_sar(0x2201, 3, 1))),
        Request(pdu=submit(short_message=b"part two of three, ", tlvs=_sar(0x2201, 3, 2))),
        Request(pdu=submit(short_message=b"and part three.", tlvs=_sar(0x2201, 3, 3))),
        checklist=(60,),
    ),
    _sar_refused(
        "tlv.sar-seqnum-zero", "sar_segment_seqnum 0 gets ESME_RINVOPTPARAMVAL (or ESME_RSUBMITFAIL)", 3, 0
    ),
    _sar_refused(
        "tlv.sar-seqnum-above-total",
        "sar_segment_seqnum above sar_total_segments gets ESME_RINVOPTPARAMVAL (or ESME_RSUBMITFAIL)",
        2,
        3,
    ),
    case(
        "tlv.message-payload",
        "A submit_sm with sm_length 0 and a 300-octet message_payload is accepted",
        "3.4 §3.2.3; §4.4.1; §5.3.2.32",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(pdu=submit(short_message=b"", tlvs=(Tlv(T.MESSAGE_PAYLOAD, _PAYLOAD_TEXT[:300]),))),
        doc="To send more than 254 octets an ESME sets sm_length 0 and uses message_payload.",
    ),
    case(
        "tlv.payload-with-short-message",
        "A non-empty short_message together with message_payload gets ESME_RINVMSGLEN or ESME_RSUBMITFAIL",
        "3.4 §4.4.1; §5.3.2.32; 5.0 §4.2.1.1",
        SHOULD,
        Bind(mode=BindMode.TX),
        Request(
            raw=submit_plus("short_message and message_payload", raw_tlv(T.MESSAGE_PAYLOAD, b"payload too")),
            expect=(resp((S.ESME_RINVMSGLEN, S.ESME_RSUBMITFAIL)),),
            lenient=(resp(ERROR), nack(ERROR)),
        ),
        checklist=(36,),
        doc="3.4 asks the ESME to set sm_length to zero when it uses message_payload (a should on the "
        "sender); it does not require the SMSC to refuse a PDU carrying both, hence should.",
    ),
)
