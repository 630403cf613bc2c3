"""``SmppConnection``'s behaviour: faults given at construction and read as it runs.

A simulator gives each connection an object it keeps and may change (``PATCH
/behaviour``); the connection reads ``read_delay`` before every read, so a change takes
effect from the next read without anything writing onto the connection.
"""

from __future__ import annotations

import trio
import trio.testing

from smppgw.core.pdu import EnquireLink, EnquireLinkResp
from smppgw.core.session import Session
from smppgw.core.states import Role
from smppgw.net.connection import SmppConnection
from tests.net.smpp_peers import QUIET, RawPeer


class Pacing:
    """A ``ConnectionBehaviour`` its owner changes at run time."""

    def __init__(self, read_delay: float) -> None:
        self.read_delay = read_delay


async def test_read_delay_is_read_from_the_behaviour_before_each_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pacing = Pacing(2.0)
    stream, peer_stream = trio.testing.memory_stream_pair()
    conn = SmppConnection(stream, Session(Role.ESME, QUIET, now=trio.current_time()), behaviour=pacing)
    peer = RawPeer(peer_stream)
    assert conn.behaviour is pacing
    answered_at = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            await nursery.start(conn.run)
            for n in range(3):
                await peer.send(EnquireLink(), n + 1)
                header, pdu = await peer.receive()
                assert (header.sequence_number, pdu) == (n + 1, EnquireLinkResp())
                answered_at.append(trio.current_time() - start)
                pacing.read_delay = 0.0  # the reader is in its next 2 s pause already
            nursery.cancel_scope.cancel()
    assert answered_at == [2.0, 4.0, 4.0]


async def test_without_a_behaviour_a_connection_reads_at_once(autojump_clock: trio.testing.MockClock) -> None:
    stream, peer_stream = trio.testing.memory_stream_pair()
    conn = SmppConnection(stream, Session(Role.ESME, QUIET, now=trio.current_time()))
    peer = RawPeer(peer_stream)
    assert conn.behaviour.read_delay == 0.0
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            await nursery.start(conn.run)
            await peer.send(EnquireLink(), 1)
            await peer.receive()
            assert trio.current_time() == start
            nursery.cancel_scope.cancel()
