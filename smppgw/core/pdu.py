"""PDU value classes for every SMPP 3.4 operation (SMPP 3.4 chapter 4).

A PDU is a frozen attrs value. Field order in a class == wire order, declared with the
helpers of ``smppgw.core.fields``; the codec is compiled from the same declaration. PDUs
carry no sequence number: the session owns sequence numbers and the ``Header`` carries
them. Values are checked at construction ("an invalid PDU cannot exist"); the decoder
checks bounds on the wire and builds PDUs without re-validating.

One-octet enumerated fields (TON, NPI, esm_class, ...) are plain ints so that a peer's
out-of-range value can be received and answered with the right status.

This module is where PDUs are imported from. The classes live in ``pdu_base`` (``Pdu``,
``Request``, ``Response``), ``pdu_session`` (bind, unbind, enquire_link, ...) and
``pdu_message`` (submit_sm, deliver_sm, query_sm, ...); here each request is paired with
its response, ``PDU_TYPES`` maps command_id to class, and every class gets its wire
layout, compiled validator and defaults. The private bases ``_Bind``, ``_BindResp`` and
``_CarriesText`` are re-exported too, for the modules that import them from here.
"""

from __future__ import annotations

import attrs

from smppgw.core.fields import compile_validator, wire_fields
from smppgw.core.pdu_base import _DEFAULTS, _VALIDATORS, Pdu, Request, Response
from smppgw.core.pdu_message import (
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionList,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
)
from smppgw.core.pdu_message import _CarriesText as _CarriesText  # noqa: PLC0414 - explicit re-export
from smppgw.core.pdu_session import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Unbind,
    UnbindResp,
)
from smppgw.core.pdu_session import _Bind as _Bind  # noqa: PLC0414 - explicit re-export
from smppgw.core.pdu_session import _BindResp as _BindResp  # noqa: PLC0414 - explicit re-export

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
# Compiled per class at import (``fields.compile_validator``): construction is hot. The
# tables are ``pdu_base``'s, which construction reads as module globals.
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
