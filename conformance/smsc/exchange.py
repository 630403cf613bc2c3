"""Request steps: send a request and judge its response (``Request``, ``Send`` then
``ExpectReply``), the part of the step DSL (``conformance.smsc.steps``) that talks.

A response is judged against ``Reply`` patterns (``conformance.smsc.replies``); patterns
in ``lenient=`` pass only in lenient mode, with a note. A response of ESME_RTHROTTLED or
ESME_RMSGQFUL that no pattern asks for is not a finding (real SMSCs enforce their rate on
us too): ``Request`` backs off and resends with a fresh sequence number, up to
``settings.throttle_retries`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import attrs

from conformance.model import CaseError, CaseFailed
from conformance.probe import Closed, Probe
from conformance.smsc.context import SmscContext
from conformance.smsc.replies import Accept, Reply, judge, resp
from conformance.wire import Frame, command_name, encode
from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import Pdu

__all__ = ["ExpectReply", "PduSource", "RawSource", "Request", "Send", "Sent", "Step"]

PduSource = Pdu | Callable[[SmscContext], Pdu]
RawSource = Callable[[SmscContext, int], bytes]
_THROTTLED: Final = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})


class Step(Protocol):
    async def run(self, ctx: SmscContext) -> None: ...

    def explain(self) -> str: ...


def _resolve_pdu(source: PduSource, ctx: SmscContext) -> Pdu:
    return source(ctx) if callable(source) else source


def _request_id(data: bytes) -> int:
    return int.from_bytes(data[4:8], "big") if len(data) >= 8 else 0


async def _send(
    ctx: SmscContext, conn: str, pdu: PduSource | None, raw: RawSource | None, seq: int | None, note: str
) -> tuple[int, int, Probe]:
    """Send the request; returns (sequence number, command_id, probe).

    Raises:
        Closed: the connection was already closed, or closed while sending.
    """
    probe = await ctx.probe(conn)
    number = probe.next_seq() if seq is None else seq
    if raw is not None:
        data = raw(ctx, number)
    else:
        assert pdu is not None
        data = _encode_source(pdu, ctx, number)
    await probe.send(data, note)
    return number, _request_id(data), probe


def _encode_source(pdu: PduSource, ctx: SmscContext, seq: int) -> bytes:
    return encode(_resolve_pdu(pdu, ctx), seq)


def _closed(ctx: SmscContext, close: Accept, what: str) -> None:
    """The connection closed instead of ``what``: a note, or ``CaseFailed``."""
    if close is Accept.ALWAYS or (close is Accept.LENIENT and not ctx.strict):
        ctx.note(f"the SMSC closed the connection instead of {what}")
        return
    tail = " (lenient mode accepts that)" if close is Accept.LENIENT else ""
    raise CaseFailed(f"the SMSC closed the connection instead of {what}{tail}")


async def _await_reply(
    ctx: SmscContext, probe: Probe, seq: int, request_id: int, timeout: float, close: Accept
) -> Frame | None:
    """The response with ``seq``; None if the connection closed and that is acceptable."""
    try:
        frame = await probe.wait_reply(seq, timeout)
    except Closed:
        _closed(ctx, close, f"answering {command_name(request_id)} #{seq}")
        return None
    if frame is None:
        raise CaseFailed(f"no response to {command_name(request_id)} #{seq} within {timeout:g}s")
    return frame


async def _exchange(
    ctx: SmscContext,
    *,
    conn: str,
    pdu: PduSource | None,
    raw: RawSource | None,
    seq: int | None,
    note: str,
    expect: tuple[Reply, ...],
    lenient: tuple[Reply, ...],
    close: Accept,
    timeout: float | None,
    pending: tuple[int, int, Probe] | None = None,
) -> Frame | None:
    """Send (unless ``pending`` says it was sent already) and judge the response, resending
    after a back-off when the SMSC throttles us and no pattern asks for that."""
    wait = timeout if timeout is not None else ctx.settings.timeout
    retries = ctx.settings.throttle_retries
    backoff = ctx.settings.throttle_backoff
    while True:
        if pending is None:
            try:
                pending = await _send(ctx, conn, pdu, raw, seq, note)
            except Closed:
                _closed(ctx, close, "accepting the request")
                return None
        number, request_id, probe = pending
        pending = None
        frame = await _await_reply(ctx, probe, number, request_id, wait, close)
        if frame is None:
            return None
        asked = any(r.mismatch(frame, ctx, request_id) is None for r in expect + lenient)
        if frame.status in _THROTTLED and retries > 0 and not asked:
            retries -= 1
            ctx.note(f"{frame.describe()}: backing off {backoff:g}s and resending")
            await probe.idle(backoff)
            backoff = min(backoff * 2, 10.0)
            seq = None  # a fresh sequence number for the resend
            continue
        judge(frame, ctx, request_id, expect, lenient)
        return frame


@attrs.frozen(kw_only=True)
class Request:
    """Send a request and judge its response (see the module docstring)."""

    pdu: PduSource | None = None
    raw: RawSource | None = None
    expect: tuple[Reply, ...] = (resp(),)
    lenient: tuple[Reply, ...] = ()
    close: Accept = Accept.NEVER
    seq: int | None = None
    save: str | None = None
    conn: str = "main"
    timeout: float | None = None
    note: str = ""

    async def run(self, ctx: SmscContext) -> None:
        frame = await _exchange(
            ctx,
            conn=self.conn,
            pdu=self.pdu,
            raw=self.raw,
            seq=self.seq,
            note=self.note,
            expect=self.expect,
            lenient=self.lenient,
            close=self.close,
            timeout=self.timeout,
        )
        if frame is not None and self.save is not None:
            ctx.vars[self.save] = frame
            if self.pdu is not None:
                ctx.vars[self.save + ".request"] = _resolve_pdu(self.pdu, ctx)

    def explain(self) -> str:
        what = "raw frame" if self.raw is not None else _pdu_name(self.pdu)
        wants = " or ".join(r.expected(_pdu_id(self.pdu, self.raw)) for r in self.expect)
        extra = (
            f"; lenient: {' or '.join(r.expected(_pdu_id(self.pdu, self.raw)) for r in self.lenient)}"
            if self.lenient
            else ""
        )
        return f"send {what}{' (' + self.note + ')' if self.note else ''}, expect {wants}{extra}"


def _pdu_name(pdu: PduSource | None) -> str:
    if pdu is None:
        return "?"
    if callable(pdu) and not isinstance(pdu, Pdu):
        return getattr(pdu, "__name__", "pdu")
    return command_name(pdu.command_id)


def _pdu_id(pdu: PduSource | None, raw: RawSource | None) -> int:
    if isinstance(pdu, Pdu):
        return pdu.command_id
    return getattr(pdu, "command_id", getattr(raw, "command_id", 0))


@attrs.frozen
class Sent:
    """What ``Send`` saved: enough for ``ExpectReply`` to judge the response and to resend."""

    seq: int
    command_id: int
    probe: Probe
    pdu: PduSource | None
    raw: RawSource | None
    note: str


@attrs.frozen(kw_only=True)
class Send:
    """Send without waiting; what was sent is saved as ``ctx.vars[save]`` (a ``Sent``)."""

    save: str
    pdu: PduSource | None = None
    raw: RawSource | None = None
    seq: int | None = None
    conn: str = "main"
    note: str = ""

    async def run(self, ctx: SmscContext) -> None:
        try:
            seq, request_id, probe = await _send(ctx, self.conn, self.pdu, self.raw, self.seq, self.note)
        except Closed as exc:
            raise CaseFailed(f"the connection closed before the request could be sent: {exc}") from None
        ctx.vars[self.save] = Sent(seq, request_id, probe, self.pdu, self.raw, self.note)
        if self.pdu is not None:
            ctx.vars[self.save + ".request"] = _resolve_pdu(self.pdu, ctx)

    def explain(self) -> str:
        what = "raw frame" if self.raw is not None else _pdu_name(self.pdu)
        return f"send {what}{' (' + self.note + ')' if self.note else ''} without waiting"


@attrs.frozen(kw_only=True)
class ExpectReply:
    """Judge the response to the request ``Send`` saved as ``to`` (any arrival order)."""

    to: str
    expect: tuple[Reply, ...] = (resp(),)
    lenient: tuple[Reply, ...] = ()
    close: Accept = Accept.NEVER
    save: str | None = None
    timeout: float | None = None

    async def run(self, ctx: SmscContext) -> None:
        sent = ctx.vars.get(self.to)
        if not isinstance(sent, Sent):
            raise CaseError(f"case bug: nothing was sent as {self.to!r}")
        frame = await _exchange(
            ctx,
            conn=sent.probe.name,
            pdu=sent.pdu,
            raw=sent.raw,
            seq=None,
            note=sent.note,
            expect=self.expect,
            lenient=self.lenient,
            close=self.close,
            timeout=self.timeout,
            pending=(sent.seq, sent.command_id, sent.probe),
        )
        if frame is not None and self.save is not None:
            ctx.vars[self.save] = frame

    def explain(self) -> str:
        wants = " or ".join(r.expected(0) for r in self.expect if r.command_id is not None)
        return f"expect the response to {self.to}" + (f" ({wants})" if wants else "")
