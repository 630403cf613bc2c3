"""The seams ``smppgw.net`` offers its users: what a bind pool asks an ``SmppConnection``
(``can_submit``, ``in_flight``, so the gateway never reads the session's window or
permission table itself), and the injectable ``connect`` (here through ``open_esme``)."""

from __future__ import annotations

import attrs
import trio
import trio.testing

from smppgw.core.pdu import SubmitSm, SubmitSmResp
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import BindMode, Role
from smppgw.net import SmppConnection, open_esme
from tests.net.smpp_peers import QUIET, ScriptedSmsc, bound_pair

SUBMIT = SubmitSm(source_addr="4479001", destination_addr="4479002", short_message=b"hello")
WINDOW_3 = attrs.evolve(QUIET, window=3)


def ignore(outcome: object) -> None:
    return None


async def test_can_submit_follows_the_window(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with bound_pair(WINDOW_3) as (conn, smsc):
            smsc.hold = True
            assert conn.can_submit() and conn.in_flight == 0
            for n in range(1, 4):
                conn.start_request(SUBMIT, ignore)
                assert conn.in_flight == n
            assert not conn.can_submit()  # the window is full
            await trio.testing.wait_all_tasks_blocked()
            smsc.release(1)
            await trio.testing.wait_all_tasks_blocked()
            assert conn.can_submit() and conn.in_flight == 2


async def test_a_receiver_bind_cannot_submit(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with bound_pair(mode=BindMode.RX) as (conn, _):
            assert conn.in_flight == 0
            assert not conn.can_submit()


async def test_a_closed_connection_cannot_submit(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(5):
        async with bound_pair(SessionConfig(enquire_link_interval=None)) as (conn, _):
            assert conn.can_submit()
            conn.close("test")
            await trio.testing.wait_all_tasks_blocked()
            assert conn.closed and not conn.can_submit()


async def test_open_esme_opens_its_stream_through_the_injected_connect(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[tuple[str, int, float, object]] = []
    async with trio.open_nursery() as nursery:

        async def connect(host: str, port: int, *, timeout: float, ssl_context: object) -> trio.abc.Stream:
            calls.append((host, port, timeout, ssl_context))
            ours, theirs = trio.testing.memory_stream_pair()
            smsc = ScriptedSmsc(SmppConnection(theirs, Session(Role.SMSC, QUIET, now=trio.current_time())))
            await nursery.start(smsc.conn.run)
            nursery.start_soon(smsc.serve)
            return ours

        with trio.fail_after(5):
            async with open_esme(
                "smsc.example", 2775, system_id="id", password="pw", connect=connect, connect_timeout=3.0
            ) as conn:
                assert isinstance(await conn.request(SUBMIT), SubmitSmResp)
        nursery.cancel_scope.cancel()
    assert calls == [("smsc.example", 2775, 3.0, None)]
