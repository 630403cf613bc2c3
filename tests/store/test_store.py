"""The store protocols (store/base.py), one suite run against every backend: both must
give the same answers, so the API, ``smppgw send`` and tests can use either."""

from __future__ import annotations

import pytest

from smppgw.store.base import MessageQuery, OptOutRecord, PartRecord, Status, Store, StoreError
from tests.store.helpers import Backend, record


def test_every_backend_implements_the_combined_protocol(backend: Backend) -> None:
    assert isinstance(backend.open(), Store)


def test_a_batch_with_a_duplicate_is_refused_whole(backend: Backend) -> None:
    store = backend.open()
    store.add([record(1, idempotency_key="k")])
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add([record(2), record(3, idempotency_key="k")])
    assert store.get(record(2).id) is None and store.counts() == {"accepted": 1}
    assert store.find_key("k") is not None and store.find_key("nope") is None


def test_a_repeated_id_or_key_is_refused_within_a_batch_and_against_the_store(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add([record(1), record(1)])
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add([record(1, idempotency_key="k"), record(2, idempotency_key="k")])
    assert store.counts() == {}
    store.add([record(1)])
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add([record(1)])
    assert store.counts() == {"accepted": 1}


def test_find_key_and_get_answer_the_newest_state(backend: Backend) -> None:
    store = backend.open()
    r = record(1, idempotency_key="key-1")
    store.add([r])
    r.status = Status.SUBMITTED
    store.save(r)
    found = store.find_key("key-1")
    assert found is not None and found.id == r.id and found.status is Status.SUBMITTED
    got = store.get(r.id)
    assert got is not None and got.status is Status.SUBMITTED
    assert store.get("0" * 32) is None


def test_counts_see_saved_changes(backend: Backend) -> None:
    store = backend.open()
    records = [record(i) for i in range(4)]
    store.add(records)
    for r in records[:3]:
        r.status = Status.DELIVERED
        store.save(r)
    assert store.counts() == {"delivered": 3, "accepted": 1}


def test_unfinished_lists_what_a_restart_must_resume_oldest_first(backend: Backend) -> None:
    store = backend.open()
    store.add(
        [record(3, status=Status.QUEUED), record(1, status=Status.SUBMITTED), record(2, status=Status.FAILED)]
    )
    assert [r.id for r in backend.reopen().unfinished()] == [record(1).id, record(3).id]


def test_messages_that_need_no_more_work_are_not_resumed(backend: Backend) -> None:
    store = backend.open()
    no_receipt = record(1, dlr=False, status=Status.SUBMITTED)  # where a dlr=false message ends
    waiting = record(2, status=Status.SUBMITTED)  # still waits for its receipt
    blocked = record(3, status=Status.BLOCKED)
    store.add([no_receipt, waiting, blocked])
    assert [r.id for r in backend.reopen().unfinished()] == [waiting.id]
    waiting.status = Status.DELIVERED
    store.save(waiting)
    store.flush()
    assert backend.reopen().unfinished() == []


def test_parts_and_fields_read_back(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    r = record(
        1, tags=("a",), validity=60.0, priority=2, callback_url="http://x/y", reference=7,
        parts=[PartRecord(index=1, total=1, status=Status.SUBMITTED, smsc_message_id="AB", submitted_at=101.5)],
    )  # fmt: skip
    store.add([r])
    back = backend.reopen().get(r.id)
    assert back is not None and back.tags == ("a",) and back.reference == 7 and back.priority == 2
    assert back.parts[0].smsc_message_id == "AB" and back.parts[0].submitted_at == pytest.approx(101.5)
    assert store.wall(back.parts[0].submitted_at) == pytest.approx(1_101.5) and store.wall(None) is None


def test_inbound_and_opt_outs(backend: Backend) -> None:
    store = backend.open(clock_offset=10.0)
    for i in range(3):
        kept = store.add_inbound(
            smsc="a", source=f"4477{i}", destination="12345", text=f"YES {i}", data_coding=0, parts=1,
            complete=i != 2, received_at=5.0,
        )  # fmt: skip
        assert kept.seq == i + 1 and kept.received_at == 15.0
    listed = store.inbound(after=1, limit=10)
    assert [m.text for m in listed] == ["YES 1", "YES 2"] and listed[1].complete is False
    assert store.inbound(limit=1)[0].seq == 1
    assert store.inbound(after=3) == []
    assert not store.is_opted_out("447700900001")
    store.opt_out("447700900001", now=1.0, reason="STOP")
    store.opt_out("447700900001", now=2.0)  # again: keeps the first
    assert store.get_opt_out("447700900001") == OptOutRecord(
        number="447700900001", created_at=11.0, reason="STOP"
    )
    assert store.is_opted_out("447700900001") and store.get_opt_out("447700900002") is None
    assert store.opt_in("447700900001") and not store.opt_in("447700900001")
    assert not store.is_opted_out("447700900001")


def test_inbound_and_opt_outs_outlive_a_restart_where_the_store_is_durable(backend: Backend) -> None:
    store = backend.open()
    store.add_inbound(
        smsc="a", source="44770", destination="12345", text="STOP", data_coding=0, parts=1, complete=True,
        received_at=1.0,
    )  # fmt: skip
    store.opt_out("447700900001", now=1.0)
    store.close()
    again = backend.reopen()
    assert [m.text for m in again.inbound()] == ["STOP"] and again.is_opted_out("447700900001")


def test_close_flushes_what_save_kept_back(backend: Backend) -> None:
    store = backend.open()
    r = record(1)
    store.add([r])
    r.status = Status.DELIVERED
    store.save(r)
    store.close()
    again = backend.reopen().get(r.id)
    assert again is not None and again.status is Status.DELIVERED


def test_listing_pages_newest_first_through_ties_and_filters(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    records = [
        record(i, created_at=100.0 + i // 2, tags=("a",) if i % 2 else (),
               status=Status.DELIVERED if i % 3 == 0 else Status.QUEUED)
        for i in range(10)
    ]  # fmt: skip
    store.add(records)
    seen: list[str] = []
    before = None
    for _ in range(10):
        page, before = store.list_messages(MessageQuery(limit=3, before=before))
        seen += [m.id for m in page]
        if before is None:
            break
    newest_first = sorted(records, key=lambda m: (m.created_at, m.id), reverse=True)
    assert seen == [m.id for m in newest_first]  # two messages per second: ties ordered by id
    tagged, after = store.list_messages(MessageQuery(tag="a", status=Status.QUEUED, limit=100))
    assert after is None
    assert [m.id for m in tagged] == [
        m.id for m in newest_first if "a" in m.tags and m.status is Status.QUEUED
    ]
    window, _ = store.list_messages(MessageQuery(since=1_102.0, until=1_104.0))
    assert sorted(m.id for m in window) == sorted(record(i).id for i in range(4, 8))
