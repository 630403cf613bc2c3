"""Bind states and the one table of legal transitions (SMPP 3.4 §2.2-2.3).

Theory of operation
-------------------
A session is in exactly one ``SessionState``. Only binds and unbinds move it, and every
legal move is a row of ``TRANSITIONS``; a pair missing from the table is illegal by
definition (``transition`` raises with ESME_RINVBNDSTS). BINDING is shared by both
roles: an ESME enters it when it sends a bind, an SMSC when it receives one, and both
leave it on the bind_*_resp. CLOSED means the SMPP session is over (unbind exchanged,
a timer fired or the transport went away); the adapter closes TCP.

Which *requests* may be sent or received in each state is a second table,
``ALLOWED``, keyed by (role, direction, state), from 3.4 §2.3's PDU/state table (see
SMPP-REFERENCE §1.2). A request received outside it is answered by the session with
ESME_RINVBNDSTS (ESME_RALYBND for a bind on a bound session, 3.4 §5.1.3); one the
application tries to send outside it raises ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import LocalProtocolError

__all__ = [
    "ALLOWED",
    "TRANSITIONS",
    "BindMode",
    "Direction",
    "Input",
    "Role",
    "SessionState",
    "allowed",
    "bind_ok_input",
    "transition",
]


class Role(enum.Enum):
    ESME = "esme"
    SMSC = "smsc"


class Direction(enum.Enum):
    SEND = "send"
    RECEIVE = "receive"


class SessionState(enum.Enum):
    # Members are singletons: identity hashing is exact and cheaper than Enum's
    # name hash (these are dict/set keys on the per-message path).
    __hash__ = object.__hash__

    OPEN = "open"
    BINDING = "binding"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"

    @property
    def is_bound(self) -> bool:
        return self in _BOUND


_BOUND: Final = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})


class BindMode(enum.Enum):
    """The three bind types and their command_ids (3.4 §4.1)."""

    TX = "transmitter"
    RX = "receiver"
    TRX = "transceiver"

    @property
    def command_id(self) -> CommandId:
        return _BIND_IDS[self]

    @property
    def bound_state(self) -> SessionState:
        return _BOUND_STATE[self]

    @classmethod
    def from_command_id(cls, command_id: int) -> BindMode | None:
        return _MODE_BY_ID.get(command_id & 0x7FFF_FFFF)


_BIND_IDS: Final = {
    BindMode.TX: CommandId.BIND_TRANSMITTER,
    BindMode.RX: CommandId.BIND_RECEIVER,
    BindMode.TRX: CommandId.BIND_TRANSCEIVER,
}
_MODE_BY_ID: Final = {int(cid): mode for mode, cid in _BIND_IDS.items()}
_BOUND_STATE: Final = {
    BindMode.TX: SessionState.BOUND_TX,
    BindMode.RX: SessionState.BOUND_RX,
    BindMode.TRX: SessionState.BOUND_TRX,
}


class Input(enum.Enum):
    SEND_BIND = "send_bind"  # ESME
    RECV_BIND = "recv_bind"  # SMSC
    BIND_OK_TX = "bind_ok_tx"  # bind_transmitter_resp status 0, sent or received
    BIND_OK_RX = "bind_ok_rx"
    BIND_OK_TRX = "bind_ok_trx"
    BIND_FAILED = "bind_failed"  # bind_*_resp with an error status
    SEND_UNBIND = "send_unbind"
    RECV_UNBIND = "recv_unbind"
    UNBIND_DONE = "unbind_done"  # unbind_resp received, or its response timer ran out
    TIMEOUT = "timeout"  # session_init timer
    CONNECTION_LOST = "connection_lost"


S, I = SessionState, Input
_OK_INPUT: Final = {BindMode.TX: I.BIND_OK_TX, BindMode.RX: I.BIND_OK_RX, BindMode.TRX: I.BIND_OK_TRX}

_table: dict[tuple[SessionState, Input], SessionState] = {
    (S.OPEN, I.SEND_BIND): S.BINDING,
    (S.OPEN, I.RECV_BIND): S.BINDING,
    (S.BINDING, I.BIND_OK_TX): S.BOUND_TX,
    (S.BINDING, I.BIND_OK_RX): S.BOUND_RX,
    (S.BINDING, I.BIND_OK_TRX): S.BOUND_TRX,
    # 3.4 §2.2: a failed bind leaves the session OPEN; the ESME may try again.
    (S.BINDING, I.BIND_FAILED): S.OPEN,
    (S.OPEN, I.TIMEOUT): S.CLOSED,
    (S.BINDING, I.TIMEOUT): S.CLOSED,
    (S.UNBINDING, I.UNBIND_DONE): S.CLOSED,
    # Both sides unbinding at once: answer theirs and we are done.
    (S.UNBINDING, I.RECV_UNBIND): S.CLOSED,
}
for _bound in _BOUND:
    _table[_bound, I.SEND_UNBIND] = S.UNBINDING
    _table[_bound, I.RECV_UNBIND] = S.CLOSED
for _state in SessionState:
    _table[_state, I.CONNECTION_LOST] = S.CLOSED
TRANSITIONS: Final[Mapping[tuple[SessionState, Input], SessionState]] = _table
del _table, _bound, _state


def transition(state: SessionState, event: Input) -> SessionState:
    """Return the next state or raise. Missing pairs are illegal by definition.

    Raises:
        LocalProtocolError: ``event`` is not allowed in ``state`` (ESME_RINVBNDSTS).
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise LocalProtocolError(
            f"{event.value} is not allowed in state {state.value}",
            command_status=CommandStatus.ESME_RINVBNDSTS,
        ) from None


def bind_ok_input(mode: BindMode) -> Input:
    return _OK_INPUT[mode]


# -- which requests may travel in which state (3.4 §2.3) ---------------------------------

C = CommandId
_BINDS: Final = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})
_KEEPALIVE: Final = frozenset({C.ENQUIRE_LINK, C.UNBIND})
# ESME -> SMSC on a transmitter bind.
_SUBMIT: Final = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
# SMSC -> ESME on a receiver bind.
_DELIVER: Final = frozenset({C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION})
_NOTHING: Final[frozenset[CommandId]] = frozenset()
# enquire_link outside a bound state is legal in v5.0 and harmless in 3.4.
_LINK: Final = frozenset({C.ENQUIRE_LINK})


def _by_state(
    direction: Direction, open_: frozenset[CommandId], tx: frozenset[CommandId], rx: frozenset[CommandId]
) -> dict[SessionState, frozenset[CommandId]]:
    sending = direction is Direction.SEND
    return {
        SessionState.OPEN: open_,
        SessionState.BINDING: _LINK,
        SessionState.BOUND_TX: tx | _KEEPALIVE,
        SessionState.BOUND_RX: rx | _KEEPALIVE,
        SessionState.BOUND_TRX: tx | rx | _KEEPALIVE,
        # Nobody sends a second unbind; an unbind *received* while unbinding is answered.
        SessionState.UNBINDING: _LINK if sending else _KEEPALIVE,
        SessionState.CLOSED: _NOTHING if sending else _LINK,
    }


_OUTBIND: Final = frozenset({C.OUTBIND})
ALLOWED: Final[Mapping[tuple[Role, Direction], Mapping[SessionState, frozenset[CommandId]]]] = {
    (Role.ESME, Direction.SEND): _by_state(Direction.SEND, _BINDS | _LINK, _SUBMIT, _NOTHING),
    (Role.ESME, Direction.RECEIVE): _by_state(Direction.RECEIVE, _OUTBIND | _LINK, _NOTHING, _DELIVER),
    (Role.SMSC, Direction.SEND): _by_state(Direction.SEND, _OUTBIND | _LINK, _NOTHING, _DELIVER),
    (Role.SMSC, Direction.RECEIVE): _by_state(Direction.RECEIVE, _BINDS | _LINK, _SUBMIT, _NOTHING),
}
del S, I, C


def allowed(role: Role, direction: Direction, state: SessionState) -> frozenset[CommandId]:
    return ALLOWED[role, direction][state]
