"""The webhook HTTP client (``smppgw.net.http_client``) against real loopback servers: the
project's own HTTP front, and raw trio servers that answer with scripted bytes
(keep-alive or not, chunked, close-delimited, too big, too slow, reset, TLS). Every wait
is bounded; nothing asserts how fast anything was."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest
import trio
import trustme

from smppgw.net.http import Request, Response, serve_http
from smppgw.net.http_client import ClientLimits, HttpClient, HttpError, HttpTimeout

HOST = "127.0.0.1"
WAIT = 5.0
LIMITS = ClientLimits(connect_timeout=1.0, timeout=0.5, max_body=100, max_drain=1000)


class Peer:
    """One server side of a connection: reads requests (Content-Length bodies) off it."""

    def __init__(self, stream: trio.abc.Stream, log: list[tuple[bytes, bytes]]) -> None:
        self.stream = stream
        self.buf = b""
        self.log = log

    async def request(self) -> tuple[bytes, bytes] | None:
        """(head, body), or None at EOF."""
        with trio.fail_after(WAIT):
            while b"\r\n\r\n" not in self.buf:
                data = await self.stream.receive_some(65536)
                if not data:
                    return None
                self.buf += data
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            length = int(_header(head, b"content-length") or b"0")
            while len(self.buf) < length:
                data = await self.stream.receive_some(65536)
                assert data, "closed mid-body"
                self.buf += data
        body, self.buf = self.buf[:length], self.buf[length:]
        self.log.append((head, body))
        return head, body


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


Script = Callable[[Peer, int], Awaitable[None]]  # (the connection, its number from 1)


class Raw:
    """A loopback server running ``script`` per connection; counts the connections and
    keeps every request."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.port = 0
        self.url = ""

    async def handle(self, stream: trio.abc.Stream) -> None:
        self.accepted += 1
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.script(Peer(stream, self.requests), self.accepted)
        await trio.aclose_forcefully(stream)


@contextlib.asynccontextmanager
async def raw(
    script: Script, wrap: Callable[[trio.SocketStream], trio.abc.Stream] | None = None
) -> AsyncIterator[Raw]:
    server = Raw(script)

    async def handler(stream: trio.SocketStream) -> None:
        await server.handle(wrap(stream) if wrap else stream)

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(partial(trio.serve_tcp, handler, 0, host=HOST))
        server.port = listener.socket.getsockname()[1]
        server.url = f"http://{HOST}:{server.port}/hook"
        yield server
        nursery.cancel_scope.cancel()


def answering(*answers: bytes, keep_reading: bool = True) -> Script:
    """Answer each request with the next of ``answers`` (counted over all connections;
    the last one repeats); with ``keep_reading`` false, close after the first on each."""
    sent = 0

    async def script(peer: Peer, n: int) -> None:
        nonlocal sent
        while await peer.request() is not None:
            sent += 1  # (before: a client may close mid-answer)
            await peer.stream.send_all(answers[min(sent - 1, len(answers) - 1)])
            if not keep_reading:
                return

    return script


NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


# -- keep-alive -----------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection_with_the_project_front() -> None:
    seen: list[Request] = []

    async def fast(request: Request) -> Response:
        seen.append(request)
        return 201, [(b"content-type", b"text/plain")], b"got:" + request.body

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("only the fast route is asked")

    client = HttpClient(LIMITS)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve_http, app, host=HOST, port=0, routes={(b"POST", b"/hook"): fast})
        )
        url = f"http://{HOST}:{port}/hook"
        with trio.fail_after(WAIT):
            results = [
                await client.post(url, f"body {i}".encode(), [("webhook-id", f"evt_{i}")]) for i in range(3)
            ]
        [p] = client._pools.values()
        nursery.cancel_scope.cancel()
    assert [(r.status, r.body) for r in results] == [(201, f"got:body {i}".encode()) for i in range(3)]
    assert len(p.idle) == 1  # one connection, reused
    first = seen[0].headers
    assert first[b"host"] == f"{HOST}:{port}".encode()
    assert first[b"content-type"] == b"application/json" and first[b"content-length"] == b"6"
    assert [r.headers[b"webhook-id"] for r in seen] == [b"evt_0", b"evt_1", b"evt_2"]


async def test_a_server_that_closes_after_each_answer_gets_a_connection_each() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with raw(answering(closing, keep_reading=False)) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            results = [await client.post(server.url, b"{}") for _ in range(3)]
    assert [(r.status, r.body) for r in results] == [(200, b"ok")] * 3
    assert server.accepted == 3


async def test_a_pooled_connection_closed_before_its_answer_is_retried_once_on_a_new_one() -> None:
    """The keep-alive race: the server drops an idle connection as the next request
    arrives. The request is sent again (a webhook is at least once)."""
    requests: list[bytes] = []

    async def script(peer: Peer, n: int) -> None:
        got = await peer.request()
        assert got is not None
        requests.append(got[1])
        if n == 1:
            await peer.stream.send_all(NO_CONTENT)  # keep-alive, then...
            again = await peer.request()
            assert again is not None
            requests.append(again[1])
            return  # ...read the second request and close without an answer
        await peer.stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async with raw(script) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            first = await client.post(server.url, b"one")
            second = await client.post(server.url, b"two")
    assert (first.status, second.status) == (204, 200)
    assert requests == [b"one", b"two", b"two"] and server.accepted == 2


async def test_a_pooled_connection_the_server_closed_while_idle_is_not_used() -> None:
    async with raw(answering(NO_CONTENT, keep_reading=False)) as server:  # closes, no header says so
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            await client.post(server.url, b"one")
            await trio.sleep(0.05)  # its FIN arrives: the idle connection is readable
            second = await client.post(server.url, b"two")
    assert second.status == 204 and server.accepted == 2


async def test_connections_per_pool_are_bounded() -> None:
    busy = most = 0

    async def script(peer: Peer, n: int) -> None:
        nonlocal busy, most
        while await peer.request() is not None:
            busy += 1
            most = max(most, busy)
            await trio.sleep(0.02)
            busy -= 1
            await peer.stream.send_all(NO_CONTENT)

    async with raw(script) as server:
        client = HttpClient(ClientLimits(max_connections=2, timeout=WAIT))
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                for _ in range(6):
                    nursery.start_soon(client.post, server.url, b"{}")
    assert server.accepted == 2 and most == 2


# -- answers ----------------------------------------------------------------------------------------


async def test_a_chunked_answer_is_read_whole_and_retry_after_passed_through() -> None:
    chunked = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nX-Other: 1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n5\r\n down\r\n0\r\n\r\n"
    )
    async with raw(answering(chunked, NO_CONTENT)) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            limited = await client.post(server.url, b"{}")
            after = await client.post(server.url, b"{}")
    assert (limited.status, limited.body) == (429, b"slow down")
    assert limited.headers == {"retry-after": "30"}  # only the kept ones
    assert after.status == 204 and server.accepted == 1  # the chunked answer ended cleanly


async def test_a_close_delimited_answer_is_read_to_its_end() -> None:
    async with raw(answering(b"HTTP/1.1 200 OK\r\n\r\nto the end", keep_reading=False)) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            result = await client.post(server.url, b"{}")
    assert (result.status, result.body) == (200, b"to the end")


async def test_a_redirect_is_an_answer_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.test/\r\nContent-Length: 0\r\n\r\n"
    async with raw(answering(moved)) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            result = await client.post(server.url, b"{}")
    assert result.status == 302 and result.headers["location"] == "http://elsewhere.test/"
    assert len(server.requests) == 1 and server.accepted == 1


async def test_an_oversized_body_is_cut_drained_and_past_the_drain_limit_closed() -> None:
    def sized(n: int) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + b"x" * n

    # 500 bytes: 100 kept, 400 drained (under max_drain), the connection reused; then
    # 500,000: over max_body + max_drain, so the connection is closed, not read on.
    async with raw(answering(sized(500), sized(500_000), NO_CONTENT)) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            drained = await client.post(server.url, b"{}")
            big = await client.post(server.url, b"{}")
            after = await client.post(server.url, b"{}")
    assert drained.body == b"x" * 100 and big.body == b"x" * 100 and big.status == 200
    assert after.status == 204
    assert server.accepted == 2  # the first connection held two answers, then was closed


# -- failures ---------------------------------------------------------------------------------------


async def test_an_answer_not_in_time_is_a_timeout_and_the_connection_is_not_reused() -> None:
    async def script(peer: Peer, n: int) -> None:
        while await peer.request() is not None:
            if n == 1:
                await trio.sleep_forever()  # never answers
            await peer.stream.send_all(NO_CONTENT)

    async with raw(script) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT):
            with pytest.raises(HttpTimeout):
                await client.post(server.url, b"{}")
            after = await client.post(server.url, b"{}")
    assert after.status == 204 and server.accepted == 2


async def test_a_reset_connection_is_an_error_naming_no_url() -> None:
    async def script(peer: Peer, n: int) -> None:
        await peer.request()
        raw_socket = peer.stream.socket  # type: ignore[attr-defined]
        raw_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw_socket.close()  # linger 0: an RST, not a FIN

    async with raw(script) as server:
        client = HttpClient(LIMITS)
        with trio.fail_after(WAIT), pytest.raises(HttpError) as caught:
            await client.post(server.url, b"{}")
    assert "Reset" in str(caught.value) or "closed" in str(caught.value)
    assert server.url not in str(caught.value) and "127.0.0.1" not in str(caught.value)


async def test_a_refused_connect_and_a_bad_answer_are_errors() -> None:
    listener = socket.socket()
    listener.bind((HOST, 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    client = HttpClient(LIMITS)
    with trio.fail_after(WAIT), pytest.raises(HttpError, match="connect: ConnectionRefusedError"):
        await client.post(f"http://{HOST}:{port}/", b"{}")
    async with raw(answering(b"SMPP/3.4 nonsense\r\n\r\n")) as server:
        with trio.fail_after(WAIT), pytest.raises(HttpError, match="a bad answer"):
            await client.post(server.url, b"{}")
    with pytest.raises(HttpError, match="line break"):
        await client.post(server.url, b"{}", [("x-evil", "a\r\nHost: other")])


async def test_connect_to_is_the_address_used_for_the_urls_host() -> None:
    async with raw(answering(NO_CONTENT)) as server:
        client = HttpClient(LIMITS)
        url = f"http://hooks.invalid:{server.port}/hook"  # .invalid never resolves
        with trio.fail_after(WAIT):
            result = await client.post(url, b"{}", connect_to=HOST)
    assert result.status == 204
    [(head, _)] = server.requests
    assert _header(head, b"host") == f"hooks.invalid:{server.port}".encode()


# -- TLS --------------------------------------------------------------------------------------------


async def test_tls_verifies_the_certificate_for_the_urls_host_and_sends_sni() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.test").configure_cert(server_ctx)
    names: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    def wrap(stream: trio.SocketStream) -> trio.abc.Stream:
        return trio.SSLStream(stream, server_ctx, server_side=True)

    async with raw(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure"), wrap) as server:
        client = HttpClient(LIMITS, ssl_context=client_ctx)
        with trio.fail_after(WAIT):
            results = [
                await client.post(f"https://hooks.test:{server.port}/", b"{}", connect_to=HOST)
                for _ in range(2)
            ]
            with pytest.raises(HttpError, match="certificate"):
                await client.post(f"https://other.test:{server.port}/", b"{}", connect_to=HOST)
        untrusting = HttpClient(LIMITS)  # the default context: no trust in the test CA
        with trio.fail_after(WAIT), pytest.raises(HttpError, match="certificate"):
            await untrusting.post(f"https://hooks.test:{server.port}/", b"{}", connect_to=HOST)
    assert [(r.status, r.body) for r in results] == [(200, b"secure")] * 2
    assert names[0] == "hooks.test" and names.count("hooks.test") >= 1
    assert server.accepted == 3  # the two good requests shared one connection
