"""Split a byte stream into whole PDUs (SMPP 3.4 §3.2: command_length counts itself).

The buffer yields only complete frames and refuses a command_length below the 16-octet
header or above the configured maximum: once that happens framing is lost for good
(SMPP-REFERENCE §4.2), so the buffer stays broken and the caller must close.
"""

from __future__ import annotations

import struct
from typing import Final

from smppgw.core.errors import InvalidCommandLength

__all__ = ["DEFAULT_MAX_COMMAND_LENGTH", "FrameBuffer"]

# gosmpp caps at 64 KiB, Kannel at 7424; a message_payload may need more than 7424.
DEFAULT_MAX_COMMAND_LENGTH: Final = 64 * 1024
_MIN: Final = 16
_LENGTH: Final = struct.Struct(">I").unpack_from


class FrameBuffer:
    """Accumulates received bytes and hands out complete PDUs.

    A plain slotted class, not attrs: ``_pos`` is assigned once per PDU received, and
    attrs' on-setattr hooks would cost more than the framing itself.
    """

    __slots__ = ("_broken", "_buf", "_pos", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        if max_frame < _MIN:
            raise ValueError(f"max_frame must be >= {_MIN}, got {max_frame}")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0
        self._broken: InvalidCommandLength | None = None

    def feed(self, data: bytes | bytearray) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]  # compact lazily: amortised O(1) per byte
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next whole PDU, or None until more bytes arrive.

        Raises:
            InvalidCommandLength: command_length < 16 or > ``max_frame`` (sticky).
        """
        if self._broken is not None:
            raise self._broken
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            return None
        (length,) = _LENGTH(buf, pos)  # no slice copy: once per PDU
        if length < _MIN or length > self.max_frame:
            self._broken = InvalidCommandLength(
                f"command_length {length} outside {_MIN}..{self.max_frame}: framing lost"
            )
            raise self._broken
        if len(buf) - pos < length:
            return None
        self._pos = pos + length
        return bytes(buf[pos : pos + length])

    def drain(self) -> tuple[list[bytes], InvalidCommandLength | None]:
        """Every whole PDU buffered so far, and the error if framing was lost after them.

        ``next_frame`` in a loop, without a method call per PDU (a session takes a read's
        worth of PDUs at once); the error is sticky as there.
        """
        if self._broken is not None:
            return [], self._broken
        buf, pos, max_frame = self._buf, self._pos, self.max_frame
        size = len(buf)
        out = []
        error = None
        while size - pos >= 4:
            (length,) = _LENGTH(buf, pos)
            if length < _MIN or length > max_frame:
                error = self._broken = InvalidCommandLength(
                    f"command_length {length} outside {_MIN}..{max_frame}: framing lost"
                )
                break
            if size - pos < length:
                break
            out.append(bytes(buf[pos : pos + length]))
            pos += length
        self._pos = pos
        return out, error

    def frames(self) -> list[bytes]:
        """Every complete PDU buffered so far (raises like ``next_frame``)."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    @property
    def pending(self) -> int:
        """Octets buffered that do not yet form a whole PDU."""
        return len(self._buf) - self._pos

    @property
    def broken(self) -> bool:
        return self._broken is not None
