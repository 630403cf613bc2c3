"""What the gateway asks of limits and bind slots it shares with other gateway processes
(issue 19): the protocols ``cluster.limits`` and ``cluster.leases`` implement on Redis,
and the dispatcher's side of a shared limit (``SharedGate``).

Without them (``Gateway(shared_limits=None, leases=None)``, the SQLite and memory
stores) nothing here runs: each process keeps its own limits (``policy.throttle``) and
binds, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["Lease", "LeaseKeeper", "SharedAccount", "SharedGate", "SharedLimits"]


class SharedAccount(Protocol):
    """One SMSC account's limits shared with the other gateways."""

    #: The shared adaptive rate as last seen (None: the account has no TPS limit).
    rate: float | None

    @property
    def slack(self) -> float:
        """Seconds a grant may wait for its send (the limiter counts windows this longer)."""
        ...

    async def acquire(self, keys: Sequence[tuple[str, float]], count: int) -> tuple[int, float, bool]:
        """Up to ``count`` sends against the account and ``keys`` (``("sender:<addr>",
        tps)``, ``("route:<name>", tps)``), all charged at once or none: (granted, wait
        seconds when none, whether the account itself (or its limiter) blocks)."""
        ...

    def throttled(self) -> None:
        """The carrier pushed back: cut the shared rate (without waiting)."""

    def congestion(self, state: int) -> None:
        """A submit_sm_resp's congestion_state (SMPP v5.0), without waiting."""


class SharedLimits(Protocol):
    def account(self, name: str, tps: float | None) -> SharedAccount: ...


class Lease(Protocol):
    """A held bind slot; ``on_lost(why)`` (set by the pool) closes its bind when the
    slot stops being ours."""

    slot: int
    lost: bool
    on_lost: Callable[[str], Any] | None


class LeaseKeeper(Protocol):
    async def acquire(self, account: str, slots: int, wanted: Sequence[int]) -> Lease | None:
        """One of ``wanted`` (of the account's ``slots``), or None: none for us now."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give the slot back, once its bind is closed."""


class SharedGate:
    """The dispatcher's use of a ``SharedAccount``: one call grants a burst for the parts
    that count against the account alone (most), kept for ``slack`` seconds at most (the
    limiter's allowance between a grant and the wire: an unused grant is dropped, never
    saved up); a part with its own sender or route limit asks for itself."""

    __slots__ = ("_granted", "_until", "account", "slack")

    def __init__(self, account: SharedAccount) -> None:
        self.account = account
        self.slack = account.slack
        self._granted = 0
        self._until = 0.0

    def take(self, keys: Sequence[tuple[str, float]], now: float) -> bool:
        """A send granted earlier, for a part without keys of its own (no call)."""
        if self._granted and not keys and now <= self._until:
            self._granted -= 1
            return True
        return False

    async def ask(self, keys: Sequence[tuple[str, float]], waiting: int, now: float) -> tuple[float, bool]:
        """Ask for this part (and, without keys of its own, up to ``waiting`` more): 0.0
        when it may go, else (seconds, whether the whole account waits)."""
        granted, wait, whole = await self.account.acquire(keys, 1 if keys else 1 + waiting)
        if not granted:
            return wait, whole
        self._granted, self._until = granted - 1, now + self.slack
        return 0.0, False
