"""Consent through the gateway, checked at the simulator: what a handset receives after
STOP, START and HELP (the property: an opted-out number receives nothing but its one
confirmation), the block at dispatch while a message waits, what a STOP blocks of what
is queued, and carrier statuses that mean "opted out".

The gateway is wired as ``smppgw serve`` wires it (``app_twoway.twoway_handler``) on the memory
store, against the real simulator over memory streams in virtual time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.smsc import Simulator
from smppgw.app import AppConfig
from smppgw.app_twoway import twoway_handler
from smppgw.core.constants import CommandStatus
from smppgw.core.text import decode_text
from smppgw.gateway.engine import Gateway
from smppgw.gateway.twoway import TwoWay
from smppgw.store.base import FINAL, Status
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.consent import OPTED_IN, OPTED_OUT, ConsentEvent, NumberConsent, Scope
from tests.gateway.helpers import gateway, memory_simulator, smsc, wait_until

_DONE = FINAL | {Status.SCHEDULED}
NUMBERS = ("447700900001", "447700900002")
SENDERS = ("12345", "67890")
TWOWAY: dict[str, Any] = {"consent": {"brand": "Acme"}, "texts": {"help": "Acme help {contact}"}}


@contextlib.asynccontextmanager
async def wired(
    sim: Simulator, twoway: dict[str, Any] | None = None, **smsc_kw: Any
) -> AsyncIterator[tuple[Gateway, MemoryStore]]:
    store = MemoryStore()
    handler: list[TwoWay] = []
    inbound = lambda m: handler[0](m)  # noqa: E731, PLW0108 (made below: it sends through the gateway)
    async with gateway(smsc(sim, binds=1, **smsc_kw), store=store, inbound_handler=inbound) as gw:
        config = AppConfig(gateway=gw.config, twoway=twoway_from_dict(twoway or TWOWAY))
        handler.append(twoway_handler(config, store, gw))
        yield gw, store


def received(sim: Simulator, number: str) -> list[tuple[str, str]]:
    """(sender, text) of what the simulator took for ``number``, oldest first."""
    found = [m for m in sim.store.select(limit=100_000) if m.destination_addr == number]
    return [(m.source_addr, decode_text(m.payload, m.data_coding)) for m in reversed(found)]


async def settled(gw: Gateway, store: MemoryStore) -> None:
    """Every message final (but those ``scheduled`` for later)."""
    ok = await wait_until(lambda: gw.queued() == 0 and all(m.status in _DONE for m in store.all()), 30)
    assert ok, [(m.id, m.status) for m in store.all() if m.status not in _DONE]


async def mo(sim: Simulator, gw: Gateway, store: MemoryStore, number: str, sender: str, text: str) -> None:
    before = len(store.inbound(limit=10_000))
    sim.inject_mo(system_id=None, source_addr=number, destination_addr=sender, text=text)
    assert await wait_until(lambda: len(store.inbound(limit=10_000)) > before, 10)
    await settled(gw, store)


# -- the property, end to end -------------------------------------------------------------------

actions = st.lists(
    st.tuples(
        st.sampled_from(("send", "send", "STOP", "STOPALL", "START", "HELP")),
        st.sampled_from(NUMBERS),
        st.sampled_from(SENDERS),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=actions)
def test_an_opted_out_number_receives_nothing_but_its_one_confirmation(
    script: list[tuple[str, str, str]],
) -> None:
    """Whatever the order of sends, STOP, STOP ALL, START and HELP: a handset receives
    an offer only while it may (the pure rules, replayed beside the gateway, say so),
    exactly one confirmation per STOP that changed something, and every HELP answered."""
    trio.run(_scenario, script, clock=trio.testing.MockClock(autojump_threshold=0))


async def _scenario(script: list[tuple[str, str, str]]) -> None:
    rules = twoway_from_dict(TWOWAY).consent
    model = {n: NumberConsent() for n in NUMBERS}
    expected: dict[str, list[tuple[str, str]]] = {n: [] for n in NUMBERS}
    with trio.fail_after(120):
        async with memory_simulator() as sim, wired(sim) as (gw, store):
            for k, (action, number, sender) in enumerate(script):
                if action == "send":
                    text = f"Offer {k}: 20% off"
                    record = gw.submit(source=sender, destination=number, text=text, tags=("marketing",))
                    allowed = rules.decide(model[number], sender) is None
                    assert (record.status is not Status.BLOCKED) == allowed, (k, record.error)
                    if allowed:
                        expected[number].append((sender, text))
                    await settled(gw, store)
                    continue
                await mo(sim, gw, store, number, sender, action)
                index, seq = model[number], k + 1
                if action == "HELP":
                    expected[number].append((sender, rules.reply("help", sender)))
                    continue
                scope = rules.keyword_scope(sender, all_senders=action == "STOPALL")
                state = OPTED_IN if action == "START" else OPTED_OUT
                before = index.blocking(rules.covering_scope(scope))
                event = ConsentEvent(number=number, scope=scope, state=state, source="keyword", at=k, seq=seq)
                index.add(event)
                if state == OPTED_OUT:
                    if rules.confirms(event, before):
                        expected[number].append((sender, rules.reply("opt_out", sender)))
                    continue
                if rules.decide(index, sender) is not None:
                    index.add(ConsentEvent(number=number, scope=Scope.of(sender), state=OPTED_IN,
                                           source="keyword", at=k, seq=seq))  # fmt: skip
                expected[number].append((sender, rules.reply("opt_in", sender)))
            await settled(gw, store)
            for number in NUMBERS:
                assert received(sim, number) == expected[number], number


# -- the block at dispatch, the queue at STOP, carriers ------------------------------------------


async def test_consent_withdrawn_while_a_message_waits_blocks_it_at_dispatch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A scheduled message (so not in any dispatcher queue when the STOP comes) is blocked
    just before its submit_sm, with the STOP's reason; the number gets only the confirmation."""
    async with memory_simulator() as sim, wired(sim) as (gw, store):
        later = gw.submit(
            source="12345", destination=NUMBERS[0], text="Offer", send_at=trio.current_time() + 60
        )
        other = gw.submit(
            source="67890", destination=NUMBERS[0], text="Hello", send_at=trio.current_time() + 60
        )
        assert later.status is Status.SCHEDULED
        await mo(sim, gw, store, NUMBERS[0], "12345", "STOP")
        await trio.sleep(61)
        await settled(gw, store)
        assert later.status is Status.BLOCKED and later.error is not None
        assert later.error.startswith("destination opted out of 12345 (STOP at ")
        assert later.history[-1][2] == "consent"
        assert other.status is Status.DELIVERED  # another sender: not covered by a STOP to 12345
        texts = [t for _, t in received(sim, NUMBERS[0])]
        assert texts[0].startswith("You are unsubscribed from Acme messages.") and texts[1:] == ["Hello"]


async def test_a_stop_blocks_what_is_queued_for_the_number_within_its_scope(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with memory_simulator(behaviour={"tps": 1}) as sim, wired(sim, tps=1) as (gw, store):
        queued = [gw.submit(source="12345", destination=NUMBERS[0], text=f"Offer {i}") for i in range(5)]
        kept = gw.submit(source="67890", destination=NUMBERS[0], text="Reminder")
        await mo(sim, gw, store, NUMBERS[0], "12345", "STOP")
        blocked = [r for r in queued if r.status is Status.BLOCKED]
        assert len(blocked) >= 3  # sent at one a second: most still waited
        assert all(r.status is Status.DELIVERED for r in queued if r not in blocked)
        assert kept.status is Status.DELIVERED
        (event,) = store.consent_history(NUMBERS[0])
        assert (event.keyword, event.text, event.inbound_seq) == ("STOP", "STOP", 1)


async def test_a_carrier_opt_out_status_records_consent_and_blocks_the_next_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    force = [{"destination": NUMBERS[0], "submit_status": int(CommandStatus.ESME_RX_R_APPN)},
             {"destination": NUMBERS[1], "outcome": "UNDELIV"}]  # fmt: skip
    async with (
        memory_simulator(behaviour={"force": force}) as sim,
        wired(sim, optout_statuses=["ESME_RX_R_APPN"], optout_network_errors=["1"]) as (gw, store),
    ):
        first = gw.submit(source="12345", destination=NUMBERS[0], text="Offer")
        undeliv = gw.submit(source="12345", destination=NUMBERS[1], text="Offer")
        await settled(gw, store)
        assert (first.status, undeliv.status) == (Status.REJECTED, Status.UNDELIVERABLE)
        (event,) = store.consent_history(NUMBERS[0])
        assert (event.source, event.state, event.scope) == ("carrier", OPTED_OUT, Scope.of("12345"))
        assert "ESME_RX_R_APPN" in event.reason
        (event,) = store.consent_history(NUMBERS[1])
        assert event.source == "carrier" and "err:001" in event.reason
        again = gw.submit(source="12345", destination=NUMBERS[0], text="Offer again")
        assert again.status is Status.BLOCKED and "(carrier at " in (again.error or "")
        assert gw.submit(source="67890", destination=NUMBERS[0], text="Other").status is Status.QUEUED
