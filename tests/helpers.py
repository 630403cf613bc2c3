"""Test helpers: two sans-IO sessions wired together (STYLE 3.11) and fixtures for them.

The fixtures are plain imports: ``from tests.helpers import fixture_tx_pair  # noqa: F401``.
"""

from __future__ import annotations

from typing import Final

import attrs
import pytest

from smppgw.core.codec import Header, decode_pdu
from smppgw.core.constants import CommandStatus
from smppgw.core.events import Event, RequestReceived
from smppgw.core.framing import FrameBuffer
from smppgw.core.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    Pdu,
    Unbind,
)
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import BindMode, Role, SessionState

__all__ = [
    "BIND_REQUESTS",
    "BIND_RESPONSES",
    "SessionPair",
    "bound",
    "fixture_bound_pair",
    "fixture_pair",
    "fixture_receiving_pair",
    "fixture_rx_pair",
    "fixture_transmitting_pair",
    "fixture_trx_pair",
    "fixture_tx_pair",
    "parse",
    "session_in",
]

BIND_REQUESTS: Final[dict[BindMode, type[BindTransmitter] | type[BindReceiver] | type[BindTransceiver]]] = {
    BindMode.TX: BindTransmitter,
    BindMode.RX: BindReceiver,
    BindMode.TRX: BindTransceiver,
}
BIND_RESPONSES: Final[
    dict[BindMode, type[BindTransmitterResp] | type[BindReceiverResp] | type[BindTransceiverResp]]
] = {
    BindMode.TX: BindTransmitterResp,
    BindMode.RX: BindReceiverResp,
    BindMode.TRX: BindTransceiverResp,
}


def parse(data: bytes) -> list[tuple[Header, Pdu]]:
    """Split ``data`` (from ``data_to_send()``) into decoded PDUs; fails on a partial PDU."""
    buf = FrameBuffer()
    buf.feed(data)
    out = [decode_pdu(frame) for frame in buf.frames()]
    assert buf.pending == 0, "data_to_send() ended inside a PDU"
    return out


@attrs.define
class SessionPair:
    """An ESME and an SMSC session joined by an in-memory link. No I/O, no real clock."""

    esme: Session = attrs.field(factory=lambda: Session(Role.ESME, SessionConfig()))
    smsc: Session = attrs.field(factory=lambda: Session(Role.SMSC, SessionConfig()))
    now: float = 0.0

    @classmethod
    def configured(
        cls,
        config: SessionConfig | None = None,
        *,
        esme: SessionConfig | None = None,
        smsc: SessionConfig | None = None,
    ) -> SessionPair:
        """Both sessions with ``config``, or each with its own."""
        return cls(
            esme=Session(Role.ESME, esme or config or SessionConfig()),
            smsc=Session(Role.SMSC, smsc or config or SessionConfig()),
        )

    def peer(self, session: Session) -> Session:
        return self.smsc if session is self.esme else self.esme

    def pump(self) -> tuple[list[Event], list[Event]]:
        """Move bytes both ways until quiet; return (events seen by esme, events seen by smsc)."""
        seen_esme: list[Event] = []
        seen_smsc: list[Event] = []
        while True:
            to_smsc, to_esme = self.esme.data_to_send(), self.smsc.data_to_send()
            if not (to_smsc or to_esme):
                return seen_esme, seen_smsc
            if to_smsc:
                seen_smsc += self.smsc.receive_data(to_smsc, self.now)
            if to_esme:
                seen_esme += self.esme.receive_data(to_esme, self.now)

    def tick(self, now: float) -> tuple[list[Event], list[Event]]:
        """Advance the shared clock to ``now`` and run both sessions' timers (no pumping)."""
        self.now = now
        return self.esme.tick(now), self.smsc.tick(now)

    def bind(
        self,
        mode: BindMode = BindMode.TRX,
        *,
        system_id: str = "esme",
        smsc_system_id: str = "smsc",
    ) -> tuple[list[Event], list[Event]]:
        """Run a successful bind handshake; return every event each side saw."""
        seq = self.esme.send_request(BIND_REQUESTS[mode](system_id=system_id, password="secret"), self.now)
        seen_esme, seen_smsc = self.pump()
        assert any(isinstance(e, RequestReceived) and e.sequence_number == seq for e in seen_smsc)
        self.smsc.send_response(seq, BIND_RESPONSES[mode](system_id=smsc_system_id), CommandStatus.ESME_ROK)
        more_esme, more_smsc = self.pump()
        assert self.esme.state is mode.bound_state
        assert self.smsc.state is mode.bound_state
        return seen_esme + more_esme, seen_smsc + more_smsc


def session_in(role: Role, state: SessionState, config: SessionConfig | None = None) -> Session:
    """A session of ``role`` driven through real PDUs into ``state``, with nothing left to send."""
    pair = SessionPair.configured(config)
    mine = pair.esme if role is Role.ESME else pair.smsc
    if state is SessionState.BINDING:
        pair.esme.send_request(BindTransceiver(system_id="esme"), pair.now)
        pair.pump()
    elif state.is_bound:
        pair.bind(next(m for m in BindMode if m.bound_state is state))
    elif state is SessionState.UNBINDING:
        pair.bind(BindMode.TRX)
        mine.send_request(Unbind(), pair.now)
    elif state is SessionState.CLOSED:
        # Closed by the peer's unbind: the transport is still there, so data keeps arriving.
        pair.bind(BindMode.TRX)
        pair.peer(mine).send_request(Unbind(), pair.now)
        pair.pump()
    mine.data_to_send()
    assert mine.state is state
    return mine


# -- fixtures ------------------------------------------------------------------------------------
# Import the ``fixture_*`` functions into a test module to use them (their fixture names are
# the short ones: ``pair``, ``bound_pair``, ...).


def bound(mode: BindMode, config: SessionConfig | None = None) -> SessionPair:
    """A pair bound in ``mode``, both sides with ``config``."""
    result = SessionPair.configured(config)
    result.bind(mode)
    return result


@pytest.fixture(name="pair")
def fixture_pair() -> SessionPair:
    """Connected, not bound."""
    return SessionPair()


@pytest.fixture(name="bound_pair", params=list(BindMode), ids=lambda m: m.name)
def fixture_bound_pair(request: pytest.FixtureRequest) -> SessionPair:
    """Bound in each of the three modes in turn."""
    return bound(request.param)


@pytest.fixture(name="transmitting_pair", params=[BindMode.TX, BindMode.TRX], ids=lambda m: m.name)
def fixture_transmitting_pair(request: pytest.FixtureRequest) -> SessionPair:
    """Bound in a mode where the ESME may submit."""
    return bound(request.param)


@pytest.fixture(name="receiving_pair", params=[BindMode.RX, BindMode.TRX], ids=lambda m: m.name)
def fixture_receiving_pair(request: pytest.FixtureRequest) -> SessionPair:
    """Bound in a mode where the SMSC may deliver."""
    return bound(request.param)


@pytest.fixture(name="tx_pair")
def fixture_tx_pair() -> SessionPair:
    return bound(BindMode.TX)


@pytest.fixture(name="rx_pair")
def fixture_rx_pair() -> SessionPair:
    return bound(BindMode.RX)


@pytest.fixture(name="trx_pair")
def fixture_trx_pair() -> SessionPair:
    return bound(BindMode.TRX)
