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
``Setup``           steps that only prepare the case: their failure is an ERROR, not a FAIL
==================  ==========================================================================

A response is judged against ``Reply`` patterns (``conformance.smsc.replies``): ``resp(status)`` is the request's own
*_resp, ``nack(status)`` a generic_nack; ``status`` is a value, a tuple of values,
``ERROR`` (any non-zero) or ``ANY``. Patterns in ``lenient=`` are accepted only in
lenient mode, where they pass with a note; in strict mode they fail.

A response of ESME_RTHROTTLED or ESME_RMSGQFUL that no pattern asks for is not a
finding: real SMSCs enforce their rate on us too. ``Request`` backs off and resends (a
fresh sequence number) up to ``throttle_retries`` times.

The steps that send a request and judge its response (``Request``, ``Send``,
``ExpectReply``) live in ``conformance.smsc.exchange``; this module re-exports them, so
cases import every step from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import attrs

from conformance.model import CaseError, CaseFailed, Severity
from conformance.probe import Closed
from conformance.smsc.context import SmscContext
from conformance.smsc.exchange import ExpectReply, PduSource, RawSource, Request, Send, Sent, Step
from conformance.smsc.replies import ANY, ERROR, Accept, FrameCheck, Reply, nack, resp
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
    "PduSource",
    "RawSource",
    "Reply",
    "Request",
    "Send",
    "Setup",
    "Sent",
    "Step",
    "UnbindStep",
    "nack",
    "resp",
]


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


@attrs.frozen(init=False)
class Setup:
    """Steps a case needs before it can test its own requirement (a submit whose
    message_id a query_sm needs, the unbind before a submit that must be refused).

    If one goes wrong, the case could not test what it is about: an ERROR that says so,
    never a FAIL of the case's requirement (the finding belongs to the case about that
    step). A must-level finding of its own (a response with the wrong command_id, 3.4
    §3.2) still FAILs the case it arrives in."""

    steps: tuple[Step, ...]

    def __init__(self, *steps: Step) -> None:
        self.__attrs_init__(steps)  # type: ignore[attr-defined]

    async def run(self, ctx: SmscContext) -> None:
        for step in self.steps:
            try:
                await step.run(ctx)
            except CaseFailed as exc:
                if exc.severity is Severity.MUST:
                    raise
                raise CaseError(
                    f"setup failed, so the case's own requirement was not tested: {exc}"
                ) from None

    def explain(self) -> str:
        return "setup: " + "; ".join(step.explain() for step in self.steps)
