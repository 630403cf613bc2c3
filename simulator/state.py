"""The one state record every part of a simulator shares.

The simulator is a few collaborators (``simulator.smsc`` wires them): the binds and
faults, the submission path, receipts, message management, handsets and the control
surface. None of them calls another through a base class or a back reference: each gets
this record and, at construction, the few methods of the others it uses.

Every field is made once and only changed in place (the message log is cleared, the
scheduler's heap emptied, a behaviour replaced inside its ``AccountState`` or
``GlobalBehaviour``), so a collaborator may keep a field in an attribute of its own: the
per-message path reads ``self._rng``, not ``self._state.rng``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import trio

from simulator.accounts import AccountState, BindState, GlobalBehaviour
from simulator.config import SimConfig, build_behaviour
from simulator.deliveries import DeliveryQueue
from simulator.ids import IdFactory
from simulator.message_log import MessageLog
from simulator.metrics import SimMetrics
from simulator.plan import Plans
from simulator.scheduler import Scheduler

__all__ = ["SimState", "new_state"]


@attrs.frozen(eq=False)
class SimState:
    """What one simulator knows; see the module docstring for who may change what."""

    config: SimConfig
    rng: random.Random  # the seeded RNG: every draw is made at submit time (``Submission``)
    ids: IdFactory
    metrics: SimMetrics
    store: MessageLog  # what the SMSC received
    scheduler: Scheduler  # the one timer heap: delayed responses, receipts, replies
    accounts: dict[str, AccountState]
    connections: set[BindState]
    plans: Plans  # one ``Plan`` per behaviour object
    # The run's clock method: trio.current_time() is three Python frames (per message).
    # A simulator lives in the trio run that made it (``run_simulator``).
    now: Callable[[], float]
    unbound: GlobalBehaviour  # the behaviour of connections not bound yet


def new_state(config: SimConfig) -> SimState:
    """The state of a fresh simulator for ``config`` (inside a trio run: it reads the clock)."""
    rng = random.Random(config.seed)
    metrics = SimMetrics()
    scheduler = Scheduler()
    accounts: dict[str, AccountState] = {}

    def queue_for(system_id: str) -> DeliveryQueue:
        def retry() -> tuple[float, ...]:  # the account's current schedule, read per retry
            return accounts[system_id].behaviour.deliver_retry

        return DeliveryQueue(scheduler, retry, metrics.deliveries_by)

    clock = trio.lowlevel.current_clock().current_time
    now = clock()
    for account in config.accounts:
        accounts[account.system_id] = AccountState(
            account, config.behaviour_for(account), queue_for(account.system_id), now
        )
    return SimState(
        config=config,
        rng=rng,
        ids=IdFactory(rng),
        metrics=metrics,
        store=MessageLog(),
        scheduler=scheduler,
        accounts=accounts,
        connections=set(),
        plans=Plans(),
        now=clock,
        unbound=GlobalBehaviour(build_behaviour(config.raw_global_behaviour(), "behaviour")),
    )
