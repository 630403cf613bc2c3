"""The HTTP/1.1 front (``smppgw.net.http``) over real loopback TCP, spoken to byte by byte.

A tiny ASGI app and a fast route stand behind ``serve_http``; the tests write raw
requests on trio sockets and read the answers with a parser of their own (``Reader``),
so what is checked is the bytes on the wire, not what a client library makes of them.
Limits are small (0.3 s timeouts, a 1 KiB head, a 1,000-byte body); every wait is
bounded by ``trio.fail_after`` and nothing asserts how fast anything was.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, MutableMapping
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import attrs
import httpx
import pytest
import trio

from smppgw.net.http import FastRoute, HttpLimits, Request, Response, serve_http
from tests.net.http_wire import WAIT, Answer, Reader

HOST = "127.0.0.1"
LIMITS = HttpLimits(max_body=1000, max_head=1024, request_timeout=0.3, keepalive_timeout=0.3)


@attrs.define(eq=False)
class Front:
    port: int
    scopes: list[MutableMapping[str, Any]]
    fast: list[Request]

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[trio.SocketStream, Reader]]:
        stream = await trio.open_tcp_stream(HOST, self.port)
        try:
            yield stream, Reader(stream)
        finally:
            await stream.aclose()


async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Echoes what it was given as JSON; a few paths misbehave on purpose."""
    assert scope["type"] == "http"
    APP_SCOPES.append(scope)
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    path = scope["path"]
    if path == "/raise":
        raise RuntimeError("secret-detail-in-the-traceback")
    if path == "/raise-mid-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half of it", "more_body": True})
        raise RuntimeError("secret-detail-in-the-traceback")
    if path == "/silent":
        return
    if path == "/no-content":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/file" and scope["method"] == "HEAD":
        # As Starlette's FileResponse does: the length of what GET would send, no body.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/slow":
        await trio.sleep(0.05)
    if path == "/big":  # more than loopback's socket buffers hold
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * (64 * 1024 * 1024)})
        return
    out = {
        "method": scope["method"],
        "path": path,
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "http_version": scope["http_version"],
        "body": body.decode("latin-1"),
        "client_port": scope["client"][1],
    }
    payload = json.dumps(out).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"999")]  # ours is replaced
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    # Two body messages: the front must join them.
    await send({"type": "http.response.body", "body": payload[:5], "more_body": True})
    await send({"type": "http.response.body", "body": payload[5:]})


APP_SCOPES: list[MutableMapping[str, Any]] = []


@contextlib.asynccontextmanager
async def front(limits: HttpLimits = LIMITS) -> AsyncIterator[Front]:
    fast: list[Request] = []

    async def route(request: Request) -> Response:
        fast.append(request)
        return 201, [(b"content-type", b"text/plain")], b"fast:" + request.body

    async def failing(request: Request) -> Response:
        raise RuntimeError("secret-detail-in-the-traceback")

    routes: dict[tuple[bytes, bytes], FastRoute] = {
        (b"POST", b"/fast"): route,
        (b"GET", b"/fast-fails"): failing,
    }
    APP_SCOPES.clear()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_http, app, host=HOST, port=0, routes=routes, limits=limits))
        yield Front(port, APP_SCOPES, fast)
        nursery.cancel_scope.cancel()


def get(path: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(path: str, body: bytes, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_framed(answer: Answer) -> None:
    """Every answer has a Date (RFC 9110 §6.6.1) and a Content-Length that fits its body."""
    date = parsedate_to_datetime(answer.headers[b"date"].decode())
    assert date.tzinfo is not None and date.year >= 2024
    assert int(answer.headers[b"content-length"]) == len(answer.body)


def assert_problem(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.headers[b"content-type"] == b"application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert_framed(answer)
    return problem


# -- keep-alive, pipelining, HTTP/1.0 ------------------------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        ports = set()
        for i in range(4):
            await stream.send_all(get(f"/n{i}"))
            answer = await reader.answer()
            assert answer.status == 200 and answer.reason == b"OK"
            assert_framed(answer)
            assert b"connection" not in answer.headers  # kept open
            echoed = answer.json()
            assert echoed["path"] == f"/n{i}" and echoed["method"] == "GET"
            ports.add(echoed["client_port"])
        assert len(ports) == 1 and len(srv.scopes) == 4  # one connection, four requests


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        # One write, three requests; the first is the slowest to answer.
        await stream.send_all(get("/slow") + post("/fast", b"two") + get("/three?x=3"))
        first, second, third = [await reader.answer() for _ in range(3)]
        assert first.json()["path"] == "/slow"
        assert second.status == 201 and second.body == b"fast:two"
        assert third.json()["query_string"] == "x=3"
        for answer in (first, second, third):
            assert_framed(answer)


async def test_http_1_0_is_answered_then_closed() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/old", version="1.0"))
        answer = await reader.answer()
        assert answer.status == 200 and answer.json()["http_version"] == "1.0"
        assert answer.headers[b"connection"] == b"close"
        await reader.eof()


async def test_connection_close_is_honoured_and_pipelined_rest_is_not_served() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/last", "Connection: close") + get("/never"))
        answer = await reader.answer()
        assert answer.json()["path"] == "/last" and answer.headers[b"connection"] == b"close"
        await reader.eof()
        assert [s["path"] for s in srv.scopes] == ["/last"]


# -- bodies, Expect, HEAD ------------------------------------------------------------------------


async def test_a_chunked_body_reaches_the_app_intact() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        # Chunks split across writes, one of them mid-size-line, and a trailer.
        for piece in (head + b"5\r\nhel", b"lo\r\n", b"a", b"\r\n world, ag\r\n6;ext=1\r\nain!!\n\r\n",
                      b"0\r\nX-Trailer: t\r\n\r\n"):  # fmt: skip
            await stream.send_all(piece)
            await trio.sleep(0.01)  # let the server read each piece on its own
        answer = await reader.answer()
        assert answer.json()["body"] == "hello world, again!!\n"
        # The connection is still usable for a Content-Length body afterwards.
        await stream.send_all(post("/echo", b"plain"))
        assert (await reader.answer()).json()["body"] == "plain"


async def test_expect_100_continue_gets_the_interim_answer_then_the_final_one() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await reader.answer()
        assert (interim.status, interim.reason) == (100, b"Continue")
        assert srv.scopes == []  # not answered before the body came
        await stream.send_all(b"payload")
        answer = await reader.answer()
        assert answer.status == 200 and answer.json()["body"] == "payload"


async def test_100_continue_follows_the_answers_before_it_and_is_not_sent_unasked() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        # A whole request that asked for 100-continue, then the head of one that asks too.
        expect = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        await stream.send_all(expect + b"hi" + expect)
        first = await reader.answer()
        assert first.status == 200 and first.json()["body"] == "hi"  # its body was there: no 100
        assert (await reader.answer()).status == 100  # the second's, without waiting for more bytes
        await stream.send_all(b"yo")
        assert (await reader.answer()).json()["body"] == "yo"
        # An HTTP/1.0 client is never sent a 1xx (RFC 9110 §15.2), nor one that did not ask.
        await stream.send_all(b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        await trio.sleep(0.05)
        await stream.send_all(b"ok")
        answer = await reader.answer()
        assert answer.status == 200 and answer.json()["body"] == "ok"
        await reader.eof()


async def test_head_has_the_length_of_the_body_but_no_body() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/h").replace(b"GET", b"HEAD", 1))
        answer = await reader.answer(head_only=True)
        assert answer.status == 200 and int(answer.headers[b"content-length"]) > 50
        # No body bytes followed: the next answer on the connection parses cleanly.
        await stream.send_all(get("/after"))
        assert (await reader.answer()).json()["path"] == "/after"
        # An app that sends no body for HEAD keeps the length it declared.
        await stream.send_all(get("/file").replace(b"GET", b"HEAD", 1))
        answer = await reader.answer(head_only=True)
        assert answer.headers[b"content-length"] == b"5"
        await stream.send_all(get("/after"))
        assert (await reader.answer()).json()["path"] == "/after"


async def test_204_has_no_content_length_and_no_body() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/no-content") + get("/after"))
        status, _, headers = await reader.head()
        assert status == 204 and b"content-length" not in headers and b"date" in headers  # RFC 9110 §8.6
        assert (await reader.answer()).json()["path"] == "/after"


# -- limits --------------------------------------------------------------------------------------


async def test_a_declared_body_over_max_body_is_refused_before_it_is_sent() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        # Only the head goes out: the 413 must come without the body.
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
        problem = assert_problem(await reader.answer(), 413)
        assert "1000" in problem["detail"]
        await reader.eof()
        assert srv.scopes == []


async def test_a_body_of_exactly_max_body_is_served() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(post("/echo", b"b" * 1000))
        assert (await reader.answer()).json()["body"] == "b" * 1000


async def test_a_chunked_body_growing_past_max_body_is_refused() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"190\r\n" + b"c" * 400 + b"\r\n"  # 400 bytes a chunk: the third passes 1000
        for _ in range(3):
            await stream.send_all(chunk)
        assert_problem(await reader.answer(), 413)
        await reader.eof()
        assert srv.scopes == []


async def test_a_head_over_max_head_is_refused() -> None:
    async with front() as srv:
        for request in (
            get("/", "X-Big: " + "h" * 1100),  # one big header
            get("/", *[f"X-H{i}: {'v' * 60}" for i in range(20)]),  # many small ones
            get("/" + "u" * 1100),  # a long URL
        ):
            async with srv.connect() as (stream, reader):
                await stream.send_all(request)
                assert_problem(await reader.answer(), 431)
                await reader.eof()
        async with srv.connect() as (stream, reader):
            # A header that never ends: refused once it passes the limit, not buffered on.
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Endless: ")
            with trio.move_on_after(WAIT):
                while not reader.buf:
                    await stream.send_all(b"e" * 512)
                    with trio.move_on_after(0.01):
                        await reader._more()
            status, _, _ = await reader.head()
            assert status == 431
        assert srv.scopes == []


async def test_a_request_that_stops_half_way_gets_408() -> None:
    async with front() as srv:
        for partial_request in (
            b"GET / HTTP/1.1\r\nHost: t\r\n",  # the head stops
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345",  # the body stops
        ):
            async with srv.connect() as (stream, reader):
                await stream.send_all(partial_request)
                problem = assert_problem(await reader.answer(), 408)
                assert "0.3" in problem["detail"]
                await reader.eof()
        assert srv.scopes == []


async def test_a_trickled_head_is_timed_from_its_first_byte() -> None:
    """Slowloris: a byte now and then does not extend request_timeout."""
    async with front() as srv, srv.connect() as (stream, reader):
        request = get("/trickled", *[f"X-{i}: v" for i in range(30)])
        for i in range(len(request) - 4):  # never the end of the head
            try:
                await stream.send_all(request[i : i + 1])
            except trio.BrokenResourceError:
                break  # closed on us after its 408
            with trio.move_on_after(0.02):
                if not await reader._more():
                    break
            if reader.buf:
                break
        assert_problem(await reader.answer(), 408)
        assert srv.scopes == []


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/once"))
        assert (await reader.answer()).status == 200
        await reader.eof()  # closed without a word: it was between requests


async def test_over_max_connections_a_new_connection_gets_503() -> None:
    limits = attrs.evolve(LIMITS, max_connections=2, keepalive_timeout=WAIT * 2)
    async with front(limits) as srv, srv.connect() as (s1, r1), srv.connect() as (s2, r2):
        for stream, reader in ((s1, r1), (s2, r2)):  # answered: both are counted
            await stream.send_all(get("/held"))
            assert (await reader.answer()).status == 200
        async with srv.connect() as (stream, reader):
            await stream.send_all(get("/third"))
            assert_problem(await reader.answer(), 503)
            await reader.eof()
        # The two held connections still work; once one closes, there is room again.
        await s2.send_all(get("/still"))
        assert (await r2.answer()).json()["path"] == "/still"
        await s1.aclose()
        for _ in range(100):
            async with srv.connect() as (stream, reader):
                await stream.send_all(get("/again"))
                if (answer := await reader.answer()).status == 200:
                    break
            await trio.sleep(0.01)
        assert answer.json()["path"] == "/again"


async def test_a_client_that_does_not_read_its_answer_loses_the_connection() -> None:
    # Its place among max_connections comes back after request_timeout, not never.
    limits = attrs.evolve(LIMITS, max_connections=1, keepalive_timeout=WAIT * 2)
    async with front(limits) as srv, srv.connect() as (stalled, _):
        await stalled.send_all(get("/big"))  # and never read
        with trio.fail_after(WAIT * 4):
            while True:
                async with srv.connect() as (stream, reader):
                    await stream.send_all(get("/after"))
                    if (answer := await reader.answer()).status == 200:
                        break
                await trio.sleep(0.05)
        assert answer.json()["path"] == "/after"


# -- refusals and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02 not http at all\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        # Framing that could smuggle a second request past a proxy.
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n",
    ],
)
async def test_malformed_requests_get_400(garbage: bytes) -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(garbage)
        assert_problem(await reader.answer(), 400)
        await reader.eof()
        assert srv.scopes == []


async def test_a_transfer_coding_other_than_chunked_gets_501() -> None:
    """The body would reach the app still gzip-coded, taken for the message itself."""
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        assert "gzip" in assert_problem(await reader.answer(), 501)["detail"]
        await reader.eof()
        assert srv.scopes == []


async def test_an_upgrade_request_gets_400() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/ws", "Connection: Upgrade", "Upgrade: websocket"))
        problem = assert_problem(await reader.answer(), 400)
        assert "upgrade" in problem["detail"]
        await reader.eof()
        assert srv.scopes == []


@pytest.mark.parametrize("path", ["/raise", "/raise-mid-body", "/silent", "/fast-fails"])
async def test_an_app_that_fails_gets_500_without_its_traceback(path: str) -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get(path))
        answer = await reader.answer()
        assert_problem(answer, 500)
        assert b"secret-detail" not in answer.body and b"Traceback" not in answer.body
        assert b"half of it" not in answer.body  # never a truncated answer passed off as whole
        # The connection (and the server) carry on.
        await stream.send_all(get("/after"))
        assert (await reader.answer()).json()["path"] == "/after"


# -- what reaches the app and the fast routes ----------------------------------------------------


async def test_the_scope_has_the_decoded_path_the_raw_path_and_the_query() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get("/a%20b/caf%C3%A9/x%2Fy?q=1%202&r=%C3%A9&flag"))
        echoed = (await reader.answer()).json()
        assert echoed["path"] == "/a b/café/x/y"
        assert echoed["raw_path"] == "/a%20b/caf%C3%A9/x%2Fy"
        assert echoed["query_string"] == "q=1%202&r=%C3%A9&flag"
        # The absolute form (RFC 9112 §3.2.2) names the same resource.
        await stream.send_all(get("http://test/abs%21?z=1"))
        echoed = (await reader.answer()).json()
        assert (echoed["path"], echoed["raw_path"], echoed["query_string"]) == ("/abs!", "/abs%21", "z=1")
        [first, _] = srv.scopes
        assert first["method"] == "GET" and first["scheme"] == "http" and first["client"][0] == HOST
        assert first["server"][1] == srv.port and (b"host", b"test") in first["headers"]


async def test_a_fast_route_is_answered_without_the_app() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(post("/fast?k=v", b'{"x":1}', "X-Twice: a", "x-twice: b", "X-Api-Key: K"))
        answer = await reader.answer()
        assert answer.status == 201 and answer.body == b'fast:{"x":1}'
        assert_framed(answer)
        [request] = srv.fast
        assert (request.method, request.path, request.query) == (b"POST", b"/fast", b"k=v")
        assert request.headers[b"x-twice"] == b"a, b" and request.headers[b"x-api-key"] == b"K"
        assert srv.scopes == []
        # Another method on the same path is the app's.
        await stream.send_all(get("/fast"))
        assert (await reader.answer()).json()["path"] == "/fast"


async def test_httpx_talks_to_it_concurrently() -> None:
    async with front(attrs.evolve(LIMITS, keepalive_timeout=WAIT)) as srv:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{srv.port}") as client:
            answers: dict[int, httpx.Response] = {}

            async def one(i: int) -> None:
                answers[i] = await client.post(f"/echo/{i}", content=f"body {i}".encode())

            async with trio.open_nursery() as nursery:
                for i in range(30):
                    nursery.start_soon(one, i)
            for i, r in answers.items():
                assert r.status_code == 200 and r.json()["body"] == f"body {i}"
            assert len(answers) == 30
            head = await client.head("/x")
            assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
