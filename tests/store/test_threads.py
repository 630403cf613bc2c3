"""Threads in the store (``ThreadStore``), on every backend. Threads are lazy: an MT to a
pair with no thread writes no thread and no event; the pair's first MO (or a handoff's
``save_thread``, or an agent's reply) makes the thread, with the pair's earlier MTs as
its first entries in order (bounded: ``thread_backfill``); from then on each MT and MO
is an entry, written with the message (a refused add writes none), in order; the status
rule; the events; the listing and its pages; a reopened store reads it all back and
keeps filing."""

from __future__ import annotations

import threading
from typing import Protocol, cast

import pytest

from smppgw.store.base import (
    EventRecord,
    InboundRecord,
    Status,
    Store,
    StoreError,
    Target,
    ThreadQuery,
    ThreadRecord,
    ThreadStore,
)
from smppgw.store.redis import RedisStore
from smppgw.store.threads import ThreadBackfill, new_thread_id, thread_updated
from tests.store.helpers import Backend, record

X, Y, SENDER = "447700900001", "447700900002", "12345"


class Threaded(Store, ThreadStore, ThreadBackfill, Protocol):
    """Both bundled stores keep threads, lazily."""


def opened(backend: Backend, tenants: dict[str, str] | None = None) -> Threaded:
    store = cast(Threaded, backend.open(clock_offset=1_000.0))
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    store.keep_threads(tenants)
    return store


def mt(store: Threaded, i: int, to: str = X, *, at: float | None = None, **kw: object) -> str:
    m = record(i, destination=to, created_at=100.0 + i if at is None else at, **kw)
    store.add([m])
    return m.id


def mo(store: Threaded, text: str, source: str = X, *, at: float, tenant: str | None = None) -> InboundRecord:
    return store.add_inbound(
        smsc="sim", source=source, destination=SENDER, text=text, data_coding=0, parts=1, complete=True,
        received_at=at, tenant=tenant,
    )  # fmt: skip


def thread_of(store: Threaded, number: str = X, tenant: str | None = None) -> ThreadRecord:
    found = store.find_thread(tenant, number, SENDER)
    assert found is not None
    return found


def thread_events(store: Threaded) -> list[EventRecord]:
    return [e for e in store.events(limit=1000) if e.type.startswith("thread.")]


def test_a_campaign_to_silent_numbers_makes_no_thread_and_no_event(backend: Backend) -> None:
    store = opened(backend)
    store.add([record(i, destination=f"4477009000{i:02d}") for i in range(16)])  # one batch
    for i in range(16, 20):
        mt(store, i, to=f"4477009000{i:02d}")  # one per transaction
    assert store.list_threads(ThreadQuery()) == ([], None)
    assert store.find_thread(None, "447700900001", SENDER) is None
    assert thread_events(store) == []
    assert [e.type for e in store.events(limit=100)] == []  # (message.status events are not the store's)


def test_a_reply_makes_the_thread_with_the_earlier_mts_in_order(backend: Backend) -> None:
    store = opened(backend)
    first = mt(store, 1)
    batch = [record(i, destination=X, created_at=100.0 + i) for i in (2, 3)]
    store.add(batch)
    mt(store, 4, to=Y)  # another number: no thread
    a = mo(store, "hello?", at=105.0)
    second = mt(store, 6)  # the pair has a thread now: filed
    b = mo(store, "thanks", at=107.0)
    thread = thread_of(store)
    entries = store.thread_entries(thread.id)
    assert [(e.n, e.direction, e.message_id, e.inbound_seq) for e in entries] == [
        (1, "mt", first, None), (2, "mt", batch[0].id, None), (3, "mt", batch[1].id, None),
        (4, "mo", None, a.seq), (5, "mt", second, None), (6, "mo", None, b.seq),
    ]  # fmt: skip
    assert [e.at for e in entries] == [1101.0, 1102.0, 1103.0, 1105.0, 1106.0, 1107.0]  # wall clock
    assert (thread.status, thread.messages, thread.last_message_at, thread.created_at) == (
        "waiting_on_agent", 6, 1107.0, 1105.0,
    )  # fmt: skip
    assert [e.n for e in store.thread_entries(thread.id, after=2, limit=1)] == [3]
    assert store.find_thread(None, Y, SENDER) is None
    store.close()
    again = cast(Threaded, backend.reopen())
    assert [e.n for e in again.thread_entries(thread.id)] == [1, 2, 3, 4, 5, 6]
    back = again.get_thread(thread.id)
    assert back is not None and (back.status, back.messages, back.events) == (
        "waiting_on_agent",
        6,
        thread.events,
    )
    again.keep_threads()  # the pairs with threads are read back: the pair's next MT is filed
    third = mt(again, 8)
    assert [e.message_id for e in again.thread_entries(thread.id, after=6)] == [third]
    assert again.find_thread(None, Y, SENDER) is None


def test_the_backfill_is_bounded_by_count_and_age(backend: Backend) -> None:
    store = opened(backend)
    store.thread_backfill(2, 1.0)
    old = mt(store, 1, at=100.0)  # over a day before the reply
    ids = [mt(store, i, at=86_400.0 + i) for i in range(2, 6)]
    mo(store, "hi", at=86_500.0)
    entries = store.thread_entries(thread_of(store).id)
    assert [e.message_id for e in entries] == [ids[-2], ids[-1], None]  # the newest two, in order
    assert old not in [e.message_id for e in entries]
    store.thread_backfill(0, 30.0)
    mt(store, 7, to=Y)
    mo(store, "hi", source=Y, at=86_600.0)
    assert [e.direction for e in store.thread_entries(thread_of(store, Y).id)] == ["mo"]


def test_the_status_follows_who_wrote_last_and_an_inbound_reopens(backend: Backend) -> None:
    store = opened(backend)
    mt(store, 1)
    assert store.find_thread(None, X, SENDER) is None
    mo(store, "hi", at=102.0)
    assert thread_of(store).status == "waiting_on_agent"
    thread = thread_of(store)
    thread.status = "closed"
    store.save_thread(thread)
    mt(store, 3)  # automated: a closed thread stays closed
    assert thread_of(store).status == "closed"
    mo(store, "one more thing", at=104.0)  # an inbound text reopens it
    assert thread_of(store).status == "waiting_on_agent"
    blocked = record(5, destination=X, created_at=105.0, status=Status.BLOCKED)
    store.add([blocked])  # stored unsent: in the thread, the status unchanged
    assert (thread_of(store).status, thread_of(store).messages) == ("waiting_on_agent", 5)


def test_an_agents_reply_reopens_and_a_handoff_keeps_automation_out(backend: Backend) -> None:
    store = opened(backend)
    mo(store, "HELP", at=101.0)
    thread = thread_of(store)
    thread.status, thread.pending_handoff = "closed", True
    store.save_thread(thread)
    mt(store, 2)  # automated ("an agent will answer"): the handed-over thread stays the agents'
    assert thread_of(store).status == "closed"
    thread = thread_of(store)
    thread.status = "waiting_on_agent"
    store.save_thread(thread)
    mt(store, 3)
    assert thread_of(store).status == "waiting_on_agent"
    reply = record(4, destination=X, created_at=104.0)
    store.stage_thread_author(reply.id, "alice")
    store.add([reply])
    found = thread_of(store)
    assert (found.status, found.pending_handoff) == ("waiting_on_customer", False)
    [entry] = store.thread_entries(found.id, after=3)
    assert (entry.message_id, entry.author) == (reply.id, "alice")


def test_an_agents_reply_to_a_pair_without_a_thread_makes_it_once(backend: Backend) -> None:
    store = opened(backend)
    earlier = mt(store, 1)
    reply, after = record(2, destination=X, created_at=102.0), record(3, destination=X, created_at=103.0)
    store.stage_thread_author(reply.id, "alice")
    store.add([reply, after])  # the reply makes the thread; the batch's next MT is filed after it
    entries = store.thread_entries(thread_of(store).id)
    assert [(e.message_id, e.author) for e in entries] == [
        (earlier, None),
        (reply.id, "alice"),
        (after.id, None),
    ]


def test_a_handoff_to_a_pair_without_a_thread_takes_the_earlier_mts_first(backend: Backend) -> None:
    store = opened(backend)
    ids = [mt(store, i) for i in (1, 2)]
    thread = ThreadRecord(id=new_thread_id(), number=X, sender=SENDER, status="waiting_on_agent",
                          pending_handoff=True, created_at=1103.0, updated_at=1103.0)  # fmt: skip
    store.save_thread(thread, [thread_updated(thread, 1103.0, reason="handoff", changes={})])
    found = thread_of(store)
    assert (found.id, found.status, found.messages, found.pending_handoff) == (
        thread.id,
        "waiting_on_agent",
        2,
        True,
    )
    assert [e.message_id for e in store.thread_entries(thread.id)] == ids
    events = [(e.type, e.sequence, e.data.get("message_count")) for e in thread_events(store)]
    assert events == [("thread.message", 1, None), ("thread.message", 2, None), ("thread.updated", 3, 2)]
    store.save_thread(found)  # saved again: nothing backfilled twice
    assert len(store.thread_entries(thread.id)) == 2
    mt(store, 4)
    assert thread_of(store).messages == 3


def test_a_refused_add_writes_no_entry(backend: Backend) -> None:
    store = opened(backend)
    mo(store, "hi", at=100.5)
    mt(store, 1)
    with pytest.raises(StoreError):
        store.add([record(1, destination=X)])  # the same id again
    thread = thread_of(store)
    assert thread.messages == 2 and len(store.thread_entries(thread.id)) == 2
    assert len(store.events(types=["thread.message"])) == 2


def test_threads_are_per_tenant_and_a_senders_tenant_takes_untenanted_mts(backend: Backend) -> None:
    store = opened(backend, tenants={SENDER: "acme"})
    first = mt(store, 1)  # no tenant (a keyword's reply): the sender's tenant
    other = mt(store, 2, tenant="globex")  # another tenant's message: not acme's thread
    mo(store, "hi", at=103.0, tenant="acme")
    acme = thread_of(store, tenant="acme")
    assert [e.message_id for e in store.thread_entries(acme.id)] == [first, None]
    assert store.find_thread("globex", X, SENDER) is None and store.find_thread(None, X, SENDER) is None
    mo(store, "hi", at=104.0, tenant="globex")
    globex = thread_of(store, tenant="globex")
    assert [e.message_id for e in store.thread_entries(globex.id)] == [other, None]
    mine, _ = store.list_threads(ThreadQuery(tenant="acme"))
    assert [t.id for t in mine] == [acme.id]


def test_events_tell_each_message_and_each_change_in_sequence(backend: Backend) -> None:
    store = opened(backend)
    m = mt(store, 1)
    mo(store, "yes", at=102.0)
    mo(store, "and also", at=103.0)  # no status change: a message event only
    mt(store, 4)
    thread = thread_of(store)
    thread.assignee = "bob"
    store.save_thread(
        thread,
        [thread_updated(thread, 1105.0, reason="api", changes={"assignee": {"from": None, "to": "bob"}})],
    )
    events = [e for e in store.events(limit=100) if e.subject == f"thread:{thread.id}"]
    assert [(e.type, e.sequence) for e in events] == [
        ("thread.message", 1), ("thread.message", 2), ("thread.message", 3), ("thread.message", 4),
        ("thread.updated", 5), ("thread.updated", 6),
    ]  # fmt: skip
    first = events[0].data  # the new thread's backfilled MT: n 1, with the status it made
    assert (first["direction"], first["message_id"], first["text"], first["n"]) == ("mt", m, "message 1", 1)
    assert first["thread_status"] == "waiting_on_customer" and first["thread_id"] == thread.id
    assert first["backfill"] is True and first["created"] is True
    made = events[1].data  # the MO that made it: no thread.updated for its status
    assert (made["direction"], made["thread_status"], made["created"], "backfill" in made) == (
        "mo", "waiting_on_agent", True, False,
    )  # fmt: skip
    assert (events[2].data["direction"], events[2].data["text"], events[2].data["inbound_seq"]) == (
        "mo", "and also", 2,
    )  # fmt: skip
    assert "created" not in events[2].data and "backfill" not in events[3].data
    assert events[4].data["changes"] == {"status": {"from": "waiting_on_agent", "to": "waiting_on_customer"}}
    assert events[4].data["reason"] == "message"
    assert events[5].data["assignee"] == "bob" and events[5].data["reason"] == "api"
    assert len({e.id for e in events}) == 6
    assert all(d.endpoint == "hook" for d in store.deliveries(subject=f"thread:{thread.id}"))


def test_the_listing_pages_newest_first_and_filters(backend: Backend) -> None:
    store = opened(backend)
    for i in range(7):
        mo(store, "hi", source=f"4477009000{i:02d}", at=100.0 + i)
    mt(store, 50, to="447700900003", at=200.0)  # filed: the most recently active now
    pages: list[list[str]] = []
    query = ThreadQuery(limit=3)
    while True:
        found, after = store.list_threads(query)
        pages.append([t.number[-2:] for t in found])
        if after is None:
            break
        query = ThreadQuery(limit=3, before=after)
    assert pages == [["03", "06", "05"], ["04", "02", "01"], ["00"]]
    waiting, _ = store.list_threads(ThreadQuery(status="waiting_on_customer"))
    assert [t.number for t in waiting] == ["447700900003"]
    t = thread_of(store, "447700900005")
    t.assignee, t.tags = "carol", ["vip"]
    store.save_thread(t)
    by_assignee, _ = store.list_threads(ThreadQuery(assignee="carol"))
    by_tag, _ = store.list_threads(ThreadQuery(tag="vip", number="447700900005"))
    assert [x.id for x in by_assignee] == [x.id for x in by_tag] == [t.id]
    assert store.list_threads(ThreadQuery(tag="vip", number=X))[0] == []


def test_nothing_is_written_before_threads_are_on(backend: Backend) -> None:
    store = cast(Threaded, backend.open())
    before = mt(store, 1)
    mo(store, "hi", at=101.5)
    assert store.find_thread(None, X, SENDER) is None
    store.keep_threads()
    after = mt(store, 2)
    assert store.find_thread(None, X, SENDER) is None  # lazy: still no thread
    mo(store, "hello", at=103.0)
    entries = store.thread_entries(thread_of(store).id)
    assert [(e.direction, e.message_id) for e in entries] == [("mt", before), ("mt", after), ("mo", None)]


def test_a_batch_to_a_pair_with_a_thread_is_filed_in_order(backend: Backend) -> None:
    store = opened(backend)
    mo(store, "hi", at=99.0)
    batch = [record(i, destination=X, created_at=100.0 + i) for i in range(3)]
    store.add(batch + [record(9, destination=Y)])  # Y has no thread: nothing for it
    thread = thread_of(store)
    entries = store.thread_entries(thread.id)
    assert [(e.n, e.message_id) for e in entries[1:]] == [(i + 2, m.id) for i, m in enumerate(batch)]
    events = store.events(types=["thread.message"], limit=10)  # (a thread.updated between: the status)
    assert [(e.data["n"], e.data["message_id"]) for e in events[1:]] == [
        (i + 2, m.id) for i, m in enumerate(batch)
    ]
    assert store.find_thread(None, Y, SENDER) is None


def test_several_redis_clients_writing_one_thread_at_once_keep_it_whole(
    redis_url: str, redis_prefix: str
) -> None:
    """The pair's thread made by a first MO; then four threads, each its own client (as
    four gateways), add 25 MT messages each and take 25 MO messages each for the same
    pair at once: one thread, its 201 entries numbered 1..201 with none lost or twice,
    each message once."""
    first = RedisStore(redis_url, prefix=redis_prefix, clock_offset=1_000.0)
    first.keep_threads()
    opening = mo(first, "hello", at=100.0)
    first.close()
    start = threading.Barrier(4)
    ids: list[str] = []
    seqs: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        store = RedisStore(redis_url, prefix=redis_prefix, clock_offset=1_000.0)
        store.keep_threads()
        start.wait()
        try:
            for j in range(25):
                m = record(k * 100 + j, destination=X)
                store.add([m])
                got = mo(store, f"hi {k} {j}", at=200.0 + j)
                with lock:
                    ids.append(m.id)
                    seqs.append(got.seq)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    check = RedisStore(redis_url, prefix=redis_prefix)
    try:
        thread = thread_of(check)  # type: ignore[arg-type]
        assert thread.messages == 201
        entries = check.thread_entries(thread.id, limit=1000)
        assert [e.n for e in entries] == list(range(1, 202))
        assert sorted(e.message_id for e in entries if e.direction == "mt") == sorted(ids)
        assert sorted(e.inbound_seq for e in entries if e.direction == "mo") == sorted([opening.seq, *seqs])  # type: ignore[type-var]
        page, _ = check.list_threads(ThreadQuery())
        assert [t.id for t in page] == [thread.id]  # one thread for the pair, not one per client
    finally:
        check.close()
