"""Adapters between our PDUs and the reference peers, used only as black boxes.

smpplib and aiosmpplib represent a PDU differently from us (bytes vs str, enums vs ints,
TLVs as attributes or ``OptionalParam`` lists, times as datetimes). Each peer gets a
*view*: a plain dict ``{wire field name: value, "tlvs": {tlv name: value}}`` in the
same shape as ``our_view``, so a test compares one dict with another and a difference in
representation never shows up as a failure. Nothing here re-implements a peer: we only
call its public builders and parsers (smpplib ``make_pdu`` / ``generate`` /
``parse_pdu``; aiosmpplib ``SmppMessage.parse_header`` / ``from_pdu`` / ``pdu``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiosmpplib.protocol as aio
import smpplib.command
import smpplib.consts
import smpplib.smpp
from aiosmpplib.state import SmppDataCoding

from smppgw.core.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smppgw.core.tlv import TLV_SPECS, Tlv, TlvKind, TlvTag

View = dict[str, Any]

# -- our side ----------------------------------------------------------------------------


def tlv_name(tag: int) -> str:
    """The 3.4 name of a tag; smpplib's attribute names are the same lower-case names."""
    return TlvTag(tag).name.lower()


def tlv_tag(name: str) -> int:
    return int(TlvTag[name.upper()])


def make_tlv(name: str, value: int | str | bytes) -> Tlv:
    """Our TLV for a typed value: ints get the spec length, str is a C-Octet String."""
    tag = tlv_tag(name)
    if isinstance(value, int):
        return Tlv.from_int(tag, value)
    if isinstance(value, str):
        return Tlv.from_str(tag, value)
    return Tlv(tag, value)


def octets_tlv_value(tlv: Tlv) -> int | bytes:
    """TLV value as int (integer TLVs) or raw octets (C-Octet Strings without the NUL)."""
    kind = TLV_SPECS[tlv.tag].kind
    if kind is TlvKind.INT:
        return tlv.as_int()
    if kind is TlvKind.CSTRING:
        return tlv.as_str().encode("latin-1")
    return tlv.value


def our_view(pdu: Pdu) -> View:
    """Wire fields of one of our PDUs, TLVs keyed by name (int or octets)."""
    view: View = {wf.name: getattr(pdu, wf.name) for wf in type(pdu).wire}
    tlvs = getattr(pdu, "tlvs", ())
    view["tlvs"] = {tlv_name(t.tag): octets_tlv_value(t) for t in tlvs}
    assert len(view["tlvs"]) == len(tlvs), "a test PDU never repeats a TLV"
    return view


def expected_view(cls: type[Pdu], fields: dict[str, Any], tlvs: dict[str, int | str | bytes]) -> View:
    """The view a PDU of ``cls`` built from these values must have (str TLVs as octets)."""
    view: View = {wf.name: fields.get(wf.name, wf.default) for wf in cls.wire}
    view["tlvs"] = {name: v.encode("latin-1") if isinstance(v, str) else v for name, v in tlvs.items()}
    return view


# -- smpplib -------------------------------------------------------------------------------

#: Our classes that smpplib's ``command.factory`` can build and parse, by smpplib name.
SMPPLIB_NAMES: dict[type[Pdu], str] = {
    BindTransmitter: "bind_transmitter",
    BindTransmitterResp: "bind_transmitter_resp",
    BindReceiver: "bind_receiver",
    BindReceiverResp: "bind_receiver_resp",
    BindTransceiver: "bind_transceiver",
    BindTransceiverResp: "bind_transceiver_resp",
    DataSm: "data_sm",
    DataSmResp: "data_sm_resp",
    GenericNack: "generic_nack",
    SubmitSm: "submit_sm",
    SubmitSmResp: "submit_sm_resp",
    DeliverSm: "deliver_sm",
    DeliverSmResp: "deliver_sm_resp",
    QuerySm: "query_sm",
    QuerySmResp: "query_sm_resp",
    Unbind: "unbind",
    UnbindResp: "unbind_resp",
    EnquireLink: "enquire_link",
    EnquireLinkResp: "enquire_link_resp",
    AlertNotification: "alert_notification",
}


class SmpplibClient:
    """What smpplib asks of its ``client`` argument: the sequence number to use."""

    def __init__(self, sequence: int = 1) -> None:
        self.sequence = sequence

    def next_sequence(self) -> int:
        return self.sequence


def smpplib_parse(frame: bytes) -> smpplib.command.Command:
    return smpplib.smpp.parse_pdu(frame, client=SmpplibClient())


def smpplib_build(name: str, sequence: int, status: int = 0, **kwargs: Any) -> bytes:
    """``make_pdu(...).generate()``. smpplib takes the sequence from the client (a
    ``sequence=`` keyword is ignored when the client has one), so the client carries it."""
    cmd = smpplib.smpp.make_pdu(name, client=SmpplibClient(sequence), status=status, **kwargs)
    frame: bytes = cmd.generate()
    return frame


def _smpplib_is_tlv(cmd: smpplib.command.Command, name: str) -> bool:
    return bool(cmd.field_is_optional(name))


def smpplib_view(cmd: smpplib.command.Command, cls: type[Pdu]) -> View:
    """smpplib parses C-Octet Strings to bytes and leaves absent values at None."""
    view: View = {}
    for wf in cls.wire:
        value = getattr(cmd, wf.name, None)
        if wf.kind in ("cstr", "time") and isinstance(value, bytes):
            value = value.decode("latin-1")
        elif wf.kind == "sm" and value is None:
            value = b""  # sm_length 0 at the very end of the body: smpplib stops before it
        view[wf.name] = value
    tlvs: dict[str, int | bytes] = {}
    for name in cmd.params:
        value = getattr(cmd, name, None)
        if _smpplib_is_tlv(cmd, name) and value is not None:
            tlvs[name] = value
    view["tlvs"] = tlvs
    return view


# -- aiosmpplib ----------------------------------------------------------------------------

#: Our classes with an aiosmpplib PDU class (its ``MESSAGE_TYPE_MAP``).
AIO_CLASSES: dict[type[Pdu], type[aio.SmppMessage]] = {
    GenericNack: aio.GenericNack,
    SubmitSm: aio.SubmitSm,
    SubmitSmResp: aio.SubmitSmResp,
    DeliverSm: aio.DeliverSm,
    DeliverSmResp: aio.DeliverSmResp,
    BindTransceiver: aio.BindTransceiver,
    BindTransceiverResp: aio.BindTransceiverResp,
    BindTransmitter: aio.BindTransmitter,
    BindTransmitterResp: aio.BindTransmitterResp,
    BindReceiver: aio.BindReceiver,
    BindReceiverResp: aio.BindReceiverResp,
    EnquireLink: aio.EnquireLink,
    EnquireLinkResp: aio.EnquireLinkResp,
    Unbind: aio.Unbind,
    UnbindResp: aio.UnbindResp,
}
assert set(AIO_CLASSES.values()) == set(aio.MESSAGE_TYPE_MAP.values())

#: data_coding -> the stdlib codec used to turn test text into octets and back. For 0
#: the tests only use characters whose GSM 03.38 septet equals their ASCII code.
TEXT_CODECS: dict[int, str] = {0: "ascii", 1: "ascii", 3: "latin-1", 8: "utf-16-be"}
#: data_coding -> aiosmpplib's encoding name (None = its default alphabet, gsm0338).
AIO_ENCODINGS: dict[int, str | None] = {0: "gsm0338", 1: "ascii", 3: "latin_1", 8: "ucs2"}


def aio_parse(frame: bytes) -> aio.SmppMessage:
    """What aiosmpplib's ESME does with a frame read from the socket (default alphabet
    gsm0338, no custom codecs)."""
    header = aio.SmppMessage.parse_header(frame)
    cls = aio.MESSAGE_TYPE_MAP[header.smpp_command]
    return cls.from_pdu(frame, header, aio.DEFAULT_ENCODING, None)


def aio_frame(msg: aio.SmppMessage) -> bytes:
    if isinstance(msg, aio.SubmitSm):
        msg.set_encoding_info(aio.DEFAULT_ENCODING, None)
    frame: bytes = msg.pdu()
    return frame


def aio_time(value: datetime | timedelta | None) -> str:
    """aiosmpplib turns SMPP times into datetime/timedelta; its own formatter turns them
    back, so a value that survives unchanged was understood."""
    return aio.SubmitSm.datetime_to_smpp_time(value)


def aio_view(msg: aio.SmppMessage, cls: type[Pdu]) -> View:
    """The fields of ``cls`` from an aiosmpplib message; short_message / message_payload
    as text (aiosmpplib decodes them), TLVs as int or str."""
    view: View = {}
    if isinstance(msg, aio.SubmitSm):
        view.update(
            service_type=msg.service_type,
            source_addr_ton=int(msg.source.ton),
            source_addr_npi=int(msg.source.npi),
            source_addr=msg.source.number,
            dest_addr_ton=int(msg.destination.ton),
            dest_addr_npi=int(msg.destination.npi),
            destination_addr=msg.destination.number,
            esm_class=msg.esm_class,
            protocol_id=msg.protocol_id,
            priority_flag=msg.priority_flag,
            schedule_delivery_time=aio_time(msg.schedule_delivery_time),
            validity_period=aio_time(msg.validity_period),
            registered_delivery=msg.registered_delivery,
            replace_if_present_flag=msg.replace_if_present_flag,
            data_coding=SmppDataCoding[msg.encoding].value if msg.encoding else 0,
            sm_default_msg_id=msg.sm_default_msg_id,
            short_message=msg.short_message,
        )
        tlvs: dict[str, int | str] = {tlv_name(p.tag): p.value for p in msg.optional_params or ()}  # type: ignore[misc]
        if msg.message_payload:
            tlvs["message_payload"] = msg.message_payload
        view["tlvs"] = tlvs
    elif isinstance(msg, aio.BindTransceiver):
        view.update(
            system_id=msg.system_id,
            password=msg.password,
            system_type=msg.system_type,
            interface_version=msg.interface_version,
            addr_ton=int(msg.addr_ton),
            addr_npi=int(msg.addr_npi),
            address_range=msg.address_range,
            tlvs={},
        )
    elif isinstance(msg, aio.BindTransceiverResp):
        tlvs = {} if msg.sc_interface_version is None else {"sc_interface_version": msg.sc_interface_version}
        view.update(system_id=msg.system_id, tlvs=tlvs)
    elif isinstance(msg, aio.SubmitSmResp):
        view.update(message_id=msg.message_id, tlvs={})
    else:
        view["tlvs"] = {}
    assert set(view) == {wf.name for wf in cls.wire} | {"tlvs"}, cls
    return view


def our_text_view(pdu: Pdu) -> View:
    """``our_view`` with short_message / message_payload decoded by data_coding and TLVs
    as int or str, the shape of ``aio_view``."""
    view = our_view(pdu)
    codec = TEXT_CODECS[view.get("data_coding", 0)]
    if "short_message" in view:
        view["short_message"] = view["short_message"].decode(codec)
    tlvs: dict[str, int | str] = {}
    for name, value in view["tlvs"].items():
        if name == "message_payload":
            tlvs[name] = value.decode(codec)
        else:
            tlvs[name] = value if isinstance(value, int) else value.decode("ascii")
    view["tlvs"] = tlvs
    return view
