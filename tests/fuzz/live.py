"""Live fuzzing over loopback TCP, shared by ``make fuzz`` (bench/fuzz.py) and the short
seeded test (tests/fuzz/test_fuzz_short.py).

- ``hammer``: many connections to an SMSC (the simulator), each sending hostile frames
  (``frames.FrameMaker``), most after a valid bind so the frames reach the bound state;
  replies are read and thrown away; some connections end mid-frame.
- ``clean_client``: one well-behaved ESME bound the whole time, submitting one message
  after another; every submit_sm_resp must be ESME_ROK.
- ``FakeSmsc``: an SMSC that answers the gateway's binds and then sends it hostile
  frames (mostly mutated deliver_sm), closing the connection after each burst so the
  gateway binds again.

Every loop is bounded by a count and the caller's deadline (``trio.move_on_after``).
"""

from __future__ import annotations

import struct
from typing import Any

import attrs
import trio

from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId
from smppgw.core.pdu import BindTransceiverResp, EnquireLinkResp, SubmitSm, SubmitSmResp
from smppgw.net.esme import open_esme
from tests.fuzz.frames import FrameMaker, valid_bind

__all__ = ["CleanResult", "FakeSmsc", "HammerStats", "clean_client", "hammer"]

_HEADER = struct.Struct(">IIII")


@attrs.define
class HammerStats:
    frames: int = 0
    octets: int = 0
    connections: int = 0
    refused: int = 0  # connections the server would not take (or reset at once)


@attrs.define
class CleanResult:
    ok: int = 0
    failed: int = 0
    errors: list[str] = attrs.field(factory=list)


async def _drain(stream: trio.SocketStream) -> None:
    """Read and drop what the server says until it closes or stops talking."""
    while True:
        with trio.move_on_after(0.05):
            data = await stream.receive_some(65536)
            if not data:
                return
            continue
        return


async def _one_connection(
    host: str, port: int, maker: FrameMaker, frames: int, account: tuple[str, str] | None, stats: HammerStats
) -> None:
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError:
        stats.refused += 1
        return
    stats.connections += 1
    rng = maker.rng
    try:
        async with stream:
            if account is not None and rng.random() < 0.8:
                await stream.send_all(valid_bind(*account))
            payload = b"".join(maker.frames(frames))
            if rng.random() < 0.2:  # end mid-frame
                payload = payload[: rng.randrange(1, len(payload) + 1)]
            for chunk in maker.chunks(payload):
                await stream.send_all(chunk)
            stats.frames += frames
            stats.octets += len(payload)
            await _drain(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the server closed it (framing lost, a bad bind): as it should


async def hammer(
    host: str,
    port: int,
    *,
    seed: int,
    connections: int,
    frames_per_connection: int,
    account: tuple[str, str] | None,
    concurrency: int = 8,
) -> HammerStats:
    """``connections`` connections of hostile frames, ``concurrency`` at a time."""
    stats = HammerStats()
    makers = [FrameMaker(seed * 1000 + i) for i in range(concurrency)]
    todo = iter(range(connections))

    async def worker(maker: FrameMaker) -> None:
        for _ in todo:
            await _one_connection(host, port, maker, frames_per_connection, account, stats)

    async with trio.open_nursery() as nursery:
        for maker in makers:
            nursery.start_soon(worker, maker)
    return stats


async def clean_client(
    host: str, port: int, account: tuple[str, str], *, count: int, result: CleanResult, pause: float = 0.0
) -> None:
    """One bind, ``count`` submits one after another; each must be answered ESME_ROK."""
    async with open_esme(host, port, system_id=account[0], password=account[1]) as conn:
        for i in range(count):
            try:
                with trio.fail_after(10):  # a non-zero status raises CommandFailed
                    await conn.request(
                        SubmitSm(
                            source_addr="447700900000",
                            destination_addr=f"4477009{i:05d}",
                            short_message=b"hi",
                        )
                    )
                result.ok += 1
            except Exception as exc:  # counted: the campaign reports it
                result.failed += 1
                result.errors.append(repr(exc))
            if pause:
                await trio.sleep(pause)


@attrs.define
class FakeSmsc:
    """A hostile SMSC for the gateway: ``handle`` serves one of its binds."""

    seed: int
    frames_per_connection: int
    max_connections: int
    frames: int = 0
    connections: int = 0
    _makers: dict[int, FrameMaker] = attrs.field(factory=dict)

    async def handle(self, stream: trio.SocketStream) -> None:
        if self.connections >= self.max_connections:
            await stream.aclose()
            return
        self.connections += 1
        maker = FrameMaker(self.seed * 7919 + self.connections, valid=0.3, framed=True)
        try:
            async with stream:
                buf = b""
                while True:  # answer the bind (and anything else) until bound
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buf += data
                    if len(buf) >= 16:
                        length, cid, _, seq = _HEADER.unpack_from(buf)
                        if len(buf) >= length:
                            buf = buf[length:]
                            if cid in (
                                CommandId.BIND_TRANSCEIVER,
                                CommandId.BIND_RECEIVER,
                                CommandId.BIND_TRANSMITTER,
                            ):
                                resp = BindTransceiverResp(system_id="fuzz")
                                raw = encode_pdu(resp, seq)
                                raw = raw[:4] + struct.pack(">I", cid | 0x8000_0000) + raw[8:]
                                await stream.send_all(raw)
                                break
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._answer, stream)
                    for _ in range(self.frames_per_connection):
                        frame = maker.frame()
                        for chunk in maker.chunks(frame):
                            await stream.send_all(chunk)
                        self.frames += 1
                        if maker.rng.random() < 0.05:
                            await trio.sleep(0.01)
                    await trio.sleep(0.1)
                    nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the gateway closed it (framing lost, a violation): as it should

    async def _answer(self, stream: trio.SocketStream) -> None:
        """Answer the gateway's enquire_link and submits, read and drop the rest."""
        buf = b""
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 16:
                length, cid, _, seq = _HEADER.unpack_from(buf)
                if length < 16 or length > 1 << 20:
                    buf = b""
                    break
                if len(buf) < length:
                    break
                buf = buf[length:]
                reply: Any = None
                if cid == CommandId.ENQUIRE_LINK:
                    reply = EnquireLinkResp()
                elif cid == CommandId.SUBMIT_SM:
                    reply = SubmitSmResp(message_id="1")
                if reply is not None:
                    await stream.send_all(encode_pdu(reply, seq))
