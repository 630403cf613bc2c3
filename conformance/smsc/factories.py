"""Building blocks for SMSC cases: the ``case`` constructor, PDU makers that fill in the
suite's addresses, raw frame makers for negative cases, and reusable checks.

PDU makers (``submit``, ``data_sm``, ``query`` ...) return a ``Make``: a callable of the
context, resolved when the step runs, so a case can refer to a message_id saved by an
earlier step (``query(of="s1")``). Raw makers return a ``Raw``: a callable of the context
and the sequence number, for frames no PDU class would build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from conformance.model import Severity
from conformance.smsc.context import SmscContext, SmscSettings
from conformance.smsc.exchange import Step
from conformance.smsc.runner import SmscCase
from conformance.wire import Frame, encode, raw_pdu, raw_tlv, set_length, with_extra
from smppgw.core.constants import CommandId, EsmClass
from smppgw.core.pdu import (
    CancelSm,
    DataSm,
    DestAddress,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
)
from smppgw.core.receipt import Receipt, ids_match, parse_receipt

__all__ = [
    "MAY",
    "MUST",
    "SHOULD",
    "TEXT",
    "Make",
    "Raw",
    "cancel",
    "case",
    "data_sm",
    "field_bytes",
    "good_message_id",
    "is_receipt_for",
    "query",
    "raw_submit",
    "receipt_of",
    "replace",
    "submit",
    "submit_multi",
    "submit_plus",
    "submit_truncated",
]

MUST, SHOULD, MAY = Severity.MUST, Severity.SHOULD, Severity.MAY
TEXT: Final = b"SMPP conformance test"


def case(
    id: str,
    title: str,
    spec: str,
    severity: Severity,
    *steps: Step,
    checklist: tuple[int, ...] = (),
    doc: str = "",
    extra_time: Callable[[SmscSettings], float] | None = None,
) -> SmscCase:
    return SmscCase(
        id=id,
        title=title,
        spec=spec,
        severity=severity,
        steps=steps,
        checklist=checklist,
        doc=doc,
        extra_time=extra_time,
    )


# -- PDU makers ----------------------------------------------------------------------------


@attrs.frozen
class Make:
    """A PDU built when the step runs: ``cls(**fields, **dynamic(ctx))``."""

    cls: type[Pdu]
    fields: dict[str, Any] = attrs.field(factory=dict)
    dynamic: Callable[[SmscContext], dict[str, Any]] | None = None

    @property
    def command_id(self) -> int:
        return self.cls.command_id

    @property
    def __name__(self) -> str:
        return CommandId(self.cls.command_id).name.lower()

    def __call__(self, ctx: SmscContext) -> Pdu:
        values = dict(self.fields)
        if self.dynamic is not None:
            values.update(self.dynamic(ctx))
        return self.cls(**values)


def _source(ctx: SmscContext) -> dict[str, Any]:
    s = ctx.settings
    return {"source_addr": s.source_addr, "source_addr_ton": s.source_ton, "source_addr_npi": s.source_npi}


def _dest(ctx: SmscContext) -> dict[str, Any]:
    s = ctx.settings
    return {"destination_addr": s.dest_addr, "dest_addr_ton": s.dest_ton, "dest_addr_npi": s.dest_npi}


def _addresses(overrides: dict[str, Any]) -> Callable[[SmscContext], dict[str, Any]]:
    """The suite's addresses for every address field ``overrides`` does not set."""

    def dynamic(ctx: SmscContext) -> dict[str, Any]:
        values = _source(ctx) | _dest(ctx)
        return {k: v for k, v in values.items() if k not in overrides}

    return dynamic


def submit(extra: Callable[[SmscContext], dict[str, Any]] | None = None, **fields: Any) -> Make:
    """A valid submit_sm from the suite's source to its destination (no receipt asked).

    ``extra`` computes more fields when the step runs (a validity_period from the clock).
    """
    fields.setdefault("short_message", TEXT)
    addresses = _addresses(fields)
    if extra is None:
        return Make(SubmitSm, fields, addresses)
    return Make(SubmitSm, fields, lambda ctx: addresses(ctx) | extra(ctx))


def data_sm(**fields: Any) -> Make:
    from smppgw.core.constants import TlvTag
    from smppgw.core.tlv import Tlv

    fields.setdefault("tlvs", (Tlv(TlvTag.MESSAGE_PAYLOAD, TEXT),))
    return Make(DataSm, fields, _addresses(fields))


def submit_multi(*dests: DestAddress | None, **fields: Any) -> Make:
    """``None`` in ``dests`` stands for the suite's own destination."""
    fields.setdefault("short_message", TEXT)

    def dynamic(ctx: SmscContext) -> dict[str, Any]:
        s = ctx.settings
        own = DestAddress(dest_addr_ton=s.dest_ton, dest_addr_npi=s.dest_npi, destination_addr=s.dest_addr)
        values = {k: v for k, v in _source(ctx).items() if k not in fields}
        values["dest_addresses"] = tuple(own if d is None else d for d in dests)
        return values

    return Make(SubmitMulti, fields, dynamic)


def _of(name: str | None, fields: dict[str, Any]) -> Callable[[SmscContext], dict[str, Any]]:
    def dynamic(ctx: SmscContext) -> dict[str, Any]:
        values = {k: v for k, v in _source(ctx).items() if k not in fields}
        if name is not None:
            values["message_id"] = ctx.message_id(name)
        return values

    return dynamic


def query(of: str | None = None, **fields: Any) -> Make:
    """query_sm for the message whose submit response was saved as ``of``."""
    return Make(QuerySm, fields, _of(of, fields))


def cancel(of: str | None = None, **fields: Any) -> Make:
    base = _of(of, fields)

    def dynamic(ctx: SmscContext) -> dict[str, Any]:
        values = base(ctx)
        values.update({k: v for k, v in _dest(ctx).items() if k not in fields})
        return values

    return Make(CancelSm, fields, dynamic)


def replace(of: str | None = None, **fields: Any) -> Make:
    fields.setdefault("short_message", b"SMPP conformance replaced")
    return Make(ReplaceSm, fields, _of(of, fields))


# -- raw makers -----------------------------------------------------------------------------


@attrs.frozen
class Raw:
    """Octets built when the step runs, for frames no PDU class would build."""

    command_id: int
    build: Callable[[SmscContext, int], bytes]
    label: str = "raw frame"

    def __call__(self, ctx: SmscContext, seq: int) -> bytes:
        return self.build(ctx, seq)


def field_bytes(pdu: Pdu, **overrides: bytes) -> bytes:
    """The body of ``pdu`` field by field, with some fields replaced by raw octets.

    An override replaces everything that field puts on the wire: for a C-Octet String
    the caller decides whether a NUL ends it; for ``short_message`` it includes the
    sm_length octet.
    """
    full = encode(pdu, 1)[16:]
    out: list[bytes] = []
    pos = 0
    for wf in type(pdu).wire:
        start = pos
        if wf.kind in ("cstr", "time"):
            pos = full.index(b"\0", pos) + 1
        elif wf.kind == "u8":
            pos += 1
        elif wf.kind == "sm":
            pos += 1 + full[pos]
        elif wf.kind == "dests":
            pos += 1
            for _ in range(full[start]):
                pos = full.index(b"\0", pos + (3 if full[pos] == 1 else 1)) + 1
        else:
            raise ValueError(f"field_bytes cannot split {wf.kind} fields")
        out.append(overrides.pop(wf.name, full[start:pos]))
    if overrides:
        raise ValueError(f"unknown fields {sorted(overrides)}")
    return b"".join(out) + full[pos:]


def raw_submit(label: str, make: Make | None = None, /, **overrides: bytes) -> Raw:
    """submit_sm (or ``make``'s PDU) with raw field ``overrides``; command_length fixed."""
    maker = make if make is not None else submit()

    def build(ctx: SmscContext, seq: int) -> bytes:
        pdu = maker(ctx)
        return raw_pdu(pdu.command_id, seq, field_bytes(pdu, **overrides))

    return Raw(maker.command_id, build, label)


def submit_plus(label: str, extra: bytes, make: Make | None = None) -> Raw:
    """A valid PDU with ``extra`` octets appended after its TLVs (command_length fixed)."""
    maker = make if make is not None else submit()

    def build(ctx: SmscContext, seq: int) -> bytes:
        return with_extra(encode(maker(ctx), seq), extra)

    return Raw(maker.command_id, build, label)


def submit_truncated(label: str, keep: int, make: Make | None = None) -> Raw:
    """A valid PDU cut to ``keep`` body octets, command_length matching the cut."""
    maker = make if make is not None else submit()

    def build(ctx: SmscContext, seq: int) -> bytes:
        frame = encode(maker(ctx), seq)[: 16 + keep]
        return set_length(frame, len(frame))

    return Raw(maker.command_id, build, label)


def tlv_bytes(tag: int, value: bytes, length: int | None = None) -> bytes:
    return raw_tlv(tag, value, length=length)


# -- checks ------------------------------------------------------------------------------


def good_message_id(frame: Frame, ctx: SmscContext) -> str | None:
    """3.4 §4.4.2: message_id is a C-Octet String of at most 65 octets, NUL included."""
    mid = frame.field("message_id")
    if not isinstance(mid, str) or not mid:
        return f"{frame.name} carries no message_id"
    if len(mid) > 64:
        return f"message_id is {len(mid)} characters; at most 64 fit C-Octet String(65)"
    if not mid.isprintable():
        return f"message_id {mid!r} holds non-printable characters"
    return None


def receipt_of(frame: Frame) -> Receipt | None:
    pdu = frame.pdu
    if pdu is None:
        return None
    return parse_receipt(
        short_message=getattr(pdu, "short_message", b""),
        tlvs=getattr(pdu, "tlvs", ()),
        esm_class=getattr(pdu, "esm_class", 0),
    )


def is_receipt_for(name: str) -> Callable[[Frame, SmscContext], bool]:
    """A final delivery receipt (esm_class type 0x04) whose id matches the message_id of
    the submit response saved as ``name`` (ids compared after normalisation)."""

    def where(frame: Frame, ctx: SmscContext) -> bool:
        esm_class = frame.field("esm_class", 0)
        if not isinstance(esm_class, int) or esm_class & EsmClass.TYPE_MASK != EsmClass.SMSC_DELIVERY_RECEIPT:
            return False
        receipt = receipt_of(frame)
        if receipt is None:
            return False
        mid = ctx.message_id(name)
        return any(ids_match(mid, found) for found in (receipt.tlv_id, receipt.text_id) if found)

    return where
