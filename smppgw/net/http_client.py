"""A small HTTP/1.1 client on trio, for webhook POSTs (gateway/notify.py).

Why not httpx: it costs about 1 ms of CPU per POST, which capped the webhook worker
near 1,000 events/s (issue 14). Here a request is one ``send_all`` of bytes built from a
cached prefix, and the answer is parsed by httptools (llhttp, the C parser the HTTP
front uses too).

What it does (RFC 9112 as a client needs it): keep-alive connections pooled per origin
(scheme, host, port, the address connected to) and ``pool`` name, at most
``max_connections`` per pool, a connection reused only after a complete answer that
allows keep-alive, and dropped when idle longer than ``idle_timeout``; a connect timeout
and a whole-request timeout; TLS with the default context (certificates verified, SNI
the URL's host) or the caller's; ``Host``, ``Content-Length``, ``Content-Type`` and the
caller's headers. An answer's status, the headers the caller asked to keep, and at most
``max_body`` bytes of its body are returned; the rest of a body is read and dropped up to
``max_drain`` bytes, past that the connection is closed instead. Chunked and
close-delimited bodies are read; 1xx answers skipped. Redirects are not followed: a 3xx
is an answer like any other for the caller to judge.

``connect_to``: the IP address to connect to instead of resolving the host (the address
the SSRF rule checked is the one used: no second lookup that DNS rebinding could answer
differently). TLS still verifies the certificate for the URL's host.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import httptools
import trio

__all__ = ["ClientLimits", "HttpClient", "HttpError", "HttpResult", "HttpTimeout"]

_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class HttpError(Exception):
    """The request failed without an answer (connect, reset, a broken answer); the
    message is short and never holds the URL."""


class HttpTimeout(HttpError):
    """The connect or the whole request took longer than its limit."""


@attrs.frozen(kw_only=True)
class ClientLimits:
    connect_timeout: float = 5.0
    timeout: float = 5.0  # the whole request, connect included
    max_connections: int = 8  # per pool
    max_body: int = 64 * 1024  # of an answer's body, returned
    max_drain: int = 1024 * 1024  # read and dropped past max_body to keep the connection
    max_head: int = 64 * 1024
    idle_timeout: float = 30.0  # a pooled connection idle longer is closed, not reused
    max_pools: int = 1024  # idle pools are dropped past this (callback hosts come and go)


@attrs.frozen
class HttpResult:
    status: int
    headers: dict[str, str]  # the kept ones, lower-case names
    body: bytes  # at most max_body bytes


@attrs.frozen
class _Target:
    """A URL, parsed once: the pool it belongs to and the head's first bytes."""

    tls: bool
    host: str
    port: int
    prefix: bytes  # request line and Host


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise HttpError("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError("not an http(s) URL")
    tls = parts.scheme == "https"
    host = parts.hostname
    default = 443 if tls else 80
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        authority += f":{port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    prefix = f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii", "strict")
    return _Target(tls, host, port or default, prefix)


class _Answer:
    """httptools callbacks for one connection; reset before each request."""

    def __init__(self, keep: frozenset[bytes], limits: ClientLimits) -> None:
        self.keep = keep
        self.limits = limits
        self.parser = httptools.HttpResponseParser(self)
        self.reset()

    def reset(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.kept = self.read = 0
        self.head_done = self.done = self.keep_alive = False
        self.delimited = False  # by Content-Length or chunked (else: by the close)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self.delimited = True
        if name in self.keep:
            self.headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, chunk: bytes) -> None:
        self.read += len(chunk)
        room = self.limits.max_body - self.kept
        if room > 0:
            self.body.append(chunk[:room])
            self.kept += min(room, len(chunk))

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # 1xx: the real answer follows
            self.reset()
        else:
            self.done = True
            self.keep_alive = self.parser.should_keep_alive()  # (reset once this returns)


class _Conn:
    def __init__(self, stream: trio.abc.Stream, answer: _Answer) -> None:
        self.stream = stream
        self.answer = answer
        self.idle_since = 0.0

    def raw(self) -> trio.SocketStream:
        stream = self.stream
        return stream.transport_stream if isinstance(stream, trio.SSLStream) else stream  # type: ignore[return-value]

    def close(self) -> None:
        """At once, without a TLS close_notify: every answer read is delimited."""
        self.raw().socket.close()

    def stale(self, now: float, idle_timeout: float) -> bool:
        """Idle too long, or readable after a second idle: the server closed it (or sent
        what no request asked for). Under a second, the poll is not worth its syscall:
        a connection closed that soon fails at once and the request goes on a new one."""
        idle = now - self.idle_since
        return idle > idle_timeout or (idle > 1.0 and self.raw().socket.is_readable())


class _Pool:
    def __init__(self, size: int) -> None:
        self.slots = trio.Semaphore(size)
        self.idle: list[_Conn] = []


class HttpClient:
    def __init__(
        self,
        limits: ClientLimits | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keep_headers: Sequence[str] = ("retry-after", "location"),
    ) -> None:
        self.limits = limits or ClientLimits()
        self._ssl = ssl_context
        self._keep = frozenset(h.lower().encode() for h in keep_headers)
        self._pools: dict[tuple[Any, ...], _Pool] = {}
        self._targets: dict[str, _Target] = {}

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Sequence[tuple[str, str]] = (),
        *,
        content_type: str = "application/json",
        connect_to: str | None = None,
        pool: str = "",
    ) -> HttpResult:
        """POST ``body`` to ``url``; ``connect_to``: the IP address to use for its host.

        Raises:
            HttpTimeout: over the connect or the request timeout.
            HttpError: no (whole) answer.
        """
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= 4096:
                self._targets.clear()
            target = self._targets[url] = _target(url)
        head = [target.prefix, f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()]
        for name, value in headers:
            line = f"{name}: {value}\r\n"
            if "\n" in line[:-2] or "\r" in line[:-2]:
                raise HttpError(f"header {name!r}: a line break in it")
            head.append(line.encode("latin-1"))
        head.append(b"\r\n")
        request = b"".join(head) + body
        key = (target.tls, target.host, target.port, connect_to, pool)
        p = self._pools.get(key) or self._new_pool(key)
        async with p.slots:
            with trio.CancelScope(deadline=trio.current_time() + self.limits.timeout) as scope:
                return await self._exchange(p, target, connect_to, request)
            assert scope.cancelled_caught
            raise HttpTimeout("timeout")

    def _new_pool(self, key: tuple[Any, ...]) -> _Pool:
        if len(self._pools) >= self.limits.max_pools:
            for k, p in list(self._pools.items()):
                if p.slots.value == self.limits.max_connections:  # nothing in flight
                    for conn in p.idle:
                        conn.close()
                    del self._pools[k]
        p = self._pools[key] = _Pool(self.limits.max_connections)
        return p

    async def _exchange(
        self, p: _Pool, target: _Target, connect_to: str | None, request: bytes
    ) -> HttpResult:
        now = trio.current_time()
        conn = None
        while p.idle:
            candidate = p.idle.pop()
            if candidate.stale(now, self.limits.idle_timeout):
                candidate.close()
            else:
                conn = candidate
                break
        # A pooled connection the server closed meanwhile fails at the first write, or
        # ends before an answer's first byte: then the request is sent once more on a
        # fresh connection. POST is not idempotent in general, but a webhook is at least
        # once by design (the receiver dedupes on webhook-id), so a repeat is allowed.
        if conn is not None:
            try:
                result = await self._once(conn, request, reused=True)
            except _Stale:
                conn.close()
            else:
                return self._done(p, conn, result)
        conn = await self._connect(target, connect_to)
        try:
            result = await self._once(conn, request, reused=False)
        except _Stale:
            conn.close()
            raise HttpError("closed before an answer") from None
        return self._done(p, conn, result)

    def _done(self, p: _Pool, conn: _Conn, result: tuple[HttpResult, bool]) -> HttpResult:
        answer, keep = result
        if keep:
            conn.idle_since = trio.current_time()
            p.idle.append(conn)
        else:
            conn.close()
        return answer

    async def _connect(self, target: _Target, connect_to: str | None) -> _Conn:
        try:
            with trio.fail_after(self.limits.connect_timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(connect_to or target.host, target.port)
                if target.tls:
                    if self._ssl is None:
                        self._ssl = ssl.create_default_context()
                    stream = trio.SSLStream(
                        stream, self._ssl, server_hostname=target.host, https_compatible=True
                    )
                    try:
                        await stream.do_handshake()
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
        except trio.TooSlowError:
            raise HttpTimeout("connect timeout") from None
        except _ERRORS as exc:
            raise HttpError(f"connect: {_why(exc)}") from None
        return _Conn(stream, _Answer(self._keep, self.limits))

    async def _once(self, conn: _Conn, request: bytes, *, reused: bool) -> tuple[HttpResult, bool]:
        """One request and its answer: (the answer, whether the connection may be reused).
        Raises _Stale (a reused connection that ended before an answer), HttpError."""
        answer = conn.answer
        answer.reset()
        limits = self.limits
        try:
            try:
                await conn.stream.send_all(request)
            except _ERRORS as exc:
                if reused:
                    raise _Stale from None
                raise HttpError(f"send: {_why(exc)}") from None
            got = 0
            while not answer.done:
                try:
                    data = await conn.stream.receive_some(65536)
                except _ERRORS as exc:
                    if reused and got == 0:
                        raise _Stale from None
                    raise HttpError(f"receive: {_why(exc)}") from None
                if not data:
                    if answer.head_done and not answer.delimited:
                        break  # the body ends with the connection
                    if reused and got == 0:
                        raise _Stale
                    raise HttpError("closed before a whole answer")
                got += len(data)
                try:
                    answer.parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    raise HttpError(f"a bad answer: {exc}") from None
                if not answer.head_done and got > limits.max_head:
                    raise HttpError(f"an answer head over {limits.max_head} bytes")
                if answer.read > limits.max_body + limits.max_drain:
                    break  # not worth reading on: closed below
        except BaseException:
            conn.close()  # cancelled or failed mid-request: its state is unknown
            raise
        result = HttpResult(answer.parser.get_status_code(), answer.headers, b"".join(answer.body))
        keep = answer.done and answer.keep_alive
        return result, keep

    async def aclose(self) -> None:
        for p in self._pools.values():
            for conn in p.idle:
                conn.close()
        self._pools.clear()
        await trio.lowlevel.checkpoint()


class _Stale(Exception):
    pass


def _why(exc: BaseException) -> str:
    """A short reason: the OS error's name, or what lies under trio's wrapper (TLS)."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, trio.BrokenResourceError) and cause is not None:
        exc = cause
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:  # open_tcp_stream's
        exc = cause.exceptions[-1]
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or type(exc).__name__}"
    return type(exc).__name__
