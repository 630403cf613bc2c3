"""The HTTP/1.1 front of the queue API: a small server on trio.

Why not Hypercorn: its trio worker (h11, pure Python) costs about 0.5 ms of CPU per
request, which caps a trivial route near 1,900 req/s on the machines we measure on
(issue 14), and no other ASGI server runs on trio. Here the request is parsed by
httptools (llhttp, the C parser uvicorn uses); a request whose method and path has a
*fast route* is answered by a plain function (the hot intake routes), and every other
request goes to the ASGI app (FastAPI) with the whole body already read.

HTTP/1.1 (RFC 9112) as a server needs it: keep-alive (and HTTP/1.0's close), pipelined
requests answered in order, chunked request bodies, ``Expect: 100-continue``,
``Content-Length`` on every response, ``HEAD`` without a body, a ``Date`` header
(RFC 9110 §6.6.1). Limits: a request head over ``max_head`` bytes is 431, a body over
``max_body`` (or its route's limit in ``body_limits``) is 413 as soon as its
``Content-Length`` is seen (before the body is read), ``admit`` (called once a
request's head is whole) may answer instead, its body unread (the API's key check),
a request not complete within ``request_timeout`` of its first byte is 408 (and an
answer the client does not read within it closes the connection), an idle
keep-alive connection is closed after ``keepalive_timeout``, and over
``max_connections`` a new connection gets 503 and is closed. Every such answer closes
the connection (its rest can't be trusted), after the answers to the requests that
were whole before it, and with a lingering close (RFC 9112 §9.6): the bytes the client
is still sending are read and dropped for a moment, so that they don't make the kernel
reset the connection before the client has read why.

Every answer has an ``X-Request-Id``: the client's own if it sent a sane one (1-128 of
``A-Z a-z 0-9 . _ : + = / -``), else one made here. A route and the app see it in the
request's ``x-request-id`` header; an unexpected error is logged with it and the 500
problem carries it as ``request_id``, so a client's report finds the log line.

With an ``ssl_context`` (``net/https.py``) the front serves HTTPS: TLS (HTTP/1.1 only)
over each accepted connection, its handshake bounded by ``request_timeout``.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping

import attrs
import httptools
import trio

from smppgw.net.http_asgi import ASGIApp, call_asgi
from smppgw.net.http_head import REASONS, HttpDate, RequestIds, head
from smppgw.net.listeners import open_listeners

__all__ = ["ASGIApp", "Admit", "FastRoute", "HttpLimits", "Request", "Response", "serve_http"]

log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class HttpLimits:
    max_body: int = 1024 * 1024
    #: (method, path) -> that route's body limit instead of ``max_body`` (a batch route's).
    body_limits: Mapping[tuple[bytes, bytes], int] = attrs.field(factory=dict)
    max_head: int = 64 * 1024
    request_timeout: float = 30.0
    keepalive_timeout: float = 75.0
    max_connections: int = 1024


class Request:
    """One parsed request: what a fast route gets. ``headers``: lower-cased names."""

    __slots__ = ("body", "client", "headers", "http_version", "keep_alive", "method", "path", "query", "state")  # fmt: skip

    def __init__(self) -> None:
        self.client: tuple[str, int] = ("", 0)
        self.state: object = None  # what the admission hook found (the API: the key)
        self.http_version = "1.1"
        self.method = b""
        self.path = b""
        self.query = b""
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.keep_alive = True


#: (status, extra headers, body) of a fast route's answer.
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
FastRoute = Callable[[Request], Awaitable[Response]]
#: Called once a request's head is complete, before any of its body is read: None lets
#: it in; a Response answers it instead (and closes the connection, the body unread).
Admit = Callable[[Request], Response | None]


class _Refused(Exception):
    """Stop parsing and answer ``status``, then close."""

    def __init__(self, status: int, detail: str, response: Response | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.response = response  # the whole answer, else a problem of status and detail


class _Parsing:
    """httptools callbacks: collects complete requests (several when pipelined)."""

    def __init__(self, limits: HttpLimits, admit: Admit | None, client: tuple[str, int]) -> None:
        self.limits = limits
        self.admit = admit
        self.client = client
        self.parser = httptools.HttpRequestParser(self)
        self.done: list[Request] = []
        self.current: Request | None = None
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.max_body = limits.max_body  # the current request's: its route's limit
        self.wants_continue = False
        self.url = b""
        self.begun = 0  # requests begun so far: tells a new head from the same one
        self.in_head = False
        self.open_head = 0

    def feed(self, data: bytes | bytearray) -> None:
        """Parse ``data``. Raises _Refused, httptools.HttpParserError."""
        begun, in_head = self.begun, self.in_head
        self.parser.feed_data(data)
        # httptools hands a header over only once it has ended, so the bytes of a head
        # still open are counted here too: an endless header can't grow without bound.
        if in_head and self.in_head and self.begun == begun:
            self.open_head += len(data)
            if self.open_head > self.limits.max_head:
                raise _Refused(431, f"request head over {self.limits.max_head} bytes")
        else:
            self.open_head = 0

    def on_message_begin(self) -> None:
        self.current = Request()
        self.current.client = self.client
        self.head_bytes = 0
        self.body = []
        self.body_bytes = 0
        self.url = b""
        self.begun += 1
        self.in_head = True
        self.wants_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        assert self.current is not None
        headers = self.current.headers
        key = name.lower()
        # A repeated header is one comma-joined value (RFC 9110 §5.3).
        headers[key] = headers[key] + b", " + value if key in headers else value

    def _count(self, n: int) -> None:
        self.head_bytes += n
        if self.head_bytes > self.limits.max_head:
            raise _Refused(431, f"request head over {self.limits.max_head} bytes")

    def on_headers_complete(self) -> None:
        request = self.current
        assert request is not None
        self.in_head = False
        if self.parser.should_upgrade():  # refused here, so it never reaches the app
            raise _Refused(400, "protocol upgrades are not served")
        request.method = self.parser.get_method()
        request.http_version = self.parser.get_http_version()
        path, _, query = self.url.partition(b"?")
        if not path.startswith(b"/") and b"://" in path:  # absolute form (RFC 9112 §3.2.2)
            path = b"/" + path.split(b"://", 1)[1].partition(b"/")[2]
        request.path, request.query = path, query
        coding = request.headers.get(b"transfer-encoding")
        if coding is not None and coding.strip().lower() != b"chunked":  # RFC 9112 §6.1
            raise _Refused(501, f"transfer coding {coding.decode('latin-1')!r} is not served")
        if self.admit is not None:
            try:
                answer = self.admit(request)
            except Exception:
                log.exception(
                    "admitting %s %s failed", request.method.decode(), ascii(path.decode("latin-1"))
                )
                raise _Refused(500, "internal error") from None
            if answer is not None:
                raise _Refused(answer[0], "not admitted", answer)  # the body is never read
        self.max_body = self.limits.body_limits.get((request.method, path), self.limits.max_body)
        length = request.headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _Refused(413, f"body over {self.max_body} bytes")
        # Never a 1xx to an HTTP/1.0 client (RFC 9110 §15.2).
        expect = request.headers.get(b"expect", b"").lower() == b"100-continue"
        self.wants_continue = expect and request.http_version == "1.1"

    def on_body(self, chunk: bytes) -> None:
        self.body_bytes += len(chunk)
        if self.body_bytes > self.max_body:  # chunked: no Content-Length to check first
            raise _Refused(413, f"body over {self.max_body} bytes")
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        request = self.current
        assert request is not None
        request.body = b"".join(self.body)
        request.keep_alive = self.parser.should_keep_alive()
        self.done.append(request)
        self.current = None
        self.wants_continue = False  # the body is here already


def _refusal(exc: Exception) -> _Refused:
    """Ours (a _Refused, also from inside httptools' callbacks), else a 400."""
    cause = exc if isinstance(exc, _Refused) else exc.__context__
    return cause if isinstance(cause, _Refused) else _Refused(400, "malformed request")


def _problem(status: int, detail: str, request_id: bytes = b"") -> tuple[list[tuple[bytes, bytes]], bytes]:
    """An RFC 9457 body for what the front answers itself (a 500 carries ``request_id``)."""
    title = REASONS.get(status, b"Error").decode()
    problem = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if status >= 500 and request_id:
        problem["request_id"] = request_id.decode("ascii")
    return [(b"content-type", b"application/problem+json")], json.dumps(problem).encode()


class _Server:
    def __init__(
        self,
        app: ASGIApp,
        routes: Mapping[tuple[bytes, bytes], FastRoute],
        limits: HttpLimits,
        ssl_context: ssl.SSLContext | None,
        admit: Admit | None = None,
    ) -> None:
        self.app = app
        self.admit = admit
        self.routes = routes
        self.limits = limits
        self.ssl_context = ssl_context
        self.date = HttpDate()
        self.request_id = RequestIds()
        self.connections = 0
        self.server_addr: tuple[str, int] = ("127.0.0.1", 0)

    async def connection(self, tcp: trio.SocketStream) -> None:
        counted = self.connections < self.limits.max_connections
        self.connections += counted
        stream: trio.abc.Stream = tcp
        try:
            try:
                client = tcp.socket.getpeername()[:2]
            except OSError:
                client = ("", 0)
            if self.ssl_context is not None:
                stream = trio.SSLStream(tcp, self.ssl_context, server_side=True, https_compatible=True)
                with trio.move_on_after(self.limits.request_timeout) as handshake:
                    await stream.do_handshake()
                if handshake.cancelled_caught:  # too slow: closed unanswered
                    return
            if counted:
                await self._serve(stream, client)
            else:
                await self._refuse(stream, 503, "too many connections")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away (or its TLS handshake failed)
        finally:
            self.connections -= counted
            await trio.aclose_forcefully(stream)

    async def _refuse(
        self,
        stream: trio.abc.Stream,
        status: int,
        detail: str,
        before: bytes = b"",
        asked: bytes | None = None,
        response: Response | None = None,
    ) -> None:
        """Answer ``before`` (what was answered already), then ``status`` (or ``response``,
        the admission hook's); then a lingering close: read and drop what the client
        still sends, for a second at most. ``asked``: the request id the client sent, if
        its head was read."""
        rid = self.request_id(asked)
        if response is not None:
            status, headers, body = response[0], list(response[1]), response[2]
        else:
            headers, body = _problem(status, detail, rid)
        headers.append((b"x-request-id", rid))
        with trio.move_on_after(1.0):
            await stream.send_all(before + head(status, headers, len(body), self.date(), True) + body)
            if isinstance(stream, trio.abc.HalfCloseableStream):  # TLS has no half close
                await stream.send_eof()
            for _ in range(64):
                if not await stream.receive_some(65536):
                    break

    async def _serve(self, stream: trio.abc.Stream, client: tuple[str, int]) -> None:
        parsing = _Parsing(self.limits, self.admit, client)
        limits = self.limits
        began, begun = 0.0, 0  # when the request being received began, and which one it is
        while True:
            # Idle between requests: keepalive_timeout; once a request has begun, it has
            # request_timeout from its first byte to arrive whole.
            receiving = parsing.current is not None
            deadline = (
                began + limits.request_timeout
                if receiving
                else trio.current_time() + limits.keepalive_timeout
            )
            with trio.move_on_at(deadline) as waited:
                data = await stream.receive_some(65536)
            if waited.cancelled_caught:
                if receiving:
                    await self._refuse(
                        stream, 408, f"request not complete within {limits.request_timeout:g} s"
                    )
                return  # an idle keep-alive connection: closed
            if not data:
                return  # EOF
            try:
                parsing.feed(data)
                refused = None
            except (_Refused, httptools.HttpParserError) as exc:
                refused = _refusal(exc)
            if parsing.current is not None and parsing.begun != begun:
                began, begun = trio.current_time(), parsing.begun
            # The requests that were whole are answered, in order, even before a refusal.
            out: list[bytes] = []
            close = False
            for request in parsing.done:
                close = not request.keep_alive
                out.append(await self._answer(request, client, close))
                if close:
                    break
            parsing.done.clear()
            if refused is not None and not close:
                asked = parsing.current.headers.get(b"x-request-id") if parsing.current else None
                await self._refuse(
                    stream, refused.status, refused.detail, b"".join(out), asked, refused.response
                )
                return
            if parsing.wants_continue and not close:
                parsing.wants_continue = False
                out.append(b"HTTP/1.1 100 Continue\r\n\r\n")
            if out:
                # A client that stops reading its answers would hold the connection (and
                # its max_connections place) for ever: it gets request_timeout to read.
                with trio.move_on_after(limits.request_timeout) as writing:
                    await stream.send_all(b"".join(out))
                if writing.cancelled_caught:
                    return
            if close:
                return

    async def _answer(self, request: Request, client: tuple[str, int], close: bool) -> bytes:
        rid = self.request_id(request.headers.get(b"x-request-id"))
        request.headers[b"x-request-id"] = rid  # what the route and the app see
        route = self.routes.get((request.method, request.path))
        answer: Response | None
        if route is not None:
            try:
                answer = await route(request)
            except Exception:
                method, path = request.method.decode(), request.path.decode("latin-1")
                log.exception("request %s: fast route %s %s failed", rid.decode(), method, ascii(path))
                answer = None
        else:
            scheme = "http" if self.ssl_context is None else "https"
            answer = await call_asgi(
                self.app,
                request,
                client=client,
                server=self.server_addr,
                scheme=scheme,
                request_id=rid.decode(),
            )
        if answer is None:
            headers, body = _problem(500, "internal error", rid)
            status = 500
        else:
            status, headers, body = answer
        headers = [*headers, (b"x-request-id", rid)]
        if status in (204, 304) or request.method == b"HEAD":
            # No body; and a 204 has no Content-Length (RFC 9110 §8.6), nor a HEAD whose
            # app declared the length of what a GET would get (``call_asgi`` kept it).
            declared = any(name == b"content-length" for name, _ in headers)
            length = None if status == 204 or declared else len(body)
            return head(status, headers, length, self.date(), close)
        return head(status, headers, len(body), self.date(), close) + body


async def serve_http(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    routes: Mapping[tuple[bytes, bytes], FastRoute] | None = None,
    limits: HttpLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
    admit: Admit | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` (and ``routes``) on ``host:port`` until cancelled; ``started`` gets
    the port (``port=0`` picks a free one). ``ssl_context``: serve HTTPS (``net/https.py``).
    ``admit``: see ``Admit`` (the API's key check, before a body is read)."""
    server = _Server(app, routes or {}, limits or HttpLimits(), ssl_context, admit)
    listeners = await open_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    server.server_addr = (bound[0], bound[1])
    task_status.started(bound[1])
    await trio.serve_listeners(server.connection, listeners)  # type: ignore[arg-type]
