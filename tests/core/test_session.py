"""The sans-IO session: binds, traffic, automatic replies, wrong-state handling, timers, close."""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from smppgw.core.codec import Header, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus, TlvTag
from smppgw.core.errors import (
    InvalidCommandId,
    InvalidCommandLength,
    LocalProtocolError,
    MalformedPdu,
    WindowFull,
)
from smppgw.core.events import (
    BindRejected,
    Bound,
    ConnectionClosed,
    EnquireLinkReceived,
    EnquireLinkSent,
    Event,
    NotificationReceived,
    ProtocolViolation,
    RequestAborted,
    RequestExpired,
    RequestReceived,
    ResponseReceived,
    SessionTimedOut,
    Timer,
    UnbindReceived,
    Unbound,
    UnexpectedResponse,
)
from smppgw.core.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    Request,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from smppgw.core.session import MAX_SEQUENCE_NUMBER, Session, SessionConfig, SessionStatistics
from smppgw.core.states import BindMode, Direction, Role, SessionState, allowed
from smppgw.core.tlv import Tlv
from tests.core.factories import REQUEST_CLASSES, minimal
from tests.helpers import (  # noqa: F401 - the fixture_* imports register fixtures
    BIND_REQUESTS,
    BIND_RESPONSES,
    SessionPair,
    bound,
    fixture_bound_pair,
    fixture_pair,
    fixture_receiving_pair,
    fixture_rx_pair,
    fixture_transmitting_pair,
    fixture_trx_pair,
    fixture_tx_pair,
    parse,
    session_in,
)

S = SessionState
BINDS = frozenset({CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER})
QUIET = SessionConfig(enquire_link_interval=None, bind_timeout=None)  # no timer but the response timer


def raw(
    command_id: int, body: bytes = b"", *, seq: int = 1, status: int = 0, length: int | None = None
) -> bytes:
    length = 16 + len(body) if length is None else length
    return struct.pack(">IIII", length, command_id, status, seq) + body


def only_reply(session: Session) -> tuple[Header, Pdu]:
    [reply] = parse(session.data_to_send())
    return reply


def violation(events: list[Event]) -> ProtocolViolation:
    [event] = events
    assert isinstance(event, ProtocolViolation)
    return event


# -- binding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BindMode), ids=lambda m: m.name)
def test_bind_handshake(mode: BindMode) -> None:
    pair = SessionPair()
    bind = BIND_REQUESTS[mode](system_id="esme1", password="pw", system_type="test")
    seq = pair.esme.send_request(bind, now=0.0)
    assert pair.esme.state is S.BINDING
    assert pair.smsc.state is S.OPEN

    at_esme, at_smsc = pair.pump()
    assert (at_esme, at_smsc) == ([], [RequestReceived(sequence_number=seq, pdu=bind)])
    assert pair.smsc.state is S.BINDING

    resp = BIND_RESPONSES[mode](system_id="smsc1", tlvs=(Tlv.from_int(TlvTag.SC_INTERFACE_VERSION, 0x34),))
    pair.smsc.send_response(seq, resp)
    assert (pair.smsc.state, pair.smsc.bind_mode) == (mode.bound_state, mode)

    pair.now = 0.25
    at_esme, at_smsc = pair.pump()
    assert at_esme == [
        ResponseReceived(sequence_number=seq, request=bind, response=resp, status=0, round_trip=0.25),
        Bound(mode=mode, system_id="smsc1", interface_version=0x34),
    ]
    assert at_smsc == []
    assert (pair.esme.state, pair.esme.bind_mode) == (mode.bound_state, mode)
    assert len(pair.esme.window) == 0


def test_bound_without_sc_interface_version(pair: SessionPair) -> None:
    at_esme, _ = pair.bind(BindMode.TX, smsc_system_id="SMSC")
    assert at_esme[-1] == Bound(mode=BindMode.TX, system_id="SMSC", interface_version=None)


def test_bind_rejected_returns_to_open_and_retry_works(pair: SessionPair) -> None:
    bad = BindTransmitter(system_id="esme", password="wrong")
    seq = pair.esme.send_request(bad, 0.0)
    pair.pump()
    pair.smsc.send_response(seq, BindTransmitterResp(), status=CommandStatus.ESME_RINVPASWD)
    assert pair.smsc.state is S.OPEN

    at_esme, _ = pair.pump()
    assert at_esme == [
        ResponseReceived(
            sequence_number=seq, request=bad, response=BindTransmitterResp(), status=0x0E, round_trip=0.0
        ),
        BindRejected(status=CommandStatus.ESME_RINVPASWD),
    ]
    assert (pair.esme.state, pair.esme.bind_mode) == (S.OPEN, None)

    at_esme, _ = pair.bind(BindMode.TX)
    assert at_esme[-1] == Bound(mode=BindMode.TX, system_id="smsc", interface_version=None)


def test_bind_answered_by_generic_nack_is_rejected(pair: SessionPair) -> None:
    seq = pair.esme.send_request(BindReceiver(system_id="esme"), 0.0)
    pair.pump()
    pair.smsc.send_response(seq, GenericNack(), status=CommandStatus.ESME_RBINDFAIL)
    at_esme, _ = pair.pump()
    assert at_esme[-1] == BindRejected(status=CommandStatus.ESME_RBINDFAIL)
    assert pair.esme.state is S.OPEN
    assert pair.smsc.state is S.OPEN


def test_bind_on_a_bound_session_is_ralybnd_and_stays_bound(bound_pair: SessionPair) -> None:
    smsc = bound_pair.smsc
    state = smsc.state
    events = smsc.receive_data(encode_pdu(BindTransmitter(system_id="again"), 77), 1.0)
    header, reply = only_reply(smsc)
    assert (type(reply), header.command_status, header.sequence_number) == (
        BindTransmitterResp,
        CommandStatus.ESME_RALYBND,
        77,
    )
    assert violation(events).error.command_status == CommandStatus.ESME_RALYBND
    assert smsc.state is state


# -- traffic ---------------------------------------------------------------------------------------


def test_submit_sm_round_trip(transmitting_pair: SessionPair) -> None:
    submit = SubmitSm(destination_addr="4479", short_message=b"hi")
    seq = transmitting_pair.esme.send_request(submit, now=0.0)
    _, at_smsc = transmitting_pair.pump()
    assert at_smsc == [RequestReceived(sequence_number=seq, pdu=submit)]

    transmitting_pair.smsc.send_response(seq, SubmitSmResp(message_id="abc"))
    transmitting_pair.now = 2.0
    at_esme, _ = transmitting_pair.pump()
    assert at_esme == [
        ResponseReceived(
            sequence_number=seq,
            request=submit,
            response=SubmitSmResp(message_id="abc"),
            status=0,
            round_trip=2.0,
        )
    ]


def test_deliver_sm_round_trip(receiving_pair: SessionPair) -> None:
    deliver = DeliverSm(source_addr="4479", short_message=b"MO")
    seq = receiving_pair.smsc.send_request(deliver, now=0.0)
    at_esme, _ = receiving_pair.pump()
    assert at_esme == [RequestReceived(sequence_number=seq, pdu=deliver)]

    receiving_pair.esme.send_response(seq, DeliverSmResp())
    _, at_smsc = receiving_pair.pump()
    assert at_smsc == [
        ResponseReceived(
            sequence_number=seq, request=deliver, response=DeliverSmResp(), status=0, round_trip=0.0
        )
    ]


@pytest.mark.parametrize("sender", ["esme", "smsc"])
def test_data_sm_flows_both_ways_on_a_transceiver(trx_pair: SessionPair, sender: str) -> None:
    origin: Session = getattr(trx_pair, sender)
    target = trx_pair.peer(origin)
    data_sm = DataSm(destination_addr="1", tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, b"x" * 300),))
    seq = origin.send_request(data_sm, 0.0)
    trx_pair.pump()
    target.send_response(seq, DataSmResp(message_id="d1"))
    at_esme, at_smsc = trx_pair.pump()
    events = at_esme if sender == "esme" else at_smsc
    assert [type(e) for e in events] == [ResponseReceived]
    assert events[0].response == DataSmResp(message_id="d1")  # type: ignore[attr-defined]


def test_out_of_order_responses_are_matched(tx_pair: SessionPair) -> None:
    submits = [SubmitSm(destination_addr=f"447900{i}") for i in range(3)]
    seqs = [tx_pair.esme.send_request(p, now=0.0) for p in submits]
    tx_pair.pump()
    for i in (2, 0, 1):
        tx_pair.smsc.send_response(seqs[i], SubmitSmResp(message_id=f"id{i}"))
    at_esme, _ = tx_pair.pump()
    matched = [(e.sequence_number, e.request, e.response) for e in at_esme]  # type: ignore[attr-defined]
    assert matched == [(seqs[i], submits[i], SubmitSmResp(message_id=f"id{i}")) for i in (2, 0, 1)]
    assert len(tx_pair.esme.window) == 0


def test_generic_nack_matches_by_sequence_number(tx_pair: SessionPair) -> None:
    submits = [SubmitSm(destination_addr="1"), SubmitSm(destination_addr="2")]
    seqs = [tx_pair.esme.send_request(p, 0.0) for p in submits]
    tx_pair.pump()
    tx_pair.smsc.send_nack(seqs[1], CommandStatus.ESME_RTHROTTLED)
    at_esme, _ = tx_pair.pump()
    assert at_esme == [
        ResponseReceived(
            sequence_number=seqs[1], request=submits[1], response=GenericNack(), status=0x58, round_trip=0.0
        )
    ]
    assert seqs[0] in tx_pair.esme.window
    assert seqs[1] not in tx_pair.esme.window
    with pytest.raises(LocalProtocolError):  # the nack answered it
        tx_pair.smsc.send_response(seqs[1], SubmitSmResp())


def test_response_with_unknown_sequence_number_is_reported_not_answered(tx_pair: SessionPair) -> None:
    wire = encode_pdu(SubmitSmResp(message_id="x"), 99)
    events = tx_pair.esme.receive_data(wire, 0.0)
    assert events == [
        UnexpectedResponse(
            header=Header(len(wire), CommandId.SUBMIT_SM_RESP, 0, 99), pdu=SubmitSmResp(message_id="x")
        )
    ]
    assert tx_pair.esme.data_to_send() == b""
    assert tx_pair.esme.state is S.BOUND_TX


def test_response_with_the_wrong_command_id_for_its_sequence_number(tx_pair: SessionPair) -> None:
    submit = SubmitSm(destination_addr="1")
    seq = tx_pair.esme.send_request(submit, 0.0)
    tx_pair.esme.data_to_send()
    events = tx_pair.esme.receive_data(encode_pdu(QuerySmResp(message_id="q"), seq), 0.0)
    [event] = events
    assert isinstance(event, UnexpectedResponse)
    assert (event.header.sequence_number, event.pdu) == (seq, QuerySmResp(message_id="q"))
    assert seq in tx_pair.esme.window  # still waiting for the real answer
    assert tx_pair.esme.data_to_send() == b""

    [event] = tx_pair.esme.receive_data(encode_pdu(SubmitSmResp(message_id="m"), seq), 1.0)
    assert isinstance(event, ResponseReceived)
    assert event.request == submit


def test_unknown_response_command_id_is_dropped(tx_pair: SessionPair) -> None:
    seq = tx_pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    tx_pair.esme.data_to_send()
    for frame in (raw(0x8000_0099, seq=seq), raw(0x8000_0099, b"junk", seq=12345)):
        events = tx_pair.esme.receive_data(frame, 0.0)
        assert all(isinstance(e, UnexpectedResponse) and e.pdu is None for e in events)
    assert tx_pair.esme.data_to_send() == b""
    assert seq in tx_pair.esme.window
    assert tx_pair.esme.state is S.BOUND_TX


def test_malformed_response_leaves_the_request_to_expire(tx_pair: SessionPair) -> None:
    seq = tx_pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    tx_pair.esme.data_to_send()
    event = violation(tx_pair.esme.receive_data(raw(CommandId.SUBMIT_SM_RESP, b"no-nul", seq=seq), 0.0))
    assert isinstance(event.error, MalformedPdu)
    assert (event.nack_queued, event.sequence_number) == (False, seq)
    assert tx_pair.esme.data_to_send() == b""  # never nack a response
    assert seq in tx_pair.esme.window


# -- automatic replies ---------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["esme", "smsc"])
@pytest.mark.parametrize("mode", [None, *BindMode], ids=lambda m: "OPEN" if m is None else m.name)
def test_enquire_link_is_answered_automatically(sender: str, mode: BindMode | None) -> None:
    pair = SessionPair()
    if mode is not None:
        pair.bind(mode)
    states = (pair.esme.state, pair.smsc.state)
    origin: Session = getattr(pair, sender)
    seq = origin.send_request(EnquireLink(), 0.0)
    at_esme, at_smsc = pair.pump()
    at_origin, at_target = (at_esme, at_smsc) if sender == "esme" else (at_smsc, at_esme)
    assert at_target == [EnquireLinkReceived(sequence_number=seq)]
    assert at_origin == [
        ResponseReceived(
            sequence_number=seq, request=EnquireLink(), response=EnquireLinkResp(), status=0, round_trip=0.0
        )
    ]
    assert (pair.esme.state, pair.smsc.state) == states


@pytest.mark.parametrize("initiator", ["esme", "smsc"])
def test_unbind_handshake(bound_pair: SessionPair, initiator: str) -> None:
    origin: Session = getattr(bound_pair, initiator)
    target = bound_pair.peer(origin)
    seq = origin.send_request(Unbind(), 1.0)
    assert origin.state is S.UNBINDING

    bound_pair.now = 1.5
    at_esme, at_smsc = bound_pair.pump()
    at_origin, at_target = (at_esme, at_smsc) if initiator == "esme" else (at_smsc, at_esme)
    assert at_target == [UnbindReceived(sequence_number=seq)]
    assert at_origin == [
        ResponseReceived(
            sequence_number=seq, request=Unbind(), response=UnbindResp(), status=0, round_trip=0.5
        ),
        Unbound(status=0),
    ]
    assert (origin.state, target.state) == (S.CLOSED, S.CLOSED)


def test_unbind_resp_is_automatic_and_closes(tx_pair: SessionPair) -> None:
    events = tx_pair.smsc.receive_data(encode_pdu(Unbind(), 31), 0.0)
    assert events == [UnbindReceived(sequence_number=31)]
    header, reply = only_reply(tx_pair.smsc)
    assert (reply, header.sequence_number, header.command_status) == (UnbindResp(), 31, 0)
    assert tx_pair.smsc.state is S.CLOSED


def test_simultaneous_unbinds_both_close(trx_pair: SessionPair) -> None:
    trx_pair.esme.send_request(Unbind(), 0.0)
    trx_pair.smsc.send_request(Unbind(), 0.0)
    at_esme, at_smsc = trx_pair.pump()
    for events in (at_esme, at_smsc):
        assert not any(isinstance(e, ProtocolViolation) for e in events)
        assert any(isinstance(e, UnbindReceived) for e in events)
    assert (trx_pair.esme.state, trx_pair.smsc.state) == (S.CLOSED, S.CLOSED)


def test_outbind_reaches_an_open_esme_as_a_notification(pair: SessionPair) -> None:
    outbind = Outbind(system_id="smsc", password="pw")
    pair.smsc.send_request(outbind, 0.0)
    at_esme, _ = pair.pump()
    assert at_esme == [NotificationReceived(pdu=outbind)]
    assert pair.esme.data_to_send() == b""
    assert len(pair.smsc.window) == 0  # no response expected
    pair.bind(BindMode.RX)  # the ESME answers an outbind with a bind


def test_alert_notification_on_a_receiver_is_a_notification(rx_pair: SessionPair) -> None:
    alert = AlertNotification(source_addr="4479", esme_addr="1234")
    rx_pair.smsc.send_request(alert, 0.0)
    at_esme, _ = rx_pair.pump()
    assert at_esme == [NotificationReceived(pdu=alert)]
    assert rx_pair.esme.data_to_send() == b""  # 3.4 §4.12: no response, no nack
    assert rx_pair.esme.statistics().responses_owed == 0


# -- requests the session refuses by itself ------------------------------------------------------


def _receivable(role: Role, state: SessionState, cls: type[Pdu]) -> bool:
    return cls.command_id in allowed(role, Direction.RECEIVE, state)


Combo = tuple[Role, SessionState, type[Request]]
_COMBOS: list[Combo] = [
    (role, state, cls) for role in Role for state in SessionState for cls in REQUEST_CLASSES
]
WRONG_STATE = [c for c in _COMBOS if not _receivable(*c)]
WRONG_STATE_WITH_RESP = [c for c in WRONG_STATE if c[2].response_type is not None]
WRONG_STATE_NO_RESP = [c for c in WRONG_STATE if c[2].response_type is None]
RIGHT_STATE = [c for c in _COMBOS if _receivable(*c)]


def combo_ids(combos: list[Combo]) -> list[str]:
    return [f"{role.name}-{state.name}-{cls.__name__}" for role, state, cls in combos]


def _expected_status(cls: type[Pdu], state: SessionState) -> CommandStatus:
    if cls.command_id in BINDS and state.is_bound:
        return CommandStatus.ESME_RALYBND
    return CommandStatus.ESME_RINVBNDSTS


@pytest.mark.parametrize(
    ("role", "state", "cls"), WRONG_STATE_WITH_RESP, ids=combo_ids(WRONG_STATE_WITH_RESP)
)
def test_request_in_the_wrong_state_gets_its_resp_with_rinvbndsts(
    role: Role, state: SessionState, cls: type[Request]
) -> None:
    session = session_in(role, state)
    owed = session.statistics().responses_owed  # an SMSC in BINDING owes the bind_resp
    events = session.receive_data(encode_pdu(minimal(cls), 0x1234), 1.0)
    status = _expected_status(cls, state)

    header, reply = only_reply(session)
    assert type(reply) is cls.response_type
    assert (header.sequence_number, header.command_status) == (0x1234, status)
    event = violation(events)
    assert (event.error.command_status, event.nack_queued, event.sequence_number) == (status, True, 0x1234)
    assert session.state is state
    assert session.statistics().responses_owed == owed


def test_request_without_response_in_the_wrong_state_gets_generic_nack() -> None:
    # outbind / alert_notification have no *_resp; out of state they are answered with
    # generic_nack ESME_RINVBNDSTS echoing the sequence_number (SMPP-REFERENCE §4.2, and the
    # session.py / states.py docstrings: "a request not allowed ... is answered").
    # One test over every combination (listed in WRONG_STATE_NO_RESP) so one cause is one failure.
    wrong: list[str] = []
    for role, state, cls in WRONG_STATE_NO_RESP:
        session = session_in(role, state)
        events = session.receive_data(encode_pdu(minimal(cls), 0x1234), 1.0)
        replies = parse(session.data_to_send())
        got = [(type(p).__name__, h.sequence_number, h.command_status) for h, p in replies]
        if got != [("GenericNack", 0x1234, CommandStatus.ESME_RINVBNDSTS)]:
            wrong.append(f"{role.name}-{state.name}-{cls.__name__}: replies {got}")
        assert violation(events).error.command_status == CommandStatus.ESME_RINVBNDSTS
        assert session.state is state
    assert wrong == []


@pytest.mark.parametrize(("role", "state", "cls"), RIGHT_STATE, ids=combo_ids(RIGHT_STATE))
def test_request_in_an_allowed_state_is_accepted(role: Role, state: SessionState, cls: type[Request]) -> None:
    session = session_in(role, state)
    events = session.receive_data(encode_pdu(minimal(cls), 0x1234), 1.0)
    assert not any(isinstance(e, ProtocolViolation) for e in events)
    assert all(header.command_status == 0 for header, _ in parse(session.data_to_send()))
    assert session.statistics().protocol_violations == 0


def test_unknown_command_id_gets_generic_nack_and_the_session_stays_up(bound_pair: SessionPair) -> None:
    smsc = bound_pair.smsc
    state = smsc.state
    event = violation(smsc.receive_data(raw(0x0000_0099, b"\x00\x01", seq=77), 0.0))
    assert isinstance(event.error, InvalidCommandId)
    assert (event.nack_queued, event.sequence_number) == (True, 77)
    header, reply = only_reply(smsc)
    assert (type(reply), header.command_status, header.sequence_number) == (
        GenericNack,
        CommandStatus.ESME_RINVCMDID,
        77,
    )
    assert smsc.state is state
    seq = bound_pair.esme.send_request(EnquireLink(), 0.0)
    at_esme, _ = bound_pair.pump()
    assert [e.sequence_number for e in at_esme] == [seq]  # type: ignore[attr-defined]


MALFORMED = [
    pytest.param(
        # destination_addr: 21 octets, no NUL
        raw(CommandId.SUBMIT_SM, b"\x00\x01\x01\x00\x01\x01" + b"4" * 21 + b"\x00" * 10),
        SubmitSmResp,
        CommandStatus.ESME_RINVDSTADR,
        id="submit_sm-dest-no-nul",
    ),
    pytest.param(
        raw(CommandId.SUBMIT_SM, encode_pdu(SubmitSm(), 1)[16:] + b"\x14\x00"),
        SubmitSmResp,
        CommandStatus.ESME_RINVOPTPARSTREAM,
        id="submit_sm-stray-tlv-octets",
    ),
    pytest.param(
        raw(CommandId.SUBMIT_SM, encode_pdu(SubmitSm(), 1)[16:] + bytes.fromhex("020E 0002 0001")),
        SubmitSmResp,
        CommandStatus.ESME_RINVPARLEN,
        id="submit_sm-bad-tlv-length",
    ),
    pytest.param(
        raw(CommandId.SUBMIT_MULTI, b"\x00\x00\x00\x00\x01\x03"),
        SubmitMultiResp,
        CommandStatus.ESME_RINVDESTFLAG,
        id="submit_multi-dest-flag-3",
    ),
    pytest.param(
        raw(CommandId.ENQUIRE_LINK, b"\x00"), EnquireLinkResp, CommandStatus.ESME_RINVCMDLEN, id="enquire"
    ),
    pytest.param(raw(CommandId.QUERY_SM, b"abc"), QuerySmResp, CommandStatus.ESME_RINVMSGID, id="query_sm"),
]


@pytest.mark.parametrize(("frame", "resp_cls", "status"), MALFORMED)
def test_malformed_request_gets_its_resp_with_the_decoder_status(
    tx_pair: SessionPair, frame: bytes, resp_cls: type[Pdu], status: CommandStatus
) -> None:
    smsc = tx_pair.smsc
    events = smsc.receive_data(frame[:12] + struct.pack(">I", 55) + frame[16:], 0.0)
    event = violation(events)
    assert isinstance(event.error, MalformedPdu)
    assert (event.error.command_status, event.sequence_number) == (status, 55)
    header, reply = only_reply(smsc)
    assert (type(reply), header.command_status, header.sequence_number) == (resp_cls, status, 55)
    assert smsc.state is S.BOUND_TX
    assert smsc.statistics().responses_owed == 0


@pytest.mark.parametrize("length", [0, 15, 1025, 0xFFFF_FFFF])
def test_lost_framing_nacks_with_sequence_zero_and_closes(length: int) -> None:
    pair = bound(BindMode.TX, SessionConfig(max_command_length=1024))
    smsc = pair.smsc
    seq = pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    good = pair.esme.data_to_send()

    events = smsc.receive_data(good + raw(CommandId.SUBMIT_SM, seq=9, length=length), 1.0)

    assert events[0] == RequestReceived(sequence_number=seq, pdu=SubmitSm(destination_addr="1"))
    event = violation(events[1:])
    assert isinstance(event.error, InvalidCommandLength)
    assert event.nack_queued
    assert smsc.data_to_send() == raw(CommandId.GENERIC_NACK, status=CommandStatus.ESME_RINVCMDLEN, seq=0)
    assert smsc.state is S.CLOSED
    # The stream cannot be trusted again: later octets, even a perfect PDU, are ignored.
    assert smsc.receive_data(encode_pdu(EnquireLink(), 10), 2.0) == []
    assert smsc.data_to_send() == b""


# -- sending in the wrong state ---------------------------------------------------------------------

_UNSENDABLE = [
    pytest.param(role, state, cls, id=f"{role.name}-{state.name}-{cls.__name__}")
    for role in Role
    for state in SessionState
    for cls in REQUEST_CLASSES
    if cls.command_id not in allowed(role, Direction.SEND, state)
]


@pytest.mark.parametrize(("role", "state", "cls"), _UNSENDABLE)
def test_sending_in_the_wrong_state_raises(role: Role, state: SessionState, cls: type[Request]) -> None:
    session = session_in(role, state)
    in_flight = len(session.window)
    with pytest.raises(LocalProtocolError) as info:
        session.send_request(minimal(cls), 1.0)  # type: ignore[arg-type]
    assert info.value.command_status == CommandStatus.ESME_RINVBNDSTS
    assert session.data_to_send() == b""
    assert (session.state, len(session.window)) == (state, in_flight)


def test_submit_sm_on_a_receiver_and_deliver_sm_from_an_esme_raise(rx_pair: SessionPair) -> None:
    with pytest.raises(LocalProtocolError):
        rx_pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    with pytest.raises(LocalProtocolError):
        rx_pair.esme.send_request(DeliverSm(), 0.0)
    assert rx_pair.esme.data_to_send() == b""


def test_deliver_sm_from_an_smsc_bound_as_transmitter_raises(tx_pair: SessionPair) -> None:
    with pytest.raises(LocalProtocolError):
        tx_pair.smsc.send_request(DeliverSm(), 0.0)


# -- the window ------------------------------------------------------------------------------------


def test_window_full_and_keepalives_still_admitted() -> None:
    pair = bound(BindMode.TX, SessionConfig(window=3))
    esme = pair.esme
    seqs = [esme.send_request(SubmitSm(destination_addr=str(i)), 0.0) for i in range(3)]
    sent = esme.data_to_send()
    assert len(parse(sent)) == 3
    assert esme.window.available == 0

    with pytest.raises(WindowFull):
        esme.send_request(SubmitSm(destination_addr="4"), 0.0)
    assert esme.data_to_send() == b""  # nothing queued for the refused request

    esme.send_request(EnquireLink(), 0.0)  # a keep-alive gets through a full window
    assert len(esme.window) == 4
    with pytest.raises(WindowFull):
        esme.send_request(SubmitSm(destination_addr="4"), 0.0)

    pair.smsc.receive_data(sent, 0.0)
    at_esme, _ = pair.pump()
    assert [type(e) for e in at_esme] == [ResponseReceived]  # the enquire_link is answered
    pair.smsc.send_response(seqs[1], SubmitSmResp(message_id="m"))
    pair.pump()
    assert len(esme.window) == 2
    esme.send_request(SubmitSm(destination_addr="4"), 0.0)
    with pytest.raises(WindowFull):
        esme.send_request(SubmitSm(destination_addr="5"), 0.0)


def test_unbind_is_admitted_with_a_full_window() -> None:
    pair = bound(BindMode.TX, SessionConfig(window=1))
    pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    pair.esme.send_request(Unbind(), 0.0)
    assert pair.esme.state is S.UNBINDING


# -- sequence numbers ------------------------------------------------------------------------------


def test_sequence_numbers_start_at_first_sequence_number() -> None:
    pair = bound(BindMode.TRX, SessionConfig(first_sequence_number=100))
    seqs = [pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0) for _ in range(2)]
    assert seqs == [101, 102]  # the bind took 100
    assert [h.sequence_number for h, _ in parse(pair.esme.data_to_send())] == seqs


def test_sequence_numbers_wrap_to_one() -> None:
    session = Session(Role.ESME, SessionConfig(first_sequence_number=0x7FFF_FFFE))
    seqs = [session.send_request(EnquireLink(), 0.0) for _ in range(4)]
    assert seqs == [0x7FFF_FFFE, MAX_SEQUENCE_NUMBER, 1, 2]


def test_sequence_numbers_skip_numbers_still_in_flight() -> None:
    session = Session(Role.ESME, SessionConfig(first_sequence_number=0x7FFF_FFFE))
    # Requests from before the wrap, still unanswered.
    session.window.offer(MAX_SEQUENCE_NUMBER, EnquireLink(), 0.0)
    session.window.offer(1, EnquireLink(), 0.0)
    seqs = [session.send_request(EnquireLink(), 0.0) for _ in range(3)]
    assert seqs == [0x7FFF_FFFE, 2, 3]


def test_the_two_directions_number_independently() -> None:
    pair = SessionPair.configured(esme=SessionConfig(), smsc=SessionConfig(first_sequence_number=2))
    pair.bind(BindMode.TRX)  # the bind took the ESME's 1
    submit, deliver = SubmitSm(destination_addr="1"), DeliverSm(source_addr="1")
    assert pair.esme.send_request(submit, 0.0) == pair.smsc.send_request(deliver, 0.0) == 2
    pair.pump()
    pair.smsc.send_response(2, SubmitSmResp(message_id="s"))
    pair.esme.send_response(2, DeliverSmResp())
    at_esme, at_smsc = pair.pump()
    assert [(e.request, e.response) for e in at_esme] == [(submit, SubmitSmResp(message_id="s"))]  # type: ignore[attr-defined]
    assert [(e.request, e.response) for e in at_smsc] == [(deliver, DeliverSmResp())]  # type: ignore[attr-defined]


# -- timers ----------------------------------------------------------------------------------------


def test_response_timeout_expires_at_exactly_response_timeout() -> None:
    pair = bound(BindMode.TX, SessionConfig(response_timeout=30.0, enquire_link_interval=None))
    submit = SubmitSm(destination_addr="1")
    seq = pair.esme.send_request(submit, now=5.0)
    assert pair.esme.next_deadline() == 35.0
    assert pair.esme.tick(34.999) == []
    assert pair.esme.tick(35.0) == [RequestExpired(sequence_number=seq, request=submit)]
    assert len(pair.esme.window) == 0
    assert pair.esme.next_deadline() is None
    assert pair.esme.statistics().requests_expired == 1
    # A late answer is now unexpected.
    [event] = pair.esme.receive_data(encode_pdu(SubmitSmResp(), seq), 40.0)
    assert isinstance(event, UnexpectedResponse)


def test_enquire_link_after_idle_and_not_again_while_in_flight() -> None:
    pair = bound(
        BindMode.TRX, SessionConfig(enquire_link_interval=30.0, response_timeout=10.0)
    )  # the SMSC's last receipt is the bind, at 0
    smsc = pair.smsc
    assert smsc.next_deadline() == 30.0
    assert smsc.tick(29.9) == []
    [event] = smsc.tick(30.0)
    assert isinstance(event, EnquireLinkSent)
    [(header, pdu)] = parse(smsc.data_to_send())
    assert (pdu, header.sequence_number) == (EnquireLink(), event.sequence_number)
    assert smsc.next_deadline() == 40.0  # its response timer, not another enquire_link
    assert smsc.tick(35.0) == []
    assert smsc.data_to_send() == b""

    pair.esme.receive_data(encode_pdu(EnquireLink(), event.sequence_number), 36.0)
    [answered] = smsc.receive_data(pair.esme.data_to_send(), 36.0)
    assert isinstance(answered, ResponseReceived)
    assert smsc.next_deadline() == 66.0  # idle again from the last receipt


def test_link_death_shows_up_as_an_expired_enquire_link() -> None:
    pair = bound(BindMode.TX, SessionConfig(enquire_link_interval=30.0, response_timeout=10.0))
    [sent] = pair.esme.tick(30.0)
    assert isinstance(sent, EnquireLinkSent)
    pair.esme.data_to_send()  # lost on the way
    assert pair.esme.tick(39.9) == []
    assert pair.esme.tick(40.0) == [
        RequestExpired(sequence_number=sent.sequence_number, request=EnquireLink()),
        SessionTimedOut(timer=Timer.ENQUIRE_LINK),
    ]
    assert pair.esme.state is S.CLOSED  # the link is dead (SMPP-REFERENCE §4.3)
    assert pair.esme.data_to_send() == b""  # and no second enquire_link goes out
    assert pair.esme.next_deadline() is None


def test_an_application_enquire_link_expiring_does_not_kill_the_link() -> None:
    # Only the session's own keep-alive decides the link is dead.
    pair = bound(BindMode.TX, SessionConfig(enquire_link_interval=None, response_timeout=10.0))
    seq = pair.esme.send_request(EnquireLink(), 1.0)
    pair.esme.data_to_send()
    assert pair.esme.tick(11.0) == [RequestExpired(sequence_number=seq, request=EnquireLink())]
    assert pair.esme.state is S.BOUND_TX


def test_the_keepalive_clock_restarts_on_any_received_pdu() -> None:
    pair = bound(BindMode.TRX, SessionConfig(enquire_link_interval=30.0))
    pair.smsc.send_request(DeliverSm(), 20.0)
    pair.now = 20.0
    pair.pump()
    assert pair.esme.next_deadline() == 50.0
    assert pair.esme.tick(30.0) == []


@pytest.mark.parametrize("binding", [False, True])
def test_bind_timeout_closes_an_unbound_smsc_session(binding: bool) -> None:
    smsc = Session(Role.SMSC, SessionConfig(bind_timeout=10.0, enquire_link_interval=None), now=100.0)
    if binding:
        smsc.receive_data(encode_pdu(BindTransmitter(system_id="slow"), 1), 101.0)
        assert smsc.state is S.BINDING
    assert smsc.next_deadline() == 110.0
    assert smsc.tick(109.9) == []
    assert smsc.tick(110.0) == [SessionTimedOut(timer=Timer.BIND)]
    assert smsc.state is S.CLOSED


def test_bind_timeout_does_not_apply_once_bound() -> None:
    pair = bound(BindMode.TX, SessionConfig(bind_timeout=10.0, enquire_link_interval=None))
    assert pair.smsc.next_deadline() is None
    assert pair.smsc.tick(1000.0) == []
    assert pair.smsc.state is S.BOUND_TX


def test_inactivity_timeout_queues_an_unbind() -> None:
    config = SessionConfig(inactivity_timeout=60.0, enquire_link_interval=None, response_timeout=5.0)
    pair = bound(BindMode.TRX, config)
    smsc = pair.smsc
    assert smsc.next_deadline() == 60.0
    assert smsc.tick(59.0) == []
    assert smsc.tick(60.0) == [SessionTimedOut(timer=Timer.INACTIVITY)]
    assert smsc.state is S.UNBINDING
    pair.now = 61.0
    at_esme, at_smsc = pair.pump()
    assert isinstance(at_esme[0], UnbindReceived)
    assert at_smsc[-1] == Unbound(status=0)
    assert (pair.esme.state, smsc.state) == (S.CLOSED, S.CLOSED)


def test_unbind_without_unbind_resp_closes_at_response_timeout() -> None:
    pair = bound(BindMode.TX, SessionConfig(response_timeout=30.0, enquire_link_interval=None))
    seq = pair.esme.send_request(Unbind(), 10.0)
    assert pair.esme.next_deadline() == 40.0
    assert pair.esme.tick(39.0) == []
    assert pair.esme.tick(40.0) == [
        RequestExpired(sequence_number=seq, request=Unbind()),
        Unbound(status=None),
    ]
    assert pair.esme.state is S.CLOSED


def test_tick_without_deadline_does_nothing() -> None:
    session = Session(Role.ESME, QUIET)
    assert session.next_deadline() is None
    assert session.tick(1e9) == []
    assert session.state is S.OPEN


# -- close ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "eof"])
def test_close_aborts_everything_in_flight(trx_pair: SessionPair, how: str) -> None:
    esme = trx_pair.esme
    submits = [SubmitSm(destination_addr="1"), SubmitSm(destination_addr="2")]
    seqs = [esme.send_request(p, 0.0) for p in submits]
    trx_pair.smsc.send_request(DeliverSm(), 0.0)
    trx_pair.pump()
    assert esme.statistics().responses_owed == 1

    events = esme.close() if how == "close" else esme.receive_data(b"", 1.0)

    assert events == [
        RequestAborted(sequence_number=seqs[0], request=submits[0]),
        RequestAborted(sequence_number=seqs[1], request=submits[1]),
        ConnectionClosed(),
    ]
    assert esme.state is S.CLOSED
    assert (len(esme.window), esme.statistics().responses_owed) == (0, 0)
    # Idempotent, both ways of saying it.
    assert esme.close() == []
    assert esme.receive_data(b"", 2.0) == []
    # Closed for good.
    assert esme.receive_data(encode_pdu(EnquireLink(), 5), 2.0) == []
    assert esme.data_to_send() == b""
    assert esme.tick(1e9) == []
    with pytest.raises(LocalProtocolError):
        esme.send_request(EnquireLink(), 2.0)
    with pytest.raises(LocalProtocolError):
        esme.send_response(1, DeliverSmResp())


def test_close_with_nothing_in_flight(pair: SessionPair) -> None:
    assert pair.esme.close() == [ConnectionClosed()]
    assert pair.esme.state is S.CLOSED


# -- statistics ----------------------------------------------------------------------------------


def test_statistics_count_traffic() -> None:
    pair = bound(BindMode.TRX, QUIET)  # esme: 1 sent, 1 received; smsc: the reverse
    esme, smsc = pair.esme, pair.smsc
    esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    esme.send_request(SubmitSm(destination_addr="2"), 0.0)
    smsc.send_request(DeliverSm(), 0.0)
    pair.pump()
    smsc.receive_data(raw(0x99), 0.0)  # a violation, answered with generic_nack
    smsc.data_to_send()
    esme.tick(30.0)  # both submits expire
    esme.receive_data(encode_pdu(EnquireLink(), 9)[:10], 31.0)  # a partial PDU

    assert esme.statistics() == SessionStatistics(
        role=Role.ESME,
        state=S.BOUND_TRX,
        bind_mode=BindMode.TRX,
        requests_in_flight=0,
        window_size=10,
        responses_owed=1,
        pdus_sent=3,
        pdus_received=2,
        requests_expired=2,
        protocol_violations=0,
        buffered_octets=10,
    )
    assert smsc.statistics() == SessionStatistics(
        role=Role.SMSC,
        state=S.BOUND_TRX,
        bind_mode=BindMode.TRX,
        requests_in_flight=1,
        window_size=10,
        responses_owed=2,
        pdus_sent=3,
        pdus_received=4,
        requests_expired=0,
        protocol_violations=1,
        buffered_octets=0,
    )


# -- send_response -----------------------------------------------------------------------------------


def test_send_response_to_an_unknown_sequence_number_raises(tx_pair: SessionPair) -> None:
    with pytest.raises(LocalProtocolError):
        tx_pair.smsc.send_response(999, SubmitSmResp())
    assert tx_pair.smsc.data_to_send() == b""


def test_send_response_of_the_wrong_type_raises_and_keeps_the_request_owed(tx_pair: SessionPair) -> None:
    seq = tx_pair.esme.send_request(SubmitSm(destination_addr="1"), 0.0)
    tx_pair.pump()
    with pytest.raises(LocalProtocolError):
        tx_pair.smsc.send_response(seq, DeliverSmResp())
    assert tx_pair.smsc.data_to_send() == b""
    tx_pair.smsc.send_response(seq, SubmitSmResp(message_id="ok"))
    header, reply = only_reply(tx_pair.smsc)
    assert (header.sequence_number, reply) == (seq, SubmitSmResp(message_id="ok"))
    with pytest.raises(LocalProtocolError):  # answered once, and only once
        tx_pair.smsc.send_response(seq, SubmitSmResp())


@pytest.mark.parametrize(
    "request_pdu",
    [SubmitSm(destination_addr="1"), QuerySm(message_id="m"), CancelSm(message_id="m"), minimal(SubmitMulti)],
    ids=lambda p: type(p).__name__,
)
def test_generic_nack_can_answer_any_owed_request(tx_pair: SessionPair, request_pdu: Request) -> None:
    seq = tx_pair.esme.send_request(request_pdu, 0.0)
    tx_pair.pump()
    tx_pair.smsc.send_response(seq, GenericNack(), status=CommandStatus.ESME_RSYSERR)
    at_esme, _ = tx_pair.pump()
    assert at_esme == [
        ResponseReceived(
            sequence_number=seq, request=request_pdu, response=GenericNack(), status=0x08, round_trip=0.0
        )
    ]


def test_generic_nack_answers_a_bind_on_the_smsc_side(pair: SessionPair) -> None:
    seq = pair.esme.send_request(BindTransmitter(system_id="x"), 0.0)
    pair.pump()
    pair.smsc.send_response(seq, GenericNack(), status=CommandStatus.ESME_RSYSERR)
    assert pair.smsc.state is S.OPEN


# -- two sessions driven at random -------------------------------------------------------------

_ESME_REQUESTS = [
    SubmitSm(destination_addr="1"),
    DataSm(destination_addr="2"),
    QuerySm(message_id="q"),
    EnquireLink(),
]
_SMSC_REQUESTS = [DeliverSm(source_addr="1"), DataSm(source_addr="2"), EnquireLink()]
_FORCED = (EnquireLink, Unbind)


class TwoSessions(RuleBasedStateMachine):
    """A TRX-bound pair under random legal operations. Tracks every request each side sends
    and checks that each one ends exactly once: response, expiry or abort."""

    def __init__(self) -> None:
        super().__init__()
        config = SessionConfig(window=3, response_timeout=5.0, enquire_link_interval=None, bind_timeout=None)
        self.pair = SessionPair.configured(config)
        self.pair.bind(BindMode.TRX)
        self.sides = {Role.ESME: self.pair.esme, Role.SMSC: self.pair.smsc}
        self.outstanding: dict[Role, dict[int, Request]] = {Role.ESME: {}, Role.SMSC: {}}
        self.outcomes: dict[Role, Counter[int]] = {Role.ESME: Counter(), Role.SMSC: Counter()}
        self.sent: dict[Role, list[int]] = {Role.ESME: [], Role.SMSC: []}
        self.owed: dict[Role, dict[int, Request]] = {Role.ESME: {}, Role.SMSC: {}}

    def _observe(self, role: Role, events: list[Event]) -> None:
        outstanding = self.outstanding[role]
        for event in events:
            if isinstance(event, ResponseReceived | RequestExpired | RequestAborted):
                seq = event.sequence_number
                assert outstanding.pop(seq) == event.request
                self.outcomes[role][seq] += 1
            elif isinstance(event, RequestReceived):
                assert event.sequence_number not in self.owed[role], "duplicate sequence number in flight"
                self.owed[role][event.sequence_number] = event.pdu
            elif isinstance(event, UnexpectedResponse):
                # Only a late answer to a request that already expired.
                assert self.outcomes[role][event.header.sequence_number] == 1
            else:
                assert isinstance(event, EnquireLinkReceived | ConnectionClosed), (
                    f"unexpected event {event!r}"
                )

    def _pump(self) -> None:
        at_esme, at_smsc = self.pair.pump()
        self._observe(Role.ESME, at_esme)
        self._observe(Role.SMSC, at_smsc)

    @rule(role=st.sampled_from(Role), index=st.integers(0, 3), pump=st.booleans())
    def send(self, role: Role, index: int, pump: bool) -> None:
        choices = _ESME_REQUESTS if role is Role.ESME else _SMSC_REQUESTS
        pdu = choices[index % len(choices)]
        session = self.sides[role]
        try:
            seq = session.send_request(pdu, self.pair.now)
        except WindowFull:
            assert len(session.window) >= session.config.window
            return
        assert seq not in self.outstanding[role]
        self.outstanding[role][seq] = pdu
        self.sent[role].append(seq)
        if pump:
            self._pump()

    @rule(
        role=st.sampled_from(Role), index=st.integers(0, 50), how=st.sampled_from(["resp", "nack", "wrong"])
    )
    def answer(self, role: Role, index: int, how: str) -> None:
        owed = self.owed[role]
        if not owed:
            return
        seq = sorted(owed)[index % len(owed)]
        session = self.sides[role]
        if how == "wrong":
            with pytest.raises(LocalProtocolError):
                session.send_response(seq, UnbindResp())
            return
        if how == "nack":
            session.send_nack(seq, CommandStatus.ESME_RTHROTTLED)
        else:
            response_type = owed[seq].response_type
            assert response_type is not None
            session.send_response(seq, response_type())
        del owed[seq]
        self._pump()

    @rule()
    def pump(self) -> None:
        self._pump()

    @rule(dt=st.sampled_from([0.5, 2.0, 5.0]))
    def advance(self, dt: float) -> None:
        at_esme, at_smsc = self.pair.tick(self.pair.now + dt)
        self._observe(Role.ESME, at_esme)
        self._observe(Role.SMSC, at_smsc)

    @invariant()
    def books_balance(self) -> None:
        for role, session in self.sides.items():
            outstanding = self.outstanding[role]
            assert len(session.window) == len(outstanding)
            assert all(seq in session.window for seq in outstanding)
            business = [r for r in outstanding.values() if not isinstance(r, _FORCED)]
            assert len(business) <= session.config.window
            assert session.statistics().responses_owed == len(self.owed[role])
            assert session.state is S.BOUND_TRX

    def teardown(self) -> None:
        for role, session in self.sides.items():
            self._observe(role, session.close())
            assert self.outstanding[role] == {}
            # Every request ended exactly once.
            assert sorted(self.outcomes[role]) == sorted(self.sent[role])
            assert set(self.outcomes[role].values()) <= {1}


TestTwoSessions = TwoSessions.TestCase
TestTwoSessions.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
