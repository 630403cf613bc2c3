"""Queue semantics (issue 13, item 4): validity counted from acceptance, priority order
without starvation, scheduled sending (``send_at``) and cancel, over memory streams in
virtual time (``tests.gateway.helpers``); a scheduled message across a restart on both
stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.timefmt import format_relative
from smppgw.gateway.config import ConfigError, config_from_dict
from smppgw.gateway.dispatcher import Dispatcher
from smppgw.gateway.engine import CancelError, Gateway
from smppgw.gateway.jobs import Job
from smppgw.gateway.messages import SubmitError
from smppgw.net.connection import SmppConnection
from smppgw.store.base import MessageQuery, MessageStore, Status
from smppgw.store.memory import MemoryStore
from smppgw.store.sqlite import SqliteStore
from tests.gateway.helpers import dest, gateway, memory_simulator, smsc, wait_until
from tests.store.helpers import Backend, record

DOWN = {"refuse_binds": True}


def order(sim: Any) -> list[str]:
    """The destinations the simulator received, in arrival order."""
    return [m.destination_addr for m in reversed(sim.store.select(limit=10_000))]


# -- validity from acceptance ------------------------------------------------------------------


async def test_validity_lapsing_while_queued_expires_the_message_unsent(autojump_clock: MockClock) -> None:
    # The defect: accepted while the carrier was down with validity 3 s, sent 15 s later
    # and delivered. Now it ends expired and never reaches the SMSC.
    with trio.fail_after(60):
        async with memory_simulator(behaviour=DOWN) as sim, gateway(smsc(sim), up=False) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x", validity=3)
            await trio.sleep(15)
            sim.set_behaviour(None, {"refuse_binds": False})
            assert await wait_until(lambda: gw.smscs["a"].pool.up, 30)
            await gw.wait_final(record.id, 10)
            await trio.sleep(1)
    assert record.status is Status.EXPIRED
    assert record.parts[0].status is Status.EXPIRED and "validity" in (record.error or "")
    assert len(sim.store) == 0


async def test_a_part_sent_late_carries_the_time_left(
    autojump_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, float, float]] = []  # (validity_period, now, created)
    send = Dispatcher._send

    def spy(self: Dispatcher, conn: SmppConnection, job: Job, now: float) -> None:
        sent.append((job.pdu.validity_period, now, job.created))
        send(self, conn, job, now)

    monkeypatch.setattr(Dispatcher, "_send", spy)
    # The simulator honours validity: a receipt due after it is EXPIRED (dlr 5 s).
    behaviour = {**DOWN, "dlr_delay": 5.0}
    with trio.fail_after(60):
        async with memory_simulator(behaviour=behaviour) as sim, gateway(smsc(sim), up=False) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x", validity=10)
            await trio.sleep(6)
            sim.set_behaviour(None, {"refuse_binds": False})
            await gw.wait_final(record.id, 30)
    assert len(sent) == 1
    period, now, created = sent[0]
    assert now - created >= 6
    assert period == format_relative(created + 10 - now) != format_relative(10)
    assert record.status is Status.EXPIRED  # the SMSC was given < 5 s; the old 10 s delivered


async def test_validity_sent_at_once_is_the_whole_validity(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator(behaviour={"dlr_delay": 5.0}) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x", validity=10)
            await gw.wait_final(record.id, 20)
    assert record.status is Status.DELIVERED


# -- priority ----------------------------------------------------------------------------------


async def test_higher_priority_goes_first_fifo_within_a_priority(autojump_clock: MockClock) -> None:
    with trio.fail_after(60):
        async with (
            memory_simulator(behaviour=DOWN) as sim,
            gateway(smsc(sim, binds=1, window=1), up=False) as gw,
        ):
            plan = [(0, 0), (1, 0), (2, 3), (3, 1), (4, 3), (5, 0), (6, 1), (7, 2)]
            records = [gw.submit(source="12345", destination=dest(i), text="x", priority=p) for i, p in plan]
            sim.set_behaviour(None, {"refuse_binds": False})
            for r in records:
                await gw.wait_final(r.id, 30)
    expected = [dest(i) for i in (2, 4, 7, 3, 6, 0, 1, 5)]
    assert order(sim) == expected


async def test_a_waiting_low_priority_is_not_starved(autojump_clock: MockClock) -> None:
    with trio.fail_after(60):
        async with (
            memory_simulator(behaviour=DOWN) as sim,
            gateway(smsc(sim, binds=1, window=1), up=False) as gw,
        ):
            low = gw.submit(source="12345", destination=dest(0), text="x", priority=0)
            high = [
                gw.submit(source="12345", destination=dest(i), text="x", priority=3) for i in range(1, 31)
            ]
            sim.set_behaviour(None, {"refuse_binds": False})
            for r in [low, *high]:
                await gw.wait_final(r.id, 30)
    sent = order(sim)
    burst = gw.smscs["a"].dispatcher.priority_burst
    # passed over ``burst`` times, it goes next: not after all 30 high ones
    assert sent.index(dest(0)) == burst
    assert sent[:burst] == [dest(i) for i in range(1, burst + 1)]


# -- send_at -------------------------------------------------------------------------------------


async def test_a_scheduled_message_is_sent_at_its_time(autojump_clock: MockClock) -> None:
    with trio.fail_after(120):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            at = trio.current_time() + 60
            record = gw.submit(source="12345", destination=dest(1), text="x", send_at=at)
            assert record.status is Status.SCHEDULED and record.send_at == at
            assert gw.store.get(record.id) is record
            await trio.sleep(59)
            assert record.status is Status.SCHEDULED and len(sim.store) == 0 and gw.queued() == 0
            await gw.wait_final(record.id, 10)
            assert trio.current_time() >= at
    assert record.status is Status.DELIVERED and len(sim.store) == 1


async def test_send_at_in_the_past_is_sent_now_and_too_far_ahead_is_refused(
    autojump_clock: MockClock,
) -> None:
    with trio.fail_after(30):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            now = trio.current_time()
            record = gw.submit(source="12345", destination=dest(1), text="x", send_at=now - 100)
            assert record.status is Status.QUEUED
            await gw.wait_final(record.id, 10)
            with pytest.raises(SubmitError, match="send_at"):
                gw.submit(source="12345", destination=dest(2), text="x", send_at=now + 31 * 86400)
            ok = gw.submit(source="12345", destination=dest(3), text="x", send_at=now + 29 * 86400)
            assert ok.status is Status.SCHEDULED
    assert record.status is Status.DELIVERED


async def test_send_at_horizon_is_configurable(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator() as sim, gateway(smsc(sim), schedule={"horizon": 60}) as gw:
            with pytest.raises(SubmitError, match="send_at"):
                gw.submit(source="12345", destination=dest(1), text="x", send_at=trio.current_time() + 61)


# -- cancel ----------------------------------------------------------------------------------------


async def test_cancel_a_queued_message(autojump_clock: MockClock) -> None:
    with trio.fail_after(60):
        async with memory_simulator(behaviour=DOWN) as sim, gateway(smsc(sim), up=False) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x" * 200)  # 2 parts
            other = gw.submit(source="12345", destination=dest(2), text="x")
            assert gw.queued() == 3
            assert gw.cancel(record.id) is record
            assert gw.queued() == 1
            sim.set_behaviour(None, {"refuse_binds": False})
            await gw.wait_final(other.id, 30)
            await trio.sleep(2)
            with pytest.raises(CancelError, match="canceled"):
                gw.cancel(record.id)
            with pytest.raises(CancelError, match="delivered") as err:
                gw.cancel(other.id)
            assert err.value.status is Status.DELIVERED
            with pytest.raises(KeyError):
                gw.cancel("no-such-id")
    assert record.status is Status.CANCELED and record.is_final
    assert all(p.status is Status.CANCELED for p in record.parts)
    assert order(sim) == [dest(2)]


async def test_cancel_a_scheduled_message(autojump_clock: MockClock) -> None:
    with trio.fail_after(60):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(
                source="12345", destination=dest(1), text="x", send_at=trio.current_time() + 10
            )
            gw.cancel(record.id)
            assert len(gw.schedule) == 0
            await trio.sleep(20)
    assert record.status is Status.CANCELED and len(sim.store) == 0


async def test_a_submitted_message_cannot_be_canceled(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator(behaviour={"dlr_delay": 10.0}) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x")
            assert await wait_until(lambda: record.status is Status.SUBMITTED, 5)
            with pytest.raises(CancelError, match="submitted"):
                gw.cancel(record.id)
            await gw.wait_final(record.id, 20)
    assert record.status is Status.DELIVERED


# -- a restart with a scheduled message ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_scheduled_message_survives_a_restart(
    kind: str, tmp_path: Path, autojump_clock: MockClock
) -> None:
    def open_store() -> MessageStore:
        return MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "gw.db")

    store = open_store()
    with trio.fail_after(120):
        async with memory_simulator() as sim:
            async with gateway(smsc(sim), store=store) as gw:
                at = trio.current_time() + 30
                first = gw.submit(source="12345", destination=dest(1), text="x", send_at=at)
                await trio.sleep(5)
            if isinstance(store, SqliteStore):
                store.close()
                store = open_store()
            resumed = store.unfinished()
            assert [(r.id, r.status) for r in resumed] == [(first.id, Status.SCHEDULED)]
            assert resumed[0].send_at == pytest.approx(at)
            async with gateway(smsc(sim), store=store) as gw2:
                for r in resumed:
                    gw2.restore(r)
                assert len(gw2.schedule) == 1 and gw2.queued() == 0
                assert len(sim.store) == 0
                done = await gw2.wait_final(first.id, 60)
                assert trio.current_time() >= at
    assert done.status is Status.DELIVERED and len(sim.store) == 1
    assert isinstance(gw2, Gateway)


def test_the_horizon_config_key_is_checked() -> None:
    base = {"name": "a", "host": "h", "port": 1, "system_id": "s", "password": "p"}
    assert config_from_dict({"smsc": [base]}).send_at_horizon == 30 * 86400
    assert config_from_dict({"smsc": [base], "schedule": {"horizon": 60}}).send_at_horizon == 60
    with pytest.raises(ConfigError, match=r"schedule\.horizon"):
        config_from_dict({"smsc": [base], "schedule": {"horizon": -1}})
    with pytest.raises(ConfigError, match=r"schedule\.later"):
        config_from_dict({"smsc": [base], "schedule": {"later": 1}})


# -- the store's listing and scheduled records (both backends) --------------------------------


def test_store_listing_filters_and_pages_the_same_on_every_backend(backend: Backend) -> None:
    store = backend.open(clock_offset=1000.0)
    store.add([
        record(i, source="ACME" if i % 2 else "12345", tags=("vip",) if i % 3 == 0 else (),
               status=Status.DELIVERED if i < 5 else Status.QUEUED)
        for i in range(10)
    ])  # fmt: skip
    late = record(10, send_at=500.0, status=Status.SCHEDULED)
    store.add([late])
    late.status = Status.CANCELED  # a change not flushed yet is seen
    store.save(late)

    def ids(**kw: Any) -> list[int]:
        found, after = store.list_messages(MessageQuery(**kw))
        assert after is None or len(found) == kw.get("limit", 100)
        return [int(m.id, 16) for m in found]

    assert ids() == list(range(10, -1, -1))
    pages, before = [], None
    while True:
        found, before = store.list_messages(MessageQuery(limit=4, before=before))
        pages.append([int(m.id, 16) for m in found])
        if before is None:
            break
    assert pages == [[10, 9, 8, 7], [6, 5, 4, 3], [2, 1, 0]]
    assert ids(status=Status.CANCELED) == [10]
    assert ids(status=Status.DELIVERED, source="ACME") == [3, 1]
    assert ids(destination=record(4).destination) == [4]
    assert ids(tag="vip") == [9, 6, 3, 0]
    assert ids(tag="vi") == []  # an exact tag, not a substring
    assert ids(since=1100.0 + 8, until=1100.0 + 10) == [9, 8]  # wall clock: created + offset
    assert store.get(late.id).send_at == 500.0  # type: ignore[union-attr]


async def test_a_message_canceled_while_its_part_waits_for_the_account_rate_is_not_sent(
    autojump_clock: MockClock,
) -> None:
    with trio.fail_after(30):
        async with memory_simulator() as sim, gateway(smsc(sim, tps=1)) as gw:
            first = gw.submit(source="12345", destination=dest(1), text="x")
            await gw.wait_final(first.id, 10)
            second = gw.submit(source="12345", destination=dest(2), text="x")
            await trio.sleep(0)  # the loop takes it, then sleeps on the 1/s account rate
            await trio.sleep(0)
            gw.cancel(second.id)
            await trio.sleep(5)
    assert second.status is Status.CANCELED
    assert order(sim) == [dest(1)]
