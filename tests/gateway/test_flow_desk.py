"""The flow desk (``gateway.flows``) in virtual time (``MockClock``): the inbound path
(``TwoWay``) on the memory store, a send that records, and the seams of the voucher and
thread desks as fakes. Timers: the task sleeps until the earliest due run, an earlier
one wakes it, a deadline expires the run, a deleted flow's run ends when it is due."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

from smppgw.gateway.consent import ConsentDesk
from smppgw.gateway.flow_book import FlowBook
from smppgw.gateway.flows import FlowDesk
from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.twoway import Reply, TwoWay
from smppgw.store.base import Status, StoreError, Target
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.consent import Consent
from smppgw.twoway.keywords import Keywords
from tests.api.flowkit import EXAMPLES

ANN, BOB, US = "447700900001", "447700900002", "12345"
OFFSET = 1_800_000_000.0  # wall clock = trio clock + this (2027-01-15)


@attrs.frozen
class Sent:
    id: str
    status: Status


@attrs.define
class Rig:
    store: MemoryStore
    desk: FlowDesk
    inbound: TwoWay
    sent: list[Reply] = attrs.field(factory=list)
    blocked: set[str] = attrs.field(factory=set)
    failing: set[str] = attrs.field(factory=set)  # numbers whose sends raise StoreError

    def text(self, source: str, text: str, destination: str = US) -> None:
        self.inbound(InboundMessage(smsc="sim", source=source, destination=destination, text=text,
                                    data_coding=0, parts=1, received_at=trio.current_time()))  # fmt: skip

    def to(self, number: str) -> list[str]:
        return [r.text for r in self.sent if r.destination == number]

    def events(self, *types: str) -> list[Any]:
        return self.store.events(types=list(types))


def rig(*, triage: bool = True, **seams: Any) -> Rig:
    store = MemoryStore(clock_offset=OFFSET)
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    flows = [
        f for f in twoway_from_dict({"flows_dir": str(EXAMPLES)}).flows if triage or "HELP" not in f.keywords
    ]
    ids = itertools.count(1)
    out: Rig

    def send(reply: Reply) -> Sent:
        if reply.destination in out.failing:
            raise StoreError("disk full")
        out.sent.append(reply)
        return Sent(f"m{next(ids)}", Status.BLOCKED if reply.destination in out.blocked else Status.QUEUED)

    book = FlowBook(store, configured=flows, now=lambda: store.wall(trio.current_time()) or 0.0)
    desk = FlowDesk(store, book, send=send, wall=store.wall, **seams)
    consent = ConsentDesk(store, Consent(), lambda *a, **kw: 0)
    out = Rig(store, desk, TwoWay(store=store, send=send, keywords=Keywords(), consent=consent, flows=desk))
    return out


def iso(seconds_from_now: float) -> str:
    at = trio.current_time() + OFFSET + seconds_from_now
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


@attrs.define
class Vouchers:
    asked: list[tuple[str, str, str | None]] = attrs.field(factory=list)

    def issue(self, pool: str, number: str, *, campaign: str | None, now: float) -> str | None:
        self.asked.append((pool, number, campaign))
        return "SPRING-0042"


@attrs.define
class Threads:
    handed: list[dict[str, Any]] = attrs.field(factory=list)

    def handoff(self, number: str, sender: str, **kw: Any) -> str:
        self.handed.append({"number": number, "sender": sender, **kw})
        return "thread-1"


async def test_a_voucher_comes_from_the_voucher_desk(autojump_clock: MockClock) -> None:
    vouchers = Vouchers()
    r = rig(vouchers=vouchers)
    r.text(ANN, "deal")
    assert r.to(ANN) == ["Your Acme code: SPRING-0042. Show it at the till by 31 May. Reply STOP to opt out."]
    assert vouchers.asked == [("spring", ANN, "spring-sale")]
    [done] = r.events("flow.completed")
    assert done.data["vars"]["code"] == "SPRING-0042"


async def test_a_handoff_goes_to_the_thread_desk_with_the_transcript(autojump_clock: MockClock) -> None:
    threads = Threads()
    r = rig(threads=threads)
    for text in ("help", "1", "2"):
        r.text(ANN, text)
    assert r.to(ANN)[-1] == "Thanks. A Broadband engineer will text you back here shortly."
    [handed] = threads.handed
    assert (handed["number"], handed["sender"], handed["queue"], handed["note"]) == (
        ANN, US, "technical", "Broadband: It is not working",
    )  # fmt: skip
    assert [e["text"] for e in handed["transcript"] if e["direction"] == "in"] == ["help", "1", "2"]
    assert handed["source"]["flow"] == "help-triage" and handed["tenant"] is None
    [event] = r.events("flow.handoff")
    assert (event.data["thread_id"], event.data["queue"], event.data["status"]) == (
        "thread-1",
        "technical",
        "handoff",
    )


async def test_the_reminder_fires_at_its_time_and_an_earlier_one_wakes_the_task(
    autojump_clock: MockClock,
) -> None:
    r = rig()
    async with trio.open_nursery() as nursery:
        await nursery.start(r.desk.run)
        start = trio.current_time()
        r.desk.start_run("booking", number=ANN, sender=US, vars={"slots": [iso(2 * 86400 + 7200)]})
        r.text(ANN, "1")  # booked: the reminder 2 h from now
        await trio.sleep(60)  # the task sleeps until then
        r.desk.start_run("booking", number=BOB, sender=US, vars={"slots": [iso(2 * 86400 + 600)]})
        r.text(BOB, "1")  # 10 min from now: earlier than what the task sleeps for
        with trio.fail_after(7200):  # virtual seconds: a task that slept on would miss it
            while not any(t.startswith("Reminder") for t in r.to(BOB)):
                await trio.sleep(1)
        assert trio.current_time() - start < 60 + 600 + 2
        assert not any(t.startswith("Reminder") for t in r.to(ANN))
        with trio.fail_after(7200):
            while not any(t.startswith("Reminder") for t in r.to(ANN)):
                await trio.sleep(1)
        assert 7200 <= trio.current_time() - start < 7202
        nursery.cancel_scope.cancel()


async def test_silence_expires_the_run_at_its_deadline(autojump_clock: MockClock) -> None:
    r = rig()
    async with trio.open_nursery() as nursery:
        await nursery.start(r.desk.run)
        r.text(ANN, "SURVEY")
        await trio.sleep(86400 + 1)  # the score step's timeout: 1 day, no on_timeout
        [expired] = r.events("flow.expired")
        assert (expired.data["to"], expired.data["step"], expired.data["status"]) == (ANN, "score", "expired")
        assert r.store.active_flow_run(ANN, US) is None
        r.text(ANN, "8")  # too late: an ordinary text, nothing sent
        assert len(r.to(ANN)) == 1
        nursery.cancel_scope.cancel()


async def test_a_blocked_text_ends_the_run_and_nothing_more_is_sent(autojump_clock: MockClock) -> None:
    r = rig()
    r.blocked.add(ANN)
    run = r.desk.start_run("survey", number=ANN, sender=US)
    assert (run.status, run.state["reason"]) == ("stopped", "opt_out")
    assert len(r.to(ANN)) == 1 and run.transcript[0]["status"] == "blocked"
    assert r.store.active_flow_run(ANN, US) is None


async def test_a_run_of_a_deleted_flow_ends_when_it_is_due(autojump_clock: MockClock) -> None:
    r = rig()
    flow = {"keywords": ["PING"], "start": "ask",
            "steps": {"ask": {"prompt": "Still there?", "expect": "text", "timeout": "1h", "on_timeout": "bye"},
                      "bye": {"prompt": "Bye"}}}  # fmt: skip
    r.desk.book.put("ping", flow)
    async with trio.open_nursery() as nursery:
        await nursery.start(r.desk.run)
        r.text(ANN, "ping")
        assert r.desk.book.delete("ping")
        await trio.sleep(3601)
        [ended] = r.events("flow.ended")
        assert (ended.data["status"], ended.data["reason"]) == ("cancelled", "flow deleted")
        assert r.to(ANN) == ["Still there?"]  # never the bye of a flow that is gone
        nursery.cancel_scope.cancel()


async def test_help_is_the_runs_only_with_a_triage_flow_and_start_never(autojump_clock: MockClock) -> None:
    """Without a triage flow, HELP during a run gets the standard answer and the run does
    not see it; with one, the run reads it first (here: not a score, so the re-prompt).
    START is the consent desk's either way."""
    for triage in (False, True):
        r = rig(triage=triage)
        r.text(ANN, "SURVEY")
        r.text(ANN, "HELP")
        r.text(ANN, "START")
        run = r.store.active_flow_run(ANN, US)
        assert run is not None and run.state["step"] == "score"
        said = [e["text"] for e in run.transcript if e["direction"] == "in"]
        assert said == (["SURVEY", "HELP"] if triage else ["SURVEY"])
        replies = [(x.purpose, x.text[:20]) for x in r.sent if x.destination == ANN]
        assert [p for p, _ in replies] == (["flow", "flow", "opt_in_confirmation"] if triage
                                           else ["flow", "help", "opt_in_confirmation"])  # fmt: skip
        r.text(ANN, "7")
        assert r.to(ANN)[-1] == "Thank you for your answer!"


async def test_a_start_that_fails_frees_the_pair(autojump_clock: MockClock) -> None:
    r = rig()
    r.failing.add(ANN)
    with pytest.raises(StoreError):
        r.desk.start_run("survey", number=ANN, sender=US)
    with pytest.raises(StoreError):
        r.text(ANN, "SURVEY")  # the inbound path raises: the SMSC delivers it again
    assert r.store.active_flow_run(ANN, US) is None
    assert [e.data["reason"] for e in r.events("flow.ended")] == ["not started", "not started"]
    r.failing.clear()
    r.text(ANN, "SURVEY")  # delivered again: the run starts
    assert r.to(ANN) == [
        "How likely are you to recommend Acme to a friend? Reply with a number from 0 to 10."
    ]
