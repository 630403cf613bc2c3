"""Threads in the store (``ThreadStore``), on every backend: each MT and MO message is an
entry of its (tenant, number, sender) thread, written with the message (a refused add
writes none), in order; the status rule; the events; the listing and its pages; a
reopened store reads it all back; on Redis, several clients writing one thread at once."""

from __future__ import annotations

import threading
from typing import Protocol, cast

import pytest

from smppgw.store.base import (
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
from smppgw.store.threads import thread_updated
from tests.store.helpers import Backend, record

X, Y, SENDER = "447700900001", "447700900002", "12345"


class Threaded(Store, ThreadStore, Protocol):
    """Every bundled store keeps threads."""


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


def test_mt_and_mo_interleave_in_one_thread_in_order(backend: Backend) -> None:
    store = opened(backend)
    first = mt(store, 1)
    a = mo(store, "hello?", at=102.0)
    second = mt(store, 3)
    b = mo(store, "thanks", at=104.0)
    mt(store, 5, to=Y)  # another number: another thread
    thread = thread_of(store)
    entries = store.thread_entries(thread.id)
    assert [(e.n, e.direction, e.message_id, e.inbound_seq) for e in entries] == [
        (1, "mt", first, None), (2, "mo", None, a.seq), (3, "mt", second, None), (4, "mo", None, b.seq),
    ]  # fmt: skip
    assert [e.at for e in entries] == [1101.0, 1102.0, 1103.0, 1104.0]  # wall clock
    assert (thread.status, thread.messages, thread.last_message_at, thread.created_at) == (
        "waiting_on_agent", 4, 1104.0, 1101.0,
    )  # fmt: skip
    assert [e.n for e in store.thread_entries(thread.id, after=2, limit=1)] == [3]
    assert thread_of(store, Y).id != thread.id
    store.close()
    again = cast(Threaded, backend.reopen())
    assert [e.n for e in again.thread_entries(thread.id)] == [1, 2, 3, 4]
    back = again.get_thread(thread.id)
    assert back is not None and (back.status, back.messages, back.events) == (
        "waiting_on_agent",
        4,
        thread.events,
    )


def test_the_status_follows_who_wrote_last_and_an_inbound_reopens(backend: Backend) -> None:
    store = opened(backend)
    mt(store, 1)
    assert thread_of(store).status == "waiting_on_customer"
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


def test_a_refused_add_writes_no_entry(backend: Backend) -> None:
    store = opened(backend)
    mt(store, 1)
    with pytest.raises(StoreError):
        store.add([record(1, destination=X)])  # the same id again
    thread = thread_of(store)
    assert thread.messages == 1 and len(store.thread_entries(thread.id)) == 1
    assert len(store.events(types=["thread.message"])) == 1


def test_threads_are_per_tenant_and_a_senders_tenant_takes_untenanted_mts(backend: Backend) -> None:
    store = opened(backend, tenants={SENDER: "acme"})
    mt(store, 1)  # no tenant (a keyword's reply): the sender's tenant
    mo(store, "hi", at=102.0, tenant="acme")
    mt(store, 3, tenant="globex")  # another tenant's message: its own thread
    acme, globex = thread_of(store, tenant="acme"), thread_of(store, tenant="globex")
    assert (acme.messages, globex.messages) == (2, 1) and store.find_thread(None, X, SENDER) is None
    mine, _ = store.list_threads(ThreadQuery(tenant="acme"))
    assert [t.id for t in mine] == [acme.id]


def test_events_tell_each_message_and_each_change_in_sequence(backend: Backend) -> None:
    store = opened(backend)
    m = mt(store, 1)
    mo(store, "yes", at=102.0)
    mo(store, "and also", at=103.0)  # no status change: a message event only
    thread = thread_of(store)
    thread.assignee = "bob"
    store.save_thread(
        thread,
        [thread_updated(thread, 1104.0, reason="api", changes={"assignee": {"from": None, "to": "bob"}})],
    )
    events = [e for e in store.events(limit=100) if e.subject == f"thread:{thread.id}"]
    assert [(e.type, e.sequence) for e in events] == [
        ("thread.message", 1), ("thread.message", 2), ("thread.updated", 3), ("thread.message", 4),
        ("thread.updated", 5),
    ]  # fmt: skip
    first = events[0].data  # a new thread's first message: n 1, with the status it made
    assert (first["direction"], first["message_id"], first["text"], first["n"]) == ("mt", m, "message 1", 1)
    assert first["thread_status"] == "waiting_on_customer" and first["thread_id"] == thread.id
    assert events[2].data["changes"] == {"status": {"from": "waiting_on_customer", "to": "waiting_on_agent"}}
    assert events[2].data["reason"] == "message" and events[2].data["status"] == "waiting_on_agent"
    assert (events[3].data["direction"], events[3].data["text"], events[3].data["inbound_seq"]) == (
        "mo", "and also", 2,
    )  # fmt: skip
    assert events[4].data["assignee"] == "bob" and events[4].data["reason"] == "api"
    assert len({e.id for e in events}) == 5
    assert all(d.endpoint == "hook" for d in store.deliveries(subject=f"thread:{thread.id}"))


def test_the_listing_pages_newest_first_and_filters(backend: Backend) -> None:
    store = opened(backend)
    for i in range(7):
        mt(store, i, to=f"4477009000{i:02d}")
    mo(store, "hi", source="447700900003", at=200.0)  # the most recently active now
    pages: list[list[str]] = []
    query = ThreadQuery(limit=3)
    while True:
        found, after = store.list_threads(query)
        pages.append([t.number[-2:] for t in found])
        if after is None:
            break
        query = ThreadQuery(limit=3, before=after)
    assert pages == [["03", "06", "05"], ["04", "02", "01"], ["00"]]
    waiting, _ = store.list_threads(ThreadQuery(status="waiting_on_agent"))
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
    mt(store, 1)
    assert store.find_thread(None, X, SENDER) is None
    store.keep_threads()
    mt(store, 2)
    assert thread_of(store).messages == 1


def test_a_batch_to_one_pair_is_one_thread_in_order(backend: Backend) -> None:
    store = opened(backend)
    batch = [record(i, destination=X, created_at=100.0 + i) for i in range(3)]
    store.add(batch)
    thread = thread_of(store)
    entries = store.thread_entries(thread.id)
    assert [(e.n, e.message_id) for e in entries] == [(i + 1, m.id) for i, m in enumerate(batch)]
    events = store.events(types=["thread.message"], limit=10)
    assert [(e.sequence, e.data["message_id"]) for e in events] == [
        (i + 1, m.id) for i, m in enumerate(batch)
    ]


def test_several_redis_clients_writing_one_thread_at_once_keep_it_whole(
    redis_url: str, redis_prefix: str
) -> None:
    """Four threads, each its own client (as four gateways), add 25 MT messages each and
    take 25 MO messages each for the same pair at once: one thread, its 200 entries
    numbered 1..200 with none lost or twice, each message once."""
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
        assert thread.messages == 200
        entries = check.thread_entries(thread.id, limit=1000)
        assert [e.n for e in entries] == list(range(1, 201))
        assert sorted(e.message_id for e in entries if e.direction == "mt") == sorted(ids)
        assert sorted(e.inbound_seq for e in entries if e.direction == "mo") == sorted(seqs)  # type: ignore[type-var]
        page, _ = check.list_threads(ThreadQuery())
        assert [t.id for t in page] == [thread.id]  # one thread for the pair, not one per client
    finally:
        check.close()
