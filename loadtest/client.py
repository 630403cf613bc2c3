"""A lean ESME bind for load generation: headers in, headers out, no Session per PDU.

Theory of operation
-------------------
The generic ``SmppConnection`` builds a PDU object, an event and a callback per message;
a load generator that must outrun the SMSC it measures cannot afford that. ``SmppBind``
keeps the SMPP bookkeeping that matters here itself:

- sending: a submit_sm is ``HEADER.pack(length, 4, 0, seq) + body`` with the body taken
  from the pre-encoded pool (``loadtest.messages``); a burst goes into one ``bytearray``
  and leaves in one ``send_all`` from the writer task;
- the window is ``inflight``, a dict ``sequence_number -> intended send time (µs)``;
  its insertion order is send order, which makes expiry a scan from the front;
- receiving: the reader walks the 16-octet headers of whatever one ``receive_some``
  returned (``struct.unpack_from``) and decodes a body only where it must: the
  message_id of a submit_sm_resp when receipts are awaited, and deliver_sm receipts;
- the peer's requests are answered at once: deliver_sm -> deliver_sm_resp (SMPP 3.4
  §4.6.2), enquire_link -> enquire_link_resp (§4.11: in any bound state), unbind ->
  unbind_resp then close (§4.2), an unknown request -> generic_nack ESME_RINVCMDID (§3.3).

Binding goes through the codec (``encode_pdu`` of a bind PDU, ``decode_pdu`` of the
answer), once per connection. Whoever owns the bind (the runner) is told when window
slots free up (``on_room``) and decides what to send next.
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Callable
from typing import Final

import attrs
import trio

from loadtest.receipts import ReceiptTracker
from loadtest.stats import Counters
from smppgw.core.codec import HEADER_SIZE, Header, decode_body, decode_pdu, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus, InterfaceVersion, status_name
from smppgw.core.errors import SmppError
from smppgw.core.framing import DEFAULT_MAX_COMMAND_LENGTH
from smppgw.core.pdu import BindTransceiver, BindTransmitter, DeliverSm, Unbind
from smppgw.core.receipt import parse_receipt
from smppgw.net.trace import PduTracer, TracedStream

__all__ = ["BindError", "BindSettings", "SmppBind"]

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct(">IIII")
_SUBMIT_SM: Final = int(CommandId.SUBMIT_SM)
_SUBMIT_SM_RESP: Final = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM: Final = int(CommandId.DELIVER_SM)
_DATA_SM: Final = int(CommandId.DATA_SM)
_ENQUIRE_LINK: Final = int(CommandId.ENQUIRE_LINK)
_UNBIND: Final = int(CommandId.UNBIND)
_UNBIND_RESP: Final = int(CommandId.UNBIND_RESP)
_GENERIC_NACK: Final = int(CommandId.GENERIC_NACK)
_ALERT_NOTIFICATION: Final = int(CommandId.ALERT_NOTIFICATION)
_MAX_SEQ: Final = 0x7FFF_FFFF


class BindError(Exception):
    """Could not connect or bind; the message says why (one line)."""


@attrs.frozen(kw_only=True)
class BindSettings:
    host: str
    port: int
    system_id: str
    password: str = attrs.field(repr=False)
    system_type: str = ""
    mode: str = "trx"  # "trx" | "tx"
    window: int = 64
    connect_timeout: float = 10.0
    bind_timeout: float = 10.0


def _resp(command_id: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
    return _HEADER.pack(HEADER_SIZE + len(body), command_id, status, seq) + body


class SmppBind:
    """One bind. ``open()`` connects and binds; ``run()`` drives it until the connection
    ends; ``send_*`` queue submits; ``expire()`` times out what waited too long."""

    def __init__(
        self,
        index: int,
        settings: BindSettings,
        pool: list[bytes],
        counters: Counters,
        clock_us: Callable[[], int],
        on_room: Callable[[SmppBind], None],
        receipts: ReceiptTracker | None = None,
        tracer: PduTracer | None = None,
    ) -> None:
        self.index = index
        self._tracer = tracer  # --trace: the stream is read and written through it
        self.settings = settings
        self.window = settings.window
        self.inflight: dict[int, int] = {}
        self.bound = False
        self.close_reason: str | None = None
        self._pool = pool
        self._pi = (index * 7919) % len(pool)  # binds start at different points of the cycle
        self._c = counters
        self._clock = clock_us
        self._on_room = on_room
        self._receipts = receipts
        self._stream: trio.SocketStream | TracedStream | None = None
        self._seq = 0
        self._out = bytearray()
        self._wake = trio.Event()
        self._marks: deque[tuple[int, int]] = deque()  # (write time µs, last seq in it)
        self._marked_seq = 0
        self._unbound = trio.Event()
        self._drained = trio.Event()
        self._draining = False
        self._cancel: trio.CancelScope | None = None

    @property
    def room(self) -> int:
        return self.window - len(self.inflight) if self.bound else 0

    @property
    def inflight_count(self) -> int:
        return len(self.inflight)

    # -- connect and bind ------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bind (each step bounded).

        Raises:
            BindError: refused, unreachable, no answer, or the SMSC rejected the bind.
        """
        s = self.settings
        stream: trio.SocketStream | TracedStream
        try:
            with trio.fail_after(s.connect_timeout):
                stream = await trio.open_tcp_stream(s.host, s.port)
        except (OSError, trio.TooSlowError) as exc:
            raise BindError(f"cannot connect to {s.host}:{s.port}: {exc or 'timed out'}") from None
        if self._tracer is not None:
            stream = self._tracer.wrap(stream)
        cls = BindTransceiver if s.mode == "trx" else BindTransmitter
        pdu = cls(
            system_id=s.system_id,
            password=s.password,
            system_type=s.system_type,
            interface_version=InterfaceVersion.V34,
        )
        self._seq = 1
        try:
            with trio.fail_after(s.bind_timeout):
                await stream.send_all(encode_pdu(pdu, sequence_number=1))
                header = await self._read_bind_resp(stream)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, SmppError) as exc:
            await trio.aclose_forcefully(stream)
            raise BindError(f"bind to {s.host}:{s.port} failed: {exc}") from None
        except trio.TooSlowError:
            await trio.aclose_forcefully(stream)
            raise BindError(f"no bind response from {s.host}:{s.port} within {s.bind_timeout}s") from None
        if header.command_status != CommandStatus.ESME_ROK:
            await trio.aclose_forcefully(stream)
            raise BindError(f"bind refused by {s.host}:{s.port}: {status_name(header.command_status)}")
        self._stream = stream
        self._out = bytearray()
        self._wake = trio.Event()
        self._marks.clear()
        self._marked_seq = self._seq
        self._unbound = trio.Event()
        self._drained = trio.Event()
        self._draining = False
        self.close_reason = None
        self.bound = True

    async def _read_bind_resp(self, stream: trio.SocketStream | TracedStream) -> Header:
        buf = b""
        while True:
            data = await stream.receive_some(65536)
            if not data:
                raise BindError("connection closed while binding")
            buf += data
            while len(buf) >= HEADER_SIZE:
                length = int.from_bytes(buf[:4], "big")
                if not HEADER_SIZE <= length <= DEFAULT_MAX_COMMAND_LENGTH:
                    raise BindError(f"framing lost while binding (command_length {length})")
                if len(buf) < length:
                    break
                header, _ = decode_pdu(buf[:length])
                buf = buf[length:]
                if header.command_id & 0x8000_0000 and header.sequence_number == 1:
                    return header  # bind_*_resp or generic_nack: either way, its status

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> str:
        """Read and write until the connection ends; returns why it ended. The messages
        still in flight then count as ``connection_lost`` errors."""
        assert self._stream is not None
        try:
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope
                nursery.start_soon(self._writer)
                await self._reader()
                self._draining = True  # let the writer flush an unbind_resp or a nack
                self._wake.set()
                with trio.move_on_after(1.0):
                    await self._drained.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.bound = False
            lost = len(self.inflight)
            if lost:
                self._c.error("connection_lost", lost)
                self.inflight.clear()
            self._marks.clear()
            stream, self._stream = self._stream, None
            if stream is not None:
                await trio.aclose_forcefully(stream)
        return self.close_reason or "closed"

    def close(self, reason: str) -> None:
        self.close_reason = self.close_reason or reason
        if self._cancel is not None:
            self._cancel.cancel()

    async def unbind(self, timeout: float = 1.0) -> None:
        """Send unbind (SMPP 3.4 §4.2), wait up to ``timeout`` for unbind_resp, close."""
        if self.bound and self._stream is not None:
            self._seq = self._seq % _MAX_SEQ + 1
            self._out += encode_pdu(Unbind(), sequence_number=self._seq)
            self.kick()
            with trio.move_on_after(timeout):
                await self._unbound.wait()
        self.close("unbound")

    def kick(self) -> None:
        """Wake the writer; remember when the submits up to ``_seq`` went out (for expiry)."""
        if self._seq != self._marked_seq:
            self._marks.append((self._clock(), self._seq))
            self._marked_seq = self._seq
        self._wake.set()

    async def _writer(self) -> None:
        stream = self._stream
        assert stream is not None
        try:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                while self._out:
                    data, self._out = self._out, bytearray()
                    await stream.send_all(data)
                if self._draining:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.close_reason = self.close_reason or f"write failed: {exc}"
            if self._cancel is not None:
                self._cancel.cancel()
        finally:
            self._drained.set()

    # -- the hot path: sending -------------------------------------------------------------

    def send_from(self, backlog: deque[int], k: int) -> None:
        """Send the next ``k`` messages whose intended times wait in ``backlog``."""
        out, inflight, pool, pack, popleft = (
            self._out,
            self.inflight,
            self._pool,
            _HEADER.pack,
            backlog.popleft,
        )
        npool, pi, seq = len(pool), self._pi, self._seq
        for _ in range(k):
            body = pool[pi]
            pi += 1
            if pi == npool:
                pi = 0
            seq = seq + 1 if seq < _MAX_SEQ else 1
            out += pack(16 + len(body), _SUBMIT_SM, 0, seq)
            out += body
            inflight[seq] = popleft()
        self._pi, self._seq = pi, seq
        self._c.sent += k
        self.kick()

    def send_now(self, k: int, now_us: int) -> None:
        """Send ``k`` messages whose intended time is now (the closed loop)."""
        out, inflight, pool, pack = self._out, self.inflight, self._pool, _HEADER.pack
        npool, pi, seq = len(pool), self._pi, self._seq
        for _ in range(k):
            body = pool[pi]
            pi += 1
            if pi == npool:
                pi = 0
            seq = seq + 1 if seq < _MAX_SEQ else 1
            out += pack(16 + len(body), _SUBMIT_SM, 0, seq)
            out += body
            inflight[seq] = now_us
        self._pi, self._seq = pi, seq
        self._c.sent += k
        self.kick()

    def expire(self, now_us: int, timeout_us: int) -> int:
        """Time out submits written more than ``timeout_us`` ago; returns how many.

        Their latency is recorded as it stands (intended time to now): a lower bound,
        and far better than pretending they never happened.
        """
        cutoff = -1
        marks = self._marks
        while marks and marks[0][0] <= now_us - timeout_us:
            cutoff = marks.popleft()[1]
        if cutoff < 0 or not self.inflight:
            return 0
        expired = []
        for seq in self.inflight:  # insertion order == send order
            if seq > cutoff:
                break
            expired.append(seq)
        c, inflight = self._c, self.inflight
        for seq in expired:
            c.resp_lat.append(now_us - inflight.pop(seq))
        if expired:
            c.timeouts += len(expired)
            c.error("timeout", len(expired))
            self._on_room(self)
        return len(expired)

    # -- the hot path: receiving -----------------------------------------------------------

    async def _reader(self) -> None:
        stream = self._stream
        assert stream is not None
        rest = b""
        while True:
            try:
                data = await stream.receive_some(262144)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self.close_reason = self.close_reason or f"read failed: {exc}"
                return
            if not data:
                self.close_reason = self.close_reason or "closed by the SMSC"
                return
            if rest:
                data = rest + data
            pos = self._frames(data)
            if pos < 0:
                return  # framing lost or unbound: close_reason says which
            rest = data[pos:]
            if len(self.inflight) < self.window:
                self._on_room(self)
            if self._out:
                self.kick()

    def _frames(self, data: bytes) -> int:
        """Handle every whole PDU in ``data``; return where the unfinished one starts
        (-1 when the connection must close)."""
        now = self._clock()
        c, inflight, unpack = self._c, self.inflight, _HEADER.unpack_from
        lat = c.resp_lat.append
        receipts = self._receipts
        acked = 0
        pos, end = 0, len(data)
        while end - pos >= 16:
            length, cmd, status, seq = unpack(data, pos)
            if length < 16 or length > DEFAULT_MAX_COMMAND_LENGTH:
                # SMPP-REFERENCE §4.2: framing is lost for good; the stream cannot be trusted.
                self._out += _resp(_GENERIC_NACK, 0, status=CommandStatus.ESME_RINVCMDLEN)
                self.close_reason = f"framing lost: command_length {length}"
                return -1
            if end - pos < length:
                break
            if cmd == _SUBMIT_SM_RESP or cmd == _GENERIC_NACK:  # noqa: SIM109 (hot path: no tuple per PDU)
                t = inflight.pop(seq, None)
                if t is not None:  # else a late answer to a timed-out submit
                    lat(now - t)
                    if status == 0 and cmd == _SUBMIT_SM_RESP:
                        acked += 1
                        if receipts is not None:
                            stop = data.find(b"\0", pos + 16, pos + length)
                            mid = data[pos + 16 : stop if stop >= 0 else pos + length].decode("latin-1")
                            receipts.submitted(mid, t)
                    else:
                        c.status(status or CommandStatus.ESME_RUNKNOWNERR)
            elif not self._other(data, pos, length, cmd, seq, now):
                return -1
            pos += length
        c.acked += acked
        return pos

    def _other(self, data: bytes, pos: int, length: int, cmd: int, seq: int, now: int) -> bool:
        """Anything but a submit_sm_resp; False when the connection must close."""
        if cmd == _DELIVER_SM:
            self._out += _resp(cmd | 0x8000_0000, seq, b"\0")
            if self._receipts is not None:
                self._receipt(data[pos : pos + length], now)
        elif cmd == _DATA_SM:
            self._out += _resp(cmd | 0x8000_0000, seq, b"\0")
        elif cmd == _ENQUIRE_LINK:
            self._out += _resp(cmd | 0x8000_0000, seq)
        elif cmd == _UNBIND:
            self._out += _resp(cmd | 0x8000_0000, seq)
            self.close_reason = "unbound by the SMSC"
            self._unbound.set()
            self.kick()
            return False
        elif cmd == _UNBIND_RESP:
            self._unbound.set()
            return False
        elif not cmd & 0x8000_0000 and cmd != _ALERT_NOTIFICATION:
            self._out += _resp(_GENERIC_NACK, seq, status=CommandStatus.ESME_RINVCMDID)
        return True  # other responses (enquire_link_resp...) need nothing

    def _receipt(self, frame: bytes, now: int) -> None:
        assert self._receipts is not None
        try:
            pdu = decode_body(Header._make(_HEADER.unpack_from(frame)), frame)
        except SmppError:
            self._receipts.receipt(None, now)
            return
        assert isinstance(pdu, DeliverSm)
        r = parse_receipt(short_message=pdu.short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
        if r is not None:  # a plain MO message is not a receipt: answered, not counted
            self._receipts.receipt(r.message_id, now)
