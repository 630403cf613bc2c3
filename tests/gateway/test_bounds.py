"""Bounded everything on the gateway's side (issue 16): MO reassembly and early-receipt
buffers evict their oldest beyond a limit (counted, logged once per interval), the
receiving window answers a deliver_sm flood at once, and the sending window is never
exceeded."""

from __future__ import annotations

import logging

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.codec import decode_pdu, encode_pdu
from smppgw.core.constants import CommandId, CommandStatus, MessageState
from smppgw.core.events import ProtocolViolation, RequestReceived
from smppgw.core.framing import FrameBuffer
from smppgw.core.pdu import BindTransceiver, BindTransceiverResp, DeliverSm, DeliverSmResp
from smppgw.core.receipt import Receipt
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import Role
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.inbound import InboundMessage
from smppgw.support.config import ConfigError
from tests.gateway.helpers import (
    MEMORY_HOST,
    dest,
    gateway,
    memory_net,
    memory_simulator,
    metric,
    smsc,
    wait_all,
    wait_until,
)

SMSC = {"name": "a", "host": "h", "port": 1, "system_id": "s", "password": "p"}


def test_limits_have_defaults_and_are_checked() -> None:
    config = config_from_dict({"smsc": [SMSC]})
    assert (config.receipt_max_held, config.inbound_max_groups, config.inbound_timeout) == (
        100_000,
        10_000,
        60.0,
    )
    assert config.smscs[0].receive_window == 1000
    config = config_from_dict(
        {
            "smsc": [{**SMSC, "receive_window": 7}],
            "receipts": {"max_held": 5},
            "inbound": {"max_groups": 3, "timeout": 9},
        }
    )
    assert (config.receipt_max_held, config.inbound_max_groups, config.inbound_timeout) == (5, 3, 9.0)
    assert config.smscs[0].receive_window == 7
    for bad, key in (
        ({"receipts": {"max_held": 0}}, "receipts.max_held"),
        ({"inbound": {"max_groups": 0}}, "inbound.max_groups"),
        ({"inbound": {"bogus": 1}}, "inbound.bogus"),
        ({"smsc": [{**SMSC, "receive_window": 0}]}, "receive_window"),
    ):
        with pytest.raises(ConfigError, match=key):
            config_from_dict({"smsc": [SMSC], **bad})


def _first_part(reference: int) -> DeliverSm:
    udh = bytes([5, 0, 3, reference, 2, 1])  # part 1 of 2: its sibling never comes
    return DeliverSm(
        source_addr="447700900123", destination_addr="12345", esm_class=0x40, short_message=udh + b"Hi"
    )


async def test_mo_reassembly_evicts_the_oldest_beyond_max_groups(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway.engine")
    got: list[InboundMessage] = []
    with trio.fail_after(30):
        async with memory_simulator() as sim:
            async with gateway(
                smsc(sim, binds=1), inbound={"max_groups": 2}, inbound_handler=got.append
            ) as gw:
                inbound = gw.smscs["a"].deliveries.inbound
                for reference in range(5):
                    assert inbound.receive("a", _first_part(reference), trio.current_time()) == 0
                assert len(inbound.reassembler) == 2  # never more than max_groups held
                await trio.sleep(1.5)  # housekeeping: the evicted are handed over
                evicted = metric(gw, "smppgw_reassembly_evicted_total", smsc="a")
                for reference in range(5, 8):
                    inbound.receive("a", _first_part(reference), trio.current_time())
                await trio.sleep(1.5)
                evicted_again = metric(gw, "smppgw_reassembly_evicted_total", smsc="a")
    assert evicted == 3
    assert evicted_again == 6
    assert len([m for m in got if not m.complete]) >= 6  # handed over incomplete, not lost
    warnings = [r for r in caplog.records if "inbound.max_groups" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: one line for two evictions within the interval


async def test_early_receipts_evict_the_oldest_beyond_max_held(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway.receipts")
    with trio.fail_after(30):
        async with memory_simulator() as sim:
            async with gateway(smsc(sim, binds=1), receipts={"max_held": 2}) as gw:
                for n in range(5):
                    receipt = Receipt(
                        message_id=f"unknown\n{n}", stat="DELIVRD", state=MessageState.DELIVERED
                    )
                    assert not gw.receipts.receipt("a", receipt, trio.current_time())
                held = gw.receipts.correlator.held
                evicted = metric(gw, "smppgw_early_receipts_evicted_total", smsc="a")
    assert held == 2
    assert evicted == 3
    warnings = [r.getMessage() for r in caplog.records if "max_held" in r.getMessage()]
    assert len(warnings) == 1
    assert "\n" not in warnings[0]  # the id from the network is escaped


def _bound_esme(config: SessionConfig) -> Session:
    session = Session(Role.ESME, config)
    seq = session.send_request(BindTransceiver(system_id="a", password="b"), 0.0)
    session.data_to_send()
    session.receive_data(encode_pdu(BindTransceiverResp(system_id="smsc"), seq), 0.0)
    assert session.state.is_bound
    return session


def test_deliver_sm_beyond_the_receiving_window_is_answered_at_once() -> None:
    session = _bound_esme(SessionConfig(max_owed=2, over_window_status=CommandStatus.ESME_RX_T_APPN))
    mo = DeliverSm(source_addr="447700900123", destination_addr="12345", short_message=b"x")
    events = session.receive_data(b"".join(encode_pdu(mo, n) for n in range(1, 5)), 1.0)
    assert [type(e) for e in events] == [
        RequestReceived,
        RequestReceived,
        ProtocolViolation,
        ProtocolViolation,
    ]
    frames = FrameBuffer()
    frames.feed(session.data_to_send())
    answers = [decode_pdu(f)[0] for f in frames.drain()[0]]
    assert [(a.command_id, a.command_status, a.sequence_number) for a in answers] == [
        (CommandId.DELIVER_SM_RESP, CommandStatus.ESME_RX_T_APPN, 3),
        (CommandId.DELIVER_SM_RESP, CommandStatus.ESME_RX_T_APPN, 4),
    ]
    session.send_response(1, DeliverSmResp())  # room again: the next one is the application's
    assert [type(e) for e in session.receive_data(encode_pdu(mo, 5), 2.0)] == [RequestReceived]


async def test_the_gateway_binds_with_its_receiving_window(autojump_clock: MockClock) -> None:
    with trio.fail_after(30):
        async with memory_simulator() as sim:
            async with gateway(smsc(sim, binds=1, receive_window=3)) as gw:
                [conn] = gw.smscs["a"].pool.senders
                assert conn.session.config.max_owed == 3
                assert conn.session.config.over_window_status == CommandStatus.ESME_RX_T_APPN


async def test_the_gateway_never_sends_beyond_its_window(autojump_clock: MockClock) -> None:
    peak = 0
    with trio.fail_after(60):
        async with memory_simulator(behaviour={"response_delay": 0.5}) as sim:
            async with gateway(smsc(sim, binds=1, window=3)) as gw:
                records = [gw.submit(source="447700900000", destination=dest(i), text="x") for i in range(20)]
                [conn] = gw.smscs["a"].pool.senders
                async with trio.open_nursery() as nursery:

                    async def sample() -> None:
                        nonlocal peak
                        while True:
                            peak = max(peak, conn.in_flight, max((b.conn.session.statistics().responses_owed
                                                                  for b in sim.connections), default=0))  # fmt: skip
                            await trio.sleep(0.01)

                    nursery.start_soon(sample)
                    await wait_all(gw, records, 50)
                    nursery.cancel_scope.cancel()
    assert peak == 3  # the window was filled, and never overrun (at either end)


async def test_a_deliver_sm_flood_beyond_the_receiving_window_is_refused_and_counted(
    autojump_clock: MockClock,
) -> None:
    """An SMSC that sends ten MO in one write to a bind whose receiving window is 2: the
    first two are the application's, the other eight answered ESME_RX_T_APPN at once."""
    answers: list[tuple[int, int]] = []
    got: list[InboundMessage] = []

    async def flooding_smsc(stream: trio.abc.Stream) -> None:
        frames = FrameBuffer()
        while True:  # the bind
            frames.feed(await stream.receive_some(4096))
            whole, _ = frames.drain()
            if whole:
                header, bind = decode_pdu(whole[0])
                await stream.send_all(
                    encode_pdu(bind.response_type(system_id="flood"), header.sequence_number)
                )
                break
        mo = DeliverSm(source_addr="447700900123", destination_addr="12345", short_message=b"x")
        await stream.send_all(b"".join(encode_pdu(mo, n) for n in range(1, 11)))
        while len(answers) < 10:
            frames.feed(await stream.receive_some(4096))
            for frame in frames.drain()[0]:
                header, _ = decode_pdu(frame)
                if header.command_id == CommandId.DELIVER_SM_RESP:
                    answers.append((header.sequence_number, header.command_status))
        await trio.sleep_forever()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = memory_net().listen(flooding_smsc, nursery)
            table = {"name": "a", "host": MEMORY_HOST, "port": port, "system_id": "s", "password": "p"}
            async with gateway({**table, "receive_window": 2}, inbound_handler=got.append) as gw:
                assert await wait_until(lambda: len(answers) == 10, 10)
                refused = metric(gw, "smppgw_receive_window_refused_total", smsc="a")
            nursery.cancel_scope.cancel()
    assert sorted(answers) == [(1, 0), (2, 0)] + [(n, CommandStatus.ESME_RX_T_APPN) for n in range(3, 11)]
    assert refused == 8
    assert len(got) == 2  # the refused never reached the inbound handler
