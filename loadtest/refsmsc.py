"""A minimal reference SMSC that answers from headers: the fastest honest peer we have.

    python -m loadtest.refsmsc --port 0 [--receipts] [--max-seconds 600]

The first line on stdout is the port it listens on (127.0.0.1 only). It exists so a
load test can measure the load generator rather than the target: it accepts any bind,
answers every submit_sm with ESME_ROK and a fresh message_id, answers enquire_link and
unbind (SMPP 3.4 §4.11, §4.2), nacks anything else with ESME_RINVCMDID (§3.3), and with
``--receipts`` sends one DELIVRD receipt per submit_sm that asks for one. There is no
Session and no PDU object per message: one ``receive_some`` is walked header by header
and every answer to it leaves in one ``send_all`` (the simulator's ``minimal`` SMSC is the
same idea built on the full session machinery, at a fraction of the speed).

Exits on SIGTERM/SIGINT or after ``--max-seconds``, writing one summary line to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import struct
import sys
import time
from functools import partial
from typing import Final

import trio

from smppgw.core.constants import CommandId, CommandStatus, EsmClass
from smppgw.core.framing import DEFAULT_MAX_COMMAND_LENGTH
from smppgw.net.listeners import open_listeners

__all__ = ["RefSmsc", "main", "serve"]

_HEADER: Final = struct.Struct(">IIII")
_SUBMIT_SM: Final = int(CommandId.SUBMIT_SM)
_ENQUIRE_LINK: Final = int(CommandId.ENQUIRE_LINK)
_UNBIND: Final = int(CommandId.UNBIND)
_BINDS: Final = frozenset(
    {int(CommandId.BIND_TRANSMITTER), int(CommandId.BIND_RECEIVER), int(CommandId.BIND_TRANSCEIVER)}
)
_RESP: Final = 0x8000_0000
_SYSTEM_ID: Final = b"refsmsc\0"
_DATE: Final = b"2611270000"


class RefSmsc:
    """Counts what it answered; ``handle`` serves one TCP connection."""

    def __init__(self, *, receipts: bool = False) -> None:
        self.receipts = receipts
        self.submitted = 0
        self.connections = 0
        self._ids = itertools.count(1)

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        try:
            await self._serve(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    async def _serve(self, stream: trio.SocketStream) -> None:
        rest = b""
        out_seq = 0
        pack, unpack = _HEADER.pack, _HEADER.unpack_from
        ids = self._ids
        while True:
            data = await stream.receive_some(262144)
            if not data:
                return
            if rest:
                data = rest + data
            out = bytearray()
            pos, end = 0, len(data)
            submitted = 0
            closing = False
            while end - pos >= 16:
                length, cmd, _status, seq = unpack(data, pos)
                if length < 16 or length > DEFAULT_MAX_COMMAND_LENGTH:
                    out += pack(16, _RESP, CommandStatus.ESME_RINVCMDLEN, 0)
                    closing = True
                    break
                if end - pos < length:
                    break
                if cmd == _SUBMIT_SM:
                    mid = b"%x\0" % next(ids)
                    out += pack(16 + len(mid), _SUBMIT_SM | _RESP, 0, seq)
                    out += mid
                    submitted += 1
                    if self.receipts and _wants_receipt(data, pos + 16, pos + length):
                        out_seq = out_seq % 0x7FFF_FFFF + 1
                        out += _receipt(data, pos + 16, mid[:-1], out_seq)
                elif cmd in _BINDS:
                    out += pack(16 + len(_SYSTEM_ID), cmd | _RESP, 0, seq)
                    out += _SYSTEM_ID
                elif cmd == _ENQUIRE_LINK:
                    out += pack(16, cmd | _RESP, 0, seq)
                elif cmd == _UNBIND:
                    out += pack(16, cmd | _RESP, 0, seq)
                    closing = True
                    break
                elif not cmd & _RESP:
                    out += pack(16, _RESP, CommandStatus.ESME_RINVCMDID, seq)
                pos += length
            rest = data[pos:]
            self.submitted += submitted
            if out:
                await stream.send_all(out)
            if closing:
                return


def _fields(data: bytes, pos: int, end: int) -> tuple[list[bytes], int]:
    """service_type, source (ton, npi, addr), dest (ton, npi, addr); returns their raw
    values and the position of esm_class (submit_sm body, SMPP 3.4 §4.4.1)."""
    out = []
    stop = data.index(b"\0", pos, end)  # service_type
    pos = stop + 1
    for _ in range(2):
        ton_npi = data[pos : pos + 2]
        stop = data.index(b"\0", pos + 2, end)
        out += [ton_npi, data[pos + 2 : stop]]
        pos = stop + 1
    return out, pos


def _wants_receipt(data: bytes, pos: int, end: int) -> bool:
    try:
        _, pos = _fields(data, pos, end)
        pos += 3  # esm_class, protocol_id, priority_flag
        for _ in range(2):  # schedule_delivery_time, validity_period
            pos = data.index(b"\0", pos, end) + 1
        return bool(data[pos] & 0x03)
    except (ValueError, IndexError):
        return False


def _receipt(data: bytes, pos: int, message_id: bytes, seq: int) -> bytes:
    """A deliver_sm receipt (SMPP 3.4 Appendix B text) from the submit's addresses."""
    (src_tn, src, dst_tn, dst), _ = _fields(data, pos, len(data))
    text = b"id:%s sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD err:000 text:" % (
        message_id,
        _DATE,
        _DATE,
    )
    body = b"".join(
        (
            b"\0",  # service_type
            dst_tn,
            dst[:20],
            b"\0",
            src_tn,
            src[:20],
            b"\0",
            bytes((EsmClass.SMSC_DELIVERY_RECEIPT, 0, 0)),
            b"\0\0",  # schedule_delivery_time, validity_period
            bytes((0, 0, 0, 0, len(text))),  # registered_delivery .. sm_length
            text,
            struct.pack(">HH", 0x001E, len(message_id) + 1),  # receipted_message_id
            message_id,
            b"\0",
            struct.pack(">HHB", 0x0427, 1, 2),  # message_state DELIVERED
        )
    )
    return _HEADER.pack(16 + len(body), int(CommandId.DELIVER_SM), 0, seq) + body


async def serve(
    smsc: RefSmsc,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; ``task_status.started`` gets the port."""
    listeners = await open_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, smsc.handle, listeners)  # already listening
        task_status.started(bound)


async def _main(args: argparse.Namespace, smsc: RefSmsc) -> None:
    with (
        trio.move_on_after(args.max_seconds),
        trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals,
    ):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve, smsc, args.port, args.host))
            print(port, flush=True)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.refsmsc", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port; printed first)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--receipts", action="store_true", help="send a receipt for every submit asking for one"
    )
    parser.add_argument("--max-seconds", type=float, default=600.0, help="exit after this long at most")
    args = parser.parse_args(argv)
    if not 0 < args.max_seconds <= 86400 or not 0 <= args.port < 65536:
        parser.error("--max-seconds must be in (0, 86400] and --port in 0..65535")
    smsc = RefSmsc(receipts=args.receipts)
    started = time.monotonic()
    trio.run(_main, args, smsc)
    print(
        f"refsmsc: {smsc.submitted} submit_sm answered on {smsc.connections} connection(s) "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
