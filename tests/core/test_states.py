"""The transition table and the per-state command table (STYLE 3.10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import LocalProtocolError
from smppgw.core.states import (
    ALLOWED,
    TRANSITIONS,
    BindMode,
    Direction,
    Input,
    Role,
    SessionState,
    allowed,
    bind_ok_input,
    transition,
)

S, C = SessionState, CommandId
BOUND = (S.BOUND_TX, S.BOUND_RX, S.BOUND_TRX)
OTHER_ROLE = {Role.ESME: Role.SMSC, Role.SMSC: Role.ESME}


@given(state=st.sampled_from(SessionState), event=st.sampled_from(Input))
def test_transition_is_total_or_raises(state: SessionState, event: Input) -> None:
    try:
        new = transition(state, event)
    except LocalProtocolError as exc:
        assert (state, event) not in TRANSITIONS
        assert exc.command_status is CommandStatus.ESME_RINVBNDSTS
    else:
        assert TRANSITIONS[state, event] is new


@pytest.mark.parametrize("state", list(SessionState))
def test_connection_lost_always_closes(state: SessionState) -> None:
    assert transition(state, Input.CONNECTION_LOST) is SessionState.CLOSED


def test_closed_is_terminal() -> None:
    leaving = {event: new for (state, event), new in TRANSITIONS.items() if state is S.CLOSED}
    assert leaving == {Input.CONNECTION_LOST: S.CLOSED}


@pytest.mark.parametrize("mode", list(BindMode))
def test_bind_lifecycle(mode: BindMode) -> None:
    for start in (Input.SEND_BIND, Input.RECV_BIND):
        state = transition(S.OPEN, start)
        assert state is S.BINDING
        bound = transition(state, bind_ok_input(mode))
        assert bound is mode.bound_state
        assert bound.is_bound
        assert transition(transition(bound, Input.SEND_UNBIND), Input.UNBIND_DONE) is S.CLOSED
        assert transition(bound, Input.RECV_UNBIND) is S.CLOSED


def test_failed_bind_returns_to_open_and_may_be_retried() -> None:
    state = transition(transition(S.OPEN, Input.SEND_BIND), Input.BIND_FAILED)
    assert state is S.OPEN
    assert transition(state, Input.SEND_BIND) is S.BINDING


@pytest.mark.parametrize("state", list(SessionState))
def test_binding_happens_only_from_open(state: SessionState) -> None:
    for event in (Input.SEND_BIND, Input.RECV_BIND):
        if state is S.OPEN:
            assert transition(state, event) is S.BINDING
        else:
            with pytest.raises(LocalProtocolError):
                transition(state, event)


@pytest.mark.parametrize("state", [S.OPEN, S.BINDING])
def test_session_init_timer_closes_an_unbound_session(state: SessionState) -> None:
    assert transition(state, Input.TIMEOUT) is S.CLOSED


@pytest.mark.parametrize("state", BOUND)
def test_session_init_timer_does_not_apply_once_bound(state: SessionState) -> None:
    with pytest.raises(LocalProtocolError):
        transition(state, Input.TIMEOUT)


def test_bind_modes_map_to_their_commands() -> None:
    assert {m: m.command_id for m in BindMode} == {
        BindMode.TX: C.BIND_TRANSMITTER,
        BindMode.RX: C.BIND_RECEIVER,
        BindMode.TRX: C.BIND_TRANSCEIVER,
    }
    for mode in BindMode:
        assert BindMode.from_command_id(mode.command_id) is mode
        assert BindMode.from_command_id(mode.command_id | 0x8000_0000) is mode  # the *_resp too
    assert BindMode.from_command_id(C.SUBMIT_SM) is None


# -- ALLOWED ---------------------------------------------------------------------------------


def test_allowed_covers_every_role_direction_and_state() -> None:
    assert set(ALLOWED) == {(r, d) for r in Role for d in Direction}
    for table in ALLOWED.values():
        assert set(table) == set(SessionState)


@given(role=st.sampled_from(Role), direction=st.sampled_from(Direction), state=st.sampled_from(SessionState))
def test_allowed_lists_only_requests(role: Role, direction: Direction, state: SessionState) -> None:
    commands = allowed(role, direction, state)
    assert commands is ALLOWED[role, direction][state]
    assert all(not CommandId(c).is_response for c in commands)


def test_submit_sm_is_never_receivable_by_an_smsc_in_bound_rx() -> None:
    assert C.SUBMIT_SM not in allowed(Role.SMSC, Direction.RECEIVE, S.BOUND_RX)
    assert C.SUBMIT_SM in allowed(Role.SMSC, Direction.RECEIVE, S.BOUND_TX)


def test_deliver_sm_is_never_sendable_by_an_smsc_in_bound_tx() -> None:
    assert C.DELIVER_SM not in allowed(Role.SMSC, Direction.SEND, S.BOUND_TX)
    assert C.DELIVER_SM in allowed(Role.SMSC, Direction.SEND, S.BOUND_RX)


@pytest.mark.parametrize("role", list(Role))
def test_nothing_is_sendable_when_closed(role: Role) -> None:
    assert allowed(role, Direction.SEND, S.CLOSED) == frozenset()


@pytest.mark.parametrize("state", list(SessionState))
def test_esme_never_sends_smsc_only_commands(state: SessionState) -> None:
    smsc_only = {C.DELIVER_SM, C.OUTBIND, C.ALERT_NOTIFICATION}
    assert not smsc_only & allowed(Role.ESME, Direction.SEND, state)
    assert not smsc_only & allowed(Role.SMSC, Direction.RECEIVE, state)


@pytest.mark.parametrize("state", list(SessionState))
def test_smsc_never_sends_esme_only_commands(state: SessionState) -> None:
    esme_only = {
        C.BIND_TRANSMITTER,
        C.BIND_RECEIVER,
        C.BIND_TRANSCEIVER,
        C.SUBMIT_SM,
        C.SUBMIT_MULTI,
        C.QUERY_SM,
        C.CANCEL_SM,
        C.REPLACE_SM,
    }
    assert not esme_only & allowed(Role.SMSC, Direction.SEND, state)
    assert not esme_only & allowed(Role.ESME, Direction.RECEIVE, state)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", [S.OPEN, S.BINDING, *BOUND])
def test_what_one_side_may_send_the_other_may_receive(role: Role, state: SessionState) -> None:
    # Both ends of one connection are in the same state outside the unbind handshake.
    assert allowed(role, Direction.SEND, state) == allowed(OTHER_ROLE[role], Direction.RECEIVE, state)


def test_binds_only_in_open() -> None:
    binds = {C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER}
    for state in SessionState:
        sendable = binds & allowed(Role.ESME, Direction.SEND, state)
        assert sendable == (binds if state is S.OPEN else set()), state


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", BOUND)
def test_enquire_link_and_unbind_in_every_bound_state(role: Role, state: SessionState) -> None:
    for direction in Direction:
        assert {C.ENQUIRE_LINK, C.UNBIND} <= allowed(role, direction, state)


def test_transmitter_and_receiver_traffic() -> None:
    esme_send = ALLOWED[Role.ESME, Direction.SEND]
    smsc_send = ALLOWED[Role.SMSC, Direction.SEND]
    assert C.SUBMIT_SM in esme_send[S.BOUND_TX]
    assert C.SUBMIT_SM not in esme_send[S.BOUND_RX]
    assert C.DATA_SM in esme_send[S.BOUND_TX] and C.DATA_SM in esme_send[S.BOUND_TRX]
    assert C.DATA_SM in smsc_send[S.BOUND_RX] and C.DATA_SM in smsc_send[S.BOUND_TRX]
    assert C.DATA_SM not in smsc_send[S.BOUND_TX]
    assert esme_send[S.BOUND_TRX] == esme_send[S.BOUND_TX] | esme_send[S.BOUND_RX]
    assert smsc_send[S.BOUND_TRX] == smsc_send[S.BOUND_TX] | smsc_send[S.BOUND_RX]
    assert C.OUTBIND in smsc_send[S.OPEN]
