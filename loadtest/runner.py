"""Run one load test: start the target, bind, offer load, drain, wait for receipts, report.

Theory of operation
-------------------
Everything runs in one trio nursery:

- the *target*: N ``SmppBind``s (``--smsc``/``--sim``) each with its reader and writer
  and a keeper that re-binds a lost connection (counted as lost / re-established), or an
  ``HttpTarget`` pool of workers (``--http``); with ``--sim`` the simulator itself runs
  in the same nursery (``simulator.run_simulator``);
- the *scheduler* (open loop) wakes at each intended send time, or every ~0.5 ms when
  they come faster, hands every message now due to the ``Feeder`` with its intended
  time, and records how late it woke (``lag_ms_p99``: a saturated generator shows here);
- the *sweeper* times out submits older than ``--timeout`` every 50 ms;
- the *ticker* closes one timeline entry per second and feeds the live display.

The load phase ends at the planned time, at ``--count`` or at ``max_seconds``, whichever
comes first. Then the run waits for what is in flight (at most ``--timeout``), then for
receipts (at most ``--wait-dlr`` seconds after the load phase), unbinds and builds the
JSON result (``loadtest.result``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import trio

from loadtest.client import BindError, BindSettings, SmppBind
from loadtest.display import Display
from loadtest.feeder import Feeder
from loadtest.messages import build_pool
from loadtest.params import SIM_PROFILE, RunParams, UsageError, parse_hostport
from loadtest.receipts import ReceiptTracker
from loadtest.result import build_result
from loadtest.schedule import arrivals
from loadtest.stats import Counters, Recorder
from smppgw.net.trace import PduTracer
from smppgw.support.groups import find
from smppgw.support.logsafe import kv

__all__ = ["RunFailed", "rate_at", "run_load"]

log = logging.getLogger(__name__)

_MIN_TICK = 0.0005  # the scheduler sleeps at least this long between batches
_SWEEP = 0.05


class RunFailed(Exception):
    """The run could not be carried out (e.g. no bind); one line for the user."""


class _Run:
    def __init__(
        self,
        params: RunParams,
        display: Display | None,
        stop_on_sigint: bool = False,
        tracer: PduTracer | None = None,
    ) -> None:
        self.p = params
        self.tracer = tracer  # --trace: the binds' PDUs, sampled
        self.stop_on_sigint = stop_on_sigint
        self._phase = trio.CancelScope()  # the phase Ctrl-C cuts short
        self.display = display
        self.c = Counters()
        self.recorder = Recorder(self.c)
        self._t0_ns = time.perf_counter_ns()
        self._t0_trio = 0.0
        self.stopping = False
        self.address = params.address
        self.started_at = ""
        self.receipts = ReceiptTracker(self.c) if params.wait_dlr > 0 else None
        self.feeder: Feeder | None = None
        self.load_end_us = 0
        self.sim: Any = None
        self.binds: list[SmppBind] = []
        self.http: Any = None
        self._ticked = 0

    def clock_us(self) -> int:
        return (time.perf_counter_ns() - self._t0_ns) // 1000

    def _at(self, us: float) -> float:
        """The trio deadline of ``us`` microseconds after the start."""
        return self._t0_trio + us / 1e6

    # -- the whole run ----------------------------------------------------------------------

    async def execute(self) -> dict[str, Any]:
        p = self.p
        pool = build_pool(
            p.mix,
            p.destinations,
            source=p.source,
            registered_delivery=1 if p.wait_dlr > 0 else 0,
            seed=p.seed,
        )
        async with trio.open_nursery() as nursery:
            if p.target == "sim":
                await self._start_sim(nursery)
            senders = await self._open_target(nursery, pool.bodies)
            self._t0_ns, self._t0_trio = time.perf_counter_ns(), trio.current_time()
            self.recorder.start()
            self.started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            self.started_at = self.started_at.replace("+00:00", "Z")
            planned = p.load_seconds if p.load_seconds is not None else math.inf
            limit_us = int(min(planned, p.max_seconds) * 1e6)
            feeder = self.feeder = Feeder(
                self.c, self.clock_us, closed=p.closed, count=p.count, end_us=limit_us
            )
            feeder.senders = senders
            self._call_display("start", self.display_params(pool.parts_per_message))
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._sweeper)
            await self._keep_target(nursery)
            with trio.CancelScope() as self._phase:
                if self.stop_on_sigint:
                    nursery.start_soon(self._sigint)
                if p.closed:
                    feeder.start_closed()
                    with trio.move_on_at(self._at(limit_us)):
                        await feeder.offer_done.wait()
                else:
                    self.load_end_us = await self._schedule(limit_us)
            if p.closed or self._phase.cancelled_caught:
                self.load_end_us = min(self.clock_us(), limit_us)
            feeder.stop_offering()
            with trio.CancelScope() as self._phase, trio.move_on_after(p.timeout + 2 * _SWEEP):
                await feeder.drained.wait()
            if p.closed:
                self.load_end_us = feeder.drained_at_us or self.clock_us()
            if self.receipts is not None:
                await self._wait_receipts()
            self.stopping = True
            self._tick_rest()
            await self._close_target()
            nursery.cancel_scope.cancel()
        self._call_display("stop")
        return build_result(self)

    async def _sigint(self) -> None:
        """Ctrl-C ends the current phase early (load, drain, receipt wait); the run goes
        on to the next and still reports what it measured."""
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                log.warning("interrupted: ending this phase of the run early, then reporting")
                self._phase.cancel()

    def display_params(self, parts_per_message: float) -> dict[str, Any]:
        return {**self.p.json_params(), "address": self.address, "parts_per_message": parts_per_message}

    # -- target ------------------------------------------------------------------------------

    async def _start_sim(self, nursery: trio.Nursery) -> None:
        from simulator import run_simulator
        from simulator.config import ConfigError, config_from_dict

        p = self.p
        account = {"system_id": p.system_id, "password": p.password, "max_binds": max(4, p.binds)}
        data: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "account": [account]}
        # ``fast`` unless asked otherwise: receipts at once, so a run measures the client,
        # not the default profile's carrier-like receipt delay.
        data["profile"] = p.profile or SIM_PROFILE
        if p.sim_options:
            data["behaviour"] = dict(p.sim_options)
        if p.seed is not None:
            data["seed"] = p.seed
        try:
            config = config_from_dict(data)
        except ConfigError as exc:
            raise UsageError(f"--sim: {exc}") from None
        self.sim = await nursery.start(run_simulator, config)
        self.address = f"127.0.0.1:{self.sim.port}"

    async def _open_target(self, nursery: trio.Nursery, bodies: list[bytes]) -> list[Any]:
        p = self.p
        if p.target == "http":
            from loadtest.http_target import HttpTarget

            assert p.address is not None and p.api_key is not None
            self.http = HttpTarget(p, self.c, self.clock_us, self._on_room, self.receipts)
            await self.http.open()
            return [self.http]
        assert self.address is not None
        host, port = parse_hostport(self.address)
        settings = BindSettings(
            host=host,
            port=port,
            system_id=p.system_id,
            password=p.password,
            system_type=p.system_type,
            mode=p.bind_mode,
            window=p.window,
        )
        self.binds = [
            SmppBind(i, settings, bodies, self.c, self.clock_us, self._on_room, self.receipts, self.tracer)
            for i in range(p.binds)
        ]
        errors: list[str] = []

        async def open_one(bind: SmppBind) -> None:
            try:
                await bind.open()
            except BindError as exc:
                errors.append(f"bind {bind.index + 1} of {p.binds}: {exc}")

        async with trio.open_nursery() as opening:
            for bind in self.binds:
                opening.start_soon(open_one, bind)
        if errors:  # unbind the binds that did succeed, politely and briefly
            with trio.CancelScope(shield=True), trio.move_on_after(2.0):
                async with trio.open_nursery() as closing:
                    for bind in (b for b in self.binds if b.bound):
                        closing.start_soon(bind.run)
                        closing.start_soon(bind.unbind, 1.0)
            raise RunFailed(sorted(errors)[0])
        return list(self.binds)

    async def _keep_target(self, nursery: trio.Nursery) -> None:
        if self.p.target == "http":
            await self.http.start(nursery)
            return
        for bind in self.binds:
            nursery.start_soon(self._keep_bound, bind)

    async def _keep_bound(self, bind: SmppBind) -> None:
        """Run ``bind``; re-bind it when it is lost, with backoff, until the run stops."""
        while True:
            reason = await bind.run()
            if self.stopping:
                return
            self.c.binds_lost += 1
            log.warning("bind lost %s", kv(bind=bind.index + 1, reason=reason))
            assert self.feeder is not None
            self.feeder.check_drained()
            delay = 0.05
            while True:
                await trio.sleep(delay)
                if self.stopping:
                    return
                try:
                    await bind.open()
                except BindError as exc:
                    log.info("re-bind failed %s", kv(bind=bind.index + 1, error=exc))
                    delay = min(delay * 2, 2.0)
                    continue
                self.c.binds_reestablished += 1
                break
            self._on_room(bind)

    def _on_room(self, sender: Any) -> None:
        if self.feeder is not None:
            self.feeder.on_room(sender)

    async def _close_target(self) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(2.0):
            if self.p.target == "http":
                await self.http.close()
                return
            async with trio.open_nursery() as closing:
                for bind in self.binds:
                    closing.start_soon(bind.unbind, 1.0)

    # -- open loop ---------------------------------------------------------------------------

    async def _schedule(self, limit_us: int) -> int:
        """Offer every message at its intended time; return when the load phase ended (µs)."""
        p, feeder, record_lag = self.p, self.feeder, self.recorder.record_lag
        assert feeder is not None
        feeder.offering = True
        times = arrivals(p.phases, random.Random(p.seed))
        left = p.count if p.count is not None else math.inf
        nxt = next(times, None)
        while nxt is not None:
            nxt_us = int(nxt * 1e6)
            if nxt_us >= limit_us or left <= 0:
                # --count reached: the load phase lasts until the next message would be due
                end = min(nxt_us, limit_us)
                await trio.sleep_until(self._at(end))
                return end
            now = self.clock_us()
            if nxt_us > now:
                await trio.sleep_until(self._at(max(nxt_us, now + _MIN_TICK * 1e6)))
                continue
            record_lag(now - nxt_us)
            due: list[int] = []
            while nxt_us <= now and nxt_us < limit_us and len(due) < left:
                due.append(nxt_us)
                nxt = next(times, None)
                if nxt is None:
                    break
                nxt_us = int(nxt * 1e6)
            left -= len(due)
            feeder.offer(due)
            if nxt is None:
                break
            await trio.sleep(0)  # let the readers in between batches
        # the phases ended: the load phase lasts until their planned end
        await trio.sleep_until(self._at(limit_us))
        return limit_us

    # -- background --------------------------------------------------------------------------

    async def _sweeper(self) -> None:
        timeout_us = int(self.p.timeout * 1e6)
        while True:
            await trio.sleep(_SWEEP)
            now = self.clock_us()
            for bind in self.binds:
                bind.expire(now, timeout_us)
            if self.feeder is not None and not self.feeder.offering:
                self.feeder.check_drained()

    async def _ticker(self) -> None:
        while True:
            await trio.sleep_until(self._at((self._ticked + 1) * 1e6))
            self._tick()

    def _tick(self, span: float = 1.0) -> None:
        totals = self.totals()
        entry = self.recorder.tick(
            self._ticked, span=span, inflight=totals["inflight"], backlog=totals["backlog"]
        )
        self._ticked += 1
        if self.display is not None:
            self._call_display("update", self.snapshot(entry))

    def snapshot(self, entry: dict[str, Any]) -> dict[str, Any]:
        """For the live display: the newest second's latency and CPU, running totals at
        the top level (the second's own counts under ``second``), and progress hints."""
        elapsed = self.clock_us() / 1e6
        return {
            **entry,
            **self.totals(),
            "second": entry,
            "elapsed_s": round(elapsed, 3),
            "rate_target": rate_at(self.p, elapsed),
            "planned_s": self.p.load_seconds,
            "planned_count": self.p.count,
        }

    def _tick_rest(self) -> None:
        """Close the last, partial second (if anything happened in it)."""
        if self.recorder.pending() or not self.recorder.timeline:
            self._tick(span=self.clock_us() / 1e6 - self._ticked)

    def totals(self) -> dict[str, Any]:
        c = self.c
        return {
            "offered": c.offered,
            "sent": c.sent,
            "acked": c.acked,
            "errors": c.errors,
            "throttled": c.throttled,
            "timeouts": c.timeouts,
            "unsent": c.unsent,
            "receipts": c.receipts,
            "receipts_expected": c.receipts_expected,
            "binds_lost": c.binds_lost,
            "binds_reestablished": c.binds_reestablished,
            "inflight": sum(s.inflight_count for s in (self.feeder.senders if self.feeder else ())),
            "backlog": len(self.feeder.backlog) if self.feeder else 0,
        }

    async def _wait_receipts(self) -> None:
        receipts = self.receipts
        assert receipts is not None
        deadline = self._at(self.load_end_us + self.p.wait_dlr * 1e6)
        with trio.CancelScope() as self._phase, trio.move_on_at(deadline):
            while receipts.outstanding > 0:
                await trio.sleep(0.02)
                receipts.resolve()
        receipts.resolve(final=True)

    def _call_display(self, method: str, *args: Any) -> None:
        """A broken display must never break a run: disable it on its first error."""
        display = self.display
        if display is None:
            return
        try:
            fn: Callable[..., Any] = getattr(display, method)
            fn(*args)
        except Exception as exc:
            log.warning("live display disabled after an error in %s(): %r", method, exc)
            self.display = None
            if method != "stop":
                with contextlib.suppress(Exception):
                    display.stop()


def rate_at(p: RunParams, t: float) -> float | None:
    """The intended rate at ``t`` seconds into an open-loop run (None: closed loop)."""
    if p.closed:
        return None
    start = 0.0
    for phase in p.phases:
        if phase.duration is None or t < start + phase.duration:
            if phase.ramp is None:
                return phase.rate
            frac = min(max((t - start) / (phase.duration or 1.0), 0.0), 1.0)
            return round(phase.ramp[0] + (phase.ramp[1] - phase.ramp[0]) * frac, 1)
        start += phase.duration
    return 0.0


async def run_load(
    params: RunParams,
    *,
    display: Display | None = None,
    stop_on_sigint: bool = False,
    tracer: PduTracer | None = None,
) -> dict[str, Any]:
    """Run ``params``; return the result document (schema ``smpp-loadtest/1``).

    With ``stop_on_sigint`` (the command line; main thread only) Ctrl-C ends the load
    phase early and the run still drains and reports what it measured. ``tracer``
    traces the binds' PDUs (``--trace``, sampled by ``--trace-sample``).

    Raises:
        RunFailed: the target could not be reached or bound.
        UsageError: a bad simulator option (``--sim-option``, ``--profile``).
    """
    try:
        return await _Run(params, display, stop_on_sigint, tracer).execute()
    except BaseExceptionGroup as group:  # trio's strict groups: surface our own one-liners
        ours = find(group, (RunFailed, UsageError))
        if ours is not None:
            raise ours from None
        raise
