"""Answers to the ESME: now, or later by the ``response_delay`` / ``resp_latency`` faults.

Binds, refused submits and query/cancel/replace are answered through ``respond``. An
accepted submit is answered by ``Submission`` itself, on the per-message path, whose
delay (``resp_latency`` + ``response_delay``) is drawn with the message's other draws;
when delayed, ``send_accepted`` sends it. A late answer is a scheduler entry, and
``reset`` keeps those (``keeps``): the ESME is owed every response it is waiting for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.accounts import AccountState, BindState
from simulator.state import SimState
from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import Response, _BindResp

__all__ = ["Responder"]

_ROK = int(CommandStatus.ESME_ROK)


class Responder:
    """Sends answers, now or when a delay fault says."""

    def __init__(self, state: SimState) -> None:
        self._metrics = state.metrics
        self._rng = state.rng
        self._scheduler = state.scheduler

    def respond(self, bind: BindState, seq: int, response: Response, status: int) -> None:
        """Answer now, or after the ``response_delay`` fault (never a bind_resp: the bind must
        take effect at once, or deliveries for a new receiver would wait for no reason)."""
        self._metrics.pdu("out", response.command_id, status)
        b = bind.source.behaviour
        if b.response_delay.is_zero or isinstance(response, _BindResp):
            bind.conn.send_response(seq, response, status)
        else:
            delay = b.response_delay.sample(self._rng)
            self._scheduler.call_later(delay, self._late, bind, seq, response, status)

    def keeps(self, fn: Callable[..., Any]) -> bool:
        """True for the timers that send a response (``Scheduler.clear(keep=...)``)."""
        return fn == self._late or fn == self.send_accepted

    def _late(self, bind: BindState, seq: int, response: Response, status: int) -> None:
        bind.conn.send_response(seq, response, status)

    def send_accepted(self, bind: BindState, account: AccountState, seq: int, response: Response) -> None:
        """The ESME_ROK ``response`` to an accepted submit, when ``Submission`` delayed it
        (a timer: ``pending_responses`` counted it against ``queue_size`` until now)."""
        account.pending_responses -= 1
        bind.conn.send_response(seq, response, _ROK)
