"""Prometheus metrics of one simulator (``smppsim_`` prefix, DESIGN §4.4).

Each simulator owns its ``CollectorRegistry`` so several can run in one process (tests).
Label children are cached: ``labels()`` per PDU would cost more than the PDU.

Counts are batched: each child has a ``Tally``, a plain int the hot path adds to, and
the batch goes into prometheus-client whenever the registry is collected (a collector
registered first flushes it, so ``/metrics``, ``render`` and ``get_sample_value`` see
every count). Five ``Counter.inc`` per message were ~10% of the simulator's CPU in
bench_gateway. The per-message counts go through ``Tallies``, so that the whole hot
path is ``tallies[key].n += 1``: no call, not even to ``inc``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from smppgw.core.constants import CommandId, status_name
from smppgw.support.metrics import FlushCollector

__all__ = ["SimMetrics", "Tallies", "Tally"]

_K = TypeVar("_K")


class Tally:
    """One counter child and its increments not yet flushed."""

    __slots__ = ("child", "n")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.n = 0


class Tallies(dict[_K, Tally], Generic[_K]):
    """The tallies of one counter by key, made on first use (``__missing__``), so a count
    is ``tallies[key].n += 1``: a dict subscript, no Python call once the tally exists."""

    def __init__(self, make: Callable[[_K], Tally]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: _K) -> Tally:
        tally = self[key] = self._make(key)
        return tally


class SimMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        r.register(FlushCollector(self.flush))  # first: see the module docstring
        self.pdus = Counter(
            "smppsim_pdus",
            "PDUs by direction, command and status",
            ["direction", "command", "status"],
            registry=r,
        )
        self.receipts = Counter("smppsim_receipts", "Receipts generated, by stat", ["stat"], registry=r)
        self.throttled = Counter(
            "smppsim_throttled", "Submits answered ESME_RTHROTTLED", ["account"], registry=r
        )
        self.messages = Counter("smppsim_messages", "Messages accepted", ["account"], registry=r)
        self.deliveries = Counter(
            "smppsim_deliveries", "deliver_sm outcomes (receipts and MO)", ["kind", "result"], registry=r
        )
        self.binds = Gauge("smppsim_binds", "Bound sessions", ["account", "mode"], registry=r)
        self.connections = Counter("smppsim_connections", "TCP connections accepted", registry=r)
        self.binds_refused = Counter(
            "smppsim_binds_refused", "Binds refused by a limit (ESME_RBINDFAIL)", ["reason"], registry=r
        )
        self.over_window = Counter(
            "smppsim_over_window",
            "Requests beyond a bind's receiving window, answered ESME_RTHROTTLED",
            registry=r,
        )
        self._tallies: list[Tally] = []  # every one made, for the flush
        # By (direction, command_id, status) and by (counter, labels): one Tally per child.
        self._pdu: Tallies[tuple[str, int, int]] = Tallies(self._new_pdu_tally)
        self._other: Tallies[tuple[Counter, tuple[str, ...]]] = Tallies(
            lambda key: self._new_tally(key[0].labels(*key[1]))
        )
        # The per-message counts, by their one varying label (sharing the tallies above).
        self.pdus_in: Tallies[int] = Tallies(lambda command_id: self._pdu["in", command_id, 0])
        self.pdus_out_ok: Tallies[int] = Tallies(lambda command_id: self._pdu["out", command_id, 0])
        self.messages_by_account: Tallies[str] = Tallies(
            lambda account: self._other[self.messages, (account,)]
        )
        self.receipts_by_stat: Tallies[str] = Tallies(lambda stat: self._other[self.receipts, (stat,)])
        self.deliveries_by: Tallies[tuple[str, str]] = Tallies(lambda key: self._other[self.deliveries, key])

    def pdu(self, direction: str, command_id: int, status: int) -> None:
        """Count one PDU (``pdus_in`` / ``pdus_out_ok`` on the per-message path)."""
        self._pdu[direction, command_id, status].n += 1

    def inc(self, metric: Counter, *labels: str) -> None:
        """``metric.labels(*labels).inc()``, batched."""
        self._other[metric, labels].n += 1

    def flush(self) -> None:
        for tally in self._tallies:
            if tally.n:
                n, tally.n = tally.n, 0
                tally.child.inc(n)

    def _new_tally(self, child: Any) -> Tally:
        tally = Tally(child)
        self._tallies.append(tally)
        return tally

    def _new_pdu_tally(self, key: tuple[str, int, int]) -> Tally:
        direction, command_id, status = key
        try:
            command = CommandId(command_id).name.lower()
        except ValueError:
            command = f"0x{command_id:08x}"
        return self._new_tally(self.pdus.labels(direction, command, status_name(status)))

    def render(self) -> bytes:
        return generate_latest(self.registry)
