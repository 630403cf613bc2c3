"""PDU tracing (``--trace FILE``): every PDU a connection sends or receives, one JSON line each.

Theory of operation
-------------------
A ``PduTracer`` owns the trace file; each traced connection gets a ``ConnectionTrace``
(``tracer.connection(stream)``) and hands it the octets it read and the octets it is
about to write, as they are: ``received(data)``, ``sent(data)``. The connection trace
frames them again by itself (a read may end mid-PDU), so the trace shows what crossed
the wire, including what the session answered by itself (enquire_link_resp,
generic_nack) and octets written around the session (a simulator's malformed fault).
``SmppConnection(tracer=...)`` reads and writes through ``tracer.wrap(stream)`` (a
``TracedStream``); a connection that is not traced uses its stream as it is and pays
nothing, per PDU or per read.

One line per PDU::

    {"time": "2026-12-06T16:40:01.123456Z", "conn": {"id": 1, "local": "127.0.0.1:50312",
     "peer": "127.0.0.1:2775", "system_id": "smppclient1"}, "dir": "tx",
     "command": "submit_sm", "command_status": "ESME_ROK", "sequence_number": 2,
     "command_length": 61, "fields": {"source_addr": "12345", ..., "short_message":
     "Hello", "sm_length": 5}}

``time`` is the wall clock (UTC) when the octets were read or handed to the socket;
``system_id`` appears once the bind succeeded (the ESME's, from its bind). Fields are
the decoded body in wire order, integers as on the wire, TLVs by name; a ``password``
is always ``"***"``; ``short_message`` (and a message_payload TLV) is the text as its
data_coding reads it, with ``sm_length`` octets, the UDH in hex apart when esm_class has
UDHI, and ``short_message_hex`` instead for binary codings. A body that does not decode
gives ``error`` instead of ``fields``. The raw PDU in hex (``hex``) only with
``hex=True`` (``--trace-hex``): it carries the password in clear.

Sampling (``sample=N``): a PDU is traced when its sequence_number is a multiple of N
(a request and its response together), and always when it is a bind, an unbind, an
outbind or a generic_nack (a session's life stays whole). The octets are still framed,
which is a header read per PDU; only the traced ones are decoded.

Writes go to a 64 KiB buffer, flushed at most once a second as PDUs come, when a
connection closes, and at ``close()``: the trio loop never waits on the disk for a line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Final, cast

import attrs
import trio

from smppgw.core.alphabet import decode_text
from smppgw.core.codec import decode_pdu
from smppgw.core.constants import CommandId, DataCoding, EsmClass, TlvTag, status_name
from smppgw.core.errors import SmppError
from smppgw.core.framing import DEFAULT_MAX_COMMAND_LENGTH
from smppgw.core.pdu import Pdu
from smppgw.core.tlv import Tlv

__all__ = ["ConnectionTrace", "PduTracer", "TracedStream"]

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct(">IIII")
_BUFFER: Final = 64 * 1024
_BINDS: Final = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})
# Traced whatever the sample: the life of the session.
_ALWAYS: Final = frozenset(
    {
        *_BINDS,
        *(c | 0x8000_0000 for c in _BINDS),
        CommandId.UNBIND,
        CommandId.UNBIND_RESP,
        CommandId.OUTBIND,
        CommandId.GENERIC_NACK,
    }
)
_UDHI: Final = int(EsmClass.UDHI)
_TEXT_TLVS: Final = frozenset({TlvTag.MESSAGE_PAYLOAD})


def _command_name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08x}"


def _timestamp(wall: float) -> str:
    """ISO 8601 in UTC with microseconds: PDUs of one read are microseconds apart."""
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _address(sock: Any, method: str) -> str | None:
    try:
        host, port = getattr(sock, method)()[:2]
    except (OSError, AttributeError, TypeError, ValueError):
        return None
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _is_binary(data_coding: int) -> bool:
    """Whether the data_coding carries octets, not text (SMPP 3.4 §5.2.19; 23.038 §4)."""
    if data_coding in (DataCoding.OCTET_UNSPECIFIED, DataCoding.OCTET_UNSPECIFIED_2):
        return True
    if 0x10 <= data_coding <= 0x1F:
        return (data_coding >> 2) & 0x03 == 1
    return data_coding >= 0xF0 and bool(data_coding & 0x04)


def _text(data: bytes, data_coding: int, udhi: bool, out: dict[str, Any], key: str) -> None:
    """``out[key]``: the text of a short_message or message_payload, plus its length."""
    out["sm_length" if key == "short_message" else key + "_length"] = len(data)
    if udhi and data and data[0] + 1 <= len(data):
        cut = data[0] + 1
        out["udh"] = data[:cut].hex()
        data = data[cut:]
    if _is_binary(data_coding):
        out[key + "_hex"] = data.hex()
    else:
        out[key] = decode_text(data, data_coding)


def _value(value: Any) -> Any:
    """A field value as JSON: ints as on the wire, nested records as objects."""
    if isinstance(value, bool | str | None):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum / IntFlag: its wire value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if attrs.has(type(value)):
        return {f.name: _value(getattr(value, f.name)) for f in attrs.fields(type(value))}
    return str(value)


def _tlv(tlv: Tlv, data_coding: int) -> dict[str, Any]:
    try:
        name = TlvTag(tlv.tag).name.lower()
    except ValueError:
        name = f"0x{tlv.tag:04x}"
    out: dict[str, Any] = {"tag": name}
    if tlv.tag in _TEXT_TLVS:
        _text(tlv.value, data_coding, False, out, "value")
    else:
        typed = tlv.typed()
        out["value"] = typed.hex() if isinstance(typed, bytes) else typed
    return out


def pdu_fields(pdu: Pdu) -> dict[str, Any]:
    """The decoded body of ``pdu`` as JSON-ready values (see the module docstring)."""
    out: dict[str, Any] = {}
    data_coding = int(getattr(pdu, "data_coding", 0))
    for field in attrs.fields(cast(Any, type(pdu))):
        name, value = field.name, getattr(pdu, field.name)
        if name == "password":
            out[name] = "***"
        elif name == "short_message":
            _text(value, data_coding, bool(int(getattr(pdu, "esm_class", 0)) & _UDHI), out, name)
        elif name == "tlvs":
            if value:
                out[name] = [_tlv(t, data_coding) for t in value]
        else:
            out[name] = _value(value)
    return out


class PduTracer:
    """The trace file shared by every traced connection of a process (see the module
    docstring). ``sample``: trace 1 PDU in N (by sequence_number); ``hex``: add each
    PDU's octets in hex."""

    def __init__(
        self,
        out: IO[str],
        *,
        sample: int = 1,
        hex: bool = False,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 1.0,
    ) -> None:
        if sample < 1:
            raise ValueError(f"sample must be >= 1, got {sample}")
        self._out = out
        self.sample = sample
        self.hex = hex
        self._clock = clock
        self.flush_interval = flush_interval
        self._flushed = clock()
        self._next_id = 0
        self.lines = 0  # written so far

    @classmethod
    def open(cls, path: str, **options: Any) -> PduTracer:
        """Create (or truncate) ``path`` and trace into it.

        Raises:
            OSError: the file cannot be opened for writing.
        """
        return cls(open(path, "w", encoding="utf-8", buffering=_BUFFER), **options)

    def connection(self, stream: object = None) -> ConnectionTrace:
        """A trace for one new connection over ``stream`` (its addresses are read from
        the socket under it, when there is one)."""
        self._next_id += 1
        sock = getattr(getattr(stream, "transport_stream", stream), "socket", None)
        return ConnectionTrace(
            self, self._next_id, _address(sock, "getsockname"), _address(sock, "getpeername")
        )

    def wrap(self, stream: trio.abc.Stream) -> TracedStream:
        """``stream``, with every PDU read from it or written to it traced."""
        return TracedStream(stream, self.connection(stream))

    def write(self, record: dict[str, Any]) -> None:
        if self._out.closed:
            return
        wall = self._clock()
        record["time"] = _timestamp(wall)
        try:
            self._out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        except OSError as exc:
            self._broken(exc)
            return
        self.lines += 1
        if wall - self._flushed >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        if not self._out.closed:
            try:
                self._out.flush()
            except OSError as exc:
                self._broken(exc)
            self._flushed = self._clock()

    def close(self) -> None:
        if not self._out.closed:
            with contextlib.suppress(OSError):
                self._out.close()

    def _broken(self, exc: OSError) -> None:
        """The trace cannot be written (a full disk): tracing stops, the connections do not."""
        log.error("the PDU trace cannot be written (%s); tracing stops", exc)
        self.close()


class ConnectionTrace:
    """The trace of one connection: ``received(data)`` / ``sent(data)`` with the octets
    as they are read and written; ``closed()`` at the end."""

    __slots__ = ("_binding", "_pending", "_tracer", "id", "local", "peer", "system_id")

    def __init__(self, tracer: PduTracer, conn_id: int, local: str | None, peer: str | None) -> None:
        self._tracer = tracer
        self.id = conn_id
        self.local = local
        self.peer = peer
        self.system_id: str | None = None
        self._binding: str | None = None  # the system_id of a bind not answered yet
        self._pending: dict[str, bytes | None] = {"rx": b"", "tx": b""}  # None: framing lost

    def received(self, data: bytes) -> None:
        self._frames("rx", data)

    def sent(self, data: bytes) -> None:
        self._frames("tx", data)

    def closed(self) -> None:
        self._tracer.flush()

    def _frames(self, direction: str, data: bytes) -> None:
        buf = self._pending[direction]
        if buf is None or not data:
            return
        if buf:
            data = buf + data
        sample = self._tracer.sample
        pos, end = 0, len(data)
        while end - pos >= 16:
            length, cid, status, seq = _HEADER.unpack_from(data, pos)
            if not 16 <= length <= DEFAULT_MAX_COMMAND_LENGTH:
                self._pending[direction] = None  # the stream cannot be framed again
                self._write(direction, {"error": f"framing lost: command_length {length}"})
                return
            if end - pos < length:
                break
            if sample == 1 or seq % sample == 0 or cid in _ALWAYS:
                try:
                    self._pdu(direction, bytes(data[pos : pos + length]), cid, status, seq)
                except Exception as exc:  # a trace never breaks its connection
                    self._write(direction, {"sequence_number": seq, "error": f"not traced: {exc!r}"})
            pos += length
        self._pending[direction] = bytes(data[pos:])

    def _pdu(self, direction: str, frame: bytes, cid: int, status: int, seq: int) -> None:
        record: dict[str, Any] = {
            "command": _command_name(cid),
            "command_status": status_name(status),
            "sequence_number": seq,
            "command_length": len(frame),
        }
        try:
            _, pdu = decode_pdu(frame)
        except SmppError as exc:
            record["error"] = str(exc)
        else:
            record["fields"] = pdu_fields(pdu)
            if cid in _BINDS:
                self._binding = getattr(pdu, "system_id", None)
            elif cid & 0x8000_0000 and cid & 0x7FFF_FFFF in _BINDS and self._binding is not None:
                if status == 0:
                    self.system_id = self._binding
                self._binding = None
        if self._tracer.hex:
            record["hex"] = frame.hex()
        self._write(direction, record)

    def _write(self, direction: str, body: dict[str, Any]) -> None:
        conn: dict[str, Any] = {"id": self.id, "local": self.local, "peer": self.peer}
        if self.system_id is not None:
            conn["system_id"] = self.system_id
        self._tracer.write({"time": "", "conn": conn, "dir": direction, **body})


class TracedStream(trio.abc.Stream):
    """A stream that hands what it reads and writes to a ``ConnectionTrace`` (the writes
    before they go out: the time is when they were handed to the socket)."""

    def __init__(self, stream: trio.abc.Stream, trace: ConnectionTrace) -> None:
        self.stream = stream
        self.trace = trace

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = bytes(await self.stream.receive_some(max_bytes))
        self.trace.received(data)
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.trace.sent(bytes(data))
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        self.trace.closed()
        await self.stream.aclose()
