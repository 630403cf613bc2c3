"""A deliberately bad ESME for the ESME conformance suite: raw frames, chosen faults.

Each flag breaks one rule the suite checks, so the tests can show the matching case
fail. Without flags it is a crude but correct client: bind as a transceiver, send
``--messages`` submit_sm (at most ``--window`` outstanding), answer what must be answered,
stay ``--stay`` seconds, unbind and wait for unbind_resp.
"""

from __future__ import annotations

import argparse
import sys

import trio

from smppgw.core.codec import decode_pdu, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.framing import FrameBuffer
from smppgw.core.pdu import (
    BindTransceiver,
    BindTransmitter,
    DeliverSmResp,
    EnquireLinkResp,
    Pdu,
    SubmitSm,
    Unbind,
    UnbindResp,
)

FLAGS = {
    "submit-before-bind": "send a submit_sm before the bind",
    "v33": "bind with interface_version 0x33",
    "ignore-enquire-link": "never answer enquire_link",
    "nack-deliveries": "answer deliver_sm with generic_nack",
    "reuse-seq": "give every submit_sm the same sequence number",
    "status-nonzero": "send requests with command_status 8",
    "seq-zero": "send one request with sequence number 0",
    "stray-response": "send a deliver_sm_resp nobody asked for",
    "overflow-window": "ignore the window: send every submit_sm at once",
    "hammer": "resubmit at once, three times, after ESME_RTHROTTLED",
    "no-retry": "never resubmit a throttled message",
    "close-on-nack": "close the connection after a generic_nack",
    "no-unbind": "close the connection at the end without unbind",
    "close-before-unbind-resp": "close right after sending unbind",
    "submit-after-unbind": "send a submit_sm after its own unbind",
    "ignore-unbind": "never answer an unbind from the SMSC",
    "tx": "bind as a transmitter, and still accept deliver_sm on it",
}


class Client:
    def __init__(self, stream: trio.SocketStream, args: argparse.Namespace) -> None:
        self.stream = stream
        self.args = args
        self.flags = set(args.flag)
        self.frames = FrameBuffer()
        self.seq = 0
        self.outstanding: dict[int, Pdu] = {}
        self.todo: list[SubmitSm] = [
            SubmitSm(
                source_addr="447700900100",
                destination_addr=f"4477009{n:05d}",
                registered_delivery=1,
                short_message=f"bad client {n}".encode(),
            )
            for n in range(1, args.messages + 1)
        ]
        self.retry_at = 0.0
        self.unbound = False
        self.done = False

    def next_seq(self) -> int:
        if "reuse-seq" in self.flags and self.seq:
            return self.seq
        self.seq += 1
        return self.seq

    async def send(self, pdu: Pdu, seq: int | None = None, status: int = 0) -> int:
        seq = self.next_seq() if seq is None else seq
        if "status-nonzero" in self.flags and not pdu.command_id & 0x8000_0000:
            status = CommandStatus.ESME_RSYSERR
        await self.stream.send_all(encode_pdu(pdu, seq, status))
        return seq

    async def submit_some(self) -> None:
        window = len(self.todo) if "overflow-window" in self.flags else self.args.window
        while self.todo and len(self.outstanding) < window and trio.current_time() >= self.retry_at:
            pdu = self.todo.pop(0)
            seq = await self.send(pdu)
            self.outstanding[seq] = pdu

    async def handle(self, raw: bytes) -> None:
        header, pdu = decode_pdu(raw)
        cid, seq = header.command_id, header.sequence_number
        if cid == CommandId.ENQUIRE_LINK:
            if "ignore-enquire-link" not in self.flags:
                await self.send(EnquireLinkResp(), seq)
        elif cid == CommandId.DELIVER_SM:
            if "nack-deliveries" in self.flags:
                await self.stream.send_all(
                    (16).to_bytes(4, "big")
                    + CommandId.GENERIC_NACK.to_bytes(4, "big")
                    + (8).to_bytes(4, "big")
                    + seq.to_bytes(4, "big")
                )
            else:
                await self.send(DeliverSmResp(), seq)
        elif cid == CommandId.UNBIND:
            if "ignore-unbind" not in self.flags:
                await self.send(UnbindResp(), seq)
                self.done = True
        elif cid == CommandId.GENERIC_NACK:
            self.outstanding.pop(seq, None)
            if "close-on-nack" in self.flags:
                self.done = True
        elif cid == CommandId.SUBMIT_SM_RESP:
            sent = self.outstanding.pop(seq, None)
            if header.command_status == CommandStatus.ESME_RTHROTTLED and isinstance(sent, SubmitSm):
                if "hammer" in self.flags:
                    for _ in range(3):
                        await self.send(sent)
                elif "no-retry" not in self.flags:
                    self.todo.insert(0, sent)
                    self.retry_at = trio.current_time() + 1.0
        elif cid == CommandId.UNBIND_RESP:
            self.unbound = True
        del pdu

    async def pump(self, until: float) -> bool:
        data = None
        with trio.move_on_at(until):
            data = await self.stream.receive_some(65536)
        if data is None:
            return True
        if not data:
            return False
        self.frames.feed(data)
        for raw in self.frames.frames():  # handled outside the timeout: no frame is lost
            await self.handle(raw)
        return True

    async def run(self) -> None:
        if "submit-before-bind" in self.flags:
            await self.send(self.todo[0])
        iv = 0x33 if "v33" in self.flags else 0x34
        bind = BindTransmitter if "tx" in self.flags else BindTransceiver
        await self.send(bind(system_id="badclient", password="secret", interface_version=iv))
        await self.pump(trio.current_time() + 5)
        if "stray-response" in self.flags:
            await self.send(DeliverSmResp(), 4242)
        if "seq-zero" in self.flags:
            await self.stream.send_all(
                encode_pdu(SubmitSm(destination_addr="447700900999", short_message=b"seq 0"), 0)
            )
        end = trio.current_time() + self.args.stay
        while not self.done:
            await self.submit_some()
            if not self.todo and not self.outstanding and trio.current_time() >= end:
                break
            if not await self.pump(trio.current_time() + 0.05):
                return
        if self.done or "no-unbind" in self.flags:
            return
        await self.send(Unbind())
        if "submit-after-unbind" in self.flags:
            await self.send(SubmitSm(destination_addr="447700900998", short_message=b"after unbind"))
        if "close-before-unbind-resp" in self.flags:
            return
        deadline = trio.current_time() + 3
        while not self.unbound and trio.current_time() < deadline:
            if not await self.pump(deadline):
                return


async def main(args: argparse.Namespace) -> None:
    stream = await trio.open_tcp_stream(args.host, args.port)
    try:
        await Client(stream, args).run()
    finally:
        await stream.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, default=16)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--stay", type=float, default=1.0)
    parser.add_argument("--flag", action="append", default=[], choices=sorted(FLAGS))
    try:
        trio.run(main, parser.parse_args())
    except (OSError, trio.BrokenResourceError) as exc:
        print(f"bad_esme_client: {exc!r}", file=sys.stderr)
