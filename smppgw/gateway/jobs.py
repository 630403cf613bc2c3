"""A dispatcher's work item: one part of a message, with its PDU and limits
(``gateway.dispatcher``), and the validity step just before it is sent."""

from __future__ import annotations

import math

import attrs

from smppgw.core.pdu import SubmitSm
from smppgw.core.timefmt import format_relative
from smppgw.policy.throttle import SlidingWindow
from smppgw.store.base import MessageRecord, PartRecord

__all__ = ["Job"]


@attrs.define(eq=False)
class Job:
    message: MessageRecord
    part: PartRecord
    pdu: SubmitSm
    created: float  # trio clock at accept, for the retry policy's max_age
    limits: tuple[SlidingWindow, ...] = ()  # per-sender / per-route limiters
    sent_at: float = 0.0

    def lapsed(self, now: float) -> bool:
        """Whether its validity (counted from ``created``) has lapsed at ``now``."""
        return self.message.validity is not None and self.created + self.message.validity - now < 1.0

    def lapses_after(self) -> float:
        """A time before which it has not lapsed (``lapsed`` is False up to it); inf
        without a validity. A hair early: float rounding never makes it late."""
        validity = self.message.validity
        return math.inf if validity is None else self.created + validity - 1.0 - 1e-6

    def time_left(self, now: float) -> bool:
        """Just before it is sent: False when its validity lapsed (its message is then
        ``expired``); else its PDU carries the time left (SMPP 3.4 §7.1.1)."""
        validity = self.message.validity
        assert validity is not None
        left = self.created + validity - now
        if left < 1.0:  # less than the relative format's one-second resolution
            return False
        if validity - left >= 0.5:  # half a second or more since acceptance: the time left
            period = format_relative(left)
            if self.pdu.validity_period != period:  # (a new PDU only when it changed)
                self.pdu = attrs.evolve(self.pdu, validity_period=period)
        return True

    def keys(self) -> tuple[tuple[str, float], ...]:
        """Its per-sender / per-route limits as shared rate keys (name, rate)."""
        return tuple((lim.name, lim.rate) for lim in self.limits)
