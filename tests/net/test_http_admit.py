"""The HTTP front's admission hook (``serve_http(admit=...)``): called once a request's
head is complete, before any of its body is read; its answer closes the connection
with the body unread; what it lets in reaches the route with ``request.state``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, MutableMapping
from functools import partial
from typing import Any

import trio

from smppgw.net.http import HttpLimits, Request, Response, serve_http
from tests.net.http_wire import Reader

HOST = "127.0.0.1"
SEEN: list[tuple[bytes, tuple[str, int], bool]] = []  # (path, client, whole body there?)


def admit(request: Request) -> Response | None:
    SEEN.append((request.path, request.client, bool(request.body)))
    if request.path == b"/boom":
        raise RuntimeError("secret-detail")
    if request.headers.get(b"x-key") != b"open-sesame":
        return 401, [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")], b"no key"
    request.state = "the caller"
    return None


async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await receive()
    body = f"asgi:{scope['state']['admitted']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def route(request: Request) -> Response:
    return 200, [], b"fast:%s:%s" % (str(request.state).encode(), request.body)


@contextlib.asynccontextmanager
async def front() -> AsyncIterator[int]:
    SEEN.clear()
    limits = HttpLimits(max_body=1000, request_timeout=2.0)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve_http, app, host=HOST, port=0, routes={(b"POST", b"/fast"): route}, limits=limits,
                    admit=admit)
        )  # fmt: skip
        yield port
        nursery.cancel_scope.cancel()


async def test_a_refused_head_is_answered_and_closed_without_its_body() -> None:
    async with front() as port:
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            # a body far over max_body, announced and never sent: the hook answers first
            await stream.send_all(b"POST /fast HTTP/1.1\r\nhost: t\r\ncontent-length: 300000000\r\n\r\n")
            reader = Reader(stream)
            answer = await reader.answer()
            assert (answer.status, answer.body) == (401, b"no key")
            assert answer.headers[b"www-authenticate"] == b"Bearer"
            assert answer.headers[b"connection"] == b"close"
            await reader.eof()
    [(path, client, had_body)] = SEEN
    assert path == b"/fast" and client[0] == HOST and client[1] > 0 and not had_body


async def test_admitted_requests_carry_the_state_and_keep_the_connection() -> None:
    async with front() as port:
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            reader = Reader(stream)
            await stream.send_all(
                b"POST /fast HTTP/1.1\r\nhost: t\r\nx-key: open-sesame\r\ncontent-length: 2\r\n\r\nhi"
            )
            assert (await reader.answer()).body == b"fast:the caller:hi"
            await stream.send_all(b"GET /app HTTP/1.1\r\nhost: t\r\nx-key: open-sesame\r\n\r\n")
            assert (await reader.answer()).body == b"asgi:the caller"
            # the answers before a refusal (pipelined) come first, then the refusal
            await stream.send_all(
                b"GET /app HTTP/1.1\r\nhost: t\r\nx-key: open-sesame\r\n\r\nGET /app HTTP/1.1\r\nhost: t\r\n\r\n"
            )
            assert (await reader.answer()).status == 200
            assert (await reader.answer()).status == 401
            await reader.eof()


async def test_a_failing_hook_is_a_500_that_tells_nothing() -> None:
    async with front() as port:
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            await stream.send_all(b"GET /boom HTTP/1.1\r\nhost: t\r\n\r\n")
            reader = Reader(stream)
            answer = await reader.answer()
            assert answer.status == 500 and b"secret" not in answer.body
            await reader.eof()
