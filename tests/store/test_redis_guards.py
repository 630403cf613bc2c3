"""Guarded writes and the shared receipt deadline of the Redis store (issue 19,
``store/redis_guards.py``): two stores on one prefix, as two gateway processes.

- a message past its receipt deadline is offered to one store at a time (leased), to
  another after the lease, and to none once it is final;
- a guarded change is written only if the status in Redis is one allowed: refused, its
  record, history and events stay as the other store wrote them;
- a receipt deadline is never written for a message final in Redis; the latest part's wins.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smppgw.store.base import EventRecord, PartRecord, Status, advance, event_id
from smppgw.store.redis import RedisStore
from tests.store.helpers import record


@pytest.fixture
def pair(redis_url: str, redis_prefix: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    a = RedisStore(redis_url, prefix=redis_prefix, clock_offset=1_000.0)
    b = RedisStore(redis_url, prefix=redis_prefix, clock_offset=2_000.0)  # another process's clock
    yield a, b
    a.close()
    b.close()


def _submitted(store: RedisStore, i: int) -> str:
    m = record(i)
    store.add([m])
    advance(m, Status.SUBMITTED, "smpp", 101.0 + i, "ESME_ROK")
    store.save(m)
    store.commit()
    return m.id


def test_an_overdue_message_is_leased_to_one_store_at_a_time(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    one, two = _submitted(a, 1), _submitted(a, 2)
    a.put_deadline(one, 50.0)  # wall 1050
    a.put_deadline(two, 70.0)  # wall 1070
    a.commit()
    assert b.claim_overdue(-951.0, 10, lease=30) == []  # wall 1049: not due yet
    assert [m.id for m in b.claim_overdue(-950.0, 10, lease=30)] == [one]  # wall 1050
    assert a.claim_overdue(60.0, 10, lease=30) == []  # wall 1060: b holds the lease to 1080
    assert [m.id for m in a.claim_overdue(75.0, 10, lease=30)] == [two]
    assert [m.id for m in a.claim_overdue(80.0, 10, lease=30)] == [one]  # b's lease ran out
    found = b.get(two)
    assert found is not None
    advance(found, Status.DELIVERED, "receipt", 1.0, "DELIVRD")
    b.save(found)
    b.commit()  # final: out of the set
    assert [m.id for m in a.claim_overdue(10_000.0, 10, lease=30)] == [one]  # not two: final


def test_a_guarded_change_is_refused_once_another_store_moved_the_message(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    message_id = _submitted(a, 3)
    mine, theirs = b.get(message_id), a.get(message_id)
    assert mine is not None and theirs is not None and mine is not theirs
    advance(theirs, Status.DELIVERED, "receipt", 200.0, "DELIVRD")
    a.save(theirs)
    a.commit()  # the receipt, through the other gateway, first
    b.guard(message_id, ("submitted", "en_route"))
    advance(mine, Status.UNKNOWN, "gateway", 201.0, "no final receipt")
    b.save(mine)
    late = EventRecord(
        id=event_id(message_id, 99), type="message.status", subject=message_id, sequence=99,
        occurred_at=201.0, data={"id": message_id, "status": "unknown"},
    )  # fmt: skip
    b.append_event(late)
    b.commit()
    assert b.refused(message_id) and not b.refused(message_id)  # told once
    fresh = RedisStore(b.url, prefix=b.prefix)
    stored = fresh.get(message_id)
    events = fresh.events(after=0, types=["message.status"], limit=100)
    fresh.close()
    assert stored is not None and stored.status is Status.DELIVERED
    assert [h[0] for h in stored.history][-1] is Status.DELIVERED
    assert all(e.id != late.id for e in events)  # its event was not written either
    b.guard(message_id, ("delivered",))  # allowed: written
    b.save(mine)
    b.commit()
    assert not b.refused(message_id)


def test_no_deadline_for_a_final_message_and_the_latest_part_wins(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    done, parts = _submitted(a, 4), _submitted(a, 5)
    m = a.get(done)
    assert m is not None
    advance(m, Status.DELIVERED, "receipt", 1.0, "DELIVRD")
    a.save(m)
    a.commit()
    a.put_deadline(done, 10.0)
    a.put_deadline(parts, 40.0)
    a.put_deadline(parts, 20.0)  # an earlier part's, written after: the later deadline stays
    a.commit()
    assert b.claim_overdue(-965.0, 10, lease=30) == []  # wall 1035
    assert [m.id for m in b.claim_overdue(-960.0, 10, lease=30)] == [parts]  # wall 1040


def test_part_receipts_two_stores_apply_to_two_copies_both_stay(pair: tuple[RedisStore, RedisStore]) -> None:
    """A two-part message: each store applies one part's receipt to its own copy and
    writes its whole copy. Redis keeps both parts' receipts; the later writer is told
    its copy lacked one (``take_stale``: then up to date, for the rollup), a reader sees both."""
    a, b = pair
    m = record(7)
    m.parts = [PartRecord(index=i, total=2, status=Status.SUBMITTED) for i in (1, 2)]
    a.add([m])
    a.commit()
    copy = b.get(m.id)
    assert copy is not None and copy is not m
    for store, mine, index in ((a, m, 0), (b, copy, 1)):
        part = mine.parts[index]
        part.status, part.receipt_final, part.receipt_stat = Status.DELIVERED, True, "DELIVRD"
        store.save(mine)
        store.commit()
    assert a.take_stale() == []  # the first writer lacked nothing
    stale = b.take_stale()
    assert [r.id for r in stale] == [m.id] and stale[0] is copy  # its own copy, brought up to date
    assert [p.receipt_stat for p in copy.parts] == ["DELIVRD", "DELIVRD"]
    c = RedisStore(a.url, prefix=a.prefix)  # a third process reads both
    seen = c.get(m.id)
    c.close()
    assert seen is not None and [p.status for p in seen.parts] == [Status.DELIVERED, Status.DELIVERED]
    assert b.take_stale() == []  # told once
