"""GroupCommit: deliver_sm answers leave only after a commit, one commit carries many
batches, and answers nobody commits for go out ``max_delay`` after the SMSC went quiet,
at most ``max_wait`` after the first (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import DeliverSmResp
from smppgw.gateway.commit import GroupCommit
from smppgw.store.base import StoreError


class _Conn:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def send_response(self, sequence_number: int, pdu: Any, status: int = 0) -> None:
        self.log.append(("answer", sequence_number, status))


def _answers(conn: Any, *seqs: int) -> list[Any]:
    return [(conn, seq, DeliverSmResp(), 0) for seq in seqs]


async def test_answers_wait_for_the_commit_and_one_commit_carries_every_batch() -> None:
    log: list[Any] = []
    group = GroupCommit(lambda: log.append("commit"))
    conn: Any = _Conn(log)
    group.defer(_answers(conn, 1, 2))
    group.defer(_answers(conn, 3))
    assert log == []  # nothing answered before a commit
    group.commit_now()  # e.g. a dispatcher's, before it yields
    assert log == ["commit", ("answer", 1, 0), ("answer", 2, 0), ("answer", 3, 0)]
    assert group.commits == 1


async def test_answers_nobody_commits_for_go_out_after_max_delay(autojump_clock: MockClock) -> None:
    log: list[Any] = []
    group = GroupCommit(lambda: log.append(("commit", trio.current_time())), max_delay=0.005)
    conn: Any = _Conn(log)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(group.run)
        await trio.sleep(1.0)
        start = trio.current_time()
        group.defer(_answers(conn, 7))
        await trio.sleep(0.001)
        assert log == []  # still waiting for a commit
        await trio.sleep(0.01)
        assert log[0][0] == "commit" and log[0][1] - start == pytest.approx(0.005)
        assert log[1:] == [("answer", 7, 0)]
        nursery.cancel_scope.cancel()


async def test_a_stream_of_answers_is_committed_max_wait_after_the_first(autojump_clock: MockClock) -> None:
    log: list[Any] = []
    group = GroupCommit(lambda: log.append(("commit", trio.current_time())), max_delay=0.002, max_wait=0.01)
    conn: Any = _Conn(log)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(group.run)
        await trio.sleep(1.0)
        start = trio.current_time()
        for seq in range(15):  # a receipt every 1.5 ms: never quiet for max_delay
            group.defer(_answers(conn, seq))
            await trio.sleep(0.0015)
        await trio.sleep(0.02)
        commits = [entry[1] - start for entry in log if entry[0] == "commit"]
        # 10 ms after the first answer (0..6), 10 ms after the next one (7..13), then 2 ms
        # after the last (14, at 21 ms): quiet.
        assert commits == [pytest.approx(0.01), pytest.approx(0.0205), pytest.approx(0.023)]
        answered: list[list[int]] = []  # the answers each commit carried
        for entry in log:
            if entry[0] == "commit":
                answered.append([])
            else:
                answered[-1].append(entry[1])
        assert answered == [list(range(7)), list(range(7, 14)), [14]]
        nursery.cancel_scope.cancel()


async def test_a_failed_commit_answers_esme_rx_t_appn_and_raises() -> None:
    log: list[Any] = []

    def broken() -> None:
        raise StoreError("store OperationalError: disk I/O error")

    group = GroupCommit(broken)
    conn: Any = _Conn(log)
    group.defer(_answers(conn, 1))
    with pytest.raises(StoreError):
        group.commit_now()
    assert log == [("answer", 1, CommandStatus.ESME_RX_T_APPN)]


async def test_without_a_durable_store_answers_go_out_at_once() -> None:
    log: list[Any] = []
    group = GroupCommit(None)
    group.defer(_answers(_Conn(log), 4))
    assert log == [("answer", 4, 0)]
    assert not group.durable
