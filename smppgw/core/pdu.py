"""PDU value classes for every SMPP 3.4 operation (SMPP 3.4 chapter 4).

A PDU is a frozen attrs value. Field order here == wire order, declared with the helpers
of ``smppgw.core.fields``; the codec is compiled from the same declaration. PDUs carry
no sequence number: the session owns sequence numbers and the ``Header`` carries them.
Values are checked at construction ("an invalid PDU cannot exist"); the decoder checks
bounds on the wire and builds PDUs without re-validating.

One-octet enumerated fields (TON, NPI, esm_class, ...) are plain ints so that a peer's
out-of-range value can be received and answered with the right status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

import attrs

from smppgw.core.constants import CommandId, CommandStatus, InterfaceVersion, Npi, TlvTag, Ton
from smppgw.core.fields import (
    InvalidField,
    WireField,
    compile_validator,
    cstr,
    dest_list,
    short_message,
    smpp_time,
    u8,
    unsuccess_list,
    wire_fields,
)
from smppgw.core.tlv import Tlv, find_tlv

__all__ = [
    "PDU_TYPES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DestAddress",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "Request",
    "Response",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
]

_tlvs = attrs.field(default=(), kw_only=True)


class Pdu:
    """Base of every PDU. ``command_id`` and the wire layout are class attributes."""

    __slots__ = ()
    command_id: ClassVar[CommandId]
    wire: ClassVar[tuple[WireField, ...]] = ()
    has_body: ClassVar[bool] = True

    def __attrs_post_init__(self) -> None:
        _VALIDATORS[type(self)](self)
        tlvs = getattr(self, "tlvs", ())
        if type(tlvs) is not tuple:
            raise InvalidField(f"{type(self).__name__}.tlvs must be a tuple of Tlv")
        for tlv in tlvs:  # a loop, not all(genexpr): this runs for every PDU built
            if type(tlv) is not Tlv:
                raise InvalidField(f"{type(self).__name__}.tlvs must be a tuple of Tlv")
        self._check()

    @classmethod
    def trusted(cls, **fields: Any) -> Self:
        """Build without re-validating: for values assembled from already-checked parts
        (a decoded PDU's addresses, a split message's parts, our own message ids).

        The hot path of the simulator and the gateway builds one or two PDUs per message
        from such values, and validation would cost more than the encoding. A wrong
        value passed here surfaces only at encode time: anything from outside (config,
        HTTP, a user) goes through the normal constructor.
        """
        obj = object.__new__(cls)
        object.__setattr__(obj, "__dict__", {**_DEFAULTS[cls], **fields})
        return obj

    @classmethod
    def trusted_from(cls, fields: dict[str, Any]) -> Self:
        """``trusted`` from a dict the caller built: no keyword-argument packing, which
        was half the cost of a submit_sm with a dozen fields on the gateway's hot path."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "__dict__", {**_DEFAULTS[cls], **fields})
        return obj

    def _check(self) -> None:
        """Cross-field rules; subclasses override."""

    def get_tlv(self, tag: int) -> Tlv | None:
        return find_tlv(getattr(self, "tlvs", ()), tag)


class Request(Pdu):
    __slots__ = ()
    response_type: ClassVar[type[Response] | None]

    def error_response(self) -> Response:
        """The *_resp to send with a non-zero status: default body (message_id NUL)."""
        if self.response_type is None:
            raise InvalidField(f"{type(self).__name__} has no response")
        return self.response_type()


class Response(Pdu):
    __slots__ = ()


# -- session management (3.4 §4.1-4.3, §4.11-4.12) -------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class _Bind(Request):
    system_id: str = cstr(16)
    password: str = cstr(9, secret=True)
    system_type: str = cstr(13)
    interface_version: int = u8(InterfaceVersion.V34)
    addr_ton: int = u8(Ton.UNKNOWN)
    addr_npi: int = u8(Npi.UNKNOWN)
    address_range: str = cstr(41)
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class _BindResp(Response):
    system_id: str = cstr(16)
    tlvs: tuple[Tlv, ...] = _tlvs

    @property
    def sc_interface_version(self) -> int | None:
        tlv = self.get_tlv(TlvTag.SC_INTERFACE_VERSION)
        return None if tlv is None else tlv.as_int()


@attrs.frozen(kw_only=True, slots=False)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@attrs.frozen(kw_only=True, slots=False)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@attrs.frozen(kw_only=True, slots=False)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@attrs.frozen(kw_only=True, slots=False)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@attrs.frozen(kw_only=True, slots=False)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@attrs.frozen(kw_only=True, slots=False)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@attrs.frozen(kw_only=True, slots=False)
class Outbind(Request):
    """outbind (3.4 §4.1.7): SMSC -> ESME, answered by a bind, not by a response."""

    command_id = CommandId.OUTBIND
    system_id: str = cstr(16)
    password: str = cstr(9, secret=True)
    tlvs: tuple[Tlv, ...] = _tlvs


@attrs.frozen(kw_only=True, slots=False)
class Unbind(Request):
    command_id = CommandId.UNBIND
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class UnbindResp(Response):
    command_id = CommandId.UNBIND_RESP
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class GenericNack(Response):
    """generic_nack (3.4 §4.3): header only; its command_status says what was wrong."""

    command_id = CommandId.GENERIC_NACK
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class EnquireLink(Request):
    command_id = CommandId.ENQUIRE_LINK
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class EnquireLinkResp(Response):
    command_id = CommandId.ENQUIRE_LINK_RESP
    has_body = False


@attrs.frozen(kw_only=True, slots=False)
class AlertNotification(Request):
    """alert_notification (3.4 §4.12): SMSC -> ESME, no response."""

    command_id = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = u8(Ton.UNKNOWN)
    source_addr_npi: int = u8(Npi.UNKNOWN)
    source_addr: str = cstr(65)
    esme_addr_ton: int = u8(Ton.UNKNOWN)
    esme_addr_npi: int = u8(Npi.UNKNOWN)
    esme_addr: str = cstr(65)
    tlvs: tuple[Tlv, ...] = _tlvs


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


_PAIRS: tuple[tuple[type[Request], type[Response] | None], ...] = (
    (BindTransmitter, BindTransmitterResp),
    (BindReceiver, BindReceiverResp),
    (BindTransceiver, BindTransceiverResp),
    (Outbind, None),
    (Unbind, UnbindResp),
    (EnquireLink, EnquireLinkResp),
    (AlertNotification, None),
    (SubmitSm, SubmitSmResp),
    (SubmitMulti, SubmitMultiResp),
    (DeliverSm, DeliverSmResp),
    (DataSm, DataSmResp),
    (QuerySm, QuerySmResp),
    (CancelSm, CancelSmResp),
    (ReplaceSm, ReplaceSmResp),
)

PDU_TYPES: dict[int, type[Pdu]] = {GenericNack.command_id: GenericNack}
# Compiled per class at import (``fields.compile_validator``): construction is hot.
_VALIDATORS: dict[type, Callable[[Any], None]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}
for _req, _resp in _PAIRS:
    _req.response_type = _resp
    PDU_TYPES[_req.command_id] = _req
    if _resp is not None:
        PDU_TYPES[_resp.command_id] = _resp
for _cls in PDU_TYPES.values():
    _cls.wire = wire_fields(_cls)
    _VALIDATORS[_cls] = compile_validator(_cls, _cls.wire)
    _DEFAULTS[_cls] = {a.name: a.default for a in attrs.fields(_cls)}  # type: ignore[arg-type]
del _req, _resp, _cls
