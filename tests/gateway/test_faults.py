"""Faults at the carrier: dropped binds mid-window, transient and permanent statuses
(checklist 46, 47, 50; DESIGN §3: transient statuses go back to ``queued``)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.store.base import MessageRecord, Status
from tests.gateway.helpers import (
    ACCOUNT,
    dest,
    gateway,
    memory_simulator,
    metric,
    sim_parts,
    smsc,
    wait_all,
    wait_until,
)


def assert_nothing_lost_or_duplicated(sim: Any, records: list[MessageRecord]) -> int:
    """Every message final and delivered once; the carrier saw each part at most
    ``1 + resent_unknown`` times, exactly once when it was never resent. Returns resends."""
    received = sim_parts(sim)
    resent = 0
    for record in records:
        assert record.status is Status.DELIVERED, record.to_dict()
        [part] = record.parts
        seen = received.get(record.destination, [])
        assert 1 <= len(seen) <= 1 + part.resent_unknown
        if part.resent_unknown == 0:
            assert len(seen) == 1
        # The id kept is the one the carrier answered: one of what it received.
        assert part.smsc_message_id in {m.message_id for m in seen}
        resent += part.resent_unknown
    return resent


@pytest.mark.parametrize(
    "behaviour",
    [{"drop_after_pdus": 25}, {"drop_probability": 0.03}],
    ids=["drop_after_pdus", "drop_probability"],
)
async def test_survives_dropped_binds_mid_window(
    behaviour: dict[str, Any], autojump_clock: MockClock
) -> None:
    with trio.fail_after(30):
        async with (
            memory_simulator(behaviour={"dlr_delay": 0.02, **behaviour}) as sim,
            gateway(smsc(sim, window=10), receipts={"hold": 1.0}) as gw,
        ):
            most_binds = 0

            async def count_binds() -> None:
                nonlocal most_binds
                while True:
                    most_binds = max(most_binds, len(sim.binds_info()))
                    await trio.sleep(0.005)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(count_binds)
                records = [gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(80)]
                await wait_all(gw, records, 20)
                nursery.cancel_scope.cancel()
            resent = assert_nothing_lost_or_duplicated(sim, records)
            assert most_binds <= 2  # a rebind never leaves the old session open (item 80)
            assert gw.smscs["a"].pool.binds_made > 2  # binds were lost and made again
            assert resent > 0
            assert metric(gw, "smppgw_resent_unknown_total", smsc="a") == resent


async def test_survives_binds_dropped_at_run_time(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator(behaviour={"dlr_delay": 0.02}) as sim, gateway(smsc(sim, window=8)) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(20)]
            await wait_all(gw, records, 10)
            sim.set_behaviour(ACCOUNT, {"drop_after_pdus": 12})
            records += [gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(20, 60)]
            await wait_all(gw, records, 15)
            made = gw.smscs["a"].pool.binds_made
            sim.set_behaviour(ACCOUNT, {"drop_after_pdus": None})
            records += [gw.submit(source="12345", destination=dest(i), text=f"m{i}") for i in range(60, 80)]
            await wait_all(gw, records, 10)
            assert_nothing_lost_or_duplicated(sim, records)
            assert made > 2
            assert all(r.parts[0].resent_unknown == 0 for r in records[:20])


async def test_transient_error_is_retried_then_failed(autojump_clock: MockClock) -> None:
    retry = {"max_attempts": 3, "initial": 0.05, "maximum": 0.2}
    with trio.fail_after(20):
        async with (
            memory_simulator(behaviour={"error_probability": 1.0, "error_status": "ESME_RSYSERR"}) as sim,
            gateway(smsc(sim), retry=retry) as gw,
        ):
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(4)]
            await wait_all(gw, records, 10)
            submits = sum(b["submits"] for b in sim.binds_info())
            sysrr = metric(gw, "smppgw_submits_total", smsc="a", status="ESME_RSYSERR")
    for record in records:
        assert record.status is Status.FAILED
        assert record.error == "ESME_RSYSERR: 3 attempts"
        assert record.parts[0].attempts == 3
        assert record.parts[0].smsc_message_id is None
    assert submits == sysrr == 12  # 3 per message, then no more
    assert len(sim.store) == 0


async def test_permanent_error_is_rejected_at_once(autojump_clock: MockClock) -> None:
    force = [{"destination_suffix": "99", "submit_status": "ESME_RINVDSTADR"}]
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"force": force}) as sim, gateway(smsc(sim)) as gw:
            bad = gw.submit(source="12345", destination="447700900099", text="x")
            good = gw.submit(source="12345", destination="447700900001", text="x")
            await wait_all(gw, [bad, good], 10)
            await trio.sleep(0.2)  # no retry follows
            submits = sum(b["submits"] for b in sim.binds_info())
    assert bad.status is Status.REJECTED
    assert bad.error == "ESME_RINVDSTADR"
    assert bad.parts[0].attempts == 1 and bad.parts[0].status is Status.REJECTED
    assert good.status is Status.DELIVERED
    assert submits == 2


async def test_throttled_submits_are_counted_and_requeued(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"tps": 5}) as sim, gateway(smsc(sim, tps=40)) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(12)]
            await wait_all(gw, records, 15)
            throttled = metric(gw, "smppgw_submits_total", smsc="a", status="ESME_RTHROTTLED")
            account = sim.accounts[ACCOUNT]
    assert all(r.status is Status.DELIVERED for r in records)
    assert all(r.parts[0].attempts == 1 for r in records)  # a throttled submit is no attempt
    assert throttled == account.throttled == gw.smscs["a"].dispatcher.throttled > 0
    assert len(sim.store) == 12


async def test_response_timeout_resubmits_and_counts_it(autojump_clock: MockClock) -> None:
    """No submit_sm_resp within the response timer: resent, never taken as success (item 50)."""
    with trio.fail_after(20):
        async with (
            memory_simulator(behaviour={"dlr_delay": 0.02}) as sim,
            gateway(smsc(sim, response_timeout=0.3, binds=1), retry={"initial": 0.05}) as gw,
        ):
            sim.set_behaviour(ACCOUNT, {"black_hole": True})
            record = gw.submit(source="12345", destination=dest(1), text="x")
            await trio.sleep(0.5)
            assert record.status is not Status.DELIVERED and record.parts[0].resent_unknown >= 1
            sim.set_behaviour(ACCOUNT, {"black_hole": False})
            await wait_all(gw, [record], 10)
    assert record.status is Status.DELIVERED
    assert record.parts[0].resent_unknown >= 1


async def test_too_many_binds_backs_off_long(autojump_clock: MockClock) -> None:
    """ESME_RALYBND (the carrier's bind limit): the extra bind waits, the other sends."""
    account = [{"system_id": ACCOUNT, "password": "password", "max_binds": 1}]
    with trio.fail_after(20):
        async with memory_simulator(account=account) as sim, gateway(smsc(sim, binds=2), up=False) as gw:
            pool = gw.smscs["a"].pool
            assert await wait_until(lambda: pool.up and pool.bind_failures == 1, 5)
            record = gw.submit(source="12345", destination=dest(1), text="x")
            await wait_all(gw, [record], 5)
            await trio.sleep(1.5)  # a normal backoff would have retried by now (0.35-0.65 s)
            assert pool.bind_failures == 1 and len(pool.senders) == 1
            assert len(sim.binds_info()) == 1
            assert metric(gw, "smppgw_reconnects_total", smsc="a", result="bind_failed") == 1
    assert record.status is Status.DELIVERED
