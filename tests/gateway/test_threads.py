"""The thread desk (``gateway.threads``) on a real gateway and simulator over memory
streams in virtual time: a flow's handoff opens or reopens a thread with its transcript
and keeps automated messages from taking it off the agents; an agent's reply goes
through the gateway from the thread's sender and hands the thread to the customer;
consent blocks a reply before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.gateway.threads import ReplyBlocked, ThreadDesk, thread_desk
from smppgw.store.base import Target, ThreadRecord
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import TwowayConfig
from smppgw.twoway.consent import OPTED_OUT, ConsentEvent, Scope
from tests.gateway.helpers import gateway, memory_simulator, smsc

X, SENDER = "447700900001", "12345"
TRANSCRIPT = [
    {"direction": "mt", "text": "Which product? 1 Router 2 Phone", "at": "2026-12-06T10:00:00.000Z"},
    {"direction": "mo", "text": "2", "at": "2026-12-06T10:00:05.000Z"},
]


def store_with_threads() -> MemoryStore:
    store = MemoryStore(clock_offset=1_000_000.0)
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    return store


def desk_for(store: MemoryStore, gw: Any) -> ThreadDesk:
    desk = thread_desk(store, gw.submit, TwowayConfig(), {"54321": "acme"})
    assert desk is not None
    return desk


def thread(store: MemoryStore, thread_id: str) -> ThreadRecord:
    found = store.get_thread(thread_id)
    assert found is not None
    return found


def mo(store: MemoryStore, text: str) -> None:
    store.add_inbound(
        smsc="a", source=X, destination=SENDER, text=text, data_coding=0, parts=1, complete=True,
        received_at=trio.current_time(),
    )  # fmt: skip


async def test_a_handoff_reopens_the_thread_with_the_transcript(autojump_clock: MockClock) -> None:
    store = store_with_threads()
    async with memory_simulator() as sim, gateway(smsc(sim), store=store) as gw:
        desk = desk_for(store, gw)
        mo(store, "HELP")
        first = store.find_thread(None, X, SENDER)
        assert first is not None
        desk.update(first, status="closed")
        source = {"flow": "help-triage", "run": "run_1"}
        tid = desk.handoff(X, SENDER, tenant=None, queue="phones", note="phone problem", transcript=TRANSCRIPT,
                           source=source)  # fmt: skip
        assert tid == first.id  # the pair's thread, reopened
        t = thread(store, tid)
        assert (t.status, t.queue, t.pending_handoff) == ("waiting_on_agent", "phones", True)
        assert (
            t.handoff is not None and t.handoff["transcript"] == TRANSCRIPT and t.handoff["source"] == source
        )
        view = t.to_dict()
        assert view["handoff"]["note"] == "phone problem" and view["handoff"]["at"].endswith("Z")
        # The flow's "an agent will answer": automated, the thread stays the agents'
        gw.submit(source=SENDER, destination=X, text="An agent will answer shortly")
        assert thread(store, tid).status == "waiting_on_agent"
        updated = [
            e for e in store.events(types=["thread.updated"], limit=100) if e.subject == f"thread:{tid}"
        ]
        last = updated[-1].data
        assert (last["reason"], last["changes"]["status"], last["queue"]) == (
            "handoff", {"from": "closed", "to": "waiting_on_agent"}, "phones",
        )  # fmt: skip
        # An agent's reply: through the gateway, from the thread's sender, to the handset
        record = desk.reply(tid, "Hi, I'm Sam. What happens with the phone?", "sam")
        t = thread(store, tid)
        assert (t.status, t.pending_handoff) == ("waiting_on_customer", False)
        final = await gw.wait_final(record.id, 10)
        assert final.status.value == "delivered"
        [got] = [m for m in sim.store.select(limit=100) if m.payload.startswith(b"Hi, I'm Sam")]
        assert (got.source_addr, got.destination_addr) == (SENDER, X)
        assert desk.messages(t)[-1]["author"] == "sam"
        # A handoff for a pair without a thread makes one
        other = desk.handoff(
            "447700900009", SENDER, tenant="globex", queue="q", note="", transcript=[], source={}
        )
        assert thread(store, other).tenant == "globex"
        assert store.find_thread("globex", "447700900009", SENDER) is not None
        # Without a tenant: the sender's ([api] tenants), where the pair's messages are; the
        # pair had only an MT (no thread: lazy), which the handoff's new thread starts with
        sent = gw.submit(source="54321", destination=X, text="From acme's number")
        assert store.find_thread("acme", X, "54321") is None
        handed = desk.handoff(X, "54321", tenant=None, queue="q", note="", transcript=[], source={})
        acme = store.find_thread("acme", X, "54321")
        assert acme is not None and handed == acme.id
        assert (acme.status, acme.messages) == ("waiting_on_agent", 1)
        assert [(m["id"], m["text"]) for m in desk.messages(acme)] == [(sent.id, "From acme's number")]
        events = [(e.type, e.sequence) for e in store.events(limit=1000) if e.subject == f"thread:{handed}"]
        assert events == [("thread.message", 1), ("thread.updated", 2)]


async def test_a_reply_consent_forbids_is_refused_before_it_is_stored(autojump_clock: MockClock) -> None:
    store = store_with_threads()
    async with memory_simulator() as sim, gateway(smsc(sim), store=store) as gw:
        desk = desk_for(store, gw)
        mo(store, "question")
        t = store.find_thread(None, X, SENDER)
        assert t is not None
        store.add_consent([ConsentEvent(number=X, scope=Scope.of(SENDER), state=OPTED_OUT, source="keyword",
                                        at=store.wall(trio.current_time()) or 0.0, keyword="STOP")])  # fmt: skip
        before = store.counts()
        with pytest.raises(ReplyBlocked) as blocked:
            desk.reply(t.id, "the answer", "sam")
        assert "opted out" in blocked.value.reason
        assert store.counts() == before and thread(store, t.id).messages == 1
        assert not store._thread_authors  # nothing staged is left behind
        with pytest.raises(KeyError):
            desk.reply("thr_nope", "x", "sam")
        await trio.sleep(1)
        assert not [m for m in sim.store.select(limit=100) if m.payload == b"the answer"]


async def test_an_update_without_a_change_writes_no_event(autojump_clock: MockClock) -> None:
    store = store_with_threads()
    async with memory_simulator() as sim, gateway(smsc(sim), store=store) as gw:
        assert sim.port
        desk = desk_for(store, gw)
        mo(store, "hi")
        t = store.find_thread(None, X, SENDER)
        assert t is not None
        count = len(store.events(limit=1000))
        same = desk.update(t, status="waiting_on_agent", tags=[])
        assert same.id == t.id and len(store.events(limit=1000)) == count
        mo(store, "are you there?")  # arrives after ``t`` was read: the update starts from it
        count = len(store.events(limit=1000))
        changed = desk.update(t, tags=["vip", "vip", "b"], assignee="ann", by="key_1")
        assert (changed.tags, changed.assignee, changed.messages) == (["vip", "b"], "ann", 2)
        [event] = store.events(after=count, limit=10)
        assert (
            event.data["changes"]["tags"] == {"from": [], "to": ["vip", "b"]} and event.data["by"] == "key_1"
        )
        assert event.sequence == 3  # thread.message 1 and 2 came first: no sequence is taken twice
        with pytest.raises(KeyError):
            desk.update("thr_nope", status="closed")
