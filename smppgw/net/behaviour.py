"""How a connection is run by a peer that misbehaves on purpose (the simulator's faults).

The behaviour is a value handed to ``SmppConnection`` at construction and read as the
connection goes, so its owner may change it at run time (the simulator's
``PATCH /behaviour``) without writing attributes onto a live connection.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["PLAIN", "ConnectionBehaviour"]


class ConnectionBehaviour(Protocol):
    """What a connection asks its behaviour, read before each socket read."""

    @property
    def read_delay(self) -> float:
        """Seconds to pause before each read: a slow reader applies TCP backpressure."""
        ...


class _Plain:
    """The behaviour of every connection but a simulator's: no pause."""

    __slots__ = ()
    read_delay = 0.0


PLAIN: ConnectionBehaviour = _Plain()
