"""Session-management PDUs: bind, outbind, unbind, generic_nack, enquire_link and
alert_notification (SMPP 3.4 §4.1-4.3, §4.11-4.12).

The PDUs that set up, keep alive and tear down a session, apart from the message PDUs
(``smppgw.core.pdu_message``). Import them from ``smppgw.core.pdu``, which pairs each
request with its response and compiles the codec and validators for every class.
"""

from __future__ import annotations

import attrs

from smppgw.core.constants import CommandId, InterfaceVersion, Npi, TlvTag, Ton
from smppgw.core.fields import cstr, u8
from smppgw.core.pdu_base import Request, Response, _tlvs
from smppgw.core.tlv import Tlv

__all__ = [
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Unbind",
    "UnbindResp",
]


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
