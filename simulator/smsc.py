"""The simulated SMSC: binds, submits, receipts, 2-way handsets and faults.

Theory of operation
-------------------
Every connection is an ``SmppConnection`` in the SMSC role whose application events are
handled synchronously (``on_event``): a submit is admitted, validated, stored and
answered inside the reader's turn, so a burst read in one ``receive_some`` leaves as one
write. Anything later (a latency-delayed response, a receipt after its delay, a handset's
reply, a redelivery) is an entry in the one ``Scheduler`` heap. Deliveries go through
the account's ``DeliveryQueue``.

A submit passes, in order (SMPP-REFERENCE §7.1): the faults that replace an answer
(drop, black hole, generic_nack, malformed), the bind then account TPS buckets
(ESME_RTHROTTLED), the processing queue (ESME_RMSGQFUL), forced statuses, random
errors, field validation; then it is accepted, its final outcome and receipt delay are
decided with the seeded RNG, and the response is sent (after ``resp_latency`` +
``response_delay``). The outcome is decided at submit time so a ``--seed`` run is
reproducible message by message for the same inputs in the same order.

The parts, each given the one ``SimState`` and the few methods of the others it uses:

- ``Binds`` (``binds.py``): connections, the faults, bind/unbind, enquire_link; it
  hands each request on;
- ``Submission`` (``submission.py``): a submit from admission to acceptance;
- ``Receipts`` (``receipts.py``): outcomes and delivery receipts;
- ``ManagementOps`` (``management_ops.py``): query_sm, cancel_sm, replace_sm;
- ``Handsets`` (``twoway.py``): subscribers who answer, and injected MO messages;
- ``Responder`` (``responses.py``): every answer, now or delayed;
- ``Management`` (``management.py``): the control surface, offered by ``Simulator``.

Uses run one way (no module imports a part that imports it): ``Binds`` uses
``Submission``, ``ManagementOps`` and ``Responder``; ``Submission`` uses ``Receipts``,
``Handsets`` and ``Responder``; ``Management`` uses ``Handsets`` and two methods of
``Binds``, passed to it as values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.accounts import AccountState, BindState
from simulator.binds import Binds
from simulator.config import SimConfig
from simulator.management import Management
from simulator.management_ops import ManagementOps
from simulator.message_log import MessageLog
from simulator.metrics import SimMetrics
from simulator.receipts import Receipts
from simulator.responses import Responder
from simulator.scheduler import Scheduler
from simulator.state import new_state
from simulator.submission import Submission
from simulator.twoway import Handsets

__all__ = ["Simulator"]


class Simulator:
    """One simulated SMSC. Run with ``run_simulator``: it serves connections with
    ``handle``, each built with a ``new_bind()`` as its behaviour. The control surface
    (``binds_info`` ... ``stats``) is ``Management``'s."""

    def __init__(self, config: SimConfig) -> None:
        self.state = state = new_state(config)
        self.config = config
        self.port = 0
        self.http_port: int | None = None
        self.http_token: str | None = None  # the control API's, once it is up
        # The parts of the state tests and the control API read.
        self.metrics: SimMetrics = state.metrics
        self.store: MessageLog = state.store
        self.scheduler: Scheduler = state.scheduler
        self.accounts: dict[str, AccountState] = state.accounts
        self.connections: set[BindState] = state.connections

        responder = Responder(state)
        self.handsets = Handsets(state)
        submission = Submission(state, responder, Receipts(state), self.handsets)
        binds = Binds(state, responder, submission, ManagementOps(state, responder))
        self.handle = binds.handle
        self.new_bind = binds.new_bind

        def keeps(fn: Callable[..., Any]) -> bool:  # responses still owed, and the binds' unbind_after
            return responder.keeps(fn) or binds.keeps(fn)

        control = Management(state, self.handsets, binds.schedule_unbind, keeps)
        self.binds_info = control.binds_info
        self.accounts_info = control.accounts_info
        self.set_behaviour = control.set_behaviour
        self.inject_mo = control.inject_mo
        self.messages = control.messages
        self.recent_mo = control.recent_mo
        self.handsets_info = control.handsets
        self.handset_info = control.handset
        self.reset = control.reset
        self.stats = control.stats

    @property
    def global_patch(self) -> dict[str, Any]:
        """The run-time changes made to every account (``set_behaviour(None, ...)``)."""
        return self.state.unbound.patch
