"""Smoke layer over real loopback TCP: ``serve_smsc`` + ``MinimalSmsc`` and ``open_esme``.

Real sockets and the real clock, so every test is bounded by ``trio.fail_after`` and the
timers involved are short. Behaviour in depth is tested through memory in
``test_connection.py``; here we check that the pieces fit over an actual transport
(including TLS) and that a hostile client cannot take the server down.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path

import attrs
import pytest
import trio

from simulator.minimal import MinimalSmsc
from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId, CommandStatus, MessageState, RegisteredDelivery
from smppgw.core.errors import CommandFailed, ConnectionLost
from smppgw.core.events import Event, RequestReceived, ResponseReceived, Unbound
from smppgw.core.pdu import BindTransceiver, DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp
from smppgw.core.receipt import is_receipt, parse_receipt
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode, SessionState
from smppgw.net import BindFailed, SmppConnection, open_esme, serve_smsc
from smppgw.net.errors import Outcome, map_trio_errors

HOST = "127.0.0.1"
SUBMIT = SubmitSm(source_addr="4479001", destination_addr="4479002", short_message=b"hello")


@attrs.define(eq=False)
class Server:
    """A running ``serve_smsc``: its port and every SMSC-side connection it accepted."""

    smsc: MinimalSmsc
    port: int = 0
    conns: list[SmppConnection] = attrs.field(factory=list)


@contextlib.asynccontextmanager
async def serving(
    smsc: MinimalSmsc | None = None,
    *,
    handler: Callable[[SmppConnection], Awaitable[None]] | None = None,
    config: SessionConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    server = Server(smsc if smsc is not None else MinimalSmsc())
    serve = handler if handler is not None else server.smsc.handle

    async def record(conn: SmppConnection) -> None:
        server.conns.append(conn)
        await serve(conn)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(serve_smsc, record, 0, host=HOST, config=config, ssl_context=ssl_context)
        )
        listener = getattr(listeners[0], "transport_listener", listeners[0])  # SSLListener wraps
        server.port = listener.socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


def esme(port: int, **kwargs: object) -> contextlib.AbstractAsyncContextManager[SmppConnection]:
    kwargs.setdefault("system_id", "esme")
    kwargs.setdefault("password", "secret")
    return open_esme(HOST, port, **kwargs)  # type: ignore[arg-type]


async def read_to_eof(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


def drain(conn: SmppConnection) -> list[Event]:
    events: list[Event] = []
    with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
        while True:
            events.append(conn.incoming.receive_nowait())
    return events


# -- binding ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BindMode))
async def test_bind_each_mode(mode: BindMode) -> None:
    with trio.fail_after(5):
        async with serving() as server, esme(server.port, mode=mode) as conn:
            assert conn.session.state is mode.bound_state
            assert [c.session.bind_mode for c in server.conns] == [mode]
            if mode is BindMode.RX:
                return
            response = await conn.request(SUBMIT)
            assert isinstance(response, SubmitSmResp)
            assert response.message_id == "1"


async def test_wrong_password_raises_bind_failed() -> None:
    smsc = MinimalSmsc(accounts={"esme": "secret"})
    with trio.fail_after(5):
        async with serving(smsc) as server:
            with pytest.raises(BindFailed) as excinfo:
                async with esme(server.port, password="wrong"):
                    raise AssertionError("bound with a wrong password")
            assert excinfo.value.status == CommandStatus.ESME_RBINDFAIL
            assert isinstance(excinfo.value, CommandFailed)
            assert isinstance(excinfo.value.request, BindTransceiver)

            async with esme(server.port, password="secret") as conn:  # the right one works
                assert conn.session.state is SessionState.BOUND_TRX


# -- traffic ---------------------------------------------------------------------------


async def test_receipt_arrives_on_incoming_and_is_answered() -> None:
    pdu = attrs.evolve(SUBMIT, registered_delivery=RegisteredDelivery.RECEIPT_ALWAYS)
    with trio.fail_after(5):
        async with serving() as server:
            async with esme(server.port) as conn:
                response = await conn.request(pdu)
                assert isinstance(response, SubmitSmResp)
                async for event in conn.incoming:
                    if isinstance(event, RequestReceived):
                        break
                receipt = event.pdu
                assert isinstance(receipt, DeliverSm)
                assert is_receipt(receipt.esm_class)
                assert (receipt.source_addr, receipt.destination_addr) == (
                    pdu.destination_addr,
                    pdu.source_addr,
                )
                parsed = parse_receipt(
                    short_message=receipt.short_message, tlvs=receipt.tlvs, esm_class=receipt.esm_class
                )
                assert parsed is not None
                assert parsed.message_id == response.message_id
                assert parsed.state is MessageState.DELIVERED

                conn.send_response(event.sequence_number, DeliverSmResp())
                [smsc_side] = server.conns
                while len(smsc_side.session.window):  # the SMSC matched our deliver_sm_resp
                    await trio.sleep(0.005)
                assert smsc_side.statistics().requests_expired == 0
                assert conn.statistics().responses_owed == 0


async def test_thousands_of_concurrent_requests_through_a_window() -> None:
    total, window = 2_000, 32
    outcomes: list[Outcome] = []
    all_done = trio.Event()

    def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == total:
            all_done.set()

    with trio.fail_after(15):
        async with serving() as server, esme(server.port, session=SessionConfig(window=window)) as conn:
            most_in_flight = 0
            for n in range(total):
                await conn.wait_for_room()
                conn.start_request(attrs.evolve(SUBMIT, destination_addr=f"447{n:07d}"), finished)
                most_in_flight = max(most_in_flight, len(conn.session.window))
            await all_done.wait()
    assert most_in_flight == window
    assert all(isinstance(o, ResponseReceived) and o.status == CommandStatus.ESME_ROK for o in outcomes)
    message_ids = {o.response.message_id for o in outcomes if isinstance(o.response, SubmitSmResp)}
    assert len(message_ids) == total
    assert server.smsc.submitted == total


async def test_leaving_open_esme_unbinds_within_the_unbind_timeout() -> None:
    with trio.fail_after(5):
        async with serving() as server:
            async with esme(server.port, unbind_timeout=3.0) as conn:
                await conn.request(SUBMIT)
                leaving = trio.current_time()
            assert trio.current_time() - leaving < 3.0
            assert Unbound(status=CommandStatus.ESME_ROK) in drain(conn)  # the server answered it

            [smsc_side] = server.conns
            await smsc_side.wait_closed()
            stats = smsc_side.statistics()
            assert stats.state is SessionState.CLOSED
            assert (stats.pdus_received, stats.pdus_sent) == (3, 3)  # bind, submit, unbind + answers


# -- failures --------------------------------------------------------------------------


async def test_connecting_to_a_closed_port_raises_connection_lost_quickly() -> None:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    with trio.fail_after(5):
        start = trio.current_time()
        with pytest.raises(ConnectionLost):
            async with esme(port):
                raise AssertionError("connected to a closed port")
        assert trio.current_time() - start < 1.0


async def test_a_failing_handler_closes_only_its_own_connection(caplog: pytest.LogCaptureFixture) -> None:
    smsc = MinimalSmsc()
    calls = 0

    async def flaky(conn: SmppConnection) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        await smsc.handle(conn)

    with trio.fail_after(5), caplog.at_level(logging.ERROR, logger="smppgw.net.server"):
        async with serving(handler=flaky) as server:
            with pytest.raises(ConnectionLost):
                async with esme(server.port):
                    raise AssertionError("bound through a handler that failed")
            async with esme(server.port) as conn:
                response = await conn.request(SUBMIT)
            assert isinstance(response, SubmitSmResp)
            assert calls == 2
    assert any("handler failed" in r.getMessage() for r in caplog.records)


async def test_garbage_gets_generic_nack_then_eof_and_the_server_survives() -> None:
    with trio.fail_after(5):
        async with serving() as server:
            stream = await trio.open_tcp_stream(HOST, server.port)
            async with stream:
                await stream.send_all(b"\x00\x00\x00\x05garbage")
                reply = await read_to_eof(stream)
            assert reply == struct.pack(">IIII", 16, CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDLEN, 0)
            async with esme(server.port) as conn:
                assert isinstance(await conn.request(SUBMIT), SubmitSmResp)


async def test_half_a_pdu_then_silence_is_closed_by_the_bind_timer() -> None:
    bind_pdu = encode_pdu(BindTransceiver(system_id="esme", password="secret"), 1)
    with trio.fail_after(5):
        async with serving(config=SessionConfig(bind_timeout=0.5)) as server:
            stream = await trio.open_tcp_stream(HOST, server.port)
            async with stream:
                start = trio.current_time()
                await stream.send_all(bind_pdu[: len(bind_pdu) // 2])
                assert await read_to_eof(stream) == b""
                waited = trio.current_time() - start
            assert 0.45 <= waited < 2.0
            [smsc_side] = server.conns
            await smsc_side.wait_closed()
            assert smsc_side.session.state is SessionState.CLOSED


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (trustme/cryptography are not
    installed here, so the openssl CLI makes it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to create a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_tls_end_to_end(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    client = ssl.create_default_context(cafile=str(cert))
    pdu = attrs.evolve(SUBMIT, registered_delivery=RegisteredDelivery.RECEIPT_ALWAYS)
    with trio.fail_after(5):
        async with serving(ssl_context=server_context(cert, key)) as server:
            async with esme(server.port, ssl_context=client) as conn:
                assert isinstance(conn.stream, trio.SSLStream)
                response = await conn.request(pdu)
                assert isinstance(response, SubmitSmResp)
                async for event in conn.incoming:
                    if isinstance(event, RequestReceived):
                        break
                assert isinstance(event.pdu, DeliverSm)
                conn.send_response(event.sequence_number, DeliverSmResp())
            assert Unbound(status=CommandStatus.ESME_ROK) in drain(conn)


async def test_tls_with_an_untrusted_certificate_raises_connection_lost(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    untrusting = ssl.create_default_context()  # system CAs only: our certificate is unknown
    with trio.fail_after(5):
        async with serving(ssl_context=server_context(cert, key)) as server:
            with pytest.raises(ConnectionLost):
                async with esme(server.port, ssl_context=untrusting):
                    raise AssertionError("TLS handshake accepted an untrusted certificate")
            async with esme(server.port, ssl_context=ssl.create_default_context(cafile=str(cert))) as conn:
                assert isinstance(await conn.request(SUBMIT), SubmitSmResp)


@pytest.mark.parametrize(
    "error",
    [
        trio.BrokenResourceError("gone"),
        trio.ClosedResourceError("closed"),
        ConnectionResetError(104, "reset"),
    ],
)
def test_map_trio_errors_turns_transport_errors_into_connection_lost(error: Exception) -> None:
    with pytest.raises(ConnectionLost, match="connection lost") as raised, map_trio_errors():
        raise error
    assert raised.value.__cause__ is error


def test_map_trio_errors_lets_other_errors_through() -> None:
    with pytest.raises(ValueError, match="not a transport error"), map_trio_errors():
        raise ValueError("not a transport error")
    with map_trio_errors():  # and nothing happens without an error
        pass


async def test_a_refused_connect_names_the_address_and_the_reason() -> None:
    from smppgw.net.esme import connect_tcp

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with trio.fail_after(10), pytest.raises(ConnectionLost) as raised:
        await connect_tcp("127.0.0.1", port, timeout=5)
    assert str(raised.value) == f"cannot connect to 127.0.0.1:{port}: Connection refused"
