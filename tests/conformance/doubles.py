"""Two deliberately wrong SMSCs, to show that every SMSC case is able to fail.

The simulator's faults break whole classes of behaviour (a black hole, nacks, errors),
but a case only proves something if some SMSC makes it fail. These two doubles cover
the rest between them:

* ``yes_man`` says yes to everything: every request, known or not, valid or not, gets
  its *_resp with ESME_ROK (header-only responses padded with 4 stray octets); every
  response it receives gets a generic_nack; it never delivers anything, never closes a
  connection, and ignores lost framing.
* ``no_man`` binds anyone properly, then refuses everything else with ESME_RSYSERR, sends
  a delivery receipt on every bind (transmitters included), takes each TCP read for
  exactly one PDU, and closes each connection half a second after it was opened.

They write raw octets (``conformance.wire``), like any misbehaving peer must.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Final

import trio

from conformance.wire import encode, raw_pdu
from smppgw.core.constants import CommandId, CommandStatus, EsmClass, MessageState, TlvTag
from smppgw.core.pdu import DeliverSm
from smppgw.core.tlv import Tlv

__all__ = ["no_man", "serve_double", "yes_man"]

_BODIES: Final = {
    CommandId.BIND_TRANSMITTER: b"\x00",
    CommandId.BIND_RECEIVER: b"\x00",
    CommandId.BIND_TRANSCEIVER: b"\x00",
    CommandId.SUBMIT_SM: b"1\x00",
    CommandId.DATA_SM: b"1\x00",
    CommandId.SUBMIT_MULTI: b"1\x00\x00",
    CommandId.DELIVER_SM: b"\x00",
    CommandId.QUERY_SM: b"1\x00\x00\x63\x00",  # message_state 0x63: no such state
}
_BINDS: Final = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})
_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


async def _frames(
    stream: trio.abc.Stream, on_frame: Callable[[int, int, bytes], Awaitable[None]], *, naive: bool = False
) -> None:
    """Frame by command_length; ``naive`` is the classic bug "one read is one PDU": the
    first PDU of each read is handled and the rest of the read is thrown away."""
    buf = bytearray()
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return
        if naive:
            buf.clear()
        buf += data
        while len(buf) >= 16:
            length = int.from_bytes(buf[:4], "big")
            if length < 16 or length > 65536:
                buf.clear()  # framing lost: a yes-man shrugs and carries on
                break
            if len(buf) < length:
                break
            frame = bytes(buf[:length])
            del buf[:length]
            await on_frame(int.from_bytes(frame[4:8], "big"), int.from_bytes(frame[12:16], "big"), frame)
            if naive:
                break


async def yes_man(stream: trio.abc.Stream) -> None:
    async def answer(cid: int, seq: int, frame: bytes) -> None:
        if cid & 0x8000_0000:
            await stream.send_all(raw_pdu(CommandId.GENERIC_NACK, seq))
            return
        body = _BODIES.get(cid, b"\x00\x00\x00\x00")
        await stream.send_all(raw_pdu(cid | 0x8000_0000, seq, body))

    with contextlib.suppress(*_ERRORS):
        await _frames(stream, answer)


async def no_man(stream: trio.abc.Stream) -> None:
    async def answer(cid: int, seq: int, frame: bytes) -> None:
        if cid & 0x8000_0000:
            return
        if cid in _BINDS:
            tlv = Tlv.from_int(TlvTag.SC_INTERFACE_VERSION, 0x34)
            await stream.send_all(
                raw_pdu(cid | 0x8000_0000, seq, b"noman\x00" + tlv.tag.to_bytes(2, "big") + b"\x00\x01\x34")
            )
            receipt = DeliverSm(
                source_addr="447700900001",
                destination_addr="447700900100",
                esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
                short_message=b"id:1 sub:001 dlvrd:001 submit date:2501011200 done date:2501011200 stat:DELIVRD err:000 text:",
                tlvs=(
                    Tlv.from_str(TlvTag.RECEIPTED_MESSAGE_ID, "1"),
                    Tlv.from_int(TlvTag.MESSAGE_STATE, MessageState.DELIVERED),
                ),
            )
            await stream.send_all(encode(receipt, 1))
            return
        await stream.send_all(raw_pdu(cid | 0x8000_0000, seq, status=CommandStatus.ESME_RSYSERR))

    with contextlib.suppress(*_ERRORS), trio.move_on_after(0.5):
        await _frames(stream, answer, naive=True)
    with contextlib.suppress(*_ERRORS):
        await stream.aclose()


async def serve_double(
    handler: Callable[[trio.abc.Stream], Awaitable[None]],
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on a free loopback port; ``task_status`` gets the port."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handler, listeners)
