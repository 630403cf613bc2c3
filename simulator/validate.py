"""What the simulated SMSC answers to each incoming message PDU (SMPP-REFERENCE §8, items 34-60).

The decoder has already checked everything the wire can get wrong (lengths, NULs, TLV
lengths, dest_flag, number_of_dests > 0). These functions judge the *values*, and return
``ESME_ROK`` or the one command_status to answer with. They never raise and never read a
clock, so the session adapter can call them inline for every PDU.

Rule order (the first failing rule wins). Rules follow the wire order of the fields, so
the answer names the first wrong field a reader of the PDU meets; rules about the user
data come last because they need data_coding, esm_class and the TLVs together.

``validate_submit`` (submit_sm, submit_multi, data_sm):

 1. source_addr_ton not 0-6 -> ESME_RINVSRCTON
 2. source_addr_npi not an ``Npi`` value -> ESME_RINVSRCNPI
 3. strict only: source_addr TON 5 (alphanumeric) over 11 characters, or TON 1
    (international) with anything but ASCII digits -> ESME_RINVSRCADR. An empty
    source_addr is accepted (the SMSC fills in a default).
 4. destination. submit_sm / data_sm: dest_addr_ton not 0-6 -> ESME_RINVDSTTON;
    dest_addr_npi not an ``Npi`` -> ESME_RINVDSTNPI; destination_addr empty, or not ASCII
    digits for TON 1/2/4 (a leading '+' accepted when not strict) -> ESME_RINVDSTADR.
    submit_multi: fewer than 1 or more than 254 entries -> ESME_RINVNUMDESTS; a
    distribution list -> ESME_RCNTSUBDL unless ``allow_distribution_lists`` (then an
    empty dl_name -> ESME_RINVDLNAME); if *no* SME address passes the per-destination
    rules of 4, the first failure's status (nothing would be submitted). Otherwise the
    failing addresses are reported by ``submit_multi_failures`` for unsuccess_sme.
 5. esm_class message type (bits 5-2) not 0x00, 0x08 or 0x10 -> ESME_RINVESMCLASS
    (e.g. 0x04 "SMSC delivery receipt" on submit_sm). Any messaging mode and any GSM
    feature bits are accepted.
 6. priority_flag > 3 -> ESME_RINVPRTFLG                                (not data_sm)
 7. schedule_delivery_time not a valid SMPP time -> ESME_RINVSCHED      (not data_sm)
 8. validity_period not a valid SMPP time -> ESME_RINVEXPIRY            (not data_sm)
 9. registered_delivery bits 7-5 set, or (strict) bits 1-0 == 3 (reserved in 3.4)
    -> ESME_RINVREGDLVFLG
10. replace_if_present_flag > 1 -> ESME_RINVREPFLAG                     (not data_sm)
11. data_coding not in ``supported_data_codings`` -> ``invalid_dcs_status``
12. non-empty short_message together with message_payload
    -> ``payload_with_short_message_status``
13. strict only: data_sm without message_payload -> ESME_RMISSINGOPTPARAM
14. only one or two of the three SAR TLVs -> ESME_RMISSINGOPTPARAM
15. sar_total_segments 0, sar_segment_seqnum 0 or above sar_total_segments
    -> ESME_RINVOPTPARAMVAL
16. UDHI set and the user data is empty or its UDH length octet runs past it
    -> ESME_RINVMSGLEN
17. UCS2 data_coding and an odd number of text octets (after the UDH) -> ESME_RINVMSGLEN
18. short_message longer than one SMS -> ESME_RINVMSGLEN (message_payload is segmented by
    the SMSC and has no limit here). Limits, with n = UDH octets including the UDHL octet:

    ============  ======================  ===============  ===================
    alphabet      no UDH, no SAR          SAR TLVs         UDHI
    ============  ======================  ===============  ===================
    GSM7 (*)      160 octets              153 octets       n + 160 - ceil(8n/7)
    8-bit / UCS2  140 octets              134 octets       140 octets in all
    ============  ======================  ===============  ===================

    (*) GSM7 travels unpacked, one septet per octet (SMPP-REFERENCE §5.4), so a 160-
    character message is 160 octets; packed GSM7 is shorter and passes the same bound. A
    UDH of n octets uses ceil(8n/7) of the 160 septets (fill bits included), so a 6-octet
    concatenation UDH leaves 153. SAR parts get the same 153/134, because the SMSC adds
    that 6-octet UDH itself. Where UDHI and SAR TLVs meet, the UDH rule applies.

``validate_query`` / ``validate_cancel`` / ``validate_replace`` check message_id first
(empty -> ESME_RINVMSGID; cancel_sm may leave it empty only when source_addr and
destination_addr are both set: cancel by address), then the address rules 1-4 for the
fields the PDU has (cancel_sm's destination may be empty when message_id is set).
replace_sm then applies rules 7, 8, 9 and 12, and bounds short_message at 160 octets: it
has no data_coding or esm_class, so only the largest one-SMS size of any alphabet applies.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

import attrs

from smppgw.core.constants import CommandStatus, EsmClass, Npi, TlvTag, Ton
from smppgw.core.pdu import (
    CancelSm,
    DataSm,
    DestAddress,
    DistributionList,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
)
from smppgw.core.timefmt import SmppTimeError, parse_smpp_time
from smppgw.core.tlv import Tlv

__all__ = [
    "DEFAULT_DCS",
    "GSM7_DCS",
    "UCS2_DCS",
    "ValidationPolicy",
    "submit_multi_failures",
    "validate_cancel",
    "validate_query",
    "validate_replace",
    "validate_submit",
]

S = CommandStatus

# data_coding values an SMSC commonly accepts (SMPP-REFERENCE §5.3): the SMPP 3.4 codings
# with a real alphabet behind them (default, IA5, both "octet unspecified", Latin-1,
# UCS2), the GSM 03.38 general data coding group without compression (0x10-0x1B: GSM7,
# 8-bit and UCS2, message classes 0-3; 0x1C-0x1F use a reserved alphabet) and the
# message class group with bit 3 clear (0xF0-0xF7; 23.038 §4 reserves bit 3). The
# national codings 0x05-0x0E and the MWI groups 0xC0-0xEF are off by default.
DEFAULT_DCS: Final[frozenset[int]] = frozenset(
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x08, *range(0x10, 0x1C), *range(0xF0, 0xF8)}
)
# Codings whose text is one septet per octet (IA5 counts: it is a 7-bit alphabet).
GSM7_DCS: Final[frozenset[int]] = frozenset(
    {0x00, 0x01, *range(0x10, 0x14), *range(0xC0, 0xE0), *range(0xF0, 0xF4), *range(0xF8, 0xFC)}
)
UCS2_DCS: Final[frozenset[int]] = frozenset({0x08, *range(0x18, 0x1C), *range(0xE0, 0xF0)})


def _int_set(values: Iterable[int]) -> frozenset[int]:
    return frozenset(int(v) for v in values)


@attrs.frozen(kw_only=True)
class ValidationPolicy:
    """How strict the simulated SMSC is. The default is a lenient, 3.4-era carrier."""

    strict: bool = False
    supported_data_codings: frozenset[int] = attrs.field(default=DEFAULT_DCS, converter=_int_set)
    # Checklist 36: ESME_RINVMSGLEN, or ESME_RSUBMITFAIL on some carriers.
    payload_with_short_message_status: int = CommandStatus.ESME_RINVMSGLEN
    # ESME_RINVDCS is v5.0; a 3.4 SMSC answers ESME_RSUBMITFAIL instead (SMPP-REFERENCE §5.3).
    invalid_dcs_status: int = CommandStatus.ESME_RINVDCS
    allow_distribution_lists: bool = False


OK: Final = int(S.ESME_ROK)  # a plain int: comparing with an IntEnum member is ~8x slower
_TONS: Final = frozenset(int(t) for t in Ton)
_NPIS: Final = frozenset(int(n) for n in Npi)
# TONs whose addresses are E.164/national digit strings (SMPP-REFERENCE §5.6).
_NUMERIC_TONS: Final = frozenset({int(Ton.INTERNATIONAL), int(Ton.NATIONAL), int(Ton.SUBSCRIBER_NUMBER)})
_MAX_ALPHANUMERIC: Final = 11  # GSM TP-OA limit for an alphanumeric sender
# esm_class message types an ESME may send (3.4 §5.2.12): default, delivery ack, user ack.
_ESME_MESSAGE_TYPES: Final = frozenset({0x00, int(EsmClass.SME_DELIVERY_ACK), int(EsmClass.SME_MANUAL_ACK)})
_TYPE_MASK: Final = int(EsmClass.TYPE_MASK)
_UDHI: Final = int(EsmClass.UDHI)
_MAX_DESTS: Final = 254
_MAX_PRIORITY: Final = 3
_REGDLV_RESERVED_BITS: Final = 0xE0
_SMS_OCTETS: Final = 140
_SMS_SEPTETS: Final = 160
_SAR_UDH: Final = 6  # the concatenation UDH the SMSC builds for SAR parts (05 00 03 rr tt nn)
_MAX_REPLACE_SM: Final = _SMS_SEPTETS
_PAYLOAD: Final = int(TlvTag.MESSAGE_PAYLOAD)
_SAR_REF: Final = int(TlvTag.SAR_MSG_REF_NUM)
_SAR_TOTAL: Final = int(TlvTag.SAR_TOTAL_SEGMENTS)
_SAR_SEQ: Final = int(TlvTag.SAR_SEGMENT_SEQNUM)


def _gsm7_limit(udh_octets: int) -> int:
    """Largest unpacked-GSM7 short_message with a UDH of ``udh_octets`` (UDHL included)."""
    return udh_octets + _SMS_SEPTETS - (-(-8 * udh_octets // 7))


# Index: UDH octets including UDHL (1..256). Precomputed: the rule runs per message.
_GSM7_UDH_LIMIT: Final = tuple(_gsm7_limit(n) for n in range(257))
_GSM7_SAR_LIMIT: Final = _gsm7_limit(_SAR_UDH) - _SAR_UDH  # 153: 6 octets = 48 bits -> 7 septets
_OCTET_SAR_LIMIT: Final = _SMS_OCTETS - _SAR_UDH  # 134


def _is_digits(text: str) -> bool:
    # isdigit() alone accepts non-ASCII digits ('²', '٣').
    return text.isdigit() and text.isascii()


# -- addresses (rules 1-4) -----------------------------------------------------------------


def _source_status(ton: int, npi: int, addr: str, strict: bool) -> int:
    if ton not in _TONS:
        return S.ESME_RINVSRCTON
    if npi not in _NPIS:
        return S.ESME_RINVSRCNPI
    if strict and addr:
        if ton == Ton.ALPHANUMERIC and len(addr) > _MAX_ALPHANUMERIC:
            return S.ESME_RINVSRCADR
        if ton == Ton.INTERNATIONAL and not _is_digits(addr):
            return S.ESME_RINVSRCADR
    return OK


def _dest_status(ton: int, npi: int, addr: str, strict: bool, *, required: bool = True) -> int:
    if ton not in _TONS:
        return S.ESME_RINVDSTTON
    if npi not in _NPIS:
        return S.ESME_RINVDSTNPI
    if not addr:
        return S.ESME_RINVDSTADR if required else OK
    if ton in _NUMERIC_TONS:
        digits = addr[1:] if addr[0] == "+" and not strict else addr
        if not _is_digits(digits):  # "".isdigit() is False: a lone "+" fails
            return S.ESME_RINVDSTADR
    return OK


def _multi_dests_status(pdu: SubmitMulti, policy: ValidationPolicy) -> int:
    dests = pdu.dest_addresses
    if not 1 <= len(dests) <= _MAX_DESTS:
        return S.ESME_RINVNUMDESTS
    first_failure: int = OK
    any_ok = False
    for dest in dests:
        if isinstance(dest, DistributionList):
            if not policy.allow_distribution_lists:
                return S.ESME_RCNTSUBDL
            if not dest.dl_name:
                return S.ESME_RINVDLNAME
            any_ok = True
            continue
        status = _dest_status(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, policy.strict)
        if not status:
            any_ok = True
        elif not first_failure:
            first_failure = status
    return OK if any_ok else first_failure


def submit_multi_failures(pdu: SubmitMulti, policy: ValidationPolicy) -> list[tuple[DestAddress, int]]:
    """The SME addresses of a submit_multi that fail rule 4, with their status, in PDU order.

    These go into submit_multi_resp's unsuccess_sme list (3.4 §4.5.2). Distribution
    lists are judged for the whole PDU by ``validate_submit`` and never appear here.
    """
    strict = policy.strict
    out = []
    for dest in pdu.dest_addresses:
        if isinstance(dest, DestAddress):
            status = _dest_status(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, strict)
            if status:
                out.append((dest, status))
    return out


# -- single fields (rules 5-11) ------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _is_bad_time(value: str) -> bool:
    """Memoised: ESMEs repeat the same few validity periods, and parsing costs ~10 µs."""
    try:
        parse_smpp_time(value)
    except SmppTimeError:
        return True
    return False


def _times_status(schedule_delivery_time: str, validity_period: str) -> int:
    if schedule_delivery_time and _is_bad_time(schedule_delivery_time):
        return S.ESME_RINVSCHED
    if validity_period and _is_bad_time(validity_period):
        return S.ESME_RINVEXPIRY
    return OK


def _registered_delivery_status(registered_delivery: int, strict: bool) -> int:
    if registered_delivery & _REGDLV_RESERVED_BITS or (strict and registered_delivery & 0x03 == 0x03):
        return S.ESME_RINVREGDLVFLG
    return OK


# -- user data (rules 12-18) ---------------------------------------------------------------


def _scan_tlvs(tlvs: Iterable[Tlv]) -> tuple[Tlv | None, Tlv | None, Tlv | None, Tlv | None]:
    """(message_payload, sar_msg_ref_num, sar_total_segments, sar_segment_seqnum); first wins."""
    payload = ref = total = seq = None
    for tlv in tlvs:
        tag = tlv.tag
        if tag == _PAYLOAD:
            if payload is None:
                payload = tlv
        elif tag == _SAR_REF:
            if ref is None:
                ref = tlv
        elif tag == _SAR_TOTAL:
            if total is None:
                total = tlv
        elif tag == _SAR_SEQ and seq is None:
            seq = tlv
    return payload, ref, total, seq


def _sar_status(ref: Tlv | None, total: Tlv | None, seq: Tlv | None) -> tuple[int, bool]:
    """(status, SAR in use) for rules 14-15."""
    if ref is None and total is None and seq is None:
        return OK, False
    if ref is None or total is None or seq is None:
        return S.ESME_RMISSINGOPTPARAM, True
    segments, seqnum = total.as_int(), seq.as_int()
    if segments == 0 or seqnum == 0 or seqnum > segments:
        return S.ESME_RINVOPTPARAMVAL, True
    return OK, True


def _content_status(
    short_message: bytes,
    tlvs: tuple[Tlv, ...],
    esm_class: int,
    data_coding: int,
    policy: ValidationPolicy,
    *,
    needs_payload: bool,
) -> int:
    payload, sar = None, False
    if tlvs:  # rules 12 and 14-15 are about TLVs: without any, only 13 can fail
        payload, ref, total, seq = _scan_tlvs(tlvs)
        if short_message and payload is not None:
            return policy.payload_with_short_message_status
        if needs_payload and payload is None and policy.strict:
            return S.ESME_RMISSINGOPTPARAM
        status, sar = _sar_status(ref, total, seq)
        if status:
            return status
    elif needs_payload and policy.strict:
        return S.ESME_RMISSINGOPTPARAM
    data = short_message if payload is None else payload.value
    udh = 0
    if esm_class & _UDHI:
        if not data or 1 + data[0] > len(data):
            return S.ESME_RINVMSGLEN
        udh = 1 + data[0]
    if data_coding in UCS2_DCS and (len(data) - udh) & 1:
        return S.ESME_RINVMSGLEN
    # Every limit in the table is at least 134 octets for data of at most 134 octets.
    if payload is None and len(data) > _OCTET_SAR_LIMIT:  # message_payload: the SMSC segments it
        if data_coding in GSM7_DCS:
            limit = _GSM7_UDH_LIMIT[udh] if udh else _GSM7_SAR_LIMIT if sar else _SMS_SEPTETS
        else:
            limit = _OCTET_SAR_LIMIT if sar and not udh else _SMS_OCTETS
        if len(data) > limit:
            return S.ESME_RINVMSGLEN
    return OK


# -- public entry points -------------------------------------------------------------------


def validate_submit(pdu: SubmitSm | DataSm | SubmitMulti, policy: ValidationPolicy) -> int:
    """ESME_ROK, or the status to answer this submit_sm / submit_multi / data_sm with.

    See the module docstring for the rules and their order. Never raises.
    """
    strict = policy.strict
    ton, npi = pdu.source_addr_ton, pdu.source_addr_npi
    if strict or ton not in _TONS or npi not in _NPIS:  # else rules 1-3 pass: no call per submit
        status = _source_status(ton, npi, pdu.source_addr, strict)
        if status:
            return status
    if isinstance(pdu, SubmitMulti):
        status = _multi_dests_status(pdu, policy)
    else:
        status = _dest_status(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr, strict)
    if status:
        return status
    esm_class = pdu.esm_class
    if esm_class & _TYPE_MASK not in _ESME_MESSAGE_TYPES:
        return S.ESME_RINVESMCLASS
    if isinstance(pdu, DataSm):
        short_message = b""
    else:
        if pdu.priority_flag > _MAX_PRIORITY:
            return S.ESME_RINVPRTFLG
        if pdu.schedule_delivery_time or pdu.validity_period:
            status = _times_status(pdu.schedule_delivery_time, pdu.validity_period)
            if status:
                return status
        short_message = pdu.short_message
    status = _registered_delivery_status(pdu.registered_delivery, strict)  # rule 9
    if status:
        return status
    if not isinstance(pdu, DataSm) and pdu.replace_if_present_flag > 1:
        return S.ESME_RINVREPFLAG
    data_coding = pdu.data_coding
    if data_coding not in policy.supported_data_codings:
        return policy.invalid_dcs_status
    return _content_status(
        short_message, pdu.tlvs, esm_class, data_coding, policy, needs_payload=isinstance(pdu, DataSm)
    )


def validate_query(pdu: QuerySm, policy: ValidationPolicy) -> int:
    """ESME_ROK or the status for a query_sm (message_id, then source address)."""
    if not pdu.message_id:
        return S.ESME_RINVMSGID
    return _source_status(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, policy.strict)


def validate_cancel(pdu: CancelSm, policy: ValidationPolicy) -> int:
    """ESME_ROK or the status for a cancel_sm.

    An empty message_id means "cancel every message from source_addr to destination_addr"
    (3.4 §4.9.1); that needs both addresses, else ESME_RINVMSGID.
    """
    if not pdu.message_id and not (pdu.source_addr and pdu.destination_addr):
        return S.ESME_RINVMSGID
    status = _source_status(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, policy.strict)
    if status:
        return status
    return _dest_status(
        pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr, policy.strict, required=False
    )


def validate_replace(pdu: ReplaceSm, policy: ValidationPolicy) -> int:
    """ESME_ROK or the status for a replace_sm (message_id, source, times, registered_delivery,
    then the new short_message)."""
    if not pdu.message_id:
        return S.ESME_RINVMSGID
    status = _source_status(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, policy.strict)
    if status:
        return status
    if pdu.schedule_delivery_time or pdu.validity_period:
        status = _times_status(pdu.schedule_delivery_time, pdu.validity_period)
        if status:
            return status
    status = _registered_delivery_status(pdu.registered_delivery, policy.strict)
    if status:
        return status
    if pdu.short_message and pdu.tlvs and any(t.tag == _PAYLOAD for t in pdu.tlvs):
        return policy.payload_with_short_message_status
    if len(pdu.short_message) > _MAX_REPLACE_SM:
        return S.ESME_RINVMSGLEN
    return OK
