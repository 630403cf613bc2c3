"""The step DSL SMSC cases are written in.

A case is a tuple of steps run in order on fresh connections; the first step that sees
the SMSC misbehave raises ``CaseFailed`` with what it expected and what it got. Steps
are frozen values, so a case is data that ``smpp-conformance list`` can print.

==================  ==========================================================================
step                what it does
==================  ==========================================================================
``Request``         send a PDU (or raw octets) and judge its response; throttle-aware
``Send``            send without waiting (pipelining); the sequence number is saved
``ExpectReply``     judge the response to a request sent earlier by ``Send``
``ExpectDeliver``   wait for a deliver_sm / data_sm from the SMSC matching a predicate
``ExpectClose``     the SMSC must close the connection within a bound
``ExpectNoReply``   no response PDU may arrive for a while
``Idle``            keep the connection serviced for a while
``Bind``            bind (the suite's credentials unless overridden) and require success
``Check``           a predicate over what the case saved
``Call``            an async function for what the table above cannot say
==================  ==========================================================================

A response is judged against ``Reply`` patterns (``conformance.smsc.replies``): ``resp(status)`` is the request's own
*_resp, ``nack(status)`` a generic_nack; ``status`` is a value, a tuple of values,
``ERROR`` (any non-zero) or ``ANY``. Patterns in ``lenient=`` are accepted only in
lenient mode, where they pass with a note; in strict mode they fail.

A response of ESME_RTHROTTLED or ESME_RMSGQFUL that no pattern asks for is not a
finding: real SMSCs enforce their rate on us too. ``Request`` backs off and resends (a
fresh sequence number) up to ``throttle_retries`` times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import attrs

from conformance.model import CaseError, CaseFailed
from conformance.probe import Closed, Probe
from conformance.smsc.context import SmscContext
from conformance.smsc.replies import ANY, ERROR, Accept, FrameCheck, Reply, judge, nack, resp
from conformance.wire import Frame, command_name, encode
from smppgw.core.constants import CommandId, CommandStatus, status_name
from smppgw.core.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSmResp,
    DeliverSmResp,
    Pdu,
    Unbind,
    _BindResp,
)
from smppgw.core.pdu import (
    Request as RequestPdu,
)
from smppgw.core.states import BindMode

__all__ = [
    "ANY",
    "ERROR",
    "Accept",
    "Answer",
    "Bind",
    "Call",
    "FrameCheck",
    "Check",
    "Deliveries",
    "ExpectClose",
    "ExpectDeliver",
    "ExpectFrame",
    "ExpectNoReply",
    "ExpectReply",
    "Idle",
    "Reply",
    "Request",
    "Send",
    "Sent",
    "Step",
    "UnbindStep",
    "nack",
    "resp",
]

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


@attrs.frozen(kw_only=True)
class ExpectFrame:
    """Wait for any frame for which ``where`` holds (a generic_nack with sequence 0, ...)."""

    where: Callable[[Frame, SmscContext], bool]
    what: str
    save: str | None = None
    conn: str = "main"
    timeout: float | None = None

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        timeout = self.timeout if self.timeout is not None else ctx.settings.timeout
        try:
            frame = await probe.wait_for(lambda f: self.where(f, ctx), timeout)
        except Closed:
            raise CaseFailed(f"the connection closed before {self.what} arrived") from None
        if frame is None:
            raise CaseFailed(f"no {self.what} within {timeout:g}s")
        if self.save is not None:
            ctx.vars[self.save] = frame

    def explain(self) -> str:
        return f"expect {self.what}"


@attrs.frozen(kw_only=True)
class ExpectDeliver:
    """Wait for a deliver_sm (or data_sm) from the SMSC for which ``where`` returns True.

    ``timeout`` None means ``settings.receipt_timeout``. Delivery PDUs that do not match
    are acknowledged as usual and left alone (receipts of earlier cases).
    """

    where: Callable[[Frame, SmscContext], bool]
    save: str | None = None
    conn: str = "main"
    timeout: float | None = None
    what: str = "deliver_sm"

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        timeout = self.timeout if self.timeout is not None else ctx.settings.receipt_timeout

        def wanted(f: Frame) -> bool:
            return f.command_id in (CommandId.DELIVER_SM, CommandId.DATA_SM) and self.where(f, ctx)

        try:
            frame = await probe.wait_for(wanted, timeout)
        except Closed:
            raise CaseFailed(f"connection closed while waiting for {self.what}") from None
        if frame is None:
            raise CaseFailed(f"no {self.what} within {timeout:g}s")
        if self.save is not None:
            ctx.vars[self.save] = frame

    def explain(self) -> str:
        return f"wait for {self.what}"


@attrs.frozen(kw_only=True)
class ExpectClose:
    """The SMSC must close the connection within ``within`` seconds (a callable may compute
    the bound from the settings). PDUs before the close are allowed and recorded."""

    within: float | Callable[[SmscContext], float]
    conn: str = "main"

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        bound = self.within(ctx) if callable(self.within) else self.within
        if not await probe.wait_closed(bound):
            raise CaseFailed(f"the connection is still open after {bound:g}s")

    def explain(self) -> str:
        return "expect the SMSC to close the connection"


@attrs.frozen(kw_only=True)
class ExpectNoReply:
    """No response PDU (nor generic_nack) may arrive for ``seconds`` (None: settings.quiet)."""

    seconds: float | None = None
    conn: str = "main"
    why: str = "nothing may answer it"

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        seconds = self.seconds if self.seconds is not None else ctx.settings.quiet
        try:
            frame = await probe.wait_for(lambda f: f.is_response, seconds)
        except Closed:
            raise CaseFailed("the SMSC closed the connection") from None
        if frame is not None:
            raise CaseFailed(f"{self.why}; got {frame.describe()}")

    def explain(self) -> str:
        return f"expect no response ({self.why})"


@attrs.frozen(kw_only=True)
class Idle:
    seconds: float | Callable[[SmscContext], float]
    conn: str = "main"

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        await probe.idle(self.seconds(ctx) if callable(self.seconds) else self.seconds)

    def explain(self) -> str:
        return "stay idle for a while"


_BIND_PDU: Final = {BindMode.TX: BindTransmitter, BindMode.RX: BindReceiver, BindMode.TRX: BindTransceiver}


@attrs.frozen(kw_only=True)
class Bind:
    """Bind with the suite's credentials and require ESME_ROK (a failure is a CaseError:
    the case cannot test what it is about). ``check`` judges the bind_*_resp."""

    mode: BindMode = BindMode.TRX
    conn: str = "main"
    interface_version: int | None = None
    check: FrameCheck | None = None
    save: str | None = None

    def pdu(self, ctx: SmscContext) -> RequestPdu:
        s = ctx.settings
        return _BIND_PDU[self.mode](
            system_id=s.system_id,
            password=s.password,
            system_type=s.system_type,
            interface_version=s.interface_version
            if self.interface_version is None
            else self.interface_version,
        )

    async def run(self, ctx: SmscContext) -> None:
        probe = await ctx.probe(self.conn)
        pdu = self.pdu(ctx)
        try:
            seq = await probe.send_pdu(pdu)
            frame = await probe.wait_reply(seq, ctx.settings.timeout)
        except Closed as exc:
            raise CaseError(f"cannot bind: connection closed ({exc})") from None
        if frame is None:
            raise CaseError(
                f"cannot bind: no {command_name(pdu.command_id)}_resp within {ctx.settings.timeout:g}s"
            )
        if frame.status != 0 or frame.command_id != pdu.command_id | 0x8000_0000:
            raise CaseError(f"cannot bind as {self.mode.value}: {frame.describe()}")
        if not isinstance(frame.pdu, _BindResp):
            raise CaseFailed(f"bind response does not decode: {frame.error}")
        if self.check is not None:
            problem = self.check(frame, ctx)
            if problem is not None:
                raise CaseFailed(problem)
        if self.save is not None:
            ctx.vars[self.save] = frame

    def explain(self) -> str:
        return f"bind as {self.mode.value}"


@attrs.frozen(kw_only=True)
class UnbindStep:
    """Send unbind and require unbind_resp ESME_ROK."""

    conn: str = "main"

    async def run(self, ctx: SmscContext) -> None:
        await Request(pdu=Unbind(), expect=(resp(CommandStatus.ESME_ROK, _header_only),), conn=self.conn).run(
            ctx
        )

    def explain(self) -> str:
        return "unbind, expect unbind_resp ESME_ROK"


def _header_only(frame: Frame, ctx: SmscContext) -> str | None:
    if len(frame.raw) != 16:
        return f"{frame.name} must be a 16-octet header, got {len(frame.raw)} octets"
    return None


@attrs.frozen(kw_only=True)
class Check:
    """``fn`` returns a problem (the case fails) or None."""

    fn: Callable[[SmscContext], str | None]
    title: str = "check"

    async def run(self, ctx: SmscContext) -> None:
        problem = self.fn(ctx)
        if problem is not None:
            raise CaseFailed(problem)

    def explain(self) -> str:
        return self.title


@attrs.frozen(kw_only=True)
class Call:
    """An async function of the context, for what the other steps cannot say."""

    fn: Callable[[SmscContext], Awaitable[None]]
    title: str = "custom step"

    async def run(self, ctx: SmscContext) -> None:
        await self.fn(ctx)

    def explain(self) -> str:
        return self.title


@attrs.frozen(kw_only=True)
class Deliveries:
    """Switch the automatic deliver_sm_resp off (``auto=False``) or back on."""

    auto: bool

    async def run(self, ctx: SmscContext) -> None:
        ctx.auto_answer_deliveries = self.auto

    def explain(self) -> str:
        return "answer deliver_sm automatically" if self.auto else "answer deliver_sm by hand"


@attrs.frozen(kw_only=True)
class Answer:
    """Answer the deliver_sm / data_sm saved as ``to`` with ``status``."""

    to: str
    status: int = CommandStatus.ESME_ROK
    conn: str = "main"

    async def run(self, ctx: SmscContext) -> None:
        frame = ctx.frame(self.to)
        probe = await ctx.probe(self.conn)
        resp_pdu: Pdu = DeliverSmResp() if frame.command_id == CommandId.DELIVER_SM else DataSmResp()
        try:
            await probe.send(encode(resp_pdu, frame.seq, self.status))
        except Closed as exc:
            raise CaseFailed(f"cannot answer {frame.name}: {exc}") from None

    def explain(self) -> str:
        return f"answer {self.to} with {status_name(self.status)}"
