"""Hostile peers: the simulator must never crash, and other binds must not notice.

Every test runs a well-behaved ESME (``open_esme``) that keeps submitting in the
background while raw TCP peers (``trio.open_tcp_stream``) misbehave: garbage, impossible
command_length values, half a PDU and silence, unknown commands, requests in the wrong
state, a malformed body, connection storms and binds that vanish without unbind. After
each, the ESME must still get answers, none of its submits may have failed, and
``binds_info()`` must show nothing but the ESME once the hostile peers are gone.

The session's bind_timeout (session_init_timer) is 0.5 s so a silent peer is closed fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import socket
import struct
import termios
import time
from collections.abc import AsyncIterator

import attrs
import pytest
import trio

import smppgw.net.connection
from simulator.smsc import Simulator
from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import BindTransceiver, BindTransmitter, EnquireLink, SubmitSm
from smppgw.net import SmppConnection, open_esme
from tests.simulator.conftest import HOST, RawPdu, read_pdu, recv_until_eof, start_simulator, wait_until

BIND_TIMEOUT = 0.5
HOSTILE = "hostile"
HOSTILE_PASSWORD = "hostile"
HOSTILE_MAX_BINDS = 50
SUBMIT = SubmitSm(source_addr="15550009999", destination_addr="15550001234", short_message=b"steady")
_HEADER = struct.Struct(">IIII")


def _header(length: int, command_id: int, sequence: int, status: int = 0) -> bytes:
    return _HEADER.pack(length, command_id, status, sequence)


def _bind_pdu(sequence: int = 1) -> bytes:
    return encode_pdu(BindTransceiver(system_id=HOSTILE, password=HOSTILE_PASSWORD), sequence)


@attrs.define(eq=False)
class Harness:
    """The simulator plus one well-behaved ESME submitting every 10 ms."""

    sim: Simulator
    esme: SmppConnection
    bind_id: int
    ok: int = 0
    failures: list[str] = attrs.field(factory=list)

    async def keep_submitting(self) -> None:
        for _ in range(1_000_000):  # cancelled when the test ends; bounded all the same
            try:
                with trio.fail_after(5):
                    response = await self.esme.request(SUBMIT)
                assert response.message_id
                self.ok += 1
            except Exception as exc:  # recorded, asserted on by `check`
                self.failures.append(repr(exc))
            await trio.sleep(0.01)

    async def check(self) -> None:
        """The ESME is unaffected and nothing hostile is left in ``binds_info()``."""
        before = self.ok
        with trio.fail_after(3):
            response = await self.esme.request(SUBMIT)
        assert response.message_id
        assert await wait_until(lambda: self.ok > before, 3.0), "background submits stalled"
        assert self.failures == []
        assert await wait_until(self._only_esme_left, 5.0), self.sim.binds_info()
        hostile = next(a for a in self.sim.accounts_info() if a["system_id"] == HOSTILE)
        assert hostile["binds"] == 0
        (info,) = self.sim.binds_info()
        assert (info["account"], info["mode"], info["state"]) == ("smppclient1", "trx", "bound_trx")

    def _only_esme_left(self) -> bool:
        return [b["id"] for b in self.sim.binds_info()] == [self.bind_id]


@contextlib.asynccontextmanager
async def harness(**session: float) -> AsyncIterator[Harness]:
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(
            nursery,
            session={"bind_timeout": BIND_TIMEOUT, **session},
            # Every connection here comes from 127.0.0.1: the account's limit is under
            # test, not the per-address one (tests/simulator/test_limits.py).
            max_binds_per_address=HOSTILE_MAX_BINDS + 10,
            account=[
                {"system_id": "smppclient1", "password": "password"},
                {"system_id": HOSTILE, "password": HOSTILE_PASSWORD, "max_binds": HOSTILE_MAX_BINDS},
            ],
        )
        async with open_esme(HOST, sim.port, system_id="smppclient1", password="password") as esme:
            (info,) = sim.binds_info()
            h = Harness(sim, esme, info["id"])
            nursery.start_soon(h.keep_submitting)
            yield h
            await h.check()
            assert h.ok > 0
        nursery.cancel_scope.cancel()


_PORT: trio.lowlevel.RunVar[int] = trio.lowlevel.RunVar("hostile_port")


@contextlib.asynccontextmanager
async def hostile_world(**session: float) -> AsyncIterator[Harness]:
    """``harness()`` whose port ``_raw()`` connects to."""
    async with harness(**session) as h:
        _PORT.set(h.sim.port)
        yield h


async def _raw() -> trio.SocketStream:
    """A raw TCP connection to the simulator of the running ``hostile_world``."""
    return await trio.open_tcp_stream(HOST, _PORT.get())


async def _bound_raw(sequence: int = 1) -> tuple[trio.SocketStream, bytearray]:
    stream = await _raw()
    buffer = bytearray()
    await stream.send_all(_bind_pdu(sequence))
    resp = await read_pdu(stream, buffer)
    assert resp is not None
    assert (resp.command_id, resp.command_status, resp.sequence_number) == (
        CommandId.BIND_TRANSCEIVER_RESP,
        0,
        sequence,
    )
    return stream, buffer


async def _expect_nack_and_close(stream: trio.SocketStream, buffer: bytearray, status: int) -> None:
    """Framing lost: generic_nack with ``status`` and sequence 0, then the server closes."""
    rest = bytes(buffer) + await recv_until_eof(stream, 3.0)
    assert rest[:16] == _header(16, CommandId.GENERIC_NACK, 0, status)
    assert rest[16:] == b""


# -- framing lost ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(_header(0, CommandId.ENQUIRE_LINK, 1), id="command_length-0"),
        pytest.param(_header(15, CommandId.ENQUIRE_LINK, 1), id="command_length-15"),
        pytest.param(_header(2**31, CommandId.ENQUIRE_LINK, 1), id="command_length-2**31"),
        pytest.param(_header(0xFFFF_FFFF, CommandId.ENQUIRE_LINK, 1), id="command_length-0xFFFFFFFF"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: smsc\r\n\r\n", id="http-request"),
    ],
)
async def test_impossible_command_length_gets_nack_and_close(header: bytes) -> None:
    """SMPP-REFERENCE §8 items 2-3: generic_nack ESME_RINVCMDLEN, sequence 0, then close."""
    with trio.fail_after(15):
        async with hostile_world():
            stream = await _raw()
            await stream.send_all(header)
            await _expect_nack_and_close(stream, bytearray(), CommandStatus.ESME_RINVCMDLEN)
            await stream.aclose()


async def test_pure_garbage_is_closed() -> None:
    """Seeded random bytes: whatever the first four octets say, the peer is gone within
    the bind timeout (framing lost at once, or a frame that never completes)."""
    rng = random.Random(20240611)
    with trio.fail_after(20):
        async with hostile_world():
            for _ in range(10):
                stream = await _raw()
                with contextlib.suppress(trio.BrokenResourceError):
                    await stream.send_all(rng.randbytes(rng.randint(1, 4096)))
                started = time.monotonic()
                await recv_until_eof(stream, BIND_TIMEOUT + 2.0)
                assert time.monotonic() - started < BIND_TIMEOUT + 2.0
                await stream.aclose()


async def test_valid_bind_then_garbage() -> None:
    with trio.fail_after(15):
        async with hostile_world() as h:
            stream, buffer = await _bound_raw()
            assert any(b["account"] == HOSTILE for b in h.sim.binds_info())
            await stream.send_all(b"\xff" * 64)
            await _expect_nack_and_close(stream, buffer, CommandStatus.ESME_RINVCMDLEN)
            await stream.aclose()


# -- timers ------------------------------------------------------------------------------------


async def test_half_a_pdu_then_silence_is_closed_after_bind_timeout() -> None:
    with trio.fail_after(15):
        async with hostile_world():
            stream = await _raw()
            opened = time.monotonic()
            await stream.send_all(_bind_pdu()[:10])
            received = await recv_until_eof(stream, BIND_TIMEOUT + 3.0)
            elapsed = time.monotonic() - opened
            assert received == b""  # no answer to half a PDU
            assert BIND_TIMEOUT * 0.8 <= elapsed < BIND_TIMEOUT + 2.0
            await stream.aclose()


async def test_bound_peer_sending_half_a_pdu_is_unbound_then_closed() -> None:
    """Bound, then half a PDU and silence: a partial PDU is not activity, so the
    inactivity timer unbinds (SMPP-REFERENCE §4.3) and, with no unbind_resp within the
    response timer, the server closes anyway."""
    with trio.fail_after(15):
        async with hostile_world(inactivity_timeout=0.5, response_timeout=0.5) as h:
            stream, buffer = await _bound_raw()
            started = time.monotonic()
            await stream.send_all(encode_pdu(EnquireLink(), 2)[:9])
            unbind = await read_pdu(stream, buffer, timeout=3.0)
            assert unbind is not None
            assert (unbind.command_id, unbind.body) == (CommandId.UNBIND, b"")
            assert 0.4 <= time.monotonic() - started < 2.0
            assert await recv_until_eof(stream, 3.0) == b""
            assert 0.8 <= time.monotonic() - started < 4.0
            await stream.aclose()
            assert await wait_until(h._only_esme_left, 3.0)


# -- well-framed but wrong ---------------------------------------------------------------------


@pytest.mark.parametrize("bound", [False, True], ids=["open", "bound"])
async def test_unknown_command_id_gets_generic_nack_and_session_stays_up(bound: bool) -> None:
    with trio.fail_after(15):
        async with hostile_world():
            if bound:
                stream, buffer = await _bound_raw()
            else:
                stream, buffer = await _raw(), bytearray()
            await stream.send_all(_header(16, 0x0000_0099, 7))
            nack = await read_pdu(stream, buffer)
            assert nack == RawPdu(16, CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDID, 7, b"")
            # A response with an unknown command_id is dropped silently (checklist 5), and
            # the connection is still up: the next answer is the enquire_link_resp.
            await stream.send_all(_header(16, 0x8000_0099, 8) + encode_pdu(EnquireLink(), 9))
            resp = await read_pdu(stream, buffer)
            assert resp == RawPdu(16, CommandId.ENQUIRE_LINK_RESP, 0, 9, b"")
            await stream.aclose()


async def test_submit_sm_before_bind_gets_rinvbndsts() -> None:
    with trio.fail_after(15):
        async with hostile_world() as h:
            stream, buffer = await _raw(), bytearray()
            await stream.send_all(encode_pdu(SUBMIT, 5))
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            # SMPP-REFERENCE §4.2: the matching *_resp (or generic_nack), echoing the sequence.
            assert resp.command_id in (CommandId.SUBMIT_SM_RESP, CommandId.GENERIC_NACK)
            assert (resp.command_status, resp.sequence_number) == (CommandStatus.ESME_RINVBNDSTS, 5)
            assert h.sim.messages(account=HOSTILE) == []
            await stream.aclose()


async def test_enquire_link_before_bind_is_answered() -> None:
    with trio.fail_after(15):
        async with hostile_world():
            stream, buffer = await _raw(), bytearray()
            await stream.send_all(encode_pdu(EnquireLink(), 41))
            resp = await read_pdu(stream, buffer)
            assert resp == RawPdu(16, CommandId.ENQUIRE_LINK_RESP, 0, 41, b"")
            # Still not bound: a bind afterwards works.
            await stream.send_all(_bind_pdu(42))
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            assert (resp.command_id, resp.command_status, resp.sequence_number) == (
                CommandId.BIND_TRANSCEIVER_RESP,
                0,
                42,
            )
            await stream.aclose()


def _submit_with_unterminated_destination(sequence: int) -> bytes:
    """submit_sm whose destination_addr has no NUL within its 21 octets (3.4 §4.4.1)."""
    body = (
        b"\x00"  # service_type
        + b"\x01\x01"
        + b"15550009999\x00"  # source_addr
        + b"\x01\x01"
        + b"1" * 30  # destination_addr: 30 digits, the NUL comes far too late
        + b"\x00"
        + bytes(3)  # esm_class, protocol_id, priority_flag
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes(4)  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        + b"\x05hello"
    )
    return _header(16 + len(body), CommandId.SUBMIT_SM, sequence) + body


async def test_malformed_submit_body_gets_rinvdstadr_and_session_continues() -> None:
    with trio.fail_after(15):
        async with hostile_world() as h:
            stream, buffer = await _bound_raw()
            await stream.send_all(_submit_with_unterminated_destination(2))
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            assert resp.command_id in (CommandId.SUBMIT_SM_RESP, CommandId.GENERIC_NACK)
            assert (resp.command_status, resp.sequence_number) == (CommandStatus.ESME_RINVDSTADR, 2)
            # Framing is intact: the session goes on.
            await stream.send_all(
                encode_pdu(SubmitSm(source_addr="15550009999", destination_addr="15550005678"), 3)
            )
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            assert (resp.command_id, resp.command_status, resp.sequence_number) == (
                CommandId.SUBMIT_SM_RESP,
                0,
                3,
            )
            message_id = resp.body.rstrip(b"\x00").decode()
            (stored,) = h.sim.messages(account=HOSTILE)
            assert (stored["message_id"], stored["destination_addr"]) == (message_id, "15550005678")
            await stream.aclose()


# -- storms ------------------------------------------------------------------------------------

CONNECTIONS = 10_000
BATCH = 200  # connections in flight at once
GRACEFUL_EVERY = 10  # 1 in 10 closes with FIN; the rest abort with RST (no TIME_WAIT left)
_LINGER_ZERO = struct.pack("ii", 1, 0)


async def test_ten_thousand_connections_opened_and_closed() -> None:
    """10,000 connect + immediate close, in batches of 200, then the ESME is checked.

    Most peers abort (SO_LINGER 0, an RST) so the storm leaves no 10,000 TIME_WAIT
    sockets eating the machine's ephemeral ports; every tenth closes gracefully (FIN).

    The kernel completes handshakes before the simulator accepts them, so unpaced clients
    run thousands of connections ahead of it; once the listen queue is full the kernel
    drops the handshake's last ACK, and a client that then aborts leaves a connection the
    server never sees. So a batch starts only once the simulator has accepted all but the
    last batch, and every one of the 10,000 must be accepted. The end-to-end rate is
    printed (``-s``): clients and simulator share one trio thread.
    """
    errors: list[str] = []

    async def connect_and_close(i: int) -> None:
        try:
            stream = await _raw()
        except OSError as exc:
            errors.append(repr(exc))
            return
        if i % GRACEFUL_EVERY:
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        await stream.aclose()

    with trio.fail_after(100):
        async with hostile_world() as h:
            before = _accepted(h.sim)
            started = time.monotonic()
            for batch in range(CONNECTIONS // BATCH):
                async with trio.open_nursery() as nursery:
                    for i in range(batch * BATCH, (batch + 1) * BATCH):
                        nursery.start_soon(connect_and_close, i)
                # At most two batches queued in the kernel: the listen queue stays short.
                target = before + batch * BATCH
                assert await wait_until(lambda t=target: _accepted(h.sim) >= t, 20.0, interval=0.002), (
                    f"batch {batch}: the simulator accepted {_accepted(h.sim) - before:.0f} connections"
                )
            assert await wait_until(lambda: _accepted(h.sim) - before >= CONNECTIONS, 20.0)
            assert errors == []
            assert await wait_until(h._only_esme_left, 20.0), len(h.sim.binds_info())
            elapsed = time.monotonic() - started
            assert _accepted(h.sim) - before == CONNECTIONS
            rate = CONNECTIONS / elapsed
            print(f"\n{CONNECTIONS} connections accepted and dropped in {elapsed:.2f}s ({rate:.0f}/s)")
            # ~11 s on an idle 2-core machine; the bound only catches a collapse.
            assert elapsed < 75, f"connection storm too slow: {rate:.0f} connections/s"


def _accepted(sim: Simulator) -> float:
    """TCP connections the simulator has accepted so far (its Prometheus counter)."""
    value = sim.metrics.registry.get_sample_value("smppsim_connections_total")
    assert value is not None
    return value


async def test_two_hundred_binds_dropped_without_unbind() -> None:
    """200 binds that vanish without unbind, in rounds of max_binds: every round binds
    with status 0, which proves the previous round's binds were released."""
    rounds = 200 // HOSTILE_MAX_BINDS

    async def bind_and_drop(statuses: list[int]) -> None:
        stream = await _raw()
        buffer = bytearray()
        await stream.send_all(_bind_pdu())
        resp = await read_pdu(stream, buffer, timeout=5.0)
        assert resp is not None
        statuses.append(resp.command_status)
        await stream.aclose()  # no unbind

    with trio.fail_after(30):
        async with hostile_world() as h:
            for _ in range(rounds):
                statuses: list[int] = []
                async with trio.open_nursery() as nursery:
                    for _ in range(HOSTILE_MAX_BINDS):
                        nursery.start_soon(bind_and_drop, statuses)
                assert statuses == [0] * HOSTILE_MAX_BINDS
                assert await wait_until(h._only_esme_left, 5.0), h.sim.binds_info()
            hostile = next(a for a in h.sim.accounts_info() if a["system_id"] == HOSTILE)
            assert hostile["binds"] == 0


async def test_bind_beyond_max_binds_is_refused_while_others_stay() -> None:
    """The account limit holds under the storm too: bind max_binds + 1 and keep them."""
    with trio.fail_after(15):
        async with hostile_world() as h:
            streams = []
            for i in range(HOSTILE_MAX_BINDS):
                stream, _ = await _bound_raw(i + 1)
                streams.append(stream)
            extra = await _raw()
            buffer = bytearray()
            await extra.send_all(encode_pdu(BindTransmitter(system_id=HOSTILE, password=HOSTILE_PASSWORD), 1))
            resp = await read_pdu(extra, buffer)
            assert resp is not None
            assert resp.command_id == CommandId.BIND_TRANSMITTER_RESP
            assert resp.command_status == CommandStatus.ESME_RALYBND
            hostile = next(a for a in h.sim.accounts_info() if a["system_id"] == HOSTILE)
            assert hostile["binds"] == HOSTILE_MAX_BINDS
            for stream in [*streams, extra]:
                await stream.aclose()


async def test_esme_sees_every_hostile_scenario_in_one_session() -> None:
    """All of the above against one simulator and one ESME, back to back."""
    with trio.fail_after(20):
        async with hostile_world() as h:
            for data in (
                b"\x00" * 16,
                _header(15, 0x15, 1),
                _header(2**31, 0x15, 1),
                _header(0xFFFF_FFFF, 0x15, 1),
                b"\xde\xad\xbe\xef" * 8,
            ):
                stream = await _raw()
                await stream.send_all(data)
                await _expect_nack_and_close(stream, bytearray(), CommandStatus.ESME_RINVCMDLEN)
                await stream.aclose()
            await h.check()
            silent = await _raw()
            await silent.send_all(_bind_pdu()[:7])
            stream, buffer = await _bound_raw()
            await stream.send_all(_header(16, 0x0000_0042, 2))
            assert await read_pdu(stream, buffer) == RawPdu(
                16, CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDID, 2, b""
            )
            await stream.send_all(_submit_with_unterminated_destination(3))
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            assert resp.command_status == CommandStatus.ESME_RINVDSTADR
            await stream.send_all(b"garbage!" * 4)
            await _expect_nack_and_close(stream, buffer, CommandStatus.ESME_RINVCMDLEN)
            assert await recv_until_eof(silent, BIND_TIMEOUT + 2.0) == b""
            await silent.aclose()
            await stream.aclose()


# -- regressions: bugs these tests found (fixed in smppgw/net/connection.py, simulator/smsc.py) ---


async def test_responses_queued_before_peer_half_close_are_delivered() -> None:
    """A peer that sends its last requests and then shuts down its write side (TCP
    half-close; e.g. aiosmpplib's ``write_eof()`` after unbind) still gets every answer.

    Found here: on EOF ``SmppConnection._reader`` called ``close()`` at once, cancelling
    the writer, so answers queued just before the FIN were lost in about half the rounds
    (trio runs the writer and the reader's next ``receive_some`` in either order). The
    reader now flushes first, as ``_close_after_flush`` does for a CLOSED session.

    Twenty rounds of: bind, submit_sm + enquire_link, ``send_eof()``, read to EOF.
    """
    got: list[tuple[int, ...]] = []
    with trio.fail_after(20):
        async with hostile_world():
            for _ in range(20):
                stream, buffer = await _bound_raw()
                await stream.send_all(encode_pdu(SUBMIT, 2) + encode_pdu(EnquireLink(), 3))
                await stream.send_eof()
                seen = []
                while (pdu := await read_pdu(stream, buffer, timeout=3.0)) is not None:
                    seen.append(pdu.command_id)
                await stream.aclose()
                got.append(tuple(sorted(seen)))
    expected = tuple(sorted((CommandId.SUBMIT_SM_RESP, CommandId.ENQUIRE_LINK_RESP)))
    short = [i for i, answers in enumerate(got) if answers != expected]
    assert not short, f"answers lost after the peer's FIN in {len(short)} of 20 rounds: {short}"


def _ioctl_int(sock: trio.socket.SocketType, request: int) -> int:
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0"))[0]


async def test_peer_that_never_reads_cannot_make_the_server_buffer_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A peer that never reads cannot make the server hold its answers without bound.

    Found here: the reader never waited for the writer, so with the peer not reading,
    ``send_all`` blocked and every answer to what the reader kept accepting piled up in
    user space: 4 MiB of enquire_link left ~3.6 MiB of enquire_link_resp in the server,
    linear in what the peer sends (one connection could exhaust the simulator's memory).
    The reader now stops reading while the writer is blocked and more than
    ``_MAX_PENDING_OUTPUT`` octets wait, so TCP flow control throttles the peer. That
    bound is 4 MiB; it is lowered to 256 KiB here so 4 MiB of traffic (a second or two)
    shows it working: the server may then hold what is pending (the bound plus a read or
    two of answers) and the chunk the blocked writer took (as much again), so about twice
    the bound, never an amount that grows with what the peer sends.

    Measured from outside the session: answers queued (``binds_info()`` pdus_sent)
    minus what left the process (the server socket's kernel send queue, SIOCOUTQ, plus
    what waits unread in the client's receive queue, FIONREAD).
    """
    bound = 256 * 1024
    monkeypatch.setattr(smppgw.net.connection, "_MAX_PENDING_OUTPUT", bound)
    chunk = b"".join(encode_pdu(EnquireLink(), i + 2) for i in range(4096))  # 64 KiB
    with trio.fail_after(30):
        async with hostile_world() as h:
            sock = trio.socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            await sock.connect((HOST, h.sim.port))
            stream = trio.SocketStream(sock)
            buffer = bytearray()
            await stream.send_all(_bind_pdu())
            resp = await read_pdu(stream, buffer)
            assert resp is not None
            assert resp.command_status == 0
            peer = "{}:{}".format(*sock.getsockname()[:2])
            (info,) = [b for b in h.sim.binds_info() if b["peer"] == peer]
            server = next(b.conn.stream for b in h.sim.connections if b.id == info["id"])
            sent = 0
            with trio.move_on_after(4):  # backpressure (rightly) blocks us early
                for _ in range(64):  # 4 MiB, never reading
                    await stream.send_all(chunk)
                    sent += len(chunk)
            await trio.sleep(0.5)  # let the server take in what it will
            (info,) = [b for b in h.sim.binds_info() if b["peer"] == peer]
            answered = 29 + (info["pdus_sent"] - 1) * 16  # bind_resp + enquire_link_resp
            left_process = _ioctl_int(server.socket, termios.TIOCOUTQ) + _ioctl_int(sock, termios.FIONREAD)
            held = answered - len(buffer) - left_process
            await stream.aclose()
            assert held <= 3 * bound + 256 * 1024, (
                f"server holds {held / 2**20:.2f} MiB of unsent answers after the peer sent "
                f"{sent / 2**20:.1f} MiB without reading"
            )


def _pdus_out(sim: Simulator, command: str, status: str) -> float:
    value = sim.metrics.registry.get_sample_value(
        "smppsim_pdus_total", {"direction": "out", "command": command, "status": status}
    )
    return value or 0.0


async def test_metrics_count_the_reply_actually_sent_to_a_rejected_request() -> None:
    """``smppsim_pdus_total{direction="out"}`` names the reply the session really sent
    when it rejected a request by itself.

    Found here: ``Simulator._on_event`` (now ``Binds.on_event``) counted every such reply
    as a generic_nack, although ``core.replies.reject`` answers a *known* request with its own *_resp (only an
    unknown command_id gets a generic_nack): a submit_sm before bind (submit_sm_resp
    ESME_RINVBNDSTS) and a malformed submit_sm (submit_sm_resp ESME_RINVDSTADR) showed
    up as two generic_nacks. ``ProtocolViolation`` now carries ``reply_command_id``.
    """
    with trio.fail_after(15):
        async with hostile_world() as h:
            stream, buffer = await _raw(), bytearray()
            await stream.send_all(encode_pdu(SUBMIT, 5))
            unbound = await read_pdu(stream, buffer)
            await stream.send_all(_bind_pdu(6))
            await read_pdu(stream, buffer)
            await stream.send_all(_submit_with_unterminated_destination(7))
            malformed = await read_pdu(stream, buffer)
            await stream.send_all(_header(16, 0x0000_0099, 8))
            unknown = await read_pdu(stream, buffer)
            await stream.aclose()
            # The wire: two submit_sm_resp and one generic_nack.
            assert unbound is not None
            assert malformed is not None
            assert unknown is not None
            assert (unbound.command_id, unbound.command_status) == (
                CommandId.SUBMIT_SM_RESP,
                CommandStatus.ESME_RINVBNDSTS,
            )
            assert (malformed.command_id, malformed.command_status) == (
                CommandId.SUBMIT_SM_RESP,
                CommandStatus.ESME_RINVDSTADR,
            )
            assert (unknown.command_id, unknown.command_status) == (
                CommandId.GENERIC_NACK,
                CommandStatus.ESME_RINVCMDID,
            )
            # The metrics must say the same.
            counted = {
                (command, status): _pdus_out(h.sim, command, status)
                for command in ("submit_sm_resp", "generic_nack")
                for status in ("ESME_RINVBNDSTS", "ESME_RINVDSTADR", "ESME_RINVCMDID")
            }
            assert counted == {
                ("submit_sm_resp", "ESME_RINVBNDSTS"): 1.0,
                ("submit_sm_resp", "ESME_RINVDSTADR"): 1.0,
                ("submit_sm_resp", "ESME_RINVCMDID"): 0.0,
                ("generic_nack", "ESME_RINVBNDSTS"): 0.0,
                ("generic_nack", "ESME_RINVDSTADR"): 0.0,
                ("generic_nack", "ESME_RINVCMDID"): 1.0,
            }
