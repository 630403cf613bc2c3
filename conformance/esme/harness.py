"""The fake SMSC the ESME suite runs: listener, client process, and the permissive answers.

One ``Harness`` serves one client run. It listens before the client starts (so
``{port}`` can be substituted, and port 0 works), starts COMMAND in its own process group
with its output captured, and answers everything the client sends the way a lenient
carrier would, except the submit_sm that cases have reserved (``plan``): those are
queued for the case that asked, and answered by it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from typing import IO, Any, Final

import attrs
import trio

from conformance.esme.context import EsmeSettings, HeldRequest
from conformance.esme.session import ClientSession
from conformance.model import CaseError, CaseSkipped
from conformance.probe import Probe, Transcript
from conformance.wire import Frame
from smppgw.core.constants import CommandId, CommandStatus, MessageState, TlvTag
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSmResp,
    DataSmResp,
    DeliverSmResp,
    EnquireLinkResp,
    QuerySmResp,
    ReplaceSmResp,
    Response,
    SubmitMultiResp,
    SubmitSmResp,
    UnbindResp,
    _Bind,
)
from smppgw.core.states import BindMode
from smppgw.core.tlv import Tlv

__all__ = ["ClientRun", "Harness", "HarnessError", "new_message_id"]

log = logging.getLogger(__name__)

SYSTEM_ID: Final = "conformance"
_ids = itertools.count(1)
_BIND: Final = {
    CommandId.BIND_TRANSMITTER: (BindMode.TX, BindTransmitterResp),
    CommandId.BIND_RECEIVER: (BindMode.RX, BindReceiverResp),
    CommandId.BIND_TRANSCEIVER: (BindMode.TRX, BindTransceiverResp),
}
_SUBMITS: Final = frozenset({CommandId.SUBMIT_SM, CommandId.DATA_SM, CommandId.SUBMIT_MULTI})


def new_message_id() -> str:
    """Our message ids: 'cf' and 8 hex digits, unique within the process."""
    return f"cf{next(_ids):08x}"


class HarnessError(Exception):
    """The harness cannot run at all (cannot listen, cannot start COMMAND): bad usage."""


@attrs.define
class ClientRun:
    """What is known about one run of the client under test, for the report."""

    name: str
    command: tuple[str, ...] | None
    port: int = 0
    exit_code: int | None = None
    stopped: str = ""  # "" exited by itself | "SIGTERM" | "SIGKILL"
    output_tail: tuple[str, ...] = ()
    sessions: int = 0


class Harness:
    def __init__(self, settings: EsmeSettings, run: str, plan: Sequence[tuple[str, int]] = ()) -> None:
        self.settings = settings
        self.info = ClientRun(name=run, command=settings.command)
        self.transcript = Transcript(trio.current_time())
        self.sessions: list[ClientSession] = []
        self.shared: dict[str, Any] = {}
        self.client_address = ""  # the source_addr of the client's first submit
        # submit_sm still to hold back, per case, in case order (dicts keep insertion order)
        self._plan: dict[str, int] = {case_id: n for case_id, n in plan if n > 0}
        self._queues: dict[str, list[HeldRequest]] = {case_id: [] for case_id in self._plan}
        self._taken: dict[str, list[HeldRequest]] = {case_id: [] for case_id in self._plan}
        self._changed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._process: trio.Process | None = None
        self._process_done = trio.Event()
        self._output: IO[bytes] | None = None
        self.started_at = trio.current_time()

    # -- waking waiters ------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_change(self, deadline: float) -> None:
        changed = self._changed
        with trio.move_on_at(deadline):
            await changed.wait()

    # -- listening -----------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; ``task_status`` gets the port."""
        s = self.settings
        try:
            listeners = await trio.open_tcp_listeners(s.port, host=s.host)
        except OSError as exc:
            raise HarnessError(f"cannot listen on {s.host}:{s.port}: {exc.strerror or exc}") from None
        self.info.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self.info.port)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _handle(self, stream: trio.SocketStream) -> None:
        session = ClientSession(stream, self.transcript)

        async def on_request(probe: Probe, frame: Frame) -> None:
            await self._dispatch(session, frame)

        session.probe.on_request = on_request
        self.sessions.append(session)
        self.info.sessions += 1
        self.transcript.add(session.name, "!", "the client connected")
        self._notify()
        try:
            await session.serve()
        finally:
            self._notify()

    # -- the permissive SMSC ----------------------------------------------------------------

    async def _dispatch(self, session: ClientSession, frame: Frame) -> None:
        session.arrived(frame)
        cid = frame.command_id
        if cid in _BIND:
            await self._bind(session, frame)
        elif frame.pdu is None:
            if cid in _BIND or cid in _SUBMITS or cid in (CommandId.QUERY_SM, CommandId.CANCEL_SM):
                await session.nack(frame, frame.error_status or CommandStatus.ESME_RINVCMDLEN)
            else:
                await session.nack(frame, CommandStatus.ESME_RINVCMDID)
        elif cid in _SUBMITS:
            await self._submit(session, frame)
        elif cid == CommandId.ENQUIRE_LINK:
            await session.respond(frame, EnquireLinkResp())
        elif cid == CommandId.UNBIND:
            assert self._nursery is not None
            self._nursery.start_soon(self._answer_unbind, session, frame)
        elif cid in _MANAGEMENT:
            status = CommandStatus.ESME_ROK if session.is_transmitter else CommandStatus.ESME_RINVBNDSTS
            await session.respond(frame, _MANAGEMENT[cid](frame), status)
        elif cid == CommandId.DELIVER_SM:
            await session.respond(frame, DeliverSmResp(), CommandStatus.ESME_RINVBNDSTS)
        else:
            await session.nack(frame, CommandStatus.ESME_RINVCMDID)
        self._notify()

    async def _bind(self, session: ClientSession, frame: Frame) -> None:
        mode, resp_type = _BIND[CommandId(frame.command_id)]
        pdu = frame.pdu
        s = self.settings
        if not isinstance(pdu, _Bind):
            await session.respond(frame, resp_type(), frame.error_status or CommandStatus.ESME_RINVCMDLEN)
            return
        if session.bind_mode is not None:
            status = CommandStatus.ESME_RALYBND
        elif s.system_id is not None and pdu.system_id != s.system_id:
            status = CommandStatus.ESME_RINVSYSID
        elif s.password is not None and pdu.password != s.password:
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = CommandStatus.ESME_ROK
        tlvs = (Tlv.from_int(TlvTag.SC_INTERFACE_VERSION, 0x34),) if pdu.interface_version >= 0x34 else ()
        if status == 0:
            session.bind_mode, session.bound_at, session.system_id = mode, trio.current_time(), pdu.system_id
            session.bound.set()
        await session.respond(frame, resp_type(system_id=SYSTEM_ID, tlvs=tlvs), status)

    async def _submit(self, session: ClientSession, frame: Frame) -> None:
        if not session.is_transmitter:
            resp = _SUBMIT_RESP[CommandId(frame.command_id)]()
            await session.respond(frame, resp, CommandStatus.ESME_RINVBNDSTS)
            return
        if not self.client_address:
            self.client_address = str(frame.field("source_addr", "") or "")
        for case_id, remaining in self._plan.items():
            if remaining > 0:
                self._plan[case_id] = remaining - 1
                self._queues[case_id].append(HeldRequest(session, frame, trio.current_time()))
                return
        await session.respond(frame, _SUBMIT_RESP[CommandId(frame.command_id)](message_id=new_message_id()))

    async def _answer_unbind(self, session: ClientSession, frame: Frame) -> None:
        await trio.sleep(self.settings.unbind_resp_delay)
        await session.respond(frame, UnbindResp())
        self._notify()

    # -- what cases wait for -----------------------------------------------------------------

    def client_gone(self) -> bool:
        """The client can do nothing more: it exited (or, with no COMMAND, it connected and
        every connection it opened is closed)."""
        if self._process is not None:
            return self._process_done.is_set() and all(s.closed.is_set() for s in self.sessions)
        return bool(self.sessions) and all(s.closed.is_set() for s in self.sessions)

    async def bound_session(self, *, receiver: bool = False, transmitter: bool = False) -> ClientSession:
        deadline = self.started_at + self.settings.connect_timeout
        while True:
            live = [
                s
                for s in self.sessions
                if s.bind_mode is not None and not s.closed.is_set() and s.unbind_at is None
            ]
            for session in live:
                if (not receiver or session.is_receiver) and (not transmitter or session.is_transmitter):
                    return session
            if self.client_gone():
                raise CaseSkipped("the client under test has ended all its sessions")
            if trio.current_time() >= deadline:
                if not any(s.bind_mode is not None for s in self.sessions):
                    raise CaseError(
                        f"the client under test did not bind within {self.settings.connect_timeout:g}s"
                    )
                want = "receiver (RX/TRX)" if receiver else "transmitter (TX/TRX)"
                raise CaseSkipped(f"the client has no live {want} session")
            await self._wait_change(deadline)

    async def next_held(self, case_id: str, deadline: float | None = None) -> HeldRequest:
        until = deadline if deadline is not None else self.started_at + self.settings.wait
        queue = self._queues.get(case_id)
        if queue is None:
            raise CaseError(f"case bug: {case_id} reserved no submit_sm")
        while True:
            if queue:
                held = queue.pop(0)
                self._taken[case_id].append(held)
                return held
            if self.client_gone():
                raise CaseSkipped("the client ended before sending the submit_sm this case needs")
            if trio.current_time() >= until:
                raise CaseSkipped("the client sent no further submit_sm in time")
            await self._wait_change(until)

    def held_count(self, case_id: str) -> int:
        return len(self._queues.get(case_id, ()))

    async def release(self, case_id: str) -> None:
        """The case is done: stop reserving for it and answer whatever it left unanswered."""
        if case_id in self._plan:
            self._plan[case_id] = 0
        left = self._queues.get(case_id, []) + [h for h in self._taken.get(case_id, []) if not h.answered]
        self._queues[case_id] = []
        for held in left:
            if not held.answered:
                await held.respond()

    async def wait_finished(self, deadline: float) -> bool:
        """Wait until the client is gone; False if ``deadline`` came first."""
        while not self.client_gone():
            if trio.current_time() >= deadline:
                return False
            await self._wait_change(deadline)
        return True

    # -- the client process --------------------------------------------------------------

    async def start_client(self, nursery: trio.Nursery) -> None:
        command = self.settings.command
        assert command
        argv = [
            a.replace("{host}", self.settings.host).replace("{port}", str(self.info.port)) for a in command
        ]
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by collect_output()
        env = dict(os.environ, SMPP_HOST=self.settings.host, SMPP_PORT=str(self.info.port))
        try:
            self._process = await trio.lowlevel.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise HarnessError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        self.transcript.add("client", "!", f"started: {' '.join(argv)} (pid {self._process.pid})")
        nursery.start_soon(self._watch_process)

    async def _watch_process(self) -> None:
        assert self._process is not None
        code = await self._process.wait()
        self.info.exit_code = code
        self.transcript.add("client", "!", f"exited with status {code}")
        self._process_done.set()
        self._notify()

    def _signal(self, sig: int) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)  # our own child's process group (start_new_session)

    async def stop_client(self, grace: float) -> None:
        """SIGTERM the client (its whole group); SIGKILL after ``grace``. Bounded, shielded."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with trio.CancelScope(shield=True):
            self.info.stopped = "SIGTERM"
            self.transcript.add("client", "!", "still running: SIGTERM")
            self._signal(signal.SIGTERM)
            with trio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                self.info.stopped = "SIGKILL"
                self.transcript.add("client", "!", f"still running {grace:g}s after SIGTERM: SIGKILL")
                self._signal(signal.SIGKILL)
                with trio.move_on_after(5):
                    await process.wait()

    def collect_output(self, lines: int = 20) -> None:
        if self._output is None:
            return
        with contextlib.suppress(OSError):
            self._output.seek(0)
            text = self._output.read().decode("utf-8", "replace")
            self.info.output_tail = tuple(text.splitlines()[-lines:])
            self._output.close()
        self._output = None

    async def close_sessions(self) -> None:
        for session in self.sessions:
            await session.probe.aclose("closed by the harness at the end of the run")


def _query_resp(frame: Frame) -> Response:
    return QuerySmResp(message_id=str(frame.field("message_id", "")), message_state=MessageState.ENROUTE)


_MANAGEMENT: Final[dict[int, Any]] = {
    CommandId.QUERY_SM: _query_resp,
    CommandId.CANCEL_SM: lambda frame: CancelSmResp(),
    CommandId.REPLACE_SM: lambda frame: ReplaceSmResp(),
}
_SUBMIT_RESP: Final[dict[int, Any]] = {
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DATA_SM: DataSmResp,
    CommandId.SUBMIT_MULTI: SubmitMultiResp,
}
