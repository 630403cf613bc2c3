"""The load tester against the real simulator over loopback: rates, latency, faults."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from loadtest.params import Phase, RunParams, parse_mix
from tests.loadtest.helpers import constant, run_checked, start_sim


async def test_constant_rate_is_met_and_nothing_is_left_behind() -> None:
    result = await run_checked(constant(500, 3.0))
    s = result["summary"]
    assert s["duration_s"] == pytest.approx(3.0, abs=0.01)
    assert s["offered"] == 1500
    assert s["sent"] == s["offered"]
    assert s["acked"] == s["sent"]
    assert s["errors"] == 0 and s["errors_by_status"] == {}
    assert s["throughput_per_s"]["sent"] == pytest.approx(500, rel=0.05)
    assert s["throughput_per_s"]["acked"] == pytest.approx(500, rel=0.05)
    assert s["latency_ms"]["submit_resp"]["count"] == 1500
    assert s["latency_ms"]["submit_receipt"] is None
    assert sum(e["offered"] for e in result["timeline"]) == 1500
    per_second = [e["offered"] for e in result["timeline"][:3]]
    assert all(abs(n - 500) <= 100 for n in per_second), per_second  # a tick may come late on a busy box
    assert result["params"]["workload"] == "constant"
    assert result["params"]["rate"] == 500
    assert result["passed"] is True and result["checks"] == []


async def test_latency_grows_when_the_simulator_is_slow() -> None:
    fast = await run_checked(constant(100, 1.0))
    slow = await run_checked(constant(100, 1.0, sim_options={"resp_latency": 0.05}))
    fast_p50 = fast["summary"]["latency_ms"]["submit_resp"]["p50"]
    slow_p50 = slow["summary"]["latency_ms"]["submit_resp"]["p50"]
    assert fast_p50 < 20
    assert 50 <= slow_p50 < 90
    assert slow["summary"]["acked"] == 100  # slower, not fewer: the window (64) is wide enough


async def test_throttling_is_counted_as_esme_rthrottled() -> None:
    result = await run_checked(constant(300, 2.0, sim_options={"tps": 100}))
    s = result["summary"]
    # A one-second burst (100) plus 100/s for two seconds get through; the rest is refused.
    assert 250 <= s["acked"] <= 350
    assert s["throttled"] == s["sent"] - s["acked"]
    assert s["errors_by_status"] == {"ESME_RTHROTTLED": s["throttled"]}
    assert s["errors"] == s["throttled"]
    assert sum(e["throttled"] for e in result["timeline"]) == s["throttled"]


async def test_error_statuses_are_counted_by_name() -> None:
    result = await run_checked(constant(400, 1.0, sim_options={"error_probability": 0.2}))
    s = result["summary"]
    assert s["acked"] + s["errors"] == s["sent"] == 400
    assert set(s["errors_by_status"]) == {"ESME_RSYSERR"}
    assert 0.12 <= s["errors"] / s["sent"] <= 0.28
    assert s["throttled"] == 0


async def test_dropped_connections_are_counted_and_rebound() -> None:
    result = await run_checked(constant(200, 2.0, sim_options={"drop_after_pdus": 100}))
    s = result["summary"]
    assert s["binds_lost"] >= 2
    assert s["binds_reestablished"] >= s["binds_lost"] - 1
    # The submit that tripped the fault was in flight when the connection went.
    assert s["errors_by_status"].get("connection_lost", 0) >= s["binds_lost"]
    assert s["acked"] + s["errors"] == s["sent"]
    assert s["acked"] > 300


async def test_a_stall_shows_up_as_latency_not_as_a_lower_rate() -> None:
    """Coordinated omission: the simulator answers nothing for one second, then recovers.

    The open-loop schedule keeps its intended times: messages due during the stall wait for
    a window slot and are measured from when they were due, so the stall is in the latency.
    """
    async with trio.open_nursery() as nursery:
        sim = await start_sim(nursery)

        async def stall() -> None:
            await trio.sleep(0.5)
            sim.set_behaviour(None, {"black_hole": True})
            await trio.sleep(1.0)
            sim.set_behaviour(None, {"black_hole": False})

        nursery.start_soon(stall)
        params = RunParams(
            target="smsc",
            address=f"127.0.0.1:{sim.port}",
            phases=(Phase(rate=200, duration=3.0),),
            window=10,
            timeout=0.5,
            max_seconds=10,
        )
        result = await run_checked(params)
        nursery.cancel_scope.cancel()
    s = result["summary"]
    lat = s["latency_ms"]["submit_resp"]
    assert s["offered"] == 600  # the rate offered did not drop
    assert s["timeouts"] > 0  # what went into the black hole
    assert lat["max"] >= 800  # a message due at ~0.6 s is answered after the stall
    assert lat["p99"] >= 500
    assert lat["p50"] < 50  # the rest of the run was fast
    worst_second = max(result["timeline"], key=lambda e: e["max_ms"] or 0)
    assert 1 <= worst_second["t"] <= 2


async def test_receipts_are_awaited_and_matched() -> None:
    params = constant(200, 1.0, wait_dlr=3.0, sim_options={"dlr_delay": 0.2})
    result = await run_checked(params)
    s = result["summary"]
    assert s["acked"] == 200
    assert s["receipts_expected"] == 200
    assert s["receipts"] == 200
    dlr = s["latency_ms"]["submit_receipt"]
    assert dlr["count"] == 200
    assert 200 <= dlr["p50"] < 400
    assert result["histogram"]["submit_receipt"]
    assert result["params"]["wait_dlr_s"] == 3


async def test_receipts_in_another_id_base_still_match() -> None:
    params = constant(100, 1.0, wait_dlr=2.0, sim_options={"receipt_id_base": "hex"})
    s = (await run_checked(params))["summary"]
    assert s["receipts"] == s["receipts_expected"] == 100


async def test_the_simulator_runs_the_fast_profile_unless_told_otherwise() -> None:
    fast = await run_checked(constant(40, 0.5, wait_dlr=3.0))
    assert fast["params"]["profile"] == "fast"
    assert fast["summary"]["receipts"] == fast["summary"]["receipts_expected"] == 20
    carrier = await run_checked(constant(40, 0.5, wait_dlr=1.0, profile="default"))
    assert carrier["params"]["profile"] == "default"
    receipt = carrier["summary"]["latency_ms"]["submit_receipt"]
    assert receipt["count"] >= 1
    assert receipt["p50"] >= 200  # the default profile's floor: a receipt never comes at once


async def test_closed_loop_sends_the_count_through_every_bind() -> None:
    params = RunParams(target="sim", closed=True, count=3000, duration=10.0, binds=3, window=32)
    result = await run_checked(params)
    s = result["summary"]
    assert s["offered"] == s["sent"] == s["acked"] == 3000
    assert s["duration_s"] < 10
    assert result["params"]["workload"] == "closed"
    assert result["params"]["binds"] == 3
    assert s["client"]["lag_ms_p99"] == 0


async def test_long_messages_take_one_slot_per_part() -> None:
    params = constant(300, 1.0, mix=parse_mix("long:1"))
    s = (await run_checked(params))["summary"]
    assert s["sent"] == s["acked"] == 300  # 100 three-part messages


async def test_ramp_and_poisson_workloads() -> None:
    ramp = await run_checked(RunParams(target="sim", phases=(Phase(ramp=(100, 500), duration=1.0),)))
    assert ramp["params"]["workload"] == "ramp" and ramp["params"]["ramp"] == [100, 500]
    assert ramp["summary"]["offered"] == pytest.approx(300, abs=1)
    assert ramp["summary"]["sent"] == ramp["summary"]["acked"] == ramp["summary"]["offered"]
    poisson = RunParams(target="sim", seed=5, phases=(Phase(rate=400, duration=1.0, poisson=True),))
    result = await run_checked(poisson)
    assert result["params"]["workload"] == "poisson" and result["params"]["rate"] == 400
    assert result["summary"]["offered"] == pytest.approx(400, rel=0.15)
    assert result["summary"]["acked"] == result["summary"]["offered"]


async def test_count_ends_an_open_loop_run() -> None:
    params = RunParams(target="sim", phases=(Phase(rate=1000, duration=None),), count=500)
    s = (await run_checked(params))["summary"]
    assert s["offered"] == s["sent"] == 500
    assert s["duration_s"] == pytest.approx(0.5, abs=0.02)


async def test_unknown_simulator_option_is_a_usage_error() -> None:
    from loadtest.params import UsageError

    with pytest.raises(UsageError, match="nonsense"):
        await run_checked(constant(10, 0.5, sim_options={"nonsense": 1}))


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, params: dict[str, Any]) -> None:
        self.calls.append(("start", params))

    def update(self, snapshot: dict[str, Any]) -> None:
        self.calls.append(("update", snapshot))

    def stop(self) -> None:
        self.calls.append(("stop", None))


class _Broken(_Recorder):
    def update(self, snapshot: dict[str, Any]) -> None:
        super().update(snapshot)
        raise RuntimeError("terminal went away")


async def test_display_gets_start_updates_and_stop() -> None:
    display = _Recorder()
    result = await run_checked(constant(200, 2.2), display=display)
    kinds = [k for k, _ in display.calls]
    assert kinds[0] == "start" and kinds[-1] == "stop"
    assert kinds.count("update") == len(result["timeline"])
    snapshot = display.calls[2][1]
    assert snapshot["t"] == 1
    assert snapshot["offered"] >= 400  # running totals at the top level
    assert snapshot["second"]["offered"] == pytest.approx(200, abs=10)
    assert snapshot["rate_target"] == 200 and snapshot["planned_s"] == 2.2
    assert {"p50_ms", "p99_ms", "cpu_percent", "elapsed_s"} <= snapshot.keys()


async def test_a_broken_display_never_breaks_the_run() -> None:
    display = _Broken()
    result = await run_checked(constant(200, 1.5), display=display)
    assert result["summary"]["acked"] == 300
    assert [k for k, _ in display.calls].count("update") == 1  # disabled after its first error


async def test_a_refused_bind_fails_the_run_and_unbinds_the_others() -> None:
    from loadtest.runner import RunFailed

    async with trio.open_nursery() as nursery:
        sim = await start_sim(nursery, account=[{"system_id": "acme", "password": "pw", "max_binds": 1}])
        params = RunParams(
            target="smsc",
            address=f"127.0.0.1:{sim.port}",
            system_id="acme",
            password="pw",
            binds=2,
            phases=(Phase(rate=10, duration=1.0),),
        )
        with trio.fail_after(10), pytest.raises(RunFailed, match="ESME_RALYBND"):
            await run_checked(params)
        with trio.fail_after(5):
            while sim.accounts["acme"].binds:  # the bind that succeeded was unbound
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()


async def test_messages_never_sent_are_counted_and_can_fail_a_check() -> None:
    """The simulator answers nothing once bound; with a window of 5 and a 2 s timeout no slot frees
    before the 1.5 s load ends, so all but 5 messages are never sent: counted as unsent
    (no latency), charted as backlog, and ``unsent == 0`` fails the run."""
    async with trio.open_nursery() as nursery:
        sim = await start_sim(nursery)

        class BlackHoleOnceBound:
            """The runner starts its display once bound, just before the load."""

            def start(self, params: Any) -> None:
                sim.set_behaviour(None, {"black_hole": True})

            def update(self, snapshot: Any) -> None:
                pass

            def stop(self) -> None:
                pass

        params = RunParams(
            target="smsc",
            address=f"127.0.0.1:{sim.port}",
            phases=(Phase(rate=200, duration=1.5),),
            window=5,
            timeout=2.0,
            max_seconds=10,
            checks=("unsent == 0", "unsent_rate < 99%"),
        )
        result = await run_checked(params, display=BlackHoleOnceBound())
        nursery.cancel_scope.cancel()
    s, tl = result["summary"], result["timeline"]
    assert s["offered"] == 300 and s["sent"] == 5 and s["unsent"] == 295
    assert s["timeouts"] == 5 and s["latency_ms"]["submit_resp"]["count"] == 5  # the unsent have none
    assert [c["passed"] for c in result["checks"]] == [False, True]
    assert result["checks"][0]["value"] == 295
    assert result["passed"] is False
    assert tl[0]["inflight"] == 5 and tl[0]["backlog"] > 100  # sampled at 1 s: ~195 waiting
    assert all(e["span_s"] == 1 for e in tl[:-1]) and 0 < tl[-1]["span_s"] <= 1
