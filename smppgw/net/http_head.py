"""What the HTTP front (``net/http.py``) writes before a body: the status line and
headers, the ``Date`` header (RFC 9110 §6.6.1), and the request ids it answers with."""

from __future__ import annotations

import itertools
import math
import re
import secrets
import time
from email.utils import formatdate

__all__ = ["REASONS", "HttpDate", "RequestIds", "head"]

REASONS = {
    100: b"Continue", 200: b"OK", 201: b"Created", 202: b"Accepted", 204: b"No Content",
    400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
    405: b"Method Not Allowed", 408: b"Request Timeout", 409: b"Conflict",
    413: b"Content Too Large", 415: b"Unsupported Media Type", 422: b"Unprocessable Content",
    429: b"Too Many Requests", 431: b"Request Header Fields Too Large",
    500: b"Internal Server Error", 501: b"Not Implemented", 503: b"Service Unavailable",
}  # fmt: skip


class HttpDate:
    """The ``Date`` header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = math.floor(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


def head(
    status: int, headers: list[tuple[bytes, bytes]], length: int | None, date: bytes, close: bool
) -> bytes:
    """``length`` None: no content-length from us (a 204, or the app's for a HEAD)."""
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Status"))]
    lines += [b"%s: %s\r\n" % (name, value) for name, value in headers]
    if length is not None:
        lines.append(b"content-length: %d\r\n" % length)
    lines.append(b"date: %s\r\nserver: smppgw\r\n" % date)
    if close:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


_SANE_ID = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")


class RequestIds:
    """A client's sane ``X-Request-Id``, else this process's prefix and a counter: unique,
    cheap, and safe to log and to echo in a header."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4).encode()
        self._count = itertools.count(1)

    def __call__(self, given: bytes | None) -> bytes:
        if given is not None and _SANE_ID.fullmatch(given):
            return given
        return b"%s-%x" % (self._prefix, next(self._count))
