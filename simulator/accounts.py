"""Per-account and per-bind state of the simulator (mutable bookkeeping, no I/O).

A bind's PDUs are answered by the behaviour of its ``source``: the ``GlobalBehaviour``
until it binds, its ``AccountState`` after. Both replace their ``behaviour`` when it is
changed at run time, so a bind reads the current one, with nothing to keep in step. The
connection reads its ``read_delay`` through the bind (a ``ConnectionBehaviour``): a fault
is a value the connection was built with, never an attribute written onto it.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import attrs

from simulator.config import Account, Behaviour
from simulator.deliveries import DeliveryQueue
from smppgw.net.connection import SmppConnection
from smppgw.policy.throttle import TokenBucket

__all__ = ["AccountState", "BindState", "GlobalBehaviour", "bucket_for"]

_bind_ids = itertools.count(1)


def bucket_for(rate: float | None, now: float) -> TokenBucket | None:
    """A carrier's TPS limit: a one-second burst, so a second's worth may arrive at once."""
    if rate is None:
        return None
    bucket = TokenBucket(rate, burst=max(1.0, rate))
    bucket.take(now, 0.0)  # start the clock now
    return bucket


class GlobalBehaviour:
    """The behaviour of connections not bound yet, and the run-time changes it was made
    with (``set_behaviour`` for every account; kept across PATCHes)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.patch: dict[str, Any] = {}


class AccountState:
    """One account: its behaviour (and the run-time patch it was made with), TPS bucket,
    deliveries queue, binds and counters."""

    def __init__(self, account: Account, behaviour: Behaviour, queue: DeliveryQueue, now: float) -> None:
        self.account = account
        self.behaviour = behaviour
        self.patch: dict[str, Any] = {}
        self.bucket = bucket_for(behaviour.tps, now)
        self.queue = queue
        self.binds: list[BindState] = []
        self.pending_responses = 0  # submits accepted whose resp is not sent yet
        self.submitted = 0
        self.throttled = 0
        self.refuse_until = -math.inf  # end of a maintenance window (trio clock)
        if behaviour.refuse_binds_for is not None:
            self.refuse_until = now + behaviour.refuse_binds_for

    def refusing_binds(self, now: float) -> bool:
        return self.behaviour.refuse_binds or now < self.refuse_until

    def apply(self, behaviour: Behaviour, now: float) -> None:
        if behaviour.refuse_binds_for is not None:  # a window that starts now
            self.refuse_until = now + behaviour.refuse_binds_for
            behaviour = attrs.evolve(behaviour, refuse_binds_for=None)
        if behaviour.tps != self.behaviour.tps:
            self.bucket = bucket_for(behaviour.tps, now)
        self.behaviour = behaviour
        for bind in self.binds:
            if behaviour.bind_tps != (bind.bucket.rate if bind.bucket else None):
                bind.bucket = bucket_for(behaviour.bind_tps, now)


class BindState:
    """One connection; ``account``/``mode`` are set once bound.

    Made before its connection (it is the connection's ``ConnectionBehaviour``);
    ``Binds.handle`` sets ``conn`` and ``peer`` once the connection runs.
    """

    conn: SmppConnection

    def __init__(self, source: GlobalBehaviour) -> None:
        self.id = next(_bind_ids)
        #: Whose ``behaviour`` answers this bind's PDUs: the account's once bound.
        self.source: GlobalBehaviour | AccountState = source
        self.peer = "?"
        self.address: str | None = None  # the peer's host (binds per source address)
        self.account: AccountState | None = None
        self.mode: str | None = None
        self.system_id: str | None = None
        self.bound_at: float | None = None  # wall clock, for people
        self.bound_clock = 0.0  # trio clock, for timers
        self.bucket: TokenBucket | None = None
        self.pdus = 0
        self.submits = 0
        self.throttled = 0

    @property
    def read_delay(self) -> float:
        """The ``read_delay`` fault, read by the connection before each read."""
        return self.source.behaviour.read_delay

    def info(self) -> dict[str, Any]:
        stats = self.conn.statistics()
        return {
            "id": self.id,
            "account": self.system_id,
            "mode": self.mode,
            "peer": self.peer,
            "bound_at": self.bound_at,
            "state": stats.state.value,
            "pdus_received": stats.pdus_received,
            "pdus_sent": stats.pdus_sent,
            "submits": self.submits,
            "throttled": self.throttled,
            "deliver_sm_in_flight": stats.requests_in_flight,
            "window": stats.window_size,  # deliver_sm the ESME may owe us at once
            "owed": stats.responses_owed,  # its requests we have not answered yet
            "bind_tps": self.bucket.rate if self.bucket is not None else None,
        }
