"""Split a byte stream into whole PDUs (SMPP 3.4 §3.2: command_length counts itself).

The buffer yields only complete frames and refuses a command_length below the 16-octet
header or above the configured maximum: once that happens framing is lost for good
(SMPP-REFERENCE §4.2), so the buffer stays broken and the caller must close.
"""

from __future__ import annotations

from typing import Final

import attrs

from smppgw.core.errors import InvalidCommandLength

__all__ = ["DEFAULT_MAX_COMMAND_LENGTH", "FrameBuffer"]

# gosmpp caps at 64 KiB, Kannel at 7424; a message_payload may need more than 7424.
DEFAULT_MAX_COMMAND_LENGTH: Final = 64 * 1024
_MIN: Final = 16


@attrs.define
class FrameBuffer:
    """Accumulates received bytes and hands out complete PDUs."""

    max_frame: int = attrs.field(default=DEFAULT_MAX_COMMAND_LENGTH, validator=attrs.validators.ge(_MIN))
    _buf: bytearray = attrs.field(factory=bytearray, init=False)
    _pos: int = attrs.field(default=0, init=False)
    _broken: InvalidCommandLength | None = attrs.field(default=None, init=False)

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
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if length < _MIN or length > self.max_frame:
            self._broken = InvalidCommandLength(
                f"command_length {length} outside {_MIN}..{self.max_frame}: framing lost"
            )
            raise self._broken
        if len(buf) - pos < length:
            return None
        self._pos = pos + length
        return bytes(buf[pos : pos + length])

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
