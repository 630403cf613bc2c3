"""What the gateway tells an operator: a message's life at DEBUG, unsolicited responses,
a clean unbind apart from a lost bind, an unreachable SMSC at WARNING (issue 17)."""

from __future__ import annotations

import functools
import logging
import re

import pytest
import trio
import trio.testing

from smppgw.core.constants import CommandStatus
from smppgw.core.events import Event, RequestReceived
from smppgw.core.pdu import BindTransceiver, BindTransceiverResp
from smppgw.core.session import SessionConfig
from smppgw.gateway import lifecycle
from smppgw.gateway.engine import Gateway
from smppgw.net.connection import SmppConnection
from smppgw.net.server import handle_stream
from tests.gateway.helpers import (
    ACCOUNT,
    MEMORY_HOST,
    PASSWORD,
    gateway,
    memory_net,
    memory_simulator,
    metric,
    smsc,
    wait_until,
)

LIFECYCLE = "smppgw.gateway.lifecycle"


def count(gw: Gateway, name: str, **labels: str) -> float:
    """A counter's value; 0 before its first increment (the labelled series does not exist yet)."""
    try:
        return metric(gw, name, **labels)
    except KeyError:
        return 0.0


def messages(caplog: pytest.LogCaptureFixture, logger: str, level: int = logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


async def test_a_message_life_is_one_debug_line_per_step(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LIFECYCLE)
    async with memory_simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim, binds=1)) as gw:
        record = gw.submit(source="12345", destination="447700900001", text="Hi there", dlr=True)
        await gw.wait_final(record.id, 5)
    lines = [
        m for m in messages(caplog, LIFECYCLE) if f"id={record.id} " in m or m.endswith(f"id={record.id}")
    ]
    steps = [re.match(r"(submit_sm sent|submit_sm_resp|\w+)", m).group(1) for m in lines]  # type: ignore[union-attr]
    assert steps == ["accepted", "queued", "submit_sm sent", "submit_sm_resp", "receipt", "final"], lines
    accepted, queued, sent, resp, receipt, final = lines
    assert "to=447700900001 parts=1" in accepted and "smsc=a parts=1" in queued
    seq = re.search(r"seq=(\d+)", sent).group(1)  # type: ignore[union-attr]
    assert f"seq={seq} " in resp and "status=ESME_ROK" in resp and "attempt=1" in sent
    smsc_id = record.parts[0].smsc_message_id
    assert f"message_id={smsc_id}" in resp and f"message_id={smsc_id} stat=DELIVRD" in receipt
    assert final.endswith("status=delivered")
    assert "Hi there" not in " ".join(lines)  # never the text


async def test_the_lifecycle_lines_cost_nothing_with_debug_off(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=LIFECYCLE)

    def built(*args: object) -> None:
        raise AssertionError("a lifecycle line was built with DEBUG off")

    for step in ("accepted", "queued", "sent", "answered", "receipt", "final"):
        monkeypatch.setattr(lifecycle, step, built)
    async with memory_simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim, binds=1)) as gw:
        record = gw.submit(source="12345", destination="447700900001", text="Hi", dlr=True)
        final = await gw.wait_final(record.id, 5)
    assert final.status.value == "delivered"


def _nacking_smsc(conn: SmppConnection) -> None:
    """A third-party SMSC: binds anyone, then sends a generic_nack nobody asked for."""

    def on_event(event: Event) -> None:
        if isinstance(event, RequestReceived) and isinstance(event.pdu, BindTransceiver):
            conn.send_response(event.sequence_number, BindTransceiverResp(system_id="third"))
            conn.send_nack(4242, CommandStatus.ESME_RSYSERR)  # answers nothing we sent

    conn.on_event = on_event


async def test_an_unsolicited_generic_nack_is_counted_and_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway")

    async def handler(conn: SmppConnection) -> None:
        _nacking_smsc(conn)
        await conn.wait_closed()

    config = SessionConfig(enquire_link_interval=None, bind_timeout=None)
    async with trio.open_nursery() as nursery:
        port = memory_net().listen(functools.partial(handle_stream, handler=handler, config=config), nursery)
        table = {"name": "a", "host": MEMORY_HOST, "port": port, "system_id": ACCOUNT, "password": PASSWORD}
        async with gateway({**table, "binds": 1}) as gw:
            name = "smppgw_unsolicited_responses_total"
            assert await wait_until(lambda: count(gw, name, smsc="a", command="generic_nack") == 1, 5)
        nursery.cancel_scope.cancel()
    warnings = messages(caplog, "smppgw.gateway.deliveries", logging.WARNING)
    assert warnings == [
        "unsolicited response smsc=a command=generic_nack sequence_number=4242 command_status=ESME_RSYSERR"
    ]


async def test_a_clean_unbind_is_not_a_lost_bind(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smppgw.gateway.bindpool")
    async with memory_simulator(behaviour={"unbind_after": 2.0}) as sim, gateway(smsc(sim, binds=1)) as gw:
        # The SMSC unbinds us after 2 s (unbind, unbind_resp): the pool says so, and binds again.
        assert await wait_until(lambda: gw.smscs["a"].pool.binds_made >= 2, 10)
    infos = messages(caplog, "smppgw.gateway.bindpool", logging.INFO)
    assert "unbound cleanly smsc=a by=smsc" in infos
    assert infos[-1] == "unbound cleanly smsc=a by=gateway"  # ours, at shutdown
    everything = [r.getMessage() for r in caplog.records]
    assert not [m for m in everything if m.startswith("bind lost")]


async def test_a_lost_bind_is_a_warning(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway.bindpool")
    async with memory_simulator() as sim, gateway(smsc(sim, binds=1)):
        memory_net().stop(sim.port)  # the SMSC's process dies: no unbind
        assert await wait_until(
            lambda: any(
                m.startswith("bind lost smsc=a") for m in messages(caplog, "smppgw.gateway.bindpool", 30)
            ),
            5,
        )


async def test_an_unreachable_smsc_is_one_warning_with_its_address_however_often_it_is_tried(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway.bindpool")
    table = {
        "name": "a",
        "host": MEMORY_HOST,
        "port": 1,
        "system_id": ACCOUNT,
        "password": PASSWORD,
        "binds": 2,
    }
    async with gateway(table, up=False) as gw:
        name = "smppgw_reconnects_total"
        assert await wait_until(lambda: count(gw, name, smsc="a", result="connect_failed") >= 6, 60)
        assert not gw.smscs["a"].pool.up
    # Virtual time runs the retries within one real interval: the first is logged, the rest counted.
    [warning] = messages(caplog, "smppgw.gateway.bindpool", logging.WARNING)
    assert warning.startswith("bind failed smsc=a bind=")
    assert "connection refused" in warning and warning.endswith(f"address={MEMORY_HOST}:1")
