"""Reading HTTP/1.1 responses off a raw trio stream, independently of the server's
parser: what the HTTP front tests check is the bytes on the wire."""

from __future__ import annotations

import json
from typing import Any, Final

import attrs
import trio

__all__ = ["WAIT", "Answer", "Reader"]

WAIT: Final = 5.0  # the bound on any single wait for the server; never reached when it works


@attrs.define
class Answer:
    status: int
    reason: bytes
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define(eq=False)
class Reader:
    """Reads HTTP/1.1 responses off a stream, independently of the server's parser."""

    stream: trio.SocketStream
    buf: bytes = b""

    async def _more(self) -> bool:
        with trio.fail_after(WAIT):
            data = await self.stream.receive_some(65536)
        self.buf += data
        return bool(data)

    async def head(self) -> tuple[int, bytes, dict[bytes, bytes]]:
        while b"\r\n\r\n" not in self.buf:
            if not await self._more():
                raise EOFError(f"closed before a whole head: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.split(b"\r\n")
        version, status, reason = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1", status_line
        headers: dict[bytes, bytes] = {}
        for line in lines:
            name, _, value = line.partition(b":")
            assert name.lower() not in headers, f"{name!r} twice in {head!r}"
            headers[name.lower()] = value.strip()
        return int(status), reason, headers

    async def answer(self, *, head_only: bool = False) -> Answer:
        """One final response (skipping nothing: a 1xx is returned like any other)."""
        status, reason, headers = await self.head()
        length = 0 if head_only or status < 200 else int(headers[b"content-length"])
        while len(self.buf) < length:
            if not await self._more():
                raise EOFError("closed inside a body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return Answer(status, reason, headers, body)

    async def eof(self) -> None:
        """The server closes: nothing more arrives, then EOF."""
        while await self._more():
            pass
        assert self.buf == b"", f"unexpected bytes before EOF: {self.buf!r}"
