"""Scripted peers for the trio adapter tests (STYLE 3.13: memory streams, virtual time).

Two kinds of far end for an ESME ``SmppConnection``:

- ``RawPeer`` speaks bytes: it reads whole PDUs with a ``FrameBuffer`` and writes
  whatever it is told, so it can misbehave (stay silent, send garbage, lose framing).
- ``ScriptedSmsc`` is a real ``SmppConnection`` in the SMSC role whose application binds
  anyone and answers submit_sm with a fixed status, or holds the answers until the test
  releases them (to observe the window from the far side).

Imported by the tests of this directory as a top-level module (pytest puts a test file's
directory on ``sys.path`` when the directory is not a package).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

import attrs
import trio
import trio.testing

from smppgw.core.codec import Header, decode_body, decode_header, encode_pdu
from smppgw.core.constants import CommandStatus
from smppgw.core.events import Bound, Event, RequestReceived
from smppgw.core.framing import FrameBuffer
from smppgw.core.pdu import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    Pdu,
    Request,
    SubmitSmResp,
    _Bind,
)
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import BindMode, Role
from smppgw.net.connection import SmppConnection
from smppgw.net.esme import EsmeSettings, bind

__all__ = [
    "QUIET",
    "RawPeer",
    "ScriptedSmsc",
    "bind_esme",
    "bind_raw",
    "bound_pair",
    "esme_connection",
    "raw_pair",
]

#: No keep-alive and no session timers: tests that are not about timers stay deterministic.
QUIET: Final = SessionConfig(enquire_link_interval=None, bind_timeout=None, response_timeout=30.0)

_BIND_RESP: Final = {
    BindMode.TX: BindTransmitterResp,
    BindMode.RX: BindReceiverResp,
    BindMode.TRX: BindTransceiverResp,
}


def esme_connection(stream: trio.abc.Stream, config: SessionConfig = QUIET) -> SmppConnection:
    return SmppConnection(stream, Session(Role.ESME, config, now=trio.current_time()))


@attrs.define(eq=False)
class RawPeer:
    """The far end of a stream, scripted PDU by PDU."""

    stream: trio.abc.Stream
    frames: FrameBuffer = attrs.field(factory=FrameBuffer)

    async def send(self, pdu: Pdu, sequence_number: int, status: int = CommandStatus.ESME_ROK) -> None:
        await self.stream.send_all(encode_pdu(pdu, sequence_number, status))

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def receive_frame(self) -> bytes:
        """The next whole PDU as octets. Raises EOFError if the stream ends first."""
        while (frame := self.frames.next_frame()) is None:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError(f"EOF with {self.frames.pending} octets of a partial PDU")
            self.frames.feed(data)
        return frame

    async def receive(self) -> tuple[Header, Pdu]:
        frame = await self.receive_frame()
        header = decode_header(frame)
        return header, decode_body(header, frame)

    async def receive_bytes(self) -> bytes:
        """Whatever arrives next, unframed (for send_raw)."""
        return bytes(await self.stream.receive_some(65536))

    async def expect_eof(self) -> None:
        """Assert the other side closes without sending anything more."""
        data = await self.stream.receive_some(65536)
        assert data == b"", f"expected EOF, got {bytes(data)!r}"
        assert self.frames.pending == 0

    async def accept_bind(self, mode: BindMode | None = None) -> Header:
        """Read a bind and answer it with ESME_ROK; return its header."""
        header, pdu = await self.receive()
        assert isinstance(pdu, _Bind), pdu
        if mode is not None:
            assert BindMode.from_command_id(header.command_id) is mode
        actual = BindMode.from_command_id(header.command_id)
        assert actual is not None
        await self.send(_BIND_RESP[actual](system_id="raw"), header.sequence_number)
        return header


async def bind_esme(conn: SmppConnection, mode: BindMode) -> None:
    """Bind ``conn`` (already running) and consume the ``Bound`` event it reports."""
    await bind(conn, EsmeSettings(system_id="esme", password="pw", mode=mode))
    event = conn.incoming.receive_nowait()
    assert isinstance(event, Bound), event
    assert event.mode is mode


async def bind_raw(conn: SmppConnection, peer: RawPeer, mode: BindMode = BindMode.TRX) -> None:
    """Bind ``conn`` (already running) with ``peer`` accepting the bind."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_bind, mode)
        await bind_esme(conn, mode)


@contextlib.asynccontextmanager
async def raw_pair(
    config: SessionConfig = QUIET, *, mode: BindMode | None = BindMode.TRX
) -> AsyncIterator[tuple[SmppConnection, RawPeer]]:
    """An ESME connection (bound in ``mode`` unless None) whose peer is a ``RawPeer``.

    The connection runs in a nursery that is cancelled when the block ends.
    """
    esme_stream, peer_stream = trio.testing.memory_stream_pair()
    conn = esme_connection(esme_stream, config)
    peer = RawPeer(peer_stream)
    async with trio.open_nursery() as nursery:
        await nursery.start(conn.run)
        if mode is not None:
            await bind_raw(conn, peer, mode)
        yield conn, peer
        nursery.cancel_scope.cancel()


@attrs.define(eq=False)
class ScriptedSmsc:
    """An SMSC-role ``SmppConnection`` plus a tiny application (run ``serve``).

    Binds are accepted. Each submit_sm is answered with ``status`` (and message id
    ``"m<seq>"``), unless ``hold`` is set: then it waits in ``pending`` until ``release``.
    Every event the application sees is kept in ``events``.
    """

    conn: SmppConnection
    status: int = CommandStatus.ESME_ROK
    hold: bool = False
    pending: list[RequestReceived] = attrs.field(factory=list)
    events: list[Event] = attrs.field(factory=list)
    requests: list[Request] = attrs.field(factory=list)
    max_pending: int = 0

    async def serve(self) -> None:
        async for event in self.conn.incoming:
            self.events.append(event)
            if not isinstance(event, RequestReceived):
                continue
            pdu = event.pdu
            self.requests.append(pdu)
            if isinstance(pdu, _Bind):
                mode = BindMode.from_command_id(pdu.command_id)
                assert mode is not None
                self.conn.send_response(event.sequence_number, _BIND_RESP[mode](system_id="smsc"))
            elif self.hold:
                self.pending.append(event)
                self.max_pending = max(self.max_pending, len(self.pending))
            else:
                self._answer(event)

    def _answer(self, event: RequestReceived) -> None:
        seq = event.sequence_number
        self.conn.send_response(seq, SubmitSmResp(message_id=f"m{seq}"), self.status)

    def release(self, count: int = 1) -> None:
        """Answer the ``count`` oldest held requests."""
        for event in self.pending[:count]:
            self._answer(event)
        del self.pending[:count]


@contextlib.asynccontextmanager
async def bound_pair(
    esme_config: SessionConfig = QUIET,
    smsc_config: SessionConfig = QUIET,
    *,
    mode: BindMode = BindMode.TRX,
) -> AsyncIterator[tuple[SmppConnection, ScriptedSmsc]]:
    """An ESME connection bound to a ``ScriptedSmsc`` through a memory stream pair."""
    esme_stream, smsc_stream = trio.testing.memory_stream_pair()
    conn = esme_connection(esme_stream, esme_config)
    smsc = ScriptedSmsc(SmppConnection(smsc_stream, Session(Role.SMSC, smsc_config, now=trio.current_time())))
    async with trio.open_nursery() as nursery:
        await nursery.start(smsc.conn.run)
        nursery.start_soon(smsc.serve)
        await nursery.start(conn.run)
        await bind_esme(conn, mode)
        yield conn, smsc
        nursery.cancel_scope.cancel()
