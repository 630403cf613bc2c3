"""Receipt correlation through the gateway (checklist 67-70, SMPP-REFERENCE §6.3): id
bases, receipts that overtake their submit_sm_resp, multi-part messages, and what the
store keeps per part."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from smppgw.store.base import MessageRecord, Status
from tests.gateway.helpers import dest, gateway, memory_simulator, metric, sim_parts, smsc, store_of, wait_all

ALL_DELIVERED = {"DELIVRD": 1.0}
LONG_TEXT = "".join(f"part of a long message number {i:03d}. " for i in range(12))[:400]  # GSM, 3 parts


async def test_hex_ids_profile_with_hex_base(autojump_clock: MockClock) -> None:
    behaviour = {"outcomes": ALL_DELIVERED, "dlr_delay": 0.02}
    with trio.fail_after(20):
        async with (
            memory_simulator(profile="hex-ids", behaviour=behaviour) as sim,
            gateway(smsc(sim, receipt_id_base="hex")) as gw,
        ):
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(40)]
            await wait_all(gw, records, 10)
            correlator = gw.receipts.correlator
    ids = [r.parts[0].smsc_message_id for r in records]
    assert any(i is not None and any(c in "abcdef" for c in i) for i in ids)  # really hex
    assert any(i is not None and i.isdigit() and int(i) >= 16 for i in ids)  # "10".."19": hex too
    assert all(r.status is Status.DELIVERED for r in records)
    assert correlator.matched == 40 and correlator.held == 0 and correlator.unmatched_total == 0
    received = sim_parts(sim)
    for r in records:
        [m] = received[r.destination]
        assert r.parts[0].smsc_message_id == m.message_id


async def test_dlr_before_resp_profile(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with (
            memory_simulator(profile="dlr-before-resp", behaviour={"outcomes": ALL_DELIVERED}) as sim,
            gateway(smsc(sim)) as gw,
        ):
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(40)]
            await wait_all(gw, records, 10)
            correlator = gw.receipts.correlator
    assert all(r.status is Status.DELIVERED for r in records)
    assert correlator.matched_early > 0
    assert correlator.matched == 40 and correlator.held == 0 and correlator.unmatched_total == 0
    assert len(sim.store) == 40


async def test_multi_part_message_is_delivered_when_every_part_is(autojump_clock: MockClock) -> None:
    seen: list[tuple[int, Status]] = []

    def listener(record: MessageRecord) -> None:
        if record.destination == dest(1):
            seen.append((sum(p.receipt_final for p in record.parts), record.status))

    with trio.fail_after(20):
        async with memory_simulator(
            behaviour={"dlr_delay": {"kind": "uniform", "low": 0.05, "high": 0.3}}
        ) as sim:
            async with gateway(smsc(sim)) as gw:
                gw.add_listener(listener)
                record = gw.submit(source="12345", destination=dest(1), text=LONG_TEXT)
                assert len(record.parts) == 3
                await wait_all(gw, [record], 10)
    assert record.status is Status.DELIVERED
    assert [p.status for p in record.parts] == [Status.DELIVERED] * 3
    finals = [(n, s) for n, s in seen if n > 0]
    assert [n for n, _ in finals] == [1, 2, 3]
    assert all(s is not Status.DELIVERED for n, s in finals if n < 3)
    assert finals[-1] == (3, Status.DELIVERED)
    assert len(sim_parts(sim)[dest(1)]) == 3


async def test_multi_part_with_an_undelivered_destination_is_undeliverable(autojump_clock: MockClock) -> None:
    force = [{"destination": dest(2), "outcome": "UNDELIV"}]
    with trio.fail_after(20):
        async with (
            memory_simulator(behaviour={"force": force, "dlr_delay": 0.02}) as sim,
            gateway(smsc(sim)) as gw,
        ):
            bad = gw.submit(source="12345", destination=dest(2), text=LONG_TEXT)
            good = gw.submit(source="12345", destination=dest(3), text=LONG_TEXT)
            await wait_all(gw, [bad, good], 10)
            undeliv = metric(gw, "smppgw_receipts_total", smsc="a", stat="UNDELIV")
    assert bad.status is Status.UNDELIVERABLE and bad.error == "UNDELIV"
    assert [p.receipt_stat for p in bad.parts] == ["UNDELIV"] * 3
    assert good.status is Status.DELIVERED
    assert undeliv == 3
    assert len(sim.store) == 6


async def test_one_receipt_per_concatenated_message_settles_every_part(autojump_clock: MockClock) -> None:
    """A carrier that sends one receipt per message (simulator per_part_receipts=false,
    which receipts the last part) with the SMSC configured ``receipts = "message"``."""
    with trio.fail_after(20):
        behaviour = {"per_part_receipts": False, "dlr_delay": 0.02}
        async with memory_simulator(behaviour=behaviour) as sim, gateway(smsc(sim, receipts="message")) as gw:
            record = gw.submit(source="12345", destination=dest(4), text=LONG_TEXT)
            await wait_all(gw, [record], 10)
            sent = sum(m.receipts_sent for m in sim.store.newest_first())
    assert sent == 1  # one receipt for three parts
    assert record.status is Status.DELIVERED
    assert [p.status for p in record.parts] == [Status.DELIVERED] * 3
    assert sum(p.receipts for p in record.parts) == 1


async def test_per_part_smsc_waits_for_every_part(autojump_clock: MockClock) -> None:
    """Without ``receipts = "message"`` the same carrier leaves the message submitted: the
    gateway never guesses an outcome for a part no receipt spoke about."""
    with trio.fail_after(20):
        behaviour = {"per_part_receipts": False, "dlr_delay": 0.02}
        async with memory_simulator(behaviour=behaviour) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination=dest(5), text=LONG_TEXT)
            with trio.move_on_after(1.0):
                await wait_all(gw, [record], 5)
    assert record.status is Status.SUBMITTED
    assert sum(p.receipt_final for p in record.parts) == 1


async def test_store_records_per_part_ids_and_receipts(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination=dest(5), text=LONG_TEXT)
            await wait_all(gw, [record], 10)
    stored = store_of(gw).get(record.id)
    assert stored is record
    # Parts may reach the carrier in any order over two binds: match them by UDH seqnum.
    received = {m.message_id: m for m in sim_parts(sim)[dest(5)]}
    assert len(received) == 3
    for part in stored.parts:
        udh = received[part.smsc_message_id or ""].payload[:6]
        assert udh[:3] == bytes([5, 0, 3]) and udh[4:6] == bytes([3, part.index])
    for part in stored.parts:
        assert part.status is Status.DELIVERED
        assert part.receipt_stat == "DELIVRD" and part.receipt_final and part.receipts == 1
        assert part.submitted_at is not None and part.receipt_at is not None
        assert part.receipt_at >= part.submitted_at
        assert part.receipt_latency is not None and 0 < part.receipt_latency < 5
    data = stored.to_dict()
    assert data["status"] == "delivered" and data["smsc"] == "a" and data["route"] == "default"
    assert [p["smsc_message_id"] for p in data["parts"]] == [p.smsc_message_id for p in stored.parts]
    assert [p["receipt_stat"] for p in data["parts"]] == ["DELIVRD"] * 3
    assert store_of(gw).counts() == {"delivered": 1}


async def test_duplicate_receipts_change_nothing(autojump_clock: MockClock) -> None:
    # A receipt for a part already final waits out the hold (it may be the early receipt
    # of a newer part reusing the id, policy.correlation) before it counts as a duplicate.
    with trio.fail_after(100):
        async with (
            memory_simulator(behaviour={"duplicate_receipts": 1.0, "dlr_delay": 0.02}) as sim,
            gateway(smsc(sim)) as gw,
        ):
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(5)]
            await wait_all(gw, records, 10)
            ok = await _wait(lambda: gw.receipts.duplicates >= 5, 70)
            assert ok
            duplicates = metric(gw, "smppgw_duplicate_receipts_total", smsc="a")
    assert all(r.status is Status.DELIVERED for r in records)
    assert all(r.parts[0].receipts == 2 for r in records)
    assert duplicates == 5
    assert len(sim.store) == 5


async def _wait(predicate: object, timeout: float) -> bool:
    from tests.gateway.helpers import wait_until

    return await wait_until(predicate, timeout)  # type: ignore[arg-type]
