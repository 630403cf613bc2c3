"""The window: requests sent and not yet answered (SMPP 3.4 §2.6; v5.0 §2.6.2-2.6.4).

Pure bookkeeping, as in h2's ``windows.py``: the caller supplies ``now``. Every entry
has the same response timeout and ``now`` never goes backwards, so expiry order is
insertion order: a deque of (expires_at, sequence_number) gives the next deadline in
O(1), and entries answered out of order are skipped lazily when they reach its front.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import attrs

from smppgw.core._construct import build_tuple
from smppgw.core.errors import LocalProtocolError, WindowFull
from smppgw.core.pdu import Request

__all__ = ["InFlight", "Window"]


class InFlight(NamedTuple):
    sequence_number: int
    request: Request
    sent_at: float
    expires_at: float


@attrs.define
class Window:
    """Requests sent and not yet answered. ``size`` bounds the outstanding requests."""

    size: int = attrs.field(validator=attrs.validators.ge(1))
    response_timeout: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    #: In flight by sequence number. Read-only outside this class, except that the
    #: session looks up and pops answered entries itself (per PDU: no method calls).
    entries: dict[int, InFlight] = attrs.field(factory=dict, init=False)
    _order: deque[tuple[float, int]] = attrs.field(factory=deque, init=False)

    @property
    def available(self) -> int:
        free = self.size - len(self.entries)  # (no max() call: read per PDU sent)
        return free if free > 0 else 0

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, seq: int) -> bool:
        return seq in self.entries

    def offer(self, seq: int, request: Request, now: float, *, force: bool = False) -> None:
        """Record ``request`` as sent. ``force`` admits control PDUs (enquire_link, unbind)
        past a full window: a keep-alive must get through a window full of submits.

        Raises:
            WindowFull: no free slot and not ``force``.
            LocalProtocolError: ``seq`` is already in flight (3.4 §5.1.4: never reuse).
        """
        if len(self.entries) >= self.size and not force:
            raise WindowFull(f"window of {self.size} is full")
        if seq in self.entries:
            raise LocalProtocolError(f"sequence number {seq} already in flight")
        expires = now + self.response_timeout
        # build_tuple: a NamedTuple's own __new__ is a Python function (a frame per PDU).
        self.entries[seq] = build_tuple(InFlight, (seq, request, now, expires))
        self._order.append((expires, seq))

    def get(self, seq: int) -> InFlight | None:
        return self.entries.get(seq)

    def complete(self, seq: int) -> InFlight | None:
        """Pop the matching entry; None means an unexpected response."""
        return self.entries.pop(seq, None)

    def expire(self, now: float) -> list[InFlight]:
        order, entries, dead = self._order, self.entries, []
        while order and order[0][0] <= now:
            expires, seq = order.popleft()
            entry = entries.get(seq)
            if entry is not None and entry.expires_at == expires:
                del entries[seq]
                dead.append(entry)
        return dead

    def next_expiry(self) -> float | None:
        order, entries = self._order, self.entries
        while order:
            expires, seq = order[0]
            entry = entries.get(seq)
            if entry is not None and entry.expires_at == expires:
                return expires
            order.popleft()  # answered already
        return None

    def drain(self) -> list[InFlight]:
        """Remove and return everything in flight (the connection is gone)."""
        dead = list(self.entries.values())
        self.entries.clear()
        self._order.clear()
        return dead
