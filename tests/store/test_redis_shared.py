"""What several gateway processes share through the Redis store (issue 19, items 1 and 5):
two stores on one prefix, as two processes would open them.

- a correlation written by one is found by the other (a receipt read by any node);
- MO parts held by one are there for the other;
- numbers taken from Redis (inbound seq, event seq) never collide between them;
- a STOP taken by one holds in the other's consent index within its refresh;
- an idempotency key used through one is refused through the other;
- every field survives the trip, any text included.
"""

from __future__ import annotations

from collections.abc import Iterator

import coredis
import pytest

from smppgw.store.base import EventRecord, InboundPart, Status, StoreError, Target, event_id
from smppgw.store.redis import RedisStore
from smppgw.twoway.consent import ALL, OPTED_OUT, ConsentEvent
from tests.store.helpers import record


@pytest.fixture
def pair(redis_url: str, redis_prefix: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    a = RedisStore(redis_url, prefix=redis_prefix, clock_offset=1_000.0)
    b = RedisStore(redis_url, prefix=redis_prefix, clock_offset=2_000.0)  # another process's clock
    yield a, b
    a.close()
    b.close()


def test_a_receipt_read_by_one_finds_the_part_the_other_sent(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    a.put_correlation("smsc1", "ab12", "m1", 2, 10.0)
    assert b.get_correlation("smsc1", "ab12") is None  # not committed yet
    a.commit()
    assert b.get_correlation("smsc1", "ab12") == ("m1", 2)
    # The horizon is on the wall clock: 1010 for a is 1010 for b (b's trio time -990).
    assert b.expire_correlations(-990.0) == 0 and b.expire_correlations(-989.0) == 1


def test_mo_parts_held_by_one_are_there_for_the_other(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    part = InboundPart(
        smsc="s", source="447700900001", destination="12345", reference=7, total=2, seqnum=1,
        data_coding=8, payload="é✓".encode("utf-16-be"), received_at=5.0,
    )  # fmt: skip
    a.add_inbound_part(part)
    a.commit()
    [held] = b.inbound_parts("s")
    assert held.payload == part.payload and held.received_at == pytest.approx(5.0 - 1_000.0)
    b.drop_inbound_parts("s", "447700900001", "12345", 7, 2)
    b.commit()
    assert a.inbound_parts("s") == []


def test_numbers_taken_from_redis_never_collide(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    targets = [Target(endpoint="e", url="http://e.test/")]
    for s in pair:
        s.route_events(lambda kind, url: targets)
    seqs = []
    for i in range(6):
        s = pair[i % 2]
        got = s.add_inbound(smsc="s", source=f"4477{i}", destination="12345", text=f"m{i}", data_coding=0,
                            parts=1, complete=True, received_at=1.0)  # fmt: skip
        seqs.append(got.seq)
    assert seqs == [1, 2, 3, 4, 5, 6]
    a.append_event(EventRecord(id=event_id("x", 1), type="message.status", subject="x", sequence=1,
                               occurred_at=1.0, data={}))  # fmt: skip
    a.commit()
    assert [e.seq for e in b.events()] == [1, 2, 3, 4, 5, 6, 7]  # six inbound events, then this one
    assert {d.seq for d in b.due_deliveries(10.0, limit=100)} == set(range(1, 8))


def test_a_stop_taken_by_one_holds_in_the_other(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    a.add_consent([ConsentEvent(number="447700900001", scope=ALL, state=OPTED_OUT,
                                source="keyword", at=1_700_000_000.0, keyword="STOP")])  # fmt: skip
    b._consent_refresh()  # what b's flusher does within a second
    assert b.is_opted_out("447700900001")
    # Its history is one, whoever writes next.
    b.opt_in("447700900001", now=1.0)
    assert [e.seq for e in a.consent_history("447700900001")] == [1, 2]


def test_an_idempotency_key_used_through_one_is_refused_through_the_other(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    a.add([record(1, idempotency_key="k", tenant="acme")])
    with pytest.raises(StoreError, match="UNIQUE constraint failed: idempotency_key 'k'"):
        b.add([record(2, idempotency_key="k", tenant="acme")])
    b.add([record(3, idempotency_key="k")])  # another tenant (none): its own keys
    found = b.find_key("k", "acme")
    assert found is not None and found.id == record(1).id


def test_every_field_and_any_text_survives(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    text = 'héllo ✓ 😀 "quoted" \\ back\nslash \x00 nul'
    r = record(1, text=text, tags=("a", "ü"), callback_url="http://x.test/?a=1&b=2", send_at=50.0)
    a.add([r])
    back = b.get(r.id)
    assert back is not None and back.text == text and back.tags == ("a", "ü")
    assert back.send_at == pytest.approx(50.0 - 1_000.0)  # b's trio clock: same wall time
    assert back.created_at == pytest.approx(r.created_at - 1_000.0)


async def test_a_scheduled_message_on_the_work_queue_waits_in_the_shared_set(
    pair: tuple[RedisStore, RedisStore], redis_url: str, redis_prefix: str
) -> None:
    """With the work queue on, ``add`` puts a ``scheduled`` message in ``P:sched`` (score:
    its wall send_at) with its record; a cancel saved through the other store takes it out."""
    a, b = pair
    a.work_queue = True
    later = record(1, status=Status.SCHEDULED, send_at=500.0)
    now = record(2, status=Status.SCHEDULED, send_at=600.0)
    b.add([now])  # work queue off: kept by its process, not shared
    a.add([later])
    client: coredis.Redis[bytes] = coredis.Redis.from_url(redis_url)
    async with client:
        key = f"{redis_prefix}:sched"
        assert await client.zrange(key, 0, -1, withscores=True) == ((later.id.encode(), 1500.0),)
        canceled = b.get(later.id)
        assert canceled is not None and canceled.status is Status.SCHEDULED
        canceled.status = Status.CANCELED
        b.save(canceled)
        b.commit()
        assert await client.zcard(key) == 0
