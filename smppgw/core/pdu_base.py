"""The PDU base classes: ``Pdu``, ``Request``, ``Response`` and the per-class tables behind them.

Every concrete PDU (``smppgw.core.pdu_session``, ``smppgw.core.pdu_message``) derives from
these. The tables ``_VALIDATORS`` (the compiled field checks) and ``_DEFAULTS`` (the field
defaults ``trusted_from`` starts from) live here because construction reads them as module
globals on the hot path; ``smppgw.core.pdu`` fills them once every class is defined, so
build PDUs from classes imported through ``smppgw.core.pdu``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

import attrs

from smppgw.core._construct import build
from smppgw.core.constants import CommandId
from smppgw.core.fields import InvalidField, WireField
from smppgw.core.tlv import Tlv, find_tlv

__all__ = ["Pdu", "Request", "Response"]

_tlvs = attrs.field(default=(), kw_only=True)
# Per class: the compiled validator (``fields.compile_validator``) and the field defaults.
# Module globals because construction, which is hot, reads them; ``smppgw.core.pdu`` fills them.
_VALIDATORS: dict[type, Callable[[Any], None]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}


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
    def trusted_from(cls, fields: dict[str, Any]) -> Self:
        """Build from ``fields`` (unset ones take their defaults) without re-validating:
        for values assembled from already-checked parts (a decoded PDU's addresses, a
        split message's parts, our own message ids).

        The hot path of the simulator and the gateway builds one or two PDUs per message
        from such values, and validation would cost more than the encoding; a dict, not
        keyword arguments, because their packing was half the cost of a submit_sm with a
        dozen fields. A wrong value passed here surfaces only at encode time: anything
        from outside (config, HTTP, a user) goes through the normal constructor.
        """
        return build(cls, {**_DEFAULTS[cls], **fields})

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
