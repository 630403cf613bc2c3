"""``Probe``: one raw SMPP connection under the suite's full control.

The suite does not use ``Session`` to talk to the peer under test: a session refuses to
send what negative cases must send, and answers by itself what cases must observe. A
probe frames bytes by command_length, decodes every frame into a ``Frame`` (never
raising), records a transcript line for everything that crosses the wire, and keeps the
frames nobody has consumed yet in ``inbox``, so responses may be awaited in any order.

Reading happens only while someone waits (``wait_for``, ``idle``), which keeps a probe a
plain object with no background task. Requests from the peer (enquire_link, deliver_sm,
unbind) are handed to ``on_request`` as they are read, so an automatic answer leaves at
once even while the case waits for something else.

The probe tracks whether it is bound (a bind_*_resp with status 0 seen in either
direction; unbind_resp clears it) so the runner can always unbind before closing.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Final

import attrs
import trio

from conformance.model import wrong_response
from conformance.wire import HEADER_SIZE, Frame, decode_frame, describe_bytes, encode
from smppgw.core.constants import CommandId
from smppgw.core.pdu import Pdu
from smppgw.core.session import MAX_SEQUENCE_NUMBER
from smppgw.core.states import BindMode

__all__ = ["Closed", "Observation", "Probe", "Transcript"]

log = logging.getLogger(__name__)

#: Far above any real maximum: the probe must be able to *receive* what a peer sends.
MAX_FRAME: Final = 16 * 1024 * 1024
_BIND_RESP: Final[dict[int, BindMode]] = {
    CommandId.BIND_TRANSMITTER_RESP: BindMode.TX,
    CommandId.BIND_RECEIVER_RESP: BindMode.RX,
    CommandId.BIND_TRANSCEIVER_RESP: BindMode.TRX,
}
_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class Closed(Exception):
    """The connection closed while a frame was awaited."""


@attrs.frozen
class Observation:
    """One transcript line: seconds since the case started, direction, text.

    Directions: ``>`` sent by the suite, ``<`` received from the peer, ``!`` an event
    (connection opened or closed, a timeout).
    """

    t: float
    conn: str
    direction: str
    text: str

    def render(self, with_conn: bool = False) -> str:
        where = f"[{self.conn}] " if with_conn else ""
        return f"{self.t:8.3f}s {where}{self.direction} {self.text}"


@attrs.define
class Transcript:
    """The observations of one case, across all its connections."""

    t0: float
    lines: list[Observation] = attrs.Factory(list)

    def add(self, conn: str, direction: str, text: str) -> None:
        self.lines.append(Observation(trio.current_time() - self.t0, conn, direction, text))

    def render(self) -> tuple[str, ...]:
        several = len({o.conn for o in self.lines}) > 1
        return tuple(o.render(several) for o in self.lines)


RequestHandler = Callable[["Probe", Frame], Awaitable[None]]


class Probe:
    """A raw SMPP connection (see the module docstring)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        transcript: Transcript,
        *,
        name: str = "main",
        on_request: RequestHandler | None = None,
        keep_requests: bool = True,
    ) -> None:
        self.stream = stream
        self.transcript = transcript
        self.name = name
        self.on_request = on_request
        self.keep_requests = keep_requests
        self.inbox: list[Frame] = []
        self.closed = False
        self.close_reason = ""
        self.bound: BindMode | None = None
        self.sent_unbind = False
        self._buf = bytearray()
        self._next_seq = 1
        self._send_lock = trio.Lock()
        self._requests: dict[int, int] = {}  # sequence_number -> command_id of what we sent
        self._send_failed = ""  # why a write failed; reading goes on until the peer's end

    # -- sending -----------------------------------------------------------------------

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = seq + 1 if seq < MAX_SEQUENCE_NUMBER else 1
        return seq

    async def send(self, data: bytes, note: str = "") -> None:
        """Write ``data`` as it is, recording each whole frame in it.

        Raises:
            Closed: the connection is (or just became) closed.
        """
        if self.closed:
            raise Closed(f"cannot send: connection closed ({self.close_reason})")
        if self._send_failed:
            raise Closed(f"cannot send: {self._send_failed}")
        self._record_sent(data, note)
        try:
            async with self._send_lock:
                await self.stream.send_all(data)
        except _ERRORS as exc:
            # Only the sending side is known broken: a peer that closed after its last
            # PDUs (an unbind_resp right behind its last submit_sm, 3.4 §4.2) sent bytes
            # still unread here, so reading goes on until its end of stream (``pump``).
            self._send_failed = f"send failed: {exc!r}"
            self.transcript.add(self.name, "!", f"connection {self._send_failed}")
            raise Closed(self._send_failed) from None

    async def send_pdu(self, pdu: Pdu, seq: int | None = None, status: int = 0, note: str = "") -> int:
        """Encode and send ``pdu``; returns the sequence number used."""
        if seq is None:
            seq = self.next_seq()
        await self.send(encode(pdu, seq, status), note)
        return seq

    def _record_sent(self, data: bytes, note: str) -> None:
        pos = 0
        suffix = f"  ({note})" if note else ""
        while len(data) - pos >= HEADER_SIZE:
            length = int.from_bytes(data[pos : pos + 4], "big")
            if length < HEADER_SIZE or pos + length > len(data):
                break
            frame = decode_frame(data[pos : pos + length])
            self._track(frame)
            if not frame.is_response:
                self._requests[frame.seq] = frame.command_id
            if frame.command_id == CommandId.UNBIND:
                self.sent_unbind = True
            self.transcript.add(self.name, ">", frame.describe() + suffix)
            pos += length
            suffix = ""
        if pos < len(data):
            self.transcript.add(self.name, ">", describe_bytes(data[pos:]) + suffix)

    # -- receiving ---------------------------------------------------------------------

    async def pump(self, deadline: float) -> bool:
        """Read once (until ``deadline`` at most) and route what arrived.

        Returns False when nothing arrived by the deadline or the connection is closed.
        """
        if self.closed:
            return False
        data: bytes | bytearray = b""
        with trio.move_on_at(deadline):
            try:
                data = await self.stream.receive_some(65536)
            except _ERRORS as exc:
                self._mark_closed(f"receive failed: {exc!r}")
                return False
            if not data:
                self._mark_closed("closed by the peer")
                return False
        if not data:
            return False
        self._buf += data
        await self._route_frames()
        return True

    async def _route_frames(self) -> None:
        buf = self._buf
        while len(buf) >= 4:
            length = int.from_bytes(buf[:4], "big")
            if length < HEADER_SIZE or length > MAX_FRAME:
                self.transcript.add(
                    self.name, "<", describe_bytes(bytes(buf)) + f"  (framing lost: command_length {length})"
                )
                buf.clear()
                await self.aclose(f"peer lost framing (command_length {length})")
                return
            if len(buf) < length:
                return
            frame = decode_frame(bytes(buf[:length]))
            del buf[:length]
            self._track(frame)
            self.transcript.add(self.name, "<", frame.describe())
            if frame.is_response or self.keep_requests:
                self.inbox.append(frame)
            if not frame.is_response and self.on_request is not None:
                with contextlib.suppress(Closed):
                    await self.on_request(self, frame)

    def _track(self, frame: Frame) -> None:
        cid = frame.command_id
        if cid in _BIND_RESP and frame.status == 0:
            self.bound = _BIND_RESP[cid]
        elif cid == CommandId.UNBIND_RESP:
            self.bound = None

    def take(self, predicate: Callable[[Frame], bool]) -> Frame | None:
        """Remove and return the first inbox frame matching ``predicate``."""
        for i, frame in enumerate(self.inbox):
            if predicate(frame):
                return self.inbox.pop(i)
        return None

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float) -> Frame | None:
        """The first frame (already received or arriving within ``timeout``) matching
        ``predicate``, removed from the inbox; None on timeout.

        Raises:
            Closed: the connection closed before a matching frame arrived.
        """
        deadline = trio.current_time() + timeout
        while True:
            frame = self.take(predicate)
            if frame is not None:
                return frame
            if self.closed:
                raise Closed(self.close_reason)
            if trio.current_time() >= deadline:
                return None
            await self.pump(deadline)

    async def wait_reply(self, seq: int, timeout: float) -> Frame | None:
        """The response (or generic_nack) with sequence number ``seq`` (see ``wait_for``).

        Raises:
            CaseFailed: (must) its command_id is not our request's | 0x80000000 nor
                generic_nack: 3.4 §3.2, whatever the case that waits for it.
        """
        frame = await self.wait_for(lambda f: f.is_response and f.seq == seq, timeout)
        sent = self._requests.get(seq)
        if frame is not None and sent is not None:
            wrong = wrong_response(sent, seq, frame.command_id, frame.describe())
            if wrong is not None:
                raise wrong
        return frame

    async def idle(self, seconds: float) -> None:
        """Keep reading (and answering the peer's requests) for ``seconds``."""
        deadline = trio.current_time() + seconds
        while not self.closed and trio.current_time() < deadline:
            await self.pump(deadline)
        if not self.closed and seconds > 0:
            await trio.sleep_until(deadline)

    async def wait_closed(self, timeout: float) -> bool:
        """True if the peer closes the connection within ``timeout`` (frames are kept)."""
        deadline = trio.current_time() + timeout
        while not self.closed and trio.current_time() < deadline:
            await self.pump(deadline)
        return self.closed

    # -- closing -----------------------------------------------------------------------

    def _mark_closed(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self.bound = None
            self.transcript.add(self.name, "!", f"connection {reason}")

    async def aclose(self, reason: str = "closed by the suite") -> None:
        self._mark_closed(reason)
        with trio.CancelScope(shield=True), trio.move_on_after(1), contextlib.suppress(Exception):
            await self.stream.aclose()


def remaining(deadline: float) -> float:
    return max(0.0, deadline - trio.current_time()) if math.isfinite(deadline) else math.inf
