"""The durability order of DESIGN §3, over memory streams in virtual time.

- A batch of deliver_sm (receipts and MO parts) read together is committed once, then
  answered: no deliver_sm_resp leaves before the store's commit (group commit).
- A part is ``submitting`` in a commit before its submit_sm reaches the SMSC, with one
  commit per dispatch batch.
- MO parts held for reassembly are in the store and a restarted gateway reloads them.

The SMSC here is scripted (``_Smsc``): it binds anyone, answers submit_sm with its own
ids, and sends deliver_sm only when the test says, all in one write, so the gateway
reads them as one batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.constants import CommandStatus, EsmClass, MessageState
from smppgw.core.events import Event, RequestReceived
from smppgw.core.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    Response,
    SubmitSm,
    SubmitSmResp,
)
from smppgw.core.receipt_format import format_receipt
from smppgw.core.session import SessionConfig
from smppgw.gateway.commit import GroupCommit
from smppgw.gateway.deliveries import Deliveries
from smppgw.gateway.inbound import Inbound, InboundMessage
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.net.connection import SmppConnection
from smppgw.net.server import handle_stream
from smppgw.store.base import InboundPart, MessageRecord, Status, StoreError
from smppgw.store.memory import MemoryStore
from smppgw.store.sqlite import SqliteStore
from tests.gateway.helpers import MEMORY_HOST, dest, gateway, memory_net, wait_until

pytestmark = pytest.mark.usefixtures("autojump_clock")

_QUIET = SessionConfig(window=64, enquire_link_interval=None, bind_timeout=None, response_timeout=30.0)
_BINDS: dict[type[Any], type[Response]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class _Log:
    """One ordered log shared by the store double and the connections' answers."""

    def __init__(self) -> None:
        self.entries: list[Any] = []


class _Store(MemoryStore):
    """A memory store that logs each commit, and what was ``submitting`` at it."""

    def __init__(self, log: _Log) -> None:
        super().__init__()
        self.log = log
        self.commits = 0
        self.committed_submitting: set[str] = set()  # destinations

    def commit(self) -> None:
        self.commits += 1
        self.log.entries.append("commit")
        for m in self.all():
            if any(p.status is Status.SUBMITTING for p in m.parts):
                self.committed_submitting.add(m.destination)


class _Smsc:
    """A scripted SMSC on the test's MemoryNet (one bind at a time is enough). It answers
    each submit_sm at once, or ``answer_after(n)`` seconds later (n: its count from 1)."""

    def __init__(self, log: _Log, answer_after: Callable[[int], float] | None = None) -> None:
        self.log = log
        self.answer_after = answer_after
        self.conns: list[SmppConnection] = []
        self.ids = itertools.count(1)
        self.submitted: dict[str, str] = {}  # destination -> the id we gave
        self.answered: list[int] = []  # sequence numbers of deliver_sm the gateway answered

    async def handle(self, conn: SmppConnection) -> None:
        async def answer_later(sequence_number: int, smsc_id: str, delay: float) -> None:
            await trio.sleep(delay)
            conn.send_response(sequence_number, SubmitSmResp(message_id=smsc_id))

        async with trio.open_nursery() as nursery:

            def on_event(event: Event) -> None:
                if not isinstance(event, RequestReceived):
                    return
                pdu = event.pdu
                if type(pdu) in _BINDS:
                    conn.send_response(event.sequence_number, _BINDS[type(pdu)]())
                elif isinstance(pdu, SubmitSm):
                    # The part must have been committed as submitting before it got here.
                    self.log.entries.append(("submit_sm", pdu.destination_addr))
                    n = next(self.ids)
                    smsc_id = self.submitted[pdu.destination_addr] = f"zz{n}"
                    if self.answer_after is None:
                        conn.send_response(event.sequence_number, SubmitSmResp(message_id=smsc_id))
                    else:
                        nursery.start_soon(answer_later, event.sequence_number, smsc_id, self.answer_after(n))

            conn.on_event = on_event
            self.conns.append(conn)
            await conn.wait_closed()
            nursery.cancel_scope.cancel()

    def deliver(self, pdus: list[DeliverSm]) -> None:
        """Queue every deliver_sm at once: they leave in one write (one read there)."""
        conn = next(c for c in self.conns if not c.closed)
        for pdu in pdus:
            conn.start_request(pdu, lambda outcome: self.answered.append(outcome.sequence_number))


def _listen(smsc: _Smsc, nursery: trio.Nursery) -> int:
    async def serve(stream: trio.abc.Stream) -> None:
        await handle_stream(stream, handler=smsc.handle, config=_QUIET)

    return memory_net().listen(serve, nursery)


def _table(port: int) -> dict[str, Any]:
    # A wide window: a 16 KiB read holds the whole batch of deliver_sm.
    return {"name": "a", "host": MEMORY_HOST, "port": port, "system_id": "gw", "password": "pw",
            "binds": 1, "window": 1000, "enquire_link_interval": 300.0}  # fmt: skip


def _receipt(smsc_id: str) -> DeliverSm:
    text = format_receipt(
        message_id=smsc_id, state=MessageState.DELIVERED, submit_date="2601011200", done_date="2601011201"
    )
    return DeliverSm(
        source_addr="447700900001", destination_addr="12345", esm_class=0x04, short_message=text.encode()
    )


def _mo_part(seqnum: int, text: bytes, reference: int = 7, total: int = 3) -> DeliverSm:
    udh = bytes([5, 0x00, 3, reference, total, seqnum])
    return DeliverSm(
        source_addr="447700900099",
        destination_addr="12345",
        esm_class=EsmClass.UDHI,
        short_message=udh + text,
    )


def _log_answers(monkeypatch: pytest.MonkeyPatch, log: _Log) -> None:
    """Log every deliver_sm_resp the gateway's connections queue, in order with commits."""
    original = SmppConnection.send_response

    def send_response(self: SmppConnection, sequence_number: int, pdu: Response, status: int = 0) -> None:
        if isinstance(pdu, DeliverSmResp):
            log.entries.append(("answer", sequence_number, status))
        original(self, sequence_number, pdu, status)

    monkeypatch.setattr(SmppConnection, "send_response", send_response)


async def test_a_batch_of_receipts_and_mo_parts_is_committed_once_then_answered(
    autojump_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _Log()
    store = _Store(log)
    smsc = _Smsc(log)
    inbound: list[InboundMessage] = []
    async with trio.open_nursery() as nursery:
        port = _listen(smsc, nursery)
        async with gateway(_table(port), store=store, inbound_handler=inbound.append) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(20)]
            assert await wait_until(lambda: len(smsc.submitted) == 20 and all(
                r.parts[0].status is Status.SUBMITTED for r in records), 10)  # fmt: skip
            _log_answers(monkeypatch, log)
            log.entries.clear()
            commits_before = store.commits
            # 20 receipts and 2 of the 3 parts of an MO, in one write: one read batch.
            smsc.deliver([_receipt(smsc.submitted[r.destination]) for r in records])
            smsc.deliver([_mo_part(1, b"Hello, "), _mo_part(2, b"wor")])
            assert await wait_until(lambda: len(smsc.answered) == 22, 10)
            assert all(r.status is Status.DELIVERED for r in records)
            # Exactly one commit for the batch, and it came before every answer.
            assert store.commits - commits_before == 1
            assert log.entries[0] == "commit"
            assert [e[0] for e in log.entries[1:]] == ["answer"] * 22
            assert all(e[2] == CommandStatus.ESME_ROK for e in log.entries[1:])
            # The two MO parts were acknowledged: they are in the store, held.
            held = store.inbound_parts("a")
            assert [(p.seqnum, p.payload) for p in held] == [(1, b"Hello, "), (2, b"wor")]
            assert inbound == []
        nursery.cancel_scope.cancel()


async def test_mo_parts_held_for_reassembly_are_reloaded_after_a_restart(autojump_clock: MockClock) -> None:
    log = _Log()
    store = _Store(log)
    smsc = _Smsc(log)
    before: list[InboundMessage] = []
    after: list[InboundMessage] = []
    async with trio.open_nursery() as nursery:
        port = _listen(smsc, nursery)
        async with gateway(_table(port), store=store, inbound_handler=before.append):
            smsc.deliver([_mo_part(1, b"Hello, "), _mo_part(2, b"wor")])
            assert await wait_until(lambda: len(smsc.answered) == 2, 10)
        # The first gateway is gone (its reassembler with it); a new one on the same store.
        assert len(store.inbound_parts("a")) == 2
        async with gateway(_table(port), store=store, inbound_handler=after.append) as gw:
            assert len(gw.smscs["a"].deliveries.inbound.reassembler) == 1  # the group, reloaded
            smsc.deliver([_mo_part(3, b"ld")])
            assert await wait_until(lambda: len(after) == 1, 10)
        assert before == []
        assert (after[0].text, after[0].parts, after[0].complete) == ("Hello, world", 3, True)
        assert store.inbound_parts("a") == []  # whole and handed over: no longer held
        nursery.cancel_scope.cancel()


async def test_submitting_is_committed_before_the_submit_sm_is_written_once_per_batch(
    autojump_clock: MockClock,
) -> None:
    log = _Log()
    store = _Store(log)
    smsc = _Smsc(log)
    async with trio.open_nursery() as nursery:
        port = _listen(smsc, nursery)
        async with gateway(_table(port), store=store) as gw:
            commits_before = store.commits
            records: list[MessageRecord] = [
                gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(50)
            ]
            assert await wait_until(lambda: len(smsc.submitted) == 50, 10)
            sent = [e[1] for e in log.entries if isinstance(e, tuple) and e[0] == "submit_sm"]
            assert sorted(sent) == sorted(r.destination for r in records)
            # Each submit_sm reached the SMSC after a commit that saw its part submitting...
            first_commit = log.entries.index("commit")
            assert all(isinstance(e, str) or log.entries.index(e) > first_commit for e in log.entries)
            assert set(sent) <= store.committed_submitting
            # ... and the 50 parts, dispatched in one go, took one commit, not 50.
            assert store.commits - commits_before == 1
        nursery.cancel_scope.cancel()


async def test_a_full_window_is_refilled_a_quarter_at_a_time_not_a_commit_per_response() -> None:
    log = _Log()
    store = _Store(log)
    smsc = _Smsc(log, answer_after=lambda n: 0.01 + 0.001 * n)  # each response on its own
    async with trio.open_nursery() as nursery:
        port = _listen(smsc, nursery)
        async with gateway({**_table(port), "window": 8}, store=store) as gw:
            commits_before = store.commits
            for i in range(64):
                gw.submit(source="12345", destination=dest(i), text=f"m{i}")
            assert await wait_until(lambda: len(smsc.submitted) == 64, 10)
            # Every response came on its own; the window (8) was refilled 2 at a time
            # (a quarter), so at most 64 / 2 dispatch commits (24 here), not one per response.
            assert store.commits - commits_before <= 64 // 2  # (over 40 when each response woke it)
            sent = [e[1] for e in log.entries if isinstance(e, tuple) and e[0] == "submit_sm"]
            assert len(sent) == 64 and set(sent) <= store.committed_submitting
        nursery.cancel_scope.cancel()


async def test_a_failed_commit_answers_the_batch_esme_rx_t_appn_so_the_smsc_redelivers() -> None:
    answers: list[tuple[int, int]] = []

    class _Conn:
        event_time = 1.0

        def send_response(self, sequence_number: int, pdu: Response, status: int = 0) -> None:
            answers.append((sequence_number, status))

    def broken_commit() -> None:
        raise StoreError("store OperationalError: disk I/O error")

    metrics = GatewayMetrics()
    book = ReceiptBook(metrics=metrics, hold=60.0, bases={}, on_change=lambda record: None)
    group = GroupCommit(broken_commit)
    deliveries = Deliveries("a", book, Inbound(), metrics, group=group)
    conn: Any = _Conn()
    deliveries.on_event(conn, RequestReceived(sequence_number=1, pdu=_receipt("zz1")))
    deliveries.on_event(conn, RequestReceived(sequence_number=2, pdu=_mo_part(1, b"Hi")))
    assert answers == []  # nothing before the commit
    deliveries.end_batch()
    assert answers == []  # handed to the group commit
    with pytest.raises(StoreError):
        group.commit_now()
    assert answers == [(1, CommandStatus.ESME_RX_T_APPN), (2, CommandStatus.ESME_RX_T_APPN)]


async def test_the_sqlite_store_keeps_held_parts_across_a_reopen_until_dropped(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db, clock_offset=100.0)
    part = InboundPart(smsc="a", source="447700900099", destination="12345", reference=7, total=3,
                       seqnum=1, data_coding=0, payload=b"Hello, ", received_at=5.0)  # fmt: skip
    store.add_inbound_part(part)
    assert SqliteStore(db).inbound_parts("a") == []  # staged: durable at the commit
    store.commit()
    assert SqliteStore(db, clock_offset=100.0).inbound_parts("a") == [part]
    assert SqliteStore(db).inbound_parts("b") == []
    store.drop_inbound_parts("a", "447700900099", "12345", 7, 3)
    store.commit()
    assert SqliteStore(db).inbound_parts("a") == []
