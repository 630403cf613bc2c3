"""Message PDUs: submission, delivery and management of short messages (SMPP 3.4 §4.4-4.10).

submit_sm, deliver_sm, submit_multi (with its destination and failure entries), data_sm,
query_sm, cancel_sm, replace_sm and their responses: the PDUs that carry or concern one
message, apart from the session-management PDUs (``smppgw.core.pdu_session``). Import
them from ``smppgw.core.pdu``, which pairs each request with its response and compiles
the codec and validators for every class.
"""

from __future__ import annotations

from typing import Any

import attrs

from smppgw.core.constants import CommandId, CommandStatus, Npi, TlvTag, Ton
from smppgw.core.fields import InvalidField, cstr, dest_list, short_message, smpp_time, u8, unsuccess_list
from smppgw.core.pdu_base import Request, Response, _tlvs
from smppgw.core.tlv import Tlv

__all__ = [
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DestAddress",
    "DistributionList",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "UnsuccessSme",
]


# -- message submission and delivery (3.4 §4.4-4.7) ------------------------------------


class _CarriesText(Request):
    """submit_sm / deliver_sm / submit_multi: short_message XOR message_payload."""

    __slots__ = ()

    def _check(self) -> None:
        # 3.4 §5.3.2.32: message_payload and a non-empty short_message are exclusive.
        if getattr(self, "short_message", b"") and self.get_tlv(TlvTag.MESSAGE_PAYLOAD) is not None:
            raise InvalidField(
                f"{type(self).__name__}: short_message and message_payload are mutually exclusive",
                command_status=CommandStatus.ESME_RINVMSGLEN,
            )

    @property
    def payload(self) -> bytes:
        """The user data: short_message, or the message_payload TLV when that is used."""
        tlv = self.get_tlv(TlvTag.MESSAGE_PAYLOAD)
        return tlv.value if tlv is not None else getattr(self, "short_message", b"")


@attrs.frozen(kw_only=True, slots=False)
class SubmitSm(_CarriesText):
    """submit_sm (3.4 §4.4.1)."""

    command_id = CommandId.SUBMIT_SM
    service_type: str = cstr(6)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(21)
    dest_addr_ton: int = u8(Ton.INTERNATIONAL)
    dest_addr_npi: int = u8(Npi.ISDN)
    destination_addr: str = cstr(21)
    esm_class: int = u8()
    protocol_id: int = u8()
    priority_flag: int = u8()
    schedule_delivery_time: str = smpp_time()
    validity_period: str = smpp_time()
    registered_delivery: int = u8()
    replace_if_present_flag: int = u8()
    data_coding: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class SubmitSmResp(Response):
    command_id = CommandId.SUBMIT_SM_RESP
    message_id: str = cstr(65)
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class DeliverSm(_CarriesText):
    """deliver_sm (3.4 §4.6.1): same body as submit_sm; the SMSC leaves the
    schedule/validity/replace/default-msg fields NULL."""

    command_id = CommandId.DELIVER_SM
    service_type: str = cstr(6)
    source_addr_ton: int = u8(Ton.INTERNATIONAL)
    source_addr_npi: int = u8(Npi.ISDN)
    source_addr: str = cstr(21)
    dest_addr_ton: int = u8(Ton.UNKNOWN)
    dest_addr_npi: int = u8(Npi.UNKNOWN)
    destination_addr: str = cstr(21)
    esm_class: int = u8()
    protocol_id: int = u8()
    priority_flag: int = u8()
    schedule_delivery_time: str = smpp_time()
    validity_period: str = smpp_time()
    registered_delivery: int = u8()
    replace_if_present_flag: int = u8()
    data_coding: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class DeliverSmResp(Response):
    """deliver_sm_resp (3.4 §4.6.2): message_id is unused and always NUL."""

    command_id = CommandId.DELIVER_SM_RESP
    message_id: str = cstr(65)
    tlvs: tuple[Tlv, ...] = _tlvs


def _octet(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value <= 0xFF:
        raise InvalidField(f"{type(inst).__name__}.{attr.name}: an integer 0..255, got {value!r}")


def _address(inst: object, attr: attrs.Attribute[str], value: str) -> None:
    # C-Octet String(21): at most 20 characters, one octet each, no NUL (3.4 §4.5.1).
    status = CommandStatus.ESME_RINVDLNAME if attr.name == "dl_name" else CommandStatus.ESME_RINVDSTADR
    ok = isinstance(value, str) and len(value) <= 20 and "\x00" not in value
    if ok:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            ok = False
    if not ok:
        raise InvalidField(
            f"{type(inst).__name__}.{attr.name}: at most 20 octet characters without NUL, got {value!r}",
            command_status=status,
        )


def _status_code(inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value <= 0xFFFF_FFFF:
        raise InvalidField(f"{type(inst).__name__}.{attr.name}: a 4-octet status, got {value!r}")


@attrs.frozen(kw_only=True, slots=False)
class DestAddress:
    """dest_flag 1: an SME address (3.4 §4.5.1.1)."""

    dest_addr_ton: int = attrs.field(default=int(Ton.INTERNATIONAL), converter=int, validator=_octet)
    dest_addr_npi: int = attrs.field(default=int(Npi.ISDN), converter=int, validator=_octet)
    destination_addr: str = attrs.field(validator=_address)


@attrs.frozen(kw_only=True, slots=False)
class DistributionList:
    """dest_flag 2: a distribution list name (3.4 §4.5.1.2)."""

    dl_name: str = attrs.field(validator=_address)


@attrs.frozen(kw_only=True, slots=False)
class UnsuccessSme:
    """One failed destination in submit_multi_resp (3.4 §4.5.2)."""

    dest_addr_ton: int = attrs.field(default=int(Ton.INTERNATIONAL), converter=int, validator=_octet)
    dest_addr_npi: int = attrs.field(default=int(Npi.ISDN), converter=int, validator=_octet)
    destination_addr: str = attrs.field(validator=_address)
    error_status_code: int = attrs.field(converter=int, validator=_status_code)


@attrs.frozen(kw_only=True, slots=False)
class SubmitMulti(_CarriesText):
    """submit_multi (3.4 §4.5.1)."""

    command_id = CommandId.SUBMIT_MULTI
    service_type: str = cstr(6)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(21)
    dest_addresses: tuple[DestAddress | DistributionList, ...] = dest_list()
    esm_class: int = u8()
    protocol_id: int = u8()
    priority_flag: int = u8()
    schedule_delivery_time: str = smpp_time()
    validity_period: str = smpp_time()
    registered_delivery: int = u8()
    replace_if_present_flag: int = u8()
    data_coding: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: tuple[Tlv, ...] = _tlvs

    def _check(self) -> None:
        super()._check()
        if not self.dest_addresses or not all(
            isinstance(d, DestAddress | DistributionList) for d in self.dest_addresses
        ):
            raise InvalidField(
                "SubmitMulti.dest_addresses: 1..254 DestAddress/DistributionList entries",
                command_status=CommandStatus.ESME_RINVNUMDESTS,
            )


@attrs.frozen(kw_only=True, slots=False)
class SubmitMultiResp(Response):
    command_id = CommandId.SUBMIT_MULTI_RESP
    message_id: str = cstr(65)
    unsuccess_smes: tuple[UnsuccessSme, ...] = unsuccess_list()
    tlvs: tuple[Tlv, ...] = _tlvs

    def _check(self) -> None:
        if not all(isinstance(u, UnsuccessSme) for u in self.unsuccess_smes):
            raise InvalidField("SubmitMultiResp.unsuccess_smes: UnsuccessSme entries only")


@attrs.frozen(kw_only=True, slots=False)
class DataSm(Request):
    """data_sm (3.4 §4.7.1): user data only in message_payload; addresses up to 65."""

    command_id = CommandId.DATA_SM
    service_type: str = cstr(6)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(65)
    dest_addr_ton: int = u8(Ton.INTERNATIONAL)
    dest_addr_npi: int = u8(Npi.ISDN)
    destination_addr: str = cstr(65)
    esm_class: int = u8()
    registered_delivery: int = u8()
    data_coding: int = u8()
    tlvs: tuple[Tlv, ...] = _tlvs

    @property
    def payload(self) -> bytes:
        tlv = self.get_tlv(TlvTag.MESSAGE_PAYLOAD)
        return b"" if tlv is None else tlv.value


@attrs.frozen(kw_only=True, slots=False)
class DataSmResp(Response):
    command_id = CommandId.DATA_SM_RESP
    message_id: str = cstr(65)
    tlvs: tuple[Tlv, ...] = _tlvs


# -- message management (3.4 §4.8-4.10) --------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class QuerySm(Request):
    command_id = CommandId.QUERY_SM
    message_id: str = cstr(65)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(21)
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class QuerySmResp(Response):
    command_id = CommandId.QUERY_SM_RESP
    message_id: str = cstr(65)
    final_date: str = smpp_time()
    message_state: int = u8()
    error_code: int = u8()
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class CancelSm(Request):
    """cancel_sm (3.4 §4.9.1): message_id NULL cancels every match of source/dest/service."""

    command_id = CommandId.CANCEL_SM
    service_type: str = cstr(6)
    message_id: str = cstr(65)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(21)
    dest_addr_ton: int = u8(Ton.UNKNOWN)
    dest_addr_npi: int = u8(Npi.UNKNOWN)
    destination_addr: str = cstr(21)
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class CancelSmResp(Response):
    command_id = CommandId.CANCEL_SM_RESP
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class ReplaceSm(Request):
    """replace_sm (3.4 §4.10.1). No service_type: message_id is the first field."""

    command_id = CommandId.REPLACE_SM
    message_id: str = cstr(65)
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(21)
    schedule_delivery_time: str = smpp_time()
    validity_period: str = smpp_time()
    registered_delivery: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class ReplaceSmResp(Response):
    command_id = CommandId.REPLACE_SM_RESP
    has_body = False
