"""What a bind pool asks an ``SmppConnection`` (``can_submit``, ``in_flight``), so the
gateway never reads the session's window or permission table itself."""

from __future__ import annotations

import attrs
import trio
import trio.testing

from smppgw.core.pdu import SubmitSm
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode
from tests.net.smpp_peers import QUIET, bound_pair

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
