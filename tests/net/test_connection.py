"""``SmppConnection`` through memory streams, in virtual time (STYLE 3.13).

The ESME side is always a real ``SmppConnection``. Its peer is either a ``ScriptedSmsc``
(an SMSC-role ``SmppConnection`` with a tiny application) or a ``RawPeer`` that writes
and reads octets, for peers that misbehave. Every test that involves a timer runs on the
``autojump_clock``, so the assertions on ``trio.current_time()`` are exact and cost no
wall time.
"""

from __future__ import annotations

import struct

import attrs
import pytest
import trio
import trio.testing

from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import (
    CommandFailed,
    ConnectionLost,
    InvalidCommandId,
    InvalidCommandLength,
    LocalProtocolError,
    ResponseTimeout,
    SmppError,
    Throttled,
    WindowFull,
)
from smppgw.core.events import (
    ProtocolViolation,
    RequestReceived,
    SessionTimedOut,
    Timer,
    UnbindReceived,
    Unbound,
)
from smppgw.core.pdu import (
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Request,
    Response,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smppgw.core.states import BindMode, SessionState
from smppgw.net.connection import SmppConnection
from tests.net.smpp_peers import QUIET, RawPeer, bind_raw, bound_pair, esme_connection, raw_pair

SUBMIT = SubmitSm(source_addr="4479001", destination_addr="4479002", short_message=b"hello")


def submit(n: int) -> SubmitSm:
    return attrs.evolve(SUBMIT, destination_addr=f"44790{n:04d}")


async def outcome_of(conn: SmppConnection, pdu: Request, results: list[Response | SmppError]) -> None:
    """Run ``conn.request(pdu)`` and keep the response or the SmppError it raised."""
    try:
        results.append(await conn.request(pdu))
    except SmppError as exc:
        results.append(exc)


def nothing_incoming(conn: SmppConnection) -> bool:
    try:
        event = conn.incoming.receive_nowait()
    except (trio.WouldBlock, trio.EndOfChannel):
        return True
    raise AssertionError(f"unexpected event on incoming: {event!r}")


# -- the happy path --------------------------------------------------------------------


async def test_bind_submit_response_round_trip(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with bound_pair() as (conn, smsc):
            assert conn.session.state is SessionState.BOUND_TRX
            assert smsc.conn.session.state is SessionState.BOUND_TRX

            response = await conn.request(SUBMIT)

            assert isinstance(response, SubmitSmResp)
            assert response.message_id.startswith("m")
            assert smsc.requests[1:] == [SUBMIT]  # [0] is the bind
            assert len(conn.session.window) == 0
            assert nothing_incoming(conn)


@pytest.mark.parametrize("mode", list(BindMode))
async def test_bind_mode_reaches_both_sides(autojump_clock: trio.testing.MockClock, mode: BindMode) -> None:
    with trio.fail_after(5):
        async with bound_pair(mode=mode) as (conn, smsc):
            assert conn.session.bind_mode is mode
            assert smsc.conn.session.bind_mode is mode
            assert conn.session.state is mode.bound_state


async def test_submit_on_a_receiver_bind_raises_before_sending(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(5):
        async with bound_pair(mode=BindMode.RX) as (conn, smsc):
            with pytest.raises(LocalProtocolError) as excinfo:
                await conn.request(SUBMIT)
            assert excinfo.value.command_status == CommandStatus.ESME_RINVBNDSTS
            await trio.testing.wait_all_tasks_blocked()
            assert len(conn.session.window) == 0
            assert len(smsc.requests) == 1  # the bind only


# -- failures of one request -----------------------------------------------------------


async def test_error_status_raises_command_failed_with_status(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with bound_pair() as (conn, smsc):
            smsc.status = CommandStatus.ESME_RINVDSTADR
            with pytest.raises(CommandFailed) as excinfo:
                await conn.request(SUBMIT)
            assert type(excinfo.value) is CommandFailed  # not Throttled
            assert excinfo.value.status == CommandStatus.ESME_RINVDSTADR
            assert excinfo.value.request == SUBMIT
            assert len(conn.session.window) == 0


@pytest.mark.parametrize("status", [CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL])
async def test_throttling_statuses_raise_throttled(
    autojump_clock: trio.testing.MockClock, status: CommandStatus
) -> None:
    with trio.fail_after(5):
        async with bound_pair() as (conn, smsc):
            smsc.status = status
            with pytest.raises(Throttled) as excinfo:
                await conn.request(SUBMIT)
            assert excinfo.value.status == status
            assert isinstance(excinfo.value, CommandFailed)


async def test_generic_nack_answer_raises_command_failed(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            async with trio.open_nursery() as nursery:
                results: list[Response | SmppError] = []
                nursery.start_soon(outcome_of, conn, SUBMIT, results)
                header, _ = await peer.receive()
                await peer.send(GenericNack(), header.sequence_number, CommandStatus.ESME_RSYSERR)
            [error] = results
            assert isinstance(error, CommandFailed)
            assert error.status == CommandStatus.ESME_RSYSERR


@pytest.mark.parametrize(
    ("response_timeout", "enquire_link_interval"),
    [
        (30.0, None),
        # The timer task sleeps toward the next enquire_link (60 s after the last PDU
        # received); a request sent meanwhile adds an earlier deadline, which must win.
        (5.0, 60.0),
    ],
)
async def test_silent_peer_raises_response_timeout_at_response_timeout(
    autojump_clock: trio.testing.MockClock, response_timeout: float, enquire_link_interval: float | None
) -> None:
    config = attrs.evolve(
        QUIET, response_timeout=response_timeout, enquire_link_interval=enquire_link_interval
    )
    with trio.fail_after(1000):
        async with raw_pair(config) as (conn, peer):
            await trio.sleep(10)  # let the timer settle on the keep-alive deadline, if any
            start = trio.current_time()
            with pytest.raises(ResponseTimeout):
                await conn.request(SUBMIT)
            assert trio.current_time() == start + response_timeout
            _, pdu = await peer.receive()
            assert pdu == SUBMIT  # it was sent; the peer just never answered
            assert len(conn.session.window) == 0
            assert not conn.closed


async def test_peer_closing_fails_every_request_in_flight(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            start = trio.current_time()
            results: list[Response | SmppError] = []
            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(outcome_of, conn, submit(n), results)
                for _ in range(3):
                    await peer.receive()
                await peer.stream.aclose()
            assert len(results) == 3
            assert all(isinstance(r, ConnectionLost) for r in results), results
            assert trio.current_time() == start  # at once, not at the response timer
            await conn.wait_closed()
            assert conn.session.state is SessionState.CLOSED
            with pytest.raises(ConnectionLost):
                conn.start_request(SUBMIT, lambda _: None)


async def test_closing_from_a_callback_mid_read_still_reports_every_outcome(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 40 answers in one read are routed in slices; the first callback closes the
    # connection, so the checkpoint between slices is cancelled. The answers after it are
    # gone from the session, which cannot report them as aborted: they must still reach
    # their callbacks (a part whose outcome was lost stayed ``submitting`` for ever).
    outcomes: list[object] = []
    with trio.fail_after(5):
        async with raw_pair(attrs.evolve(QUIET, window=64)) as (conn, peer):

            def callback(outcome: object) -> None:
                outcomes.append(outcome)
                conn.close("closed by a callback")

            for n in range(40):
                conn.start_request(submit(n), callback)
            answers = []
            for n in range(40):
                header, _ = await peer.receive()
                answers.append(encode_pdu(SubmitSmResp(message_id=str(n)), header.sequence_number))
            await peer.send_bytes(b"".join(answers))
            await conn.wait_closed()
    assert len(outcomes) == 40


# -- the window ------------------------------------------------------------------------


async def test_window_admits_n_requests_and_the_next_waits_for_a_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = attrs.evolve(QUIET, window=3)
    with trio.fail_after(5):
        async with bound_pair(config) as (conn, smsc):
            smsc.hold = True
            start = trio.current_time()
            results: list[Response | SmppError] = []
            async with trio.open_nursery() as nursery:
                for n in range(5):
                    nursery.start_soon(outcome_of, conn, submit(n), results)
                await trio.testing.wait_all_tasks_blocked()
                assert len(smsc.pending) == 3
                assert len(conn.session.window) == 3
                assert results == []

                smsc.release(1)
                await trio.testing.wait_all_tasks_blocked()
                assert len(results) == 1
                assert len(smsc.pending) == 3  # the 4th took the freed slot
                assert len(smsc.requests) == 1 + 4

                smsc.release(3)
                await trio.testing.wait_all_tasks_blocked()
                assert len(results) == 4
                assert len(smsc.pending) == 1  # the 5th
                smsc.release(1)
            assert trio.current_time() == start  # nothing waited on a timer
            assert smsc.max_pending == 3
            assert all(isinstance(r, SubmitSmResp) for r in results)
            assert sorted(p.destination_addr for p in smsc.requests[1:]) == [
                submit(n).destination_addr for n in range(5)
            ]


async def test_wait_for_room_wakes_when_a_request_expires(autojump_clock: trio.testing.MockClock) -> None:
    config = attrs.evolve(QUIET, window=1, response_timeout=10.0)
    with trio.fail_after(100):
        async with raw_pair(config) as (conn, _peer):
            start = trio.current_time()
            results: list[Response | SmppError] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(outcome_of, conn, SUBMIT, results)
                await trio.testing.wait_all_tasks_blocked()
                assert conn.session.window.available == 0
                await conn.wait_for_room()
                assert trio.current_time() == start + 10.0
                assert conn.session.window.available == 1
            [error] = results
            assert isinstance(error, ResponseTimeout)


async def test_start_request_beyond_the_window_raises_window_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = attrs.evolve(QUIET, window=2)
    with trio.fail_after(5):
        async with raw_pair(config) as (conn, _peer):
            outcomes: list[object] = []
            conn.start_request(submit(1), outcomes.append)
            conn.start_request(submit(2), outcomes.append)
            with pytest.raises(WindowFull):
                conn.start_request(submit(3), outcomes.append)
            assert len(conn.session.window) == 2


# -- keep-alive and link death ---------------------------------------------------------


async def test_enquire_link_goes_out_after_the_idle_interval(autojump_clock: trio.testing.MockClock) -> None:
    config = attrs.evolve(QUIET, enquire_link_interval=30.0)
    with trio.fail_after(100):
        async with raw_pair(config) as (conn, peer):
            bound_at = trio.current_time()
            header, pdu = await peer.receive()
            assert pdu == EnquireLink()
            assert trio.current_time() == bound_at + 30.0
            await peer.send(EnquireLinkResp(), header.sequence_number)

            # The answer counts as traffic: the next one is an interval after it.
            header2, pdu2 = await peer.receive()
            assert pdu2 == EnquireLink()
            assert trio.current_time() == bound_at + 60.0
            assert header2.sequence_number != header.sequence_number
            assert nothing_incoming(conn)  # keep-alives are not application events


async def test_enquire_link_is_answered_by_the_peer_session(autojump_clock: trio.testing.MockClock) -> None:
    esme_config = attrs.evolve(QUIET, enquire_link_interval=30.0)
    with trio.fail_after(100):
        async with bound_pair(esme_config) as (conn, smsc):
            bound_at = trio.current_time()
            esme0, smsc0 = conn.statistics(), smsc.conn.statistics()

            await trio.sleep_until(bound_at + 29.5)
            await trio.testing.wait_all_tasks_blocked()
            assert conn.statistics().pdus_sent == esme0.pdus_sent

            await trio.sleep_until(bound_at + 30.0)
            await trio.testing.wait_all_tasks_blocked()
            esme1, smsc1 = conn.statistics(), smsc.conn.statistics()
            assert (esme1.pdus_sent, esme1.pdus_received) == (esme0.pdus_sent + 1, esme0.pdus_received + 1)
            assert (smsc1.pdus_received, smsc1.pdus_sent) == (smsc0.pdus_received + 1, smsc0.pdus_sent + 1)
            assert esme1.requests_in_flight == 0
            assert esme1.requests_expired == 0
            # Neither application saw the keep-alive.
            assert [type(e) for e in smsc.events] == [RequestReceived]  # the bind
            assert nothing_incoming(conn)


async def test_esme_answers_the_peers_enquire_link(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            await peer.send(EnquireLink(), 5)
            header, pdu = await peer.receive()
            assert (header.sequence_number, header.command_status, pdu) == (5, 0, EnquireLinkResp())
            await trio.testing.wait_all_tasks_blocked()
            assert nothing_incoming(conn)


async def test_unanswered_enquire_link_expires_and_is_reported(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The expiry of an automatic enquire_link reaches the application on ``incoming``
    as the link's death (checklist 31), not as a stray RequestExpired."""
    config = attrs.evolve(QUIET, enquire_link_interval=30.0, response_timeout=10.0)
    with trio.fail_after(100):
        async with raw_pair(config) as (conn, peer):
            bound_at = trio.current_time()
            header, pdu = await peer.receive()
            assert (pdu, trio.current_time()) == (EnquireLink(), bound_at + 30.0)

            event = await conn.incoming.receive()
            assert event == SessionTimedOut(timer=Timer.ENQUIRE_LINK)
            assert trio.current_time() == bound_at + 40.0
            assert header.sequence_number >= 1


async def test_unanswered_enquire_link_closes_the_connection(autojump_clock: trio.testing.MockClock) -> None:
    """A peer that keeps TCP open but stops answering is detected by the keep-alive: an
    expired enquire_link ends the connection, so every request in flight fails with
    ConnectionLost and the owner can reconnect."""
    config = attrs.evolve(QUIET, enquire_link_interval=30.0, response_timeout=10.0)
    with trio.fail_after(10_000):
        async with raw_pair(config) as (conn, _peer):
            bound_at = trio.current_time()
            with trio.move_on_after(1_000):
                await conn.wait_closed()
            assert conn.closed, "the connection outlived an unanswered enquire_link by 1000 s"
            assert trio.current_time() <= bound_at + 40.0


async def test_inactivity_timeout_unbinds_then_closes_a_silent_link(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The timer that does end a dead link today: inactivity_timeout sends an unbind,
    and the unbind's response timer closes the session."""
    config = attrs.evolve(QUIET, response_timeout=10.0, inactivity_timeout=60.0)
    with trio.fail_after(1000):
        async with raw_pair(config) as (conn, peer):
            bound_at = trio.current_time()
            _, pdu = await peer.receive()
            assert (pdu, trio.current_time()) == (Unbind(), bound_at + 60.0)
            await conn.wait_closed()
            assert trio.current_time() == bound_at + 70.0
            await peer.expect_eof()


# -- unbinding -------------------------------------------------------------------------


async def test_peer_unbind_is_answered_and_the_connection_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    esme_stream, peer_stream = trio.testing.memory_stream_pair()
    conn, peer = esme_connection(esme_stream), RawPeer(peer_stream)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:  # exits only once run() returned
            await nursery.start(conn.run)
            await bind_raw(conn, peer)
            await peer.send(Unbind(), 7)
            header, pdu = await peer.receive()
            assert (header.sequence_number, header.command_status, pdu) == (7, 0, UnbindResp())
            await peer.expect_eof()
        events = [event async for event in conn.incoming]
        assert events == [UnbindReceived(sequence_number=7)]
        assert conn.session.state is SessionState.CLOSED


async def test_unbind_returns_when_the_peer_answers(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            start = trio.current_time()

            async def answer_unbind() -> None:
                header, pdu = await peer.receive()
                assert pdu == Unbind()
                await peer.send(UnbindResp(), header.sequence_number)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(answer_unbind)
                await conn.unbind(timeout=5)
            await conn.wait_closed()  # close() is asynchronous: run() finishes it
            assert trio.current_time() == start
            assert conn.session.state is SessionState.CLOSED
            assert [event async for event in conn.incoming] == [Unbound(status=CommandStatus.ESME_ROK)]


async def test_unbind_is_bounded_by_its_timeout_when_the_peer_is_silent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = attrs.evolve(QUIET, response_timeout=30.0)
    with trio.fail_after(100):
        async with raw_pair(config) as (conn, peer):
            start = trio.current_time()
            await conn.unbind(timeout=2.0)
            assert trio.current_time() == start + 2.0
            await conn.wait_closed()
            assert trio.current_time() == start + 2.0
            _, pdu = await peer.receive()
            assert pdu == Unbind()
            await peer.expect_eof()


# -- cancellation ----------------------------------------------------------------------


async def test_cancelled_request_leaves_no_residue_and_its_late_response_is_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(100):
        async with raw_pair() as (conn, peer):
            with trio.move_on_after(1) as scope:
                await conn.request(submit(1))
            assert scope.cancelled_caught
            header, _ = await peer.receive()
            assert not conn._callbacks  # the cancelled caller left no callback behind
            assert len(conn.session.window) == 1  # the request itself is still in flight

            await peer.send(SubmitSmResp(message_id="late"), header.sequence_number)
            results: list[Response | SmppError] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(outcome_of, conn, submit(2), results)
                header2, _ = await peer.receive()
                await peer.send(SubmitSmResp(message_id="fresh"), header2.sequence_number)
            assert results == [SubmitSmResp(message_id="fresh")]
            assert len(conn.session.window) == 0  # the late response freed its slot
            assert nothing_incoming(conn)  # and was dropped without a word
            assert not conn.closed


# -- requests from the peer ------------------------------------------------------------


async def test_deliver_sm_arrives_on_incoming_and_send_response_answers_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    deliver = DeliverSm(source_addr="4479002", destination_addr="4479001", short_message=b"MO text")
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            await peer.send(deliver, 42)
            event = await conn.incoming.receive()
            assert event == RequestReceived(sequence_number=42, pdu=deliver)

            conn.send_response(42, DeliverSmResp())
            header, pdu = await peer.receive()
            assert (header.command_id, header.command_status, header.sequence_number) == (
                CommandId.DELIVER_SM_RESP,
                CommandStatus.ESME_ROK,
                42,
            )
            assert pdu == DeliverSmResp()
            assert conn.statistics().responses_owed == 0


async def test_an_answer_after_the_peer_closed_is_dropped_not_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A deliver_sm_resp deferred to a group commit, sent after the peer's EOF closed the
    # session but before the connection finished closing (it was a crash of the gateway).
    deliver = DeliverSm(source_addr="4479002", destination_addr="4479001", short_message=b"id:1 stat:DELIVRD")
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            await peer.send(deliver, 42)
            assert await conn.incoming.receive() == RequestReceived(sequence_number=42, pdu=deliver)
            await peer.stream.aclose()
            while conn.session.state is not SessionState.CLOSED:
                await trio.sleep(0)
            assert not conn.closed  # the window: the session is closed, the connection not yet
            conn.send_response(42, DeliverSmResp())
            conn.send_nack(43, CommandStatus.ESME_RSYSERR)
            await conn.wait_closed()


@pytest.mark.parametrize(
    ("mode", "request_pdu", "answer_id", "status"),
    [
        pytest.param(
            BindMode.TX, DeliverSm(destination_addr="1"), CommandId.DELIVER_SM_RESP,
            CommandStatus.ESME_RINVBNDSTS, id="deliver_sm-to-transmitter",
        ),
        pytest.param(
            None, DeliverSm(destination_addr="1"), CommandId.DELIVER_SM_RESP,
            CommandStatus.ESME_RINVBNDSTS, id="deliver_sm-before-bind",
        ),
        pytest.param(
            BindMode.TRX, SubmitSm(destination_addr="1"), CommandId.SUBMIT_SM_RESP,
            CommandStatus.ESME_RINVBNDSTS, id="submit_sm-to-an-esme",
        ),
        pytest.param(
            BindMode.TRX, BindTransmitter(system_id="x"), CommandId.BIND_TRANSMITTER_RESP,
            CommandStatus.ESME_RALYBND, id="bind-on-a-bound-session",
        ),
    ],
)  # fmt: skip
async def test_request_in_the_wrong_state_is_answered_automatically(
    autojump_clock: trio.testing.MockClock,
    mode: BindMode | None,
    request_pdu: Request,
    answer_id: CommandId,
    status: CommandStatus,
) -> None:
    with trio.fail_after(5):
        async with raw_pair(mode=mode) as (conn, peer):
            await peer.send(request_pdu, 9)
            header, _ = await peer.receive()
            assert (header.command_id, header.command_status, header.sequence_number) == (
                answer_id,
                status,
                9,
            )
            event = await conn.incoming.receive()
            assert isinstance(event, ProtocolViolation)
            assert (event.nack_queued, event.sequence_number) == (True, 9)
            assert event.error.command_status == status
            assert not conn.closed


async def test_unknown_command_gets_generic_nack_and_the_connection_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            await peer.send_bytes(struct.pack(">IIII", 16, 0x0000_0099, 0, 9))
            header, pdu = await peer.receive()
            assert header == (16, CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDID, 9)
            assert pdu == GenericNack()
            event = await conn.incoming.receive()
            assert isinstance(event, ProtocolViolation)
            assert isinstance(event.error, InvalidCommandId)

            results: list[Response | SmppError] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(outcome_of, conn, SUBMIT, results)
                header, _ = await peer.receive()
                await peer.send(SubmitSmResp(message_id="after"), header.sequence_number)
            assert results == [SubmitSmResp(message_id="after")]


async def test_lost_framing_gets_generic_nack_then_the_connection_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    esme_stream, peer_stream = trio.testing.memory_stream_pair()
    conn, peer = esme_connection(esme_stream), RawPeer(peer_stream)
    results: list[Response | SmppError] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:  # exits only once run() returned
            await nursery.start(conn.run)
            await bind_raw(conn, peer)
            nursery.start_soon(outcome_of, conn, SUBMIT, results)
            await peer.receive()
            await peer.send_bytes(b"\x00\x00\x00\x08\x00\x00\x00\x04")  # command_length 8
            header, _ = await peer.receive()
            assert header == (16, CommandId.GENERIC_NACK, CommandStatus.ESME_RINVCMDLEN, 0)
            await peer.expect_eof()
        assert len(results) == 1
        assert isinstance(results[0], ConnectionLost)
        events = [event async for event in conn.incoming]
        assert len(events) == 1
        assert isinstance(events[0], ProtocolViolation)
        assert isinstance(events[0].error, InvalidCommandLength)
        assert conn.closed


# -- raw octets and closing ------------------------------------------------------------


async def read_exactly(peer: RawPeer, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await peer.receive_bytes()
        assert chunk, f"EOF after {data!r}"
        data += chunk
    return data


async def test_send_raw_octets_reach_the_peer_in_order(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            conn.send_raw(b"\x01\x02")
            conn.send_raw(b"\x03")
            await trio.testing.wait_all_tasks_blocked()
            conn.send_raw(b"\x04\x05")
            assert await read_exactly(peer, 5) == b"\x01\x02\x03\x04\x05"


async def test_send_raw_after_a_request_leaves_after_it(autojump_clock: trio.testing.MockClock) -> None:
    """Fault injection needs call order on the wire: "a valid submit_sm, then junk"."""
    junk = b"\xff" * 16
    with trio.fail_after(5):
        async with raw_pair() as (conn, peer):
            seq = conn.start_request(SUBMIT, lambda _: None)
            conn.send_raw(junk)
            expected = encode_pdu(SUBMIT, seq) + junk
            assert await read_exactly(peer, len(expected)) == expected


async def test_close_ends_run_and_fails_requests_in_flight(autojump_clock: trio.testing.MockClock) -> None:
    esme_stream, peer_stream = trio.testing.memory_stream_pair()
    conn, peer = esme_connection(esme_stream), RawPeer(peer_stream)
    results: list[Response | SmppError] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:  # exits only once run() returned
            await nursery.start(conn.run)
            await bind_raw(conn, peer)
            start = trio.current_time()
            async with trio.open_nursery() as requests:
                for n in range(2):
                    requests.start_soon(outcome_of, conn, submit(n), results)
                for _ in range(2):
                    await peer.receive()
                conn.close()
        assert trio.current_time() == start
        assert len(results) == 2
        assert all(isinstance(r, ConnectionLost) for r in results), results
        assert conn.closed
        assert conn.close_reason == "closed locally"
        await peer.expect_eof()

        with pytest.raises(ConnectionLost):
            conn.start_request(SUBMIT, lambda _: None)
        with pytest.raises(ConnectionLost):
            await conn.request(SUBMIT)
        with pytest.raises(ConnectionLost):
            await conn.wait_for_room()
        conn.send_response(1, DeliverSmResp())  # silently dropped, never raises


async def test_start_request_on_a_connection_closed_before_run_raises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    esme_stream, _ = trio.testing.memory_stream_pair()
    conn = esme_connection(esme_stream)
    conn.close()
    assert conn.closed
    with pytest.raises(ConnectionLost):
        conn.start_request(BindTransmitter(system_id="x"), lambda _: None)


async def test_closing_while_the_writer_is_blocked_does_not_crash_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """``run`` "never raises for network trouble". Here the peer stops reading, so the
    writer sits in ``send_all``; then the peer unbinds. The reader's close path writes
    the unbind_resp itself, concurrently with the writer, which a trio stream refuses
    with BusyResourceError."""
    esme_stream, peer_stream = trio.testing.lockstep_stream_pair()
    conn, peer = esme_connection(esme_stream), RawPeer(peer_stream)
    with trio.fail_after(50):
        async with trio.open_nursery() as nursery:
            await nursery.start(conn.run)
            await bind_raw(conn, peer)
            conn.send_raw(b"\x00")  # the peer will not read this: the writer blocks
            await trio.testing.wait_all_tasks_blocked()
            await peer.send(Unbind(), 3)
            await trio.testing.wait_all_tasks_blocked()
            await peer.stream.aclose()
        assert conn.closed
