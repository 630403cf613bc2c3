"""Receipt correlation across SMSC id reuse and with ``receipt_id_base = "auto"`` (issue
13, SMPP-REFERENCE §6.3 items 1-2).

SMSC message ids are unique per SMSC only within a time horizon: a restarted SMSC may
number from 1 again. A receipt that overtakes its submit_sm_resp must never be matched
to an older message that is already final under the same id; it waits for its own resp.
In AUTO, an id that reads in two bases matches the open part, or none; never a wrong one.
"""

from __future__ import annotations

import trio
from trio.testing import MockClock

from simulator.smsc import Simulator
from smppgw.core.constants import MessageState
from smppgw.store.base import Status
from tests.gateway.helpers import dest, gateway, memory_simulator, sim_parts, smsc, wait_all

ALL_DELIVERED = {"DELIVRD": 1.0}


def restart_ids(sim: Simulator) -> None:
    """The SMSC restarted and numbers its message ids from 1 again (a fresh simulator's
    ``IdFactory`` starts at 1; only the numbering matters here, not the dropped binds)."""
    sim.state.ids._next = 1


async def test_early_receipt_after_id_reuse_waits_for_its_own_resp(autojump_clock: MockClock) -> None:
    with trio.fail_after(200):
        async with (
            memory_simulator(profile="dlr-before-resp", behaviour={"outcomes": ALL_DELIVERED}) as sim,
            gateway(smsc(sim)) as gw,
        ):
            first = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(300)]
            await wait_all(gw, first, 30)
            restart_ids(sim)
            second = [gw.submit(source="12345", destination=dest(1000 + i), text="y") for i in range(300)]
            with trio.move_on_after(60):
                await wait_all(gw, second, 60)
            duplicates = gw.receipts.duplicates
            correlator = gw.receipts.correlator
    assert {p.smsc_message_id for r in first for p in r.parts} & {
        p.smsc_message_id for r in second for p in r.parts
    }
    assert correlator.matched_early > 0  # receipts did overtake their resps
    stuck = [(r.status, r.parts[0].smsc_message_id) for r in second if r.status is not Status.DELIVERED]
    assert stuck == []
    assert all(r.status is Status.DELIVERED for r in first)
    assert duplicates == 0
    assert all(p.receipts == 1 for r in first + second for p in r.parts)


async def test_auto_base_against_hex_ids_profile(autojump_clock: MockClock) -> None:
    behaviour = {"outcomes": {"DELIVRD": 0.5, "UNDELIV": 0.5}}
    with trio.fail_after(200):
        async with (
            memory_simulator(profile="hex-ids", behaviour=behaviour) as sim,
            gateway(smsc(sim)) as gw,  # receipt_id_base: the default, "auto"
        ):
            assert gw.config.smscs[0].receipt_id_base.value == "auto"
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(120)]
            with trio.move_on_after(120):
                await wait_all(gw, records, 120)
    received = sim_parts(sim)
    want = {MessageState.DELIVERED: Status.DELIVERED, MessageState.UNDELIVERABLE: Status.UNDELIVERABLE}
    unsettled = [r.parts[0].smsc_message_id for r in records if not r.is_final]
    assert unsettled == []
    wrong = []
    for r in records:
        [m] = received[r.destination]
        assert r.parts[0].smsc_message_id == m.message_id
        if r.status is not want[m.state]:
            wrong.append((m.message_id, m.state, r.status))
    assert wrong == []
    assert {m.state for ms in received.values() for m in ms} == set(want)  # both outcomes occurred
