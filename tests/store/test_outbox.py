"""The outbox's hand-out rule (``EventStore.due_deliveries``), on every backend: a due
delivery is handed out once until its attempt is recorded or the worker releases it;
retries come back when due; a restart (SQLite, Redis) forgets what was handed out."""

from __future__ import annotations

import pytest

from smppgw.store.base import DELIVERED, PENDING, Attempt, Delivery, EventRecord, Store, Target, event_id
from tests.store.helpers import Backend


def event(i: int, at: float = 100.0) -> EventRecord:
    subject = f"{i:032x}"
    return EventRecord(
        id=event_id(subject, 1), type="message.status", subject=subject, sequence=1, occurred_at=at,
        data={"n": i},
    )  # fmt: skip


def routed(backend: Backend) -> Store:
    store = backend.open()
    store.route_events(lambda kind, url: [Target(endpoint="a", url="http://a.test/"),
                                          Target(endpoint="b", url="http://b.test/")])  # fmt: skip
    for i in range(5):
        store.append_event(event(i))
    store.commit()
    return store


def attempt(seq: int, endpoint: str, state: str, next_at: float = 101.0) -> Attempt:
    return Attempt(
        seq=seq, endpoint=endpoint, state=state, at=100.5, next_attempt_at=next_at, status=None, error=None
    )


def test_a_due_delivery_is_handed_out_once_until_recorded(backend: Backend) -> None:
    store = routed(backend)
    first = store.due_deliveries(200.0, limit=3, skip=["b"])
    assert [(d.seq, d.endpoint) for d in first] == [(1, "a"), (2, "a"), (3, "a")]
    assert first[0].body.startswith('{"id":"evt_')
    rest = store.due_deliveries(200.0, limit=100)
    assert {(d.seq, d.endpoint) for d in rest} == {(4, "a"), (5, "a")} | {(i, "b") for i in range(1, 6)}
    assert store.due_deliveries(200.0, limit=100) == []
    # One delivered, one to retry at 150: the retry is handed out again once due.
    store.record_attempts([attempt(1, "a", DELIVERED), attempt(2, "a", PENDING, next_at=150.0)])
    assert store.due_deliveries(120.0, limit=100) == []
    [again] = store.due_deliveries(150.0, limit=100)
    assert (again.seq, again.endpoint, again.attempts, again.state) == (2, "a", 1, PENDING)
    assert store.due_deliveries(150.0, limit=100) == []  # a retry too is handed out once
    # A new event after all that is handed out too.
    store.append_event(event(9))
    store.commit()
    assert {(d.seq, d.endpoint) for d in store.due_deliveries(200.0, limit=100)} == {(6, "a"), (6, "b")}


def test_released_or_after_a_restart_what_was_handed_out_is_due_again(backend: Backend) -> None:
    store = routed(backend)
    taken = store.due_deliveries(200.0, limit=100)
    assert len(taken) == 10
    store.record_attempts([attempt(d.seq, d.endpoint, DELIVERED) for d in taken[:4]])
    store.release_deliveries()
    again = {(d.seq, d.endpoint) for d in store.due_deliveries(200.0, limit=100)}
    assert again == {(d.seq, d.endpoint) for d in taken[4:]}
    if backend.name != "memory":  # durable: SQLite, Redis
        store.close()
        reopened = backend.reopen()
        after = {(d.seq, d.endpoint) for d in reopened.due_deliveries(200.0, limit=100)}
        assert after == again  # a restart forgets the hand-outs: at least once


def test_events_written_again_among_new_ones_keep_their_seq_and_get_no_second_delivery(
    backend: Backend,
) -> None:
    # A commit that mixes replayed events (ids in the log: a restart writing a change
    # again) with new ones: the new ones get the next seqs and their deliveries, the old
    # ones nothing more; the seqs never go back, also once the newest were pruned.
    store = routed(backend)  # events 0..4, seqs 1..5
    for i in (2, 7, 4, 8):
        store.append_event(event(i))
    store.commit()
    log = store.events(limit=100)
    assert [e.subject for e in log] == [f"{n:032x}" for n in (0, 1, 2, 3, 4, 7, 8)]
    seqs = [e.seq for e in log]
    assert seqs[:5] == [1, 2, 3, 4, 5] and 5 < seqs[5] < seqs[6]  # (SQLite may leave a gap: never reused)
    due = store.due_deliveries(200.0, limit=100)
    assert sorted((d.seq, d.endpoint) for d in due) == sorted((s, e) for s in seqs for e in "ab")
    store.record_attempts([attempt(d.seq, d.endpoint, DELIVERED) for d in due])
    assert store.prune_events(1000.0) == 7
    store.append_event(event(20))
    store.commit()
    [after] = store.events(limit=100)
    assert after.seq > seqs[-1]  # after the pruned ones, not reusing theirs
    assert {(d.seq, d.endpoint) for d in store.due_deliveries(200.0, limit=100)} == {
        (after.seq, "a"),
        (after.seq, "b"),
    }


@pytest.mark.parametrize("shared", [True, False], ids=["shared-targets", "targets-each"])
def test_each_new_event_gets_a_pending_delivery_per_target(backend: Backend, shared: bool) -> None:
    # The SQLite store writes a commit's deliveries with a statement per target when its
    # events are all new and share the router's tuple of targets (EventRoutes shares one
    # per type), else a row per delivery: the same rows either way.
    targets = (Target(endpoint="a", url="http://a.test/"), Target(endpoint="b", url="http://b.test/x"))
    store = backend.open()
    store.route_events(lambda kind, url: targets if shared else list(targets))
    for i in range(3):
        store.append_event(event(i, at=100.0 + i))
    store.commit()
    for i in (1, 3, 4):  # 1 again (replayed): no second delivery
        store.append_event(event(i, at=100.0 + i))
    store.commit()
    subjects = {e.seq: e.subject for e in store.events(limit=100)}
    found = [
        (
            subjects[d.seq],
            d.endpoint,
            d.url,
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.updated_at,
            d.first_attempt_at,
        )
        for d in store.deliveries(limit=100)
    ]
    assert sorted(found) == [
        (f"{i:032x}", t.endpoint, t.url, PENDING, 0, 100.0 + i, 100.0 + i, None)
        for i in range(5)
        for t in targets
    ]


def test_a_subjects_deliveries_are_its_own_when_another_subject_shares_its_id_prefix(
    backend: Backend,
) -> None:
    # Ids of "a:1x", "a:10" and "a:1:2" start with those of "a:1" ("evt_a_1"); "a:" is shorter.
    store = backend.open()
    store.route_events(lambda kind, url: [Target(endpoint="a", url="http://a.test/")])
    for subject in ("a:1", "a:1x", "a:10", "a:", "a:1:2"):
        for sequence in (1, 2):
            store.append_event(
                EventRecord(id=event_id(subject, sequence), type="message.status", subject=subject,
                            sequence=sequence, occurred_at=100.0, data={})
            )  # fmt: skip
    store.commit()
    for subject in ("a:1", "a:1x", "a:10", "a:", "a:1:2"):
        found = store.deliveries(subject=subject)
        assert [(d.subject, d.event_id) for d in found] == [
            (subject, event_id(subject, 1)), (subject, event_id(subject, 2))
        ]  # fmt: skip


def test_first_attempts_written_after_the_worker_caught_up_are_each_handed_out_once_in_order(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SQLite store hands first attempts committed by a flush over in memory once the
    # worker has caught up with the file (and reads the file again when an inbound event
    # is written by its own transaction, or the queue passes its bound): the same
    # deliveries, in the same order, on every backend.
    monkeypatch.setattr("smppgw.store.sqlite_events._HELD_MAX", 3)
    store = routed(backend)
    assert len(store.due_deliveries(200.0, limit=100)) == 10  # caught up
    seen: list[tuple[int, str]] = []
    handed: list[Delivery] = []

    def due() -> list[tuple[int, str]]:
        got = store.due_deliveries(200.0, limit=100)
        assert all(d.body.startswith(f'{{"id":"{d.event_id}"') for d in got)
        seen.extend((d.seq, d.endpoint) for d in got)
        handed.extend(got)
        return [(d.seq, d.endpoint) for d in got]

    store.append_event(event(10))
    store.commit()
    assert due() == [(6, "a"), (6, "b")]
    store.add_inbound(smsc="s", source="447700900001", destination="12345", text="hi", data_coding=0,
                      parts=1, complete=True, received_at=100.0)  # fmt: skip
    store.append_event(event(11))
    store.commit()
    assert due() == [(7, "a"), (8, "a"), (7, "b"), (8, "b")]  # the inbound event's too
    assert due() == []
    for i in range(12, 17):  # 10 deliveries: past the bound of 3 per endpoint
        store.append_event(event(i))
    store.commit()
    assert due() == [(s, e) for e in "ab" for s in range(9, 14)]
    assert len(seen) == len(set(seen))
    store.release_deliveries()  # nothing recorded: all of them due again, from the store
    again = {(d.seq, d.endpoint): d for d in store.due_deliveries(200.0, limit=100)}
    assert len(again) == 10 + len(seen)
    assert [again[d.seq, d.endpoint] for d in handed] == handed  # in memory or read: the same fields
