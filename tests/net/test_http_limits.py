"""The HTTP front's per-route body limits, request ids and HTTPS, over real loopback TCP.

The app and the fast routes are those of ``test_http`` (an echoing app; ``/raise`` and
``/fast-fails`` fail on purpose). HTTPS uses certificates made by trustme and clients
that verify them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import attrs
import httpx
import pytest
import trio
import trustme

from smppgw.net.http import FastRoute, HttpLimits, Request, Response, serve_http
from smppgw.net.https import https_context
from smppgw.net.tls import TlsSetupError
from tests.net.http_wire import WAIT, Reader
from tests.net.test_http import APP_SCOPES, LIMITS, app, assert_problem, front, get, post

HOST = "127.0.0.1"
ROUTED = attrs.evolve(LIMITS, body_limits={(b"POST", b"/fast"): 3000})
MADE_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]+")


# -- per-route body limits ------------------------------------------------------------------------


async def test_a_route_with_its_own_limit_takes_a_bigger_body() -> None:
    async with front(ROUTED) as srv, srv.connect() as (stream, reader):
        await stream.send_all(post("/fast", b"f" * 2500))
        answer = await reader.answer()
        assert answer.status == 201 and answer.body == b"fast:" + b"f" * 2500
        await stream.send_all(post("/fast", b"g" * 3000))  # exactly the route's limit
        assert (await reader.answer()).status == 201
    async with front(ROUTED) as srv, srv.connect() as (stream, reader):
        await stream.send_all(post("/echo", b"e" * 2500))  # another route: max_body
        assert "1000" in assert_problem(await reader.answer(), 413)["detail"]
        await reader.eof()
    async with front(ROUTED) as srv, srv.connect() as (stream, reader):
        # Over the route's limit: refused on the head, before the body is sent.
        await stream.send_all(b"POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 3001\r\n\r\n")
        assert "3000" in assert_problem(await reader.answer(), 413)["detail"]
        await reader.eof()
        assert srv.fast == []


async def test_a_chunked_body_past_its_routes_limit_is_refused() -> None:
    async with front(ROUTED) as srv, srv.connect() as (stream, reader):
        await stream.send_all(b"POST /fast HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(4):  # 1,000 bytes a chunk: the fourth passes 3,000
            await stream.send_all(b"3e8\r\n" + b"c" * 1000 + b"\r\n")
        assert "3000" in assert_problem(await reader.answer(), 413)["detail"]
        await reader.eof()
        assert srv.fast == []


async def test_the_route_limit_is_per_method_and_path() -> None:
    async with front(ROUTED) as srv, srv.connect() as (stream, reader):
        # PUT /fast is not the route: max_body applies.
        await stream.send_all(b"PUT /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n")
        assert "1000" in assert_problem(await reader.answer(), 413)["detail"]


# -- request ids ----------------------------------------------------------------------------------


async def test_every_answer_has_its_own_request_id() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        ids = []
        for request in (get("/a"), post("/fast", b"x"), get("/fast-fails"), get("/b")):
            await stream.send_all(request)
            ids.append((await reader.answer()).headers[b"x-request-id"])
        assert len(set(ids)) == 4 and all(MADE_ID.fullmatch(i) for i in ids), ids
        # The app and the fast route saw the id they were answered with.
        assert dict(srv.scopes[0]["headers"])[b"x-request-id"] == ids[0]
        assert srv.fast[0].headers[b"x-request-id"] == ids[1]


async def test_a_sane_client_request_id_is_kept_and_any_other_replaced() -> None:
    async with front() as srv, srv.connect() as (stream, reader):
        sane = b"3f2c-AB_9.x:y+z=/1"
        await stream.send_all(get("/a", f"X-Request-Id: {sane.decode()}"))
        answer = await reader.answer()
        assert answer.headers[b"x-request-id"] == sane
        assert dict(srv.scopes[0]["headers"])[b"x-request-id"] == sane
        for insane in ("has space", "x" * 129, "tab\there", "caf\xe9", "a,b"):
            await stream.send_all(get("/a", f"X-Request-Id: {insane}").replace(b"\xc3\xa9", b"\xe9"))
            given = (await reader.answer()).headers[b"x-request-id"]
            assert MADE_ID.fullmatch(given), (insane, given)


async def test_refusals_carry_a_request_id_too() -> None:
    async with front() as srv:
        async with srv.connect() as (stream, reader):
            await stream.send_all(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nX-Request-Id: mine-1\r\nContent-Length: 5000\r\n\r\n"
            )
            answer = await reader.answer()
            assert answer.status == 413 and answer.headers[b"x-request-id"] == b"mine-1"
        for request in (get("/", "X-Big: " + "h" * 1100), b"NOT HTTP\r\n\r\n"):
            async with srv.connect() as (stream, reader):
                await stream.send_all(request)
                answer = await reader.answer()
                assert answer.status in (400, 431) and MADE_ID.fullmatch(answer.headers[b"x-request-id"])


@pytest.mark.parametrize("path", ["/raise", "/raise-mid-body", "/silent", "/fast-fails"])
async def test_a_500_names_the_request_id_its_log_line_has(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smppgw.net.http")
    async with front() as srv, srv.connect() as (stream, reader):
        await stream.send_all(get(path, "X-Request-Id: client-chosen-7"))
        answer = await reader.answer()
        problem = assert_problem(answer, 500)
        assert problem["request_id"] == "client-chosen-7" == answer.headers[b"x-request-id"].decode()
        assert b"secret-detail" not in answer.body
    [logged] = [r for r in caplog.records if r.name == "smppgw.net.http"]
    assert logged.getMessage().startswith("request client-chosen-7: ")
    assert path in logged.getMessage()


# -- HTTPS ----------------------------------------------------------------------------------------


@attrs.frozen
class Certs:
    ca: trustme.CA
    cert: Path
    key: Path

    def client(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(key)
    return Certs(ca, cert, key)


@contextlib.asynccontextmanager
async def https_front(certs: Certs, limits: HttpLimits = LIMITS) -> AsyncIterator[tuple[int, list[Request]]]:
    fast: list[Request] = []

    async def route(request: Request) -> Response:
        fast.append(request)
        return 201, [(b"content-type", b"text/plain")], b"fast:" + request.body

    routes: dict[tuple[bytes, bytes], FastRoute] = {(b"POST", b"/fast"): route}
    APP_SCOPES.clear()
    context = https_context(certs.cert, certs.key)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve_http, app, host=HOST, port=0, routes=routes, limits=limits, ssl_context=context)
        )
        yield port, fast
        nursery.cancel_scope.cancel()


async def test_https_serves_the_app_and_the_fast_routes_to_a_verifying_client(certs: Certs) -> None:
    limits = attrs.evolve(LIMITS, keepalive_timeout=WAIT)
    async with https_front(certs, limits) as (port, fast):
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=certs.client()) as client:
            for i in range(3):  # keep-alive over one TLS connection
                r = await client.get(f"/tls/{i}?q=1")
                assert r.status_code == 200 and r.json()["path"] == f"/tls/{i}", r.text
                assert r.http_version == "HTTP/1.1" and r.headers["x-request-id"]
            assert {s["scheme"] for s in APP_SCOPES} == {"https"}
            assert len({s["client"][1] for s in APP_SCOPES}) == 1
            r = await client.post("/fast", content=b"over tls")
            assert r.status_code == 201 and r.content == b"fast:over tls" and len(fast) == 1
            # A refusal over TLS (no half close there): the 413 still arrives whole.
            r = await client.post("/echo", content=b"b" * 1001)
            assert r.status_code == 413 and r.json()["status"] == 413


async def test_a_client_that_does_not_trust_the_ca_is_refused(certs: Certs) -> None:
    async with https_front(certs) as (port, _):
        async with httpx.AsyncClient(verify=ssl.create_default_context()) as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"https://127.0.0.1:{port}/")
        chain: list[BaseException] = []
        cause: BaseException | None = info.value
        while cause is not None and len(chain) < 10:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        assert any(isinstance(c, ssl.SSLCertVerificationError) for c in chain), chain
        assert APP_SCOPES == []


async def test_plain_http_on_the_https_port_gets_no_http_answer(certs: Certs) -> None:
    async with https_front(certs) as (port, _):
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            await stream.send_all(get("/plain"))
            reader = Reader(stream)
            with trio.fail_after(WAIT):
                while await reader._more():
                    pass
            assert not reader.buf.startswith(b"HTTP/")  # at most a TLS alert, then closed
        assert APP_SCOPES == []


async def test_a_stalled_handshake_is_closed_after_request_timeout(certs: Certs) -> None:
    async with https_front(certs) as (port, _):
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            with trio.fail_after(WAIT):  # request_timeout is 0.3 s
                assert await stream.receive_some(100) == b""


async def test_alpn_settles_on_http_1_1(certs: Certs) -> None:
    async with https_front(certs) as (port, _):
        context = certs.client()
        context.set_alpn_protocols(["h2", "http/1.1"])
        tls = trio.SSLStream(await trio.open_tcp_stream(HOST, port), context, server_hostname="127.0.0.1")
        async with tls:
            await tls.do_handshake()
            assert tls.selected_alpn_protocol() == "http/1.1"


def test_https_context_names_the_file_at_fault(certs: Certs, tmp_path: Path) -> None:
    other = trustme.CA().issue_cert("localhost")
    other_key = tmp_path / "other-key.pem"
    other.private_key_pem.write_to_path(other_key)
    garbage_key = tmp_path / "garbage-key.pem"
    garbage_key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    garbage_cert = tmp_path / "garbage-cert.pem"
    garbage_cert.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    cases = [
        ((tmp_path / "missing.pem", certs.key), "cert", "no such file"),
        ((certs.cert, tmp_path / "missing.pem"), "key", "no such file"),
        ((other_key, certs.key), "cert", "not a PEM certificate"),
        ((certs.cert, certs.cert), "key", "not a PEM private key"),
        ((certs.cert, other_key), "key", "is not the private key of"),
        ((certs.cert, garbage_key), "key", "does not load"),
        ((garbage_cert, certs.key), "cert", "does not load"),
        ((certs.cert, encrypted), "key", "encrypted"),
        ((tmp_path, certs.key), "cert", "cannot read"),
    ]
    for (cert, key), field, message in cases:
        with pytest.raises(TlsSetupError) as info:
            https_context(cert, key)
        assert info.value.field == field and message in info.value.message, (cert, key, info.value)
