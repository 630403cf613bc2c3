"""The conversation desk (``gateway.conversations``) in virtual time: the real gateway and
simulator over memory streams, ``MockClock``. Deadlines, re-prompts, and what a reply
after the deadline is."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

from simulator.smsc import Simulator
from smppgw.gateway.conversations import Conversations
from smppgw.gateway.engine import Gateway
from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.twoway import Reply, TwoWay
from smppgw.store.base import Target
from smppgw.store.memory import MemoryStore
from smppgw.twoway.conversations import expect_from
from tests.gateway.helpers import ACCOUNT, gateway, memory_simulator, smsc, wait_until

X = "447700900001"
YES_NO = {"type": "choice", "choices": {"YES": ["y"], "NO": ["n"]}, "reprompt": "YES or NO?"}


@attrs.define
class Desk:
    gw: Gateway
    sim: Simulator
    store: MemoryStore
    desk: Conversations

    def ask(self, timeout: str, **expect: Any) -> tuple[str, str]:
        """(message id, conversation id) of a new message expecting a reply."""
        spec = expect_from({**YES_NO, **expect, "timeout": timeout})
        record = self.gw.submit(source="12345", destination=X, text="Coming?", expect=spec)
        found = self.store.conversation_of(record.id)
        assert found is not None
        return record.id, found.id

    def state(self, conversation_id: str) -> str:
        found = self.store.get_conversation(conversation_id)
        assert found is not None
        return found.state

    async def reply(self, text: str) -> None:
        seen = len(self.store.inbound())
        self.sim.inject_mo(system_id=ACCOUNT, source_addr=X, destination_addr="12345", text=text)
        assert await wait_until(lambda: len(self.store.inbound()) > seen, 5)


@contextlib.asynccontextmanager
async def desk() -> AsyncIterator[Desk]:
    store = MemoryStore()
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    handler: list[TwoWay] = []

    def inbound(message: InboundMessage) -> None:
        handler[0](message)

    async with (
        memory_simulator() as sim,
        gateway(smsc(sim), store=store, events=store, inbound_handler=inbound) as gw,
        trio.open_nursery() as nursery,
    ):
        talks = Conversations(store, wall=store.wall, router=gw.intake.router)
        gw.intake.conversations = talks

        def send(reply: Reply) -> None:
            gw.submit(
                source=reply.source, destination=reply.destination, text=reply.text, tags=(reply.purpose,)
            )

        handler.append(TwoWay(store=store, send=send, conversations=talks))
        nursery.start_soon(talks.run)
        yield Desk(gw, sim, store, talks)
        nursery.cancel_scope.cancel()


async def test_silence_expires_the_conversation_at_its_deadline(autojump_clock: MockClock) -> None:
    async with desk() as d:
        start = trio.current_time()
        message_id, cid = d.ask("10m")
        await trio.sleep(599)
        assert d.state(cid) == "open"
        await trio.sleep(2)
        assert d.state(cid) == "expired"
        found = d.store.get_conversation(cid)
        assert found is not None and found.closed_at is not None
        assert 600 <= found.closed_at - start < 601
        [event] = d.store.events(types=["conversation.expired"])
        assert event.subject == f"conversation:{cid}" and event.data["message_id"] == message_id
        # A reply after the deadline is a plain inbound message.
        await d.reply("yes")
        last = d.store.inbound()[-1]
        assert (last.conversation_id, last.linked_by, last.answer) == (None, None, None)
        assert d.desk.open_count() == 0


async def test_an_earlier_deadline_opened_later_wakes_the_timer(autojump_clock: MockClock) -> None:
    async with desk() as d:
        _, slow = d.ask("1h")
        await trio.sleep(1)
        _, quick = d.ask("5m")
        await trio.sleep(301)
        assert (d.state(quick), d.state(slow)) == ("expired", "open")
        await trio.sleep(3600)
        assert d.state(slow) == "expired"
        assert len(d.store.events(types=["conversation.expired"])) == 2


async def test_each_invalid_reply_gets_a_reprompt_and_an_answer_ends_it(autojump_clock: MockClock) -> None:
    async with desk() as d:
        message_id, cid = d.ask("1h", max_reprompts=2)
        await d.reply("what?")
        await d.reply("hmm")
        assert await wait_until(
            lambda: sum(m.payload == b"YES or NO?" for m in d.sim.store.select(limit=100)) == 2, 5
        )
        found = d.store.get_conversation(cid)
        assert found is not None and (found.state, found.reprompts) == ("open", 2)
        await d.reply("N")
        found = d.store.get_conversation(cid)
        assert found is not None and (found.state, found.answer) == ("answered", "NO")
        assert [r["answer"] for r in found.replies] == [None, None, "NO"]
        [event] = d.store.events(types=["conversation.answered"])
        assert event.data["answer"] == "NO" and event.data["message_id"] == message_id
        await trio.sleep(3700)  # its deadline passes: nothing more happens to it
        assert d.state(cid) == "answered" and d.store.events(types=["conversation.expired"]) == []
        reprompts = [m for m in d.gw.store.all() if "reprompt" in m.tags]  # type: ignore[attr-defined]
        assert len(reprompts) == 2 and {m.destination for m in reprompts} == {X}


async def test_a_text_answer_is_not_logged_at_info(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A text answer is the subscriber's own words (STYLE: no message text at INFO); a
    choice's name is ours and is logged."""
    caplog.set_level(logging.INFO, logger="smppgw.gateway.conversations")
    async with desk() as d:
        spec = expect_from({"type": "text", "timeout": "1h"})
        record = d.gw.submit(source="12345", destination=X, text="Anything to add?", expect=spec)
        await d.reply("my secret words")
        found = d.store.conversation_of(record.id)
        assert found is not None and (found.state, found.answer) == ("answered", "my secret words")
        _, choice = d.ask("1h")
        await d.reply("Y")
        assert d.state(choice) == "answered"
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not any("secret" in line for line in infos), infos
    assert any("answer_chars=15" in line for line in infos), infos
    assert any(choice in line and "answer=YES" in line for line in infos), infos


async def test_a_scheduled_message_counts_its_timeout_from_its_send_at(autojump_clock: MockClock) -> None:
    async with desk() as d:
        spec = expect_from({"type": "text", "timeout": "10m"})
        now = trio.current_time()
        record = d.gw.submit(source="12345", destination=X, text="Later", send_at=now + 3600, expect=spec)
        found = d.store.conversation_of(record.id)
        assert found is not None and found.deadline == now + 3600 + 600
