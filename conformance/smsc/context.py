"""Settings of an SMSC run, and the context one SMSC case runs in.

The suite plays a well-behaved ESME everywhere except in the one thing a case tests:
it answers the SMSC's enquire_link and unbind, and acknowledges deliver_sm (receipts of
earlier cases may arrive on any receiver bind of the account) unless the case takes the
deliveries over. Every case gets fresh connections, opened lazily on first use, and
``cleanup`` unbinds every bound one (bounded) and closes them all.
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import trio

from conformance.model import CaseError
from conformance.probe import Closed, Probe, Transcript
from conformance.wire import Frame, encode
from smppgw.core.constants import CommandId, CommandStatus, Npi, Ton
from smppgw.core.pdu import DataSmResp, DeliverSmResp, EnquireLinkResp, Pdu, Unbind, UnbindResp
from smppgw.core.states import BindMode

__all__ = ["SmscContext", "SmscSettings"]


@attrs.frozen(kw_only=True)
class SmscSettings:
    """Where the SMSC under test is, who we are to it, and how long to wait for what."""

    host: str
    port: int
    system_id: str
    password: str = attrs.field(repr=False)
    system_type: str = ""
    interface_version: int = 0x34
    source_addr: str = "447700900100"
    source_ton: int = Ton.INTERNATIONAL
    source_npi: int = Npi.ISDN
    dest_addr: str = "447700900001"
    dest_ton: int = Ton.INTERNATIONAL
    dest_npi: int = Npi.ISDN
    strict: bool = False
    #: Seconds allowed for each expected response.
    timeout: float = 5.0
    connect_timeout: float = 5.0
    #: Seconds a case watches for something that must *not* arrive.
    quiet: float = 2.0
    #: Seconds to wait for a delivery receipt.
    receipt_timeout: float = 30.0
    #: The SMSC's session_init timer, as far as we expect it (checklist 18).
    session_init_timeout: float = 60.0
    #: The SMSC's inactivity timer; None skips the case that needs it.
    inactivity_timeout: float | None = None
    #: Back-off before resending a request answered ESME_RTHROTTLED / ESME_RMSGQFUL.
    throttle_backoff: float = 1.0
    throttle_retries: int = 5
    #: Hard bound on one case, on top of its own waits.
    case_limit: float = 60.0


@attrs.define(eq=False)
class SmscContext:
    """State of one running case: its connections, variables, notes and transcript."""

    settings: SmscSettings
    transcript: Transcript
    vars: dict[str, Any] = attrs.Factory(dict)
    notes: list[str] = attrs.Factory(list)
    probes: dict[str, Probe] = attrs.Factory(dict)
    #: Acknowledge deliver_sm / data_sm from the SMSC as they arrive (ESME_ROK).
    auto_answer_deliveries: bool = True

    @property
    def strict(self) -> bool:
        return self.settings.strict

    def note(self, text: str) -> None:
        self.notes.append(text)

    # -- connections -------------------------------------------------------------------

    async def probe(self, name: str = "main") -> Probe:
        """The connection ``name``, opened on first use.

        Raises:
            CaseError: cannot connect (a precondition, not a finding about the SMSC).
        """
        probe = self.probes.get(name)
        if probe is None:
            probe = await self.connect(name)
        return probe

    async def connect(self, name: str = "main") -> Probe:
        s = self.settings
        try:
            with trio.fail_after(s.connect_timeout):
                stream = await trio.open_tcp_stream(s.host, s.port)
        except (OSError, trio.TooSlowError) as exc:
            raise CaseError(f"cannot connect to {s.host}:{s.port}: {exc!r}") from None
        probe = Probe(stream, self.transcript, name=name, on_request=self._answer)
        self.probes[name] = probe
        self.transcript.add(name, "!", f"connected to {s.host}:{s.port}")
        return probe

    async def _answer(self, probe: Probe, frame: Frame) -> None:
        """The well-behaved ESME's automatic answers to the SMSC's requests."""
        cid, seq = frame.command_id, frame.seq
        if cid == CommandId.ENQUIRE_LINK:
            await probe.send(encode(EnquireLinkResp(), seq))
        elif cid == CommandId.UNBIND:
            await probe.send(encode(UnbindResp(), seq))
            probe.bound = None
        elif cid in (CommandId.DELIVER_SM, CommandId.DATA_SM):
            if not self.auto_answer_deliveries:
                return
            # 3.4 §2.3 (checklist 22): a transmitter bind cannot take deliveries.
            status = CommandStatus.ESME_RINVBNDSTS if probe.bound is BindMode.TX else CommandStatus.ESME_ROK
            resp: Pdu = DeliverSmResp() if cid == CommandId.DELIVER_SM else DataSmResp()
            await probe.send(encode(resp, seq, status))
        elif cid in (CommandId.ALERT_NOTIFICATION, CommandId.OUTBIND):
            return  # no response exists (3.4 §4.12, §4.1.7)
        else:
            await probe.send(encode_nack(seq, CommandStatus.ESME_RINVCMDID))

    # -- variables ---------------------------------------------------------------------

    def frame(self, name: str) -> Frame:
        value = self.vars.get(name)
        if not isinstance(value, Frame):
            raise CaseError(f"case bug: no frame saved as {name!r}")
        return value

    def message_id(self, name: str) -> str:
        """The message_id of the response saved as ``name``."""
        value = self.frame(name).field("message_id")
        if not isinstance(value, str) or not value:
            raise CaseError(f"no message_id in the response saved as {name!r}")
        return value

    # -- the end -----------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Unbind every bound connection (bounded) and close all of them. Never raises."""
        with trio.CancelScope(shield=True):
            for probe in list(self.probes.values()):
                with trio.move_on_after(min(self.settings.timeout, 3.0) + 0.5):
                    await self._unbind_quietly(probe)
                await probe.aclose()

    async def _unbind_quietly(self, probe: Probe) -> None:
        if probe.closed or probe.bound is None:
            return
        with contextlib.suppress(Closed):
            seq = await probe.send_pdu(Unbind(), note="cleanup")
            await probe.wait_for(
                lambda f: f.is_response and f.seq == seq, timeout=min(self.settings.timeout, 3.0)
            )


def encode_nack(seq: int, status: int) -> bytes:
    from conformance.wire import raw_header

    return raw_header(CommandId.GENERIC_NACK, seq, status=status)
