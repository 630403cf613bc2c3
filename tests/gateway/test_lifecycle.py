"""The gateway as a whole: accepting and refusing messages, metrics, clean shutdown.

The first two tests run end to end over loopback TCP in real time (bind, submit, receipt,
unbind on the wire); the rest over memory streams in virtual time (``tests.gateway.helpers``)."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway, SubmitError
from smppgw.store.base import Status
from tests.gateway.helpers import (
    MEMORY_HOST,
    dest,
    gateway,
    memory_net,
    memory_simulator,
    metric,
    simulator,
    smsc,
    wait_all,
    wait_until,
)


async def test_metrics_series() -> None:
    with trio.fail_after(20):
        async with simulator(behaviour={"dlr_delay": 0.02}) as sim, gateway(smsc(sim, tps=50)) as gw:
            records = [gw.submit(source="12345", destination=dest(i), text="x") for i in range(6)]
            await wait_all(gw, records, 10)
            gw.smscs["a"].dispatcher.gauges()
            text = gw.metrics.render().decode()
            assert metric(gw, "smppgw_submits_total", route="default", smsc="a", status="ESME_ROK") == 6
            assert metric(gw, "smppgw_receipts_total", smsc="a", stat="DELIVRD") == 6
            assert metric(gw, "smppgw_messages_total", status="delivered") == 6
            assert metric(gw, "smppgw_submit_resp_seconds_count", smsc="a") == 6
            assert metric(gw, "smppgw_submit_receipt_seconds_count", smsc="a") == 6
            assert metric(gw, "smppgw_binds", smsc="a", state="bound") == 2
            assert metric(gw, "smppgw_binds", smsc="a", state="down") == 0
            assert metric(gw, "smppgw_throttle_rate", scope="smsc", name="a") == 50
            assert metric(gw, "smppgw_window_in_flight", smsc="a") == 0
    assert "# TYPE smppgw_submits_total counter" in text
    assert "# TYPE smppgw_submit_resp_seconds histogram" in text
    assert all(
        line.startswith(("smppgw_", "#")) for line in text.splitlines() if line
    )  # one prefix for every series


async def test_clean_shutdown_unbinds_everything_in_bounded_time() -> None:
    with trio.fail_after(20):
        async with simulator() as sim:
            config = config_from_dict({"smsc": [smsc(sim, binds=3)], "gateway": {"shutdown_timeout": 2.0}})
            gw = Gateway(config)
            async with trio.open_nursery() as nursery:
                await nursery.start(gw.run)
                assert await wait_until(lambda: len(sim.binds_info()) == 3, 5)
                record = gw.submit(source="12345", destination=dest(1), text="x")
                await gw.wait_final(record.id, 5)
                start = trio.current_time()
                await gw.aclose()
                assert trio.current_time() - start < 3.0
                with pytest.raises(SubmitError, match="not running"):
                    gw.submit(source="12345", destination=dest(2), text="x")
            assert await wait_until(lambda: sim.binds_info() == [], 2)
            assert not gw.smscs["a"].pool.up and gw.smscs["a"].pool.connections == set()


async def test_shutdown_is_bounded_when_the_smsc_never_answers_the_unbind(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator() as sim:
            config = config_from_dict({"smsc": [smsc(sim)], "gateway": {"shutdown_timeout": 0.5}})
            gw = Gateway(config, connect=memory_net().connect)
            async with trio.open_nursery() as nursery:
                await nursery.start(gw.run)
                assert await wait_until(lambda: len(sim.binds_info()) == 2, 5)
                sim.set_behaviour(None, {"black_hole": True})
                start = trio.current_time()
                await gw.aclose()
                assert trio.current_time() - start < 2.0
            assert await wait_until(lambda: sim.binds_info() == [], 2)


@pytest.mark.parametrize(
    ("source", "destination", "text", "match"),
    [
        ("12345", "Shop", "x", "not a phone number"),
        ("12345", "12", "x", "too short"),
        ("A-very-long-sender", "447700900001", "x", "at most 11"),
        ("12345", "447700900001", "x" * 40_000, "text"),
        ("", "447700900001", "x", "empty"),
    ],
)
async def test_submit_refuses_what_can_never_be_sent(
    source: str, destination: str, text: str, match: str, autojump_clock: MockClock
) -> None:
    with trio.fail_after(10):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            with pytest.raises(SubmitError, match=match):
                gw.submit(source=source, destination=destination, text=text)
            assert gw.queued() == 0 and gw.store.counts() == {}


async def test_no_receipt_requested_settles_at_submitted(autojump_clock: MockClock) -> None:
    with trio.fail_after(10):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="+14155550100", destination="+447700900001", text="x", dlr=False)
            await wait_all(gw, [record], 5)
            [m] = sim.store.select()
    assert record.status is Status.SUBMITTED
    assert (m.source_addr, m.source_addr_ton, m.source_addr_npi) == ("14155550100", 1, 1)
    assert (m.destination_addr, m.dest_addr_ton, m.dest_addr_npi) == ("447700900001", 1, 1)
    assert m.registered_delivery == 0


async def test_wait_final_unknown_id(autojump_clock: MockClock) -> None:
    with trio.fail_after(10):
        async with memory_simulator() as sim, gateway(smsc(sim)) as gw:
            with pytest.raises(KeyError):
                await gw.wait_final("nope", 1)


async def test_every_bind_is_opened_through_the_injected_connect(autojump_clock: MockClock) -> None:
    calls: list[tuple[str, int, float, object]] = []

    async def connect(host: str, port: int, *, timeout: float, ssl_context: ssl.SSLContext | None) -> Any:
        calls.append((host, port, timeout, ssl_context))
        return await memory_net().connect(host, port, timeout=timeout, ssl_context=ssl_context)

    with trio.fail_after(10):
        async with memory_simulator() as sim, gateway(smsc(sim, binds=3), connect=connect) as gw:
            record = gw.submit(source="12345", destination=dest(1), text="x")
            await wait_all(gw, [record], 5)
    assert calls == [(MEMORY_HOST, sim.port, 2.0, None)] * 3
    assert record.status is Status.DELIVERED
