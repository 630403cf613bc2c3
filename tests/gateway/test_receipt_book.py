"""ReceiptBook: part and message statuses from receipts (DESIGN §3; checklist 69-70)."""

from __future__ import annotations

import logging

import pytest

from smppgw.core.constants import MessageState
from smppgw.core.receipt import Receipt
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.store.base import MessageRecord, PartRecord, Status, StoreError
from smppgw.store.memory import MemoryStore


def book() -> tuple[ReceiptBook, list[Status]]:
    changes: list[Status] = []
    return ReceiptBook(
        metrics=GatewayMetrics(), hold=60.0, bases={}, on_change=lambda m: changes.append(m.status)
    ), changes


def message(parts: int) -> MessageRecord:
    record = MessageRecord(id="m", source="12345", destination="447700900001", text="x")
    record.parts = [PartRecord(index=i + 1, total=parts) for i in range(parts)]
    return record


def receipt(smsc_id: str, state: MessageState) -> Receipt:
    return Receipt(message_id=smsc_id, state=state, stat=state.stat)


def test_interim_never_overwrites_final_and_duplicates_change_nothing() -> None:
    b, _ = book()
    m = message(1)
    b.submitted("a", m, m.parts[0], "1", 0.0)
    assert m.status is Status.SUBMITTED
    b.receipt("a", receipt("1", MessageState.ENROUTE), 1.0)
    assert m.status is Status.EN_ROUTE and m.parts[0].receipt_stat == "ENROUTE"  # issue 13: en_route
    b.receipt("a", receipt("1", MessageState.DELIVERED), 2.0)
    assert m.status is Status.DELIVERED
    b.receipt("a", receipt("1", MessageState.ENROUTE), 3.0)  # late interim
    b.receipt("a", receipt("1", MessageState.DELIVERED), 4.0)  # duplicate
    b.expire(70.0)  # a receipt for a final part waits out the hold (it may be a reused id's)
    assert m.status is Status.DELIVERED and m.parts[0].receipt_stat == "DELIVRD"
    assert m.parts[0].receipt_at == 2.0 and m.parts[0].receipts == 4
    assert b.duplicates == 1 and b.applied == 1


def test_multi_part_worst_status_wins() -> None:
    b, changes = book()
    m = message(3)
    for i, part in enumerate(m.parts):
        b.submitted("a", m, part, str(i + 1), 0.0)
    assert m.status is Status.SUBMITTED
    b.receipt("a", receipt("1", MessageState.DELIVERED), 1.0)
    b.receipt("a", receipt("2", MessageState.EXPIRED), 1.0)
    assert not m.is_final
    b.receipt("a", receipt("3", MessageState.UNDELIVERABLE), 1.0)
    assert m.status is Status.UNDELIVERABLE and m.error == "UNDELIV"
    assert [p.status for p in m.parts] == [Status.DELIVERED, Status.EXPIRED, Status.UNDELIVERABLE]
    assert changes[-1] is Status.UNDELIVERABLE


def test_early_receipt_applied_when_the_resp_arrives() -> None:
    b, _ = book()
    m = message(1)
    assert not b.receipt("a", receipt("77", MessageState.DELIVERED), 0.0)
    assert m.status is Status.ACCEPTED
    b.submitted("a", m, m.parts[0], "77", 0.5)
    assert m.status is Status.DELIVERED
    assert b.correlator.matched_early == 1


def test_unknown_stat_is_undeliverable_and_kept_raw() -> None:
    b, _ = book()
    m = message(1)
    b.submitted("a", m, m.parts[0], "5", 0.0)
    b.receipt("a", Receipt(message_id="5", state=MessageState.UNKNOWN, stat="FAILED"), 1.0)
    assert m.status is Status.UNDELIVERABLE and m.parts[0].receipt_stat == "FAILED"


def test_a_failed_correlation_sweep_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    """A store that can't write a moment (e.g. the file locked by another process past
    its busy timeout) must not end the gateway: the sweep is housekeeping."""
    store = MemoryStore()
    calls: list[float] = []

    def locked(before: float, limit: int = 10_000) -> int:
        calls.append(before)
        raise StoreError("database is locked")

    store.expire_correlations = locked  # type: ignore[method-assign]
    b = ReceiptBook(metrics=GatewayMetrics(), hold=60.0, bases={}, on_change=lambda m: None, store=store)
    with caplog.at_level(logging.WARNING):
        b.expire(10.0)
        b.expire(10.5)  # within the second: no new attempt
        b.expire(11.5)
    assert len(calls) == 2
    assert "correlation sweep failed" in caplog.text and "database is locked" in caplog.text
