"""Routing across SMSCs: failover tiers and weighted sharing (DESIGN §4.3 ``[[route]]``),
over memory streams in virtual time (``tests.gateway.helpers``)."""

from __future__ import annotations

import collections

import trio
from trio.testing import MockClock

from smppgw.store.base import Status
from tests.gateway.helpers import (
    MEMORY_HOST,
    dest,
    gateway,
    memory_net,
    memory_simulator,
    smsc,
    wait_all,
    wait_until,
)

TIERS = [{"name": "r", "smscs": ["a", "b"]}]


async def test_first_smsc_refusing_binds_sends_everything_to_the_second(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"refuse_binds": True}) as sim_a, memory_simulator() as sim_b:
            async with gateway(smsc(sim_a, "a"), smsc(sim_b, "b"), route=TIERS, up=False) as gw:
                assert await wait_until(lambda: gw.smscs["b"].pool.up, 5)
                records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(10)]
                await wait_all(gw, records, 10)
                assert not gw.smscs["a"].pool.up and gw.smscs["a"].pool.bind_failures > 0
    assert all(r.status is Status.DELIVERED and r.smsc == "b" for r in records)
    assert len(sim_a.store) == 0 and len(sim_b.store) == 10


async def test_a_stopped_smsc_fails_over_with_queued_messages(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator(seed=2) as sim_a, memory_simulator() as sim_b:
            # A is slow (2/s at the gateway): most of its messages are still queued when it stops.
            async with gateway(
                smsc(sim_a, "a", tps=2), smsc(sim_b, "b"), route=TIERS, failover_after=1.0
            ) as gw:
                first = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(10)]
                await trio.sleep(0.3)
                memory_net().stop(sim_a.port)
                assert await wait_until(lambda: not gw.smscs["a"].pool.up, 5)
                later = [gw.submit(source="12345", destination=dest(10 + i), text="x") for i in range(5)]
                await wait_all(gw, first + later, 15)
                assert gw.queued() == 0
    on_a = {m.destination_addr for m in sim_a.store.select()}
    on_b = {m.destination_addr for m in sim_b.store.select()}
    assert 1 <= len(on_a) <= 3  # what A took before it stopped
    assert all(r.status is Status.DELIVERED for r in first + later)
    assert all(r.smsc == "b" for r in later)
    for r in first:  # each message went to exactly one carrier, and its record says which
        assert (r.destination in on_a) != (r.destination in on_b)
        assert r.smsc == ("a" if r.destination in on_a else "b")


async def test_weights_share_a_tier_roughly_three_to_one(autojump_clock: MockClock) -> None:
    route = [{"name": "r", "smscs": [["a:3", "b:1"]]}]
    with trio.fail_after(30):
        async with memory_simulator() as sim_a, memory_simulator() as sim_b:
            async with gateway(smsc(sim_a, "a"), smsc(sim_b, "b"), route=route) as gw:
                records = [
                    gw.submit(source="12345", destination=dest(i), text="x", dlr=False) for i in range(400)
                ]
                await wait_all(gw, records, 20)
    split = collections.Counter(r.smsc for r in records)
    assert split["a"] + split["b"] == 400
    assert 260 <= split["a"] <= 340  # 300 +- 4.6 standard deviations
    assert len(sim_a.store) == split["a"] and len(sim_b.store) == split["b"]


async def test_routes_by_prefix_and_sender_kind(autojump_clock: MockClock) -> None:
    routes = [
        {"name": "uk", "prefixes": ["+44"], "smscs": ["b"]},
        {"name": "uk-mobile", "prefixes": ["447"], "sender_kinds": ["short_code"], "smscs": ["a"]},
        {"name": "rest", "smscs": ["a"]},
    ]
    with trio.fail_after(20):
        async with memory_simulator() as sim_a, memory_simulator() as sim_b:
            async with gateway(smsc(sim_a, "a"), smsc(sim_b, "b"), route=routes) as gw:
                short = gw.submit(source="12345", destination="447700900001", text="x", dlr=False)
                alpha = gw.submit(source="Shop", destination="447700900002", text="x", dlr=False)
                us = gw.submit(source="12345", destination="14155550100", text="x", dlr=False)
                await wait_all(gw, [short, alpha, us], 10)
    assert (short.route, short.smsc) == ("uk-mobile", "a")
    assert (alpha.route, alpha.smsc) == ("uk", "b")
    assert (us.route, us.smsc) == ("rest", "a")


async def test_messages_for_an_unreachable_smsc_fail_after_max_age(autojump_clock: MockClock) -> None:
    """With nowhere to fail over to, queued messages wait for the SMSC, but not forever:
    past the retry policy's max_age they finish as ``failed`` with the reason."""
    dead = {
        "name": "a",
        "host": MEMORY_HOST,
        "port": 1,  # nothing listens there
        "system_id": "x",
        "password": "y",
        "connect_timeout": 0.5,
    }
    with trio.fail_after(20):
        async with gateway(dead, up=False, retry={"max_age": 2.0}, failover_after=0.5) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(3)]
            assert await wait_until(lambda: all(r.status is Status.FAILED for r in records), 10)
            assert gw.queued() == 0
    assert all("max_age" in (r.error or "") for r in records)
