"""deliver_sm to the ESME: receipts and MO messages, as a carrier delivers them.

Each account has one queue. A delivery goes to the account's receiver binds (RX or TRX)
in round robin, only into a free window slot. With no receiver bound it waits, and is
delivered when one binds (SMPP-REFERENCE §7.1: carriers keep unacknowledged reports).
A deliver_sm that the ESME does not answer, or answers with an error, is retried on the
behaviour's ``deliver_retry`` schedule (SMPP 3.4 §5.1.3: ESME_RX_T_APPN means "retry
later"); ESME_RX_P_APPN and ESME_RX_R_APPN drop it, as the spec says.

The last ``RECENT_MO`` MO messages are kept with their result, for the console (``GET /mo``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.events import ResponseReceived
from smppgw.core.pdu import DeliverSm
from smppgw.net.connection import Outcome, SmppConnection

if TYPE_CHECKING:
    from simulator.metrics import Tallies
    from simulator.scheduler import Scheduler

__all__ = ["RECENT_MO", "Delivery", "DeliveryQueue"]

log = logging.getLogger(__name__)

_DROP = frozenset({CommandStatus.ESME_RX_P_APPN, CommandStatus.ESME_RX_R_APPN})
_DELIVER_SM = int(CommandId.DELIVER_SM)
_ROK = int(CommandStatus.ESME_ROK)
RECENT_MO = 200  # per account


class Delivery:
    __slots__ = ("attempts", "kind", "on_done", "pdu", "queued_at", "result")

    def __init__(self, pdu: DeliverSm, kind: str, on_done: Callable[[bool], Any] | None = None) -> None:
        self.pdu = pdu
        self.kind = kind  # "receipt" | "mo"
        self.attempts = 0
        self.on_done = on_done
        self.result = "queued"  # then "delivered", "rejected" or "expired"
        self.queued_at = 0.0  # wall clock, set for the MO messages kept in ``recent_mo``


class DeliveryQueue:
    """One account's pending deliveries and its receiver binds."""

    def __init__(
        self,
        scheduler: Scheduler,
        retry: Callable[[], tuple[float, ...]],
        counts: Tallies[tuple[str, str]],
    ) -> None:
        self._scheduler = scheduler
        self._retry = retry  # the account's current deliver_retry schedule
        self._counts = counts  # metrics: by (kind, result)
        self._ready: deque[Delivery] = deque()
        self._receivers: list[SmppConnection] = []
        self._next = 0
        self.in_flight = 0
        self.dropped = 0
        self.delivered = 0
        self.recent_mo: deque[Delivery] = deque(maxlen=RECENT_MO)

    def __len__(self) -> int:
        return len(self._ready)

    def add_receiver(self, conn: SmppConnection) -> None:
        self._receivers.append(conn)
        self.pump()

    def remove_receiver(self, conn: SmppConnection) -> None:
        if conn in self._receivers:
            self._receivers.remove(conn)

    def put(self, delivery: Delivery, *, first: bool = False) -> None:
        if delivery.kind == "mo" and not delivery.attempts:  # new, not a retry
            delivery.queued_at = time.time()
            self.recent_mo.append(delivery)
        if first:
            self._ready.appendleft(delivery)
        else:
            self._ready.append(delivery)
        self.pump()

    def clear(self) -> None:
        self._ready.clear()
        self.recent_mo.clear()

    def _pick(self) -> SmppConnection | None:
        receivers = self._receivers
        n = len(receivers)
        for i in range(n):
            conn = receivers[(self._next + i) % n]
            session = conn.session
            if not conn.closed and session.window.available and session.can_send(_DELIVER_SM):
                self._next = (self._next + i + 1) % n
                return conn
        return None

    def pump(self) -> None:
        ready = self._ready
        while ready:
            conn = self._pick()
            if conn is None:
                return
            delivery = ready.popleft()
            delivery.attempts += 1
            self.in_flight += 1
            try:
                conn.start_request(delivery.pdu, functools.partial(self._answered, delivery))
            except Exception:  # closed under our feet: keep it, try another bind later
                self.in_flight -= 1
                delivery.attempts -= 1
                ready.appendleft(delivery)
                self.remove_receiver(conn)

    def _answered(self, delivery: Delivery, outcome: Outcome) -> None:
        self.in_flight -= 1
        status = outcome.status if isinstance(outcome, ResponseReceived) else None
        if status == _ROK:
            self.delivered += 1
            delivery.result = "delivered"
            self._counts[delivery.kind, "delivered"].n += 1
            if delivery.on_done is not None:
                delivery.on_done(True)
        elif status in _DROP:
            self._finish_failed(delivery, "rejected")
            if status == CommandStatus.ESME_RX_P_APPN:
                # 3.4 §5.1.3: a permanent error for this destination: drop the others
                # queued for it too (ESME_RX_R_APPN refuses this message only).
                self._drop_destination(delivery.pdu.destination_addr)
        else:
            schedule = self._retry()
            if delivery.attempts > len(schedule):
                self._finish_failed(delivery, "expired")
            else:
                self._counts[delivery.kind, "retried"].n += 1
                self._scheduler.call_later(schedule[delivery.attempts - 1], self.put, delivery)
        if self._ready:  # the freed slot can take the next one
            self.pump()

    def _drop_destination(self, destination_addr: str) -> None:
        keep: deque[Delivery] = deque()
        for queued in self._ready:
            if queued.pdu.destination_addr == destination_addr:
                self._finish_failed(queued, "rejected")
            else:
                keep.append(queued)
        self._ready = keep

    def _finish_failed(self, delivery: Delivery, result: str) -> None:
        self.dropped += 1
        delivery.result = result
        self._counts[delivery.kind, result].n += 1
        if delivery.on_done is not None:
            delivery.on_done(False)
