"""Each shipped flow end to end in virtual time: the gateway wired as ``smppgw serve``
wires it (``app_twoway.twoway_handler``, the thread desk, the flow desk's timer task) on
the memory store, against the real simulator over memory streams, under ``MockClock``
(autojump): the booking's reminder "2 days before the slot" fires after a virtual two
days. What the handset receives is read at the simulator; its replies are MOs injected
there. Also: a restart in the middle of a run (the store kept, a new gateway), STOP in
the middle of a flow, and two flows for one number from two senders."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import attrs
import trio
from trio.testing import MockClock

from simulator.smsc import Simulator
from smppgw.app import AppConfig
from smppgw.app_twoway import twoway_handler
from smppgw.core.text import decode_text
from smppgw.gateway.engine import Gateway
from smppgw.gateway.flows import FlowDesk
from smppgw.gateway.threads import ReplyBlocked, ThreadDesk, thread_desk
from smppgw.gateway.twoway import TwoWay
from smppgw.gateway.vouchers import VoucherDesk
from smppgw.store.base import Target
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import twoway_from_dict
from tests.api.flowkit import EXAMPLES
from tests.gateway.helpers import gateway, memory_simulator, smsc, wait_until

ANN, BOB = "447700900001", "447700900002"
US, LONG = "12345", "447700900100"  # our numbers
#: The wall clock at the start: two days and a minute before the shipped booking's second
#: slot (2027-03-15T14:00Z), so its reminder (2 days before) is a virtual 2 days away.
START = datetime(2027, 3, 13, 13, 59, tzinfo=UTC).timestamp() - 2 * 86400
TWO_DAYS = 2 * 86400


@attrs.define
class Wired:
    sim: Simulator
    gw: Gateway
    store: MemoryStore
    twoway: TwoWay
    threads: ThreadDesk

    @property
    def flows(self) -> FlowDesk:
        assert isinstance(self.twoway.flows, FlowDesk)
        return self.twoway.flows

    def heard(self, number: str, sender: str = US) -> list[str]:
        """What the handset ``number`` received from ``sender``, oldest first."""
        got = self.sim.store.select(destination_addr=number, source_addr=sender, limit=10_000)
        return [decode_text(m.payload, m.data_coding) for m in reversed(got)]

    async def hears(self, number: str, phrase: str, *, sender: str = US, timeout: float = 60) -> list[str]:
        """Wait (virtual seconds) until ``phrase`` is in the last text the handset got."""
        ok = await wait_until(lambda: any(phrase in t for t in self.heard(number, sender)), timeout, 0.5)
        assert ok, (phrase, self.heard(number, sender))
        return self.heard(number, sender)

    async def texts(self, number: str, text: str, sender: str = US) -> None:
        """An MO from the handset; returns once the gateway has taken (and handled) it."""
        before = len(self.store.inbound(limit=10_000))
        self.sim.inject_mo(system_id=None, source_addr=number, destination_addr=sender, text=text)
        assert await wait_until(lambda: len(self.store.inbound(limit=10_000)) > before, 30)

    def events(self, *types: str) -> list[Any]:
        return self.store.events(types=list(types))


def new_store() -> MemoryStore:
    """The memory store, its wall clock at ``START``, every event kept (one webhook)."""
    store = MemoryStore(clock_offset=START - trio.current_time())
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    return store


@contextlib.asynccontextmanager
async def wired(sim: Simulator, store: MemoryStore) -> AsyncIterator[Wired]:
    """A gateway as ``smppgw serve`` wires its 2-way side, with every shipped flow."""
    handler: list[TwoWay] = []
    inbound = lambda m: handler[0](m)  # noqa: E731, PLW0108 (made below: it sends through the gateway)
    table = smsc(sim, binds=1, enquire_link_interval=3600.0)  # fewer wake-ups over 2 virtual days
    async with gateway(table, store=store, inbound_handler=inbound) as gw:
        config = AppConfig(gateway=gw.config, twoway=twoway_from_dict({"flows_dir": str(EXAMPLES)}))
        twoway = twoway_handler(config, store, gw)
        handler.append(twoway)
        threads = thread_desk(store, gw.submit, config.twoway, {})
        assert threads is not None and isinstance(twoway.flows, FlowDesk)
        twoway.flows.threads = threads
        async with trio.open_nursery() as nursery:
            nursery.start_soon(twoway.flows.run)
            yield Wired(sim, gw, store, twoway, threads)
            nursery.cancel_scope.cancel()


async def test_booking_reminder_fires_after_two_virtual_days_and_confirm_completes(
    autojump_clock: MockClock,
) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        await w.texts(ANN, "BOOK")
        await w.hears(ANN, "reply with the number of a time to book")
        await w.texts(ANN, "7")  # out of range: the step's re-prompt, never an error
        await w.hears(ANN, "Sorry, please reply with a number from the list:")
        await w.texts(ANN, "2")  # 2027-03-15T14:00Z: the reminder is due 2 days and a minute on
        booked_at = trio.current_time()
        await w.hears(ANN, "Booked: Acme Dental")
        [run] = [r for r in [w.store.active_flow_run(ANN, US)] if r is not None]
        assert run.state["step"] == "booked"
        await trio.sleep(TWO_DAYS - 60)  # a virtual 2 days less a minute: no reminder yet
        assert not any(t.startswith("Reminder") for t in w.heard(ANN))
        await w.hears(ANN, "Reply CONFIRM to keep it or RESCHEDULE", timeout=180)
        assert TWO_DAYS <= trio.current_time() - booked_at <= TWO_DAYS + 61  # due 2 days + 1 min on
        await w.texts(ANN, "yes")
        heard = await w.hears(ANN, "Thank you, see you")
        assert [t.split(":")[0].split(",")[0] for t in heard] == [
            "Acme Dental", "Sorry", "Booked", "Reminder", "Thank you",
        ]  # fmt: skip
        assert w.store.active_flow_run(ANN, US) is None
        [done] = w.events("flow.completed")
        assert (done.data["flow"], done.data["vars"]["answer"]) == ("booking", "CONFIRM")
        assert [e.data["data"]["slot"] for e in w.events("booking.confirmed")] == [
            "2027-03-15T14:00:00+00:00"
        ]


async def test_help_triage_hands_off_to_a_thread_an_agent_answers(autojump_clock: MockClock) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        await w.texts(BOB, "help")
        await w.hears(BOB, "Which product is it about?")
        await w.texts(BOB, "2")
        await w.hears(BOB, "What kind of problem with your Mobile?")
        await w.texts(BOB, "1")
        await w.hears(BOB, "Our billing team will text you back here shortly.")
        thread = w.store.find_thread(None, BOB, US)
        assert thread is not None and thread.handoff is not None
        assert (thread.status, thread.queue, thread.handoff["note"]) == (
            "waiting_on_agent",
            "billing",
            "Mobile: Billing",
        )
        said = [e["text"] for e in thread.handoff["transcript"] if e["direction"] == "in"]
        assert said == ["help", "2", "1"]
        [handoff] = w.events("flow.handoff")
        assert (handoff.data["thread_id"], handoff.data["queue"]) == (thread.id, "billing")
        w.threads.reply(thread.id, "Hi, this is Sam from billing. How can I help?", "sam")
        await w.hears(BOB, "this is Sam from billing")
        await w.texts(BOB, "My bill is twice what it was")  # no run now: it lands in the thread
        entries = w.threads.messages(w.store.get_thread(thread.id) or thread)
        assert [e["direction"] for e in entries][-2:] == ["mt", "mo"]
        assert entries[-1]["text"] == "My bill is twice what it was"
        assert not w.events("flow.step") or all(e.data["to"] == BOB for e in w.events("flow.step"))
        assert w.store.active_flow_run(BOB, US) is None


async def test_survey_asks_why_below_7_and_not_at_7(autojump_clock: MockClock) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        for number, score in ((ANN, "4"), (BOB, "7")):
            await w.texts(number, "SURVEY")
            await w.hears(number, "Reply with a number from 0 to 10.")
            await w.texts(number, score)
        await w.hears(ANN, "Why did you give us 4?")
        await w.texts(ANN, "Too slow")
        await w.hears(ANN, "Thank you for your answer!")
        heard_bob = await w.hears(BOB, "Thank you for your answer!")
        assert not any("Why" in t for t in heard_bob)
        answered = {e.data["data"]["score"]: e.data["data"]["reason"] for e in w.events("survey.answered")}
        assert answered == {"4": "Too slow", "7": ""}


async def test_voucher_keyword_gives_one_code_per_number(autojump_clock: MockClock) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        assert isinstance(w.twoway.vouchers, VoucherDesk)
        w.twoway.vouchers.import_codes("spring", [("SPRING-1", None), ("SPRING-2", None)], at=START)
        for number in (ANN, ANN, BOB):
            await w.texts(number, "DEAL")
        await w.hears(BOB, "Your Acme code: SPRING-2.")
        heard = await w.hears(ANN, "Your Acme code: SPRING-1.")
        assert (
            heard == ["Your Acme code: SPRING-1. Show it at the till by 31 May. Reply STOP to opt out."] * 2
        )
        await w.texts(LONG[:-1] + "9", "DEAL")  # a third number: the pool is empty
        await w.hears(LONG[:-1] + "9", "Sorry, all the spring codes have gone.")


async def test_a_restart_in_the_middle_keeps_the_run_and_its_reminder(autojump_clock: MockClock) -> None:
    store = new_store()  # the disk: kept across the two gateways
    async with memory_simulator() as sim:
        async with wired(sim, store) as w:
            await w.texts(ANN, "BOOK")
            await w.hears(ANN, "reply with the number of a time to book")
        await trio.sleep(600)  # the gateway is down ten minutes: a text in between waits at the SMSC
        async with wired(sim, store) as w:
            await w.texts(ANN, "2")  # the same run, in the new gateway, reads it
            await w.hears(ANN, "Booked: Acme Dental")
        await trio.sleep(TWO_DAYS)  # down again when the reminder falls due
        async with wired(sim, store) as w:
            heard = await w.hears(ANN, "Reply CONFIRM to keep it", timeout=60)  # due: sent at once
            assert [t[:8] for t in heard] == ["Acme Den", "Booked: ", "Reminder"]
            await w.texts(ANN, "RESCHEDULE")
            await w.hears(ANN, "reply with the number of a time to book")
            assert (run := w.store.active_flow_run(ANN, US)) is not None and run.state["step"] == "pick"
            assert len({e.data["run_id"] for e in w.events("flow.step")}) == 1


async def test_stop_mid_flow_ends_the_run_and_only_the_confirmation_follows(
    autojump_clock: MockClock,
) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        await w.texts(ANN, "BOOK")
        await w.texts(ANN, "2")
        await w.hears(ANN, "Booked: Acme Dental")  # a reminder is set for 2 days on
        await w.texts(ANN, "STOP")
        await trio.sleep(TWO_DAYS + 3600)  # past the reminder's time
        heard = w.heard(ANN)
        assert [t[:8] for t in heard[:2]] == ["Acme Den", "Booked: "]
        assert len(heard) == 3 and "unsubscribed" in heard[2]  # the STOP's one confirmation
        assert w.store.active_flow_run(ANN, US) is None
        [ended] = w.events("flow.ended")
        assert (ended.data["status"], ended.data["reason"]) == ("stopped", "stop")
        consent = w.store.consent(ANN)
        assert consent is not None and [e.state for e in consent.latest.values()] == ["opted_out"]
        with contextlib.suppress(ReplyBlocked):  # an agent cannot reach it either
            thread = w.store.find_thread(None, ANN, US)
            assert thread is not None
            w.threads.reply(thread.id, "Are you sure?", "sam")
            raise AssertionError("an agent's reply to an opted-out number went")
        assert len(w.heard(ANN)) == 3


async def test_two_flows_for_one_number_from_two_senders(autojump_clock: MockClock) -> None:
    async with memory_simulator() as sim, wired(sim, new_store()) as w:
        await w.texts(ANN, "SURVEY", US)
        await w.texts(ANN, "BOOK", LONG)
        await w.hears(ANN, "from 0 to 10", sender=US)
        await w.hears(ANN, "reply with the number of a time", sender=LONG)
        await w.texts(ANN, "3", LONG)  # read by the booking: a slot (not a score)
        await w.texts(ANN, "9", US)  # read by the survey: a score (not a slot number)
        await w.hears(ANN, "Booked: Acme Dental, Tue 16 Mar 11:00", sender=LONG)
        await w.hears(ANN, "Thank you for your answer!", sender=US)
        survey, booking = w.store.active_flow_run(ANN, US), w.store.active_flow_run(ANN, LONG)
        assert survey is None  # done
        assert booking is not None and booking.state["step"] == "booked"
        assert not any("Thank you" in t for t in w.heard(ANN, LONG))
        assert not any("Booked" in t for t in w.heard(ANN, US))
