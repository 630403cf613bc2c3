"""The receipt deadline (issue 13, DESIGN §3): a part still waiting for its final receipt
after its validity plus ``receipt_grace`` becomes ``unknown`` (final); a receipt that
comes later still records the real outcome; restarts never re-emit what was told."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from smppgw.store.base import MessageRecord, Status
from smppgw.store.memory import MemoryStore
from smppgw.store.sqlite import SqliteStore
from tests.gateway.helpers import dest, gateway, memory_simulator, smsc, wait_until

# No receipt within the test (nor an EXPIRED one when the validity lapses).
NEVER = {"outcomes": {"DELIVRD": 1.0}, "dlr_delay": 1_000_000.0, "honour_validity": False}


def recorder(seen: list[tuple[str, Status]]):  # type: ignore[no-untyped-def]
    def listener(record: MessageRecord) -> None:
        seen.append((record.id, record.status))

    return listener


async def test_no_receipt_becomes_unknown_after_grace(autojump_clock: MockClock) -> None:
    seen: list[tuple[str, Status]] = []
    with trio.fail_after(2000):
        async with memory_simulator(behaviour=NEVER) as sim, gateway(smsc(sim, receipt_grace=300)) as gw:
            gw.add_listener(recorder(seen))
            start = trio.current_time()
            plain = gw.submit(source="12345", destination=dest(1), text="x")
            valid = gw.submit(source="12345", destination=dest(2), text="x", validity=200)
            await wait_until(lambda: plain.status is Status.SUBMITTED and valid.status is Status.SUBMITTED, 5)
            await trio.sleep_until(start + 290)
            assert plain.status is Status.SUBMITTED and valid.status is Status.SUBMITTED
            await wait_until(lambda: plain.status is Status.UNKNOWN, 20)
            unknown_at = trio.current_time() - start
            assert valid.status is Status.SUBMITTED  # validity 200 + grace 300
            await wait_until(lambda: valid.status is Status.UNKNOWN, 220)
            valid_at = trio.current_time() - start
            assert gw.receipts.open == 0  # nothing of them waits in memory any more
    assert 300 <= unknown_at <= 303
    assert 500 <= valid_at <= 503
    assert plain.is_final and plain.parts[0].status is Status.UNKNOWN
    assert seen.count((plain.id, Status.UNKNOWN)) == 1


async def test_late_receipt_records_the_real_outcome(autojump_clock: MockClock) -> None:
    seen: list[tuple[str, Status]] = []
    behaviour = {"outcomes": {"UNDELIV": 1.0}, "dlr_delay": 400.0}
    with trio.fail_after(2000):
        async with memory_simulator(behaviour=behaviour) as sim, gateway(smsc(sim, receipt_grace=100)) as gw:
            gw.add_listener(recorder(seen))
            record = gw.submit(source="12345", destination=dest(1), text="x")
            await wait_until(lambda: record.status is Status.UNKNOWN, 200)
            assert record.is_final
            await wait_until(lambda: record.status is Status.UNDELIVERABLE, 600)
    assert record.parts[0].receipt_stat == "UNDELIV"
    assert [s for i, s in seen if i == record.id][-2:] == [Status.UNKNOWN, Status.UNDELIVERABLE]


async def test_restart_does_not_tell_again_what_was_told(autojump_clock: MockClock) -> None:
    store = MemoryStore()
    with trio.fail_after(100):
        async with memory_simulator(behaviour=NEVER) as sim:
            async with gateway(smsc(sim), store=store) as gw:
                waiting = gw.submit(source="12345", destination=dest(1), text="x")
                await wait_until(lambda: waiting.status is Status.SUBMITTED, 5)
            assert [r.id for r in store.unfinished()] == [waiting.id]
            for _restart in range(2):
                seen: list[tuple[str, Status]] = []
                async with gateway(smsc(sim), store=store) as gw:
                    gw.add_listener(recorder(seen))
                    for r in store.unfinished():
                        gw.restore(r)
                    await trio.sleep(5)
                    assert gw.receipts.open == 1  # it still waits for its receipt
                assert seen == []  # no second ``submitted`` event


async def test_restart_resumes_the_deadline(autojump_clock: MockClock) -> None:
    store = MemoryStore()
    with trio.fail_after(2000):
        async with memory_simulator(behaviour=NEVER) as sim:
            async with gateway(smsc(sim, receipt_grace=300), store=store) as gw:
                record = gw.submit(source="12345", destination=dest(1), text="x")
                await wait_until(lambda: record.status is Status.SUBMITTED, 5)
                await trio.sleep(200)
            async with gateway(smsc(sim, receipt_grace=300), store=store) as gw:
                for r in store.unfinished():
                    gw.restore(r)
                await wait_until(lambda: record.status is Status.UNKNOWN, 300)
                assert trio.current_time() - record.parts[0].submitted_at < 305  # not 300 after restart
            assert store.unfinished() == []


async def test_nothing_of_a_final_message_stays_in_the_correlator(autojump_clock: MockClock) -> None:
    behaviour = {"outcomes": {"DELIVRD": 1.0}, "dlr_delay": 0.05}
    with trio.fail_after(100):
        async with memory_simulator(behaviour=behaviour) as sim, gateway(smsc(sim)) as gw:
            gw.receipts.correlator.max_recent = 50
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(300)]
            for r in records:
                await gw.wait_final(r.id, 30)
            waiting = gw.submit(source="12345", destination=dest(999), text="x")
            with pytest.raises(trio.TooSlowError):
                await gw.wait_final(waiting.id, 1e-9)  # gives up: leaves no waiter behind
            assert gw.changes._waiters == {}
            correlator = gw.receipts.correlator
            assert correlator.open <= 1 and len(correlator._recent) == 50
            assert correlator.held == 0


async def test_late_receipt_after_a_restart_is_found_in_the_store(
    autojump_clock: MockClock, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    # The receipt comes after the deadline (100 s) and within the rows' horizon (2 x 100 s + the 60 s hold).
    behaviour = {"outcomes": {"UNDELIV": 1.0}, "dlr_delay": 180.0}
    with trio.fail_after(2000):
        async with memory_simulator(behaviour=behaviour) as sim:
            async with gateway(smsc(sim, receipt_grace=100), store=store) as gw:
                record = gw.submit(source="12345", destination=dest(1), text="x")
                await wait_until(lambda: record.status is Status.UNKNOWN, 200)
                assert gw.receipts.open == 0
            store.flush()
            seen: list[tuple[str, Status]] = []
            async with gateway(smsc(sim, receipt_grace=100), store=store) as gw:
                gw.add_listener(recorder(seen))
                assert store.unfinished() == []  # unknown is final: nothing to resume
                ok = await wait_until(lambda: bool(seen), 400)
                assert ok
                assert gw.receipts.correlator.held == 0
    assert seen == [(record.id, Status.UNDELIVERABLE)]
    stored = store.get(record.id)
    assert stored is not None and stored.parts[0].receipt_stat == "UNDELIV"
    store.close()
