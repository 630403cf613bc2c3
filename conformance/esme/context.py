"""What an ESME case is, and the API it drives the client under test with.

See ``conformance.esme`` for the theory; this module holds the values (``EsmeSettings``,
``EsmeCase``) and the per-case handle (``EsmeContext``, ``HeldRequest``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from conformance.model import Case, CaseError, CaseFailed, CaseSkipped, Role, wrong_response
from conformance.probe import Closed
from conformance.wire import Frame, command_name
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import DataSmResp, Pdu, SubmitMultiResp, SubmitSmResp

if TYPE_CHECKING:
    from conformance.esme.harness import Harness
    from conformance.esme.session import ClientSession

__all__ = ["MAIN", "SMSC_UNBIND", "EsmeCase", "EsmeContext", "EsmeSettings", "HeldRequest"]

#: The client runs the harness makes (each is one start of COMMAND, or one wait for it).
MAIN = "main"
SMSC_UNBIND = "smsc-unbind"


@attrs.frozen(kw_only=True)
class EsmeSettings:
    """How the fake SMSC listens, what it expects of the client, and how long it waits."""

    host: str = "127.0.0.1"
    port: int = 2775
    #: argv of the client under test ({host} and {port} are substituted); None: wait for it.
    command: tuple[str, ...] | None = None
    #: Longest a client run may take (the client should unbind by itself before this).
    wait: float = 30.0
    #: The window the client under test was configured with.
    window: int = 10
    #: Seconds allowed for each response from the client.
    timeout: float = 5.0
    #: Seconds a case watches for something that must not happen.
    quiet: float = 1.0
    #: Seconds for the client to connect and bind after it started.
    connect_timeout: float = 10.0
    #: Least back-off expected after ESME_RTHROTTLED (SMPP-REFERENCE §2, checklist 46).
    throttle_backoff: float = 1.0
    #: Our unbind_resp is sent this late, to see whether the client waits for it.
    unbind_resp_delay: float = 0.2
    #: Seconds a client gets to unbind after SIGTERM.
    grace: float = 5.0
    #: Credentials the client must bind with; None accepts any.
    system_id: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    strict: bool = False


@attrs.frozen(kw_only=True)
class EsmeCase(Case):
    """A case against an ESME.

    ``drive`` runs while the client runs (the cases of a run are driven one after the
    other, in order); ``judge`` runs after the client run ended, over what was recorded.
    Either may be None; both raise ``CaseFailed`` / ``CaseSkipped``. ``submits`` is how
    many of the client's submit_sm the harness holds back for this case (in case order)
    instead of answering them itself. ``run`` names the client run the case needs.
    """

    role: Role = Role.ESME
    drive: Callable[[EsmeContext], Awaitable[None]] | None = None
    judge: Callable[[EsmeContext], None] | None = None
    submits: int = 0
    run: str = MAIN


_RESPONSES: dict[int, type[SubmitSmResp | DataSmResp | SubmitMultiResp]] = {
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DATA_SM: DataSmResp,
    CommandId.SUBMIT_MULTI: SubmitMultiResp,
}


@attrs.define(eq=False)
class HeldRequest:
    """A submit_sm (or data_sm / submit_multi) the harness held back for a case."""

    session: ClientSession
    frame: Frame
    at: float
    answered: bool = False

    async def respond(self, status: int = CommandStatus.ESME_ROK, message_id: str | None = None) -> str:
        """Answer it; returns the message_id used (a fresh one unless given or an error)."""
        from conformance.esme.harness import new_message_id

        mid = message_id if message_id is not None else (new_message_id() if status == 0 else "")
        resp_type = _RESPONSES.get(self.frame.command_id, SubmitSmResp)
        pdu = resp_type(message_id=mid)
        self.answered = True
        await self.session.respond(self.frame, pdu, status)
        return mid

    async def nack(self, status: int) -> None:
        self.answered = True
        await self.session.nack(self.frame, status)


@attrs.define(eq=False)
class EsmeContext:
    """A case's handle on the harness (see ``conformance.esme``)."""

    case: EsmeCase
    harness: Harness
    notes: list[str] = attrs.Factory(list)
    observed: list[str] = attrs.Factory(list)

    @property
    def settings(self) -> EsmeSettings:
        return self.harness.settings

    @property
    def strict(self) -> bool:
        return self.harness.settings.strict

    @property
    def sessions(self) -> list[ClientSession]:
        """Every connection of this client run, in the order they opened."""
        return self.harness.sessions

    @property
    def shared(self) -> dict[str, Any]:
        """Facts one case leaves for another within a run (e.g. the throttled submit)."""
        return self.harness.shared

    def note(self, text: str) -> None:
        self.notes.append(text)

    def cite(self, text: str) -> None:
        """Add a line to what the report shows as observed for this case."""
        self.observed.append(text)

    async def session(self, *, receiver: bool = False, transmitter: bool = False) -> ClientSession:
        """A bound session of the client (one that can take deliveries if ``receiver``).

        Raises:
            CaseError: the client never bound within ``connect_timeout``.
            CaseSkipped: it bound, but never the way the case needs, or it is gone.
        """
        return await self.harness.bound_session(receiver=receiver, transmitter=transmitter)

    async def submit(self) -> HeldRequest:
        """The next submit_sm the harness held back for this case.

        Raises:
            CaseSkipped: the client sent no further submit_sm before the run's end.
        """
        return await self.harness.next_held(self.case.id)

    async def request(self, session: ClientSession, pdu: Pdu, timeout: float | None = None) -> Frame:
        """Send ``pdu`` to the client and return its response.

        Raises:
            CaseFailed: no response within ``timeout`` (default ``settings.timeout``), or
                the connection closed first.
        """
        wait = self.settings.timeout if timeout is None else timeout
        try:
            frame = await session.request(pdu, wait)
        except Closed as exc:
            raise CaseFailed(
                f"the client closed the connection instead of answering {command_name(pdu.command_id)}: {exc}"
            ) from None
        if frame is None:
            raise CaseFailed(f"the client did not answer {command_name(pdu.command_id)} within {wait:g}s")
        wrong = wrong_response(pdu.command_id, frame.seq, frame.command_id, frame.describe())
        if wrong is not None:
            raise wrong
        return frame

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    def fail(self, message: str) -> None:
        raise CaseFailed(message)

    def skip(self, reason: str) -> None:
        raise CaseSkipped(reason)

    def error(self, message: str) -> None:
        raise CaseError(message)
