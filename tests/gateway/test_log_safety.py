"""What an SMSC sends cannot forge the gateway's log: a receipt id and an address with a
newline and control characters, from a fake SMSC over memory, logged as one escaped line."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import pytest
import trio
from trio.testing import MockClock

from smppgw.core.constants import MessageState, TlvTag
from smppgw.core.events import Event, RequestReceived
from smppgw.core.pdu import BindTransceiver, BindTransceiverResp, DeliverSm
from smppgw.core.session import SessionConfig
from smppgw.core.tlv import Tlv
from smppgw.net.connection import SmppConnection
from smppgw.net.server import handle_stream
from smppgw.support.logformat import JsonFormatter, TextFormatter
from tests.gateway.helpers import MEMORY_HOST, gateway, memory_net, metric

# A newline that would start a forged record, an ANSI "clear screen", a bell, a carriage
# return and the 8-bit CSI (0x9b: an escape sequence without ESC on some terminals).
EVIL_ID = "77\n2026-12-06 00:00:00,000 ERROR smppgw: FORGED\x1b[2J\x07\r\x9b31m"
EVIL_SOURCE = "4477\nFORGED\x1b[31m"


def _evil_smsc(bound: trio.Event) -> Callable[[trio.abc.Stream], Awaitable[None]]:
    """An SMSC that answers the bind, then sends a receipt for an id it never gave out
    (so the gateway holds it, then logs it unmatched) and an MO from a strange address."""

    async def handle(conn: SmppConnection) -> None:
        def on_event(event: Event) -> None:
            if isinstance(event, RequestReceived) and isinstance(event.pdu, BindTransceiver):
                conn.send_response(event.sequence_number, BindTransceiverResp(system_id="evil"))
                bound.set()

        conn.on_event = on_event
        await bound.wait()
        receipt = DeliverSm(
            source_addr="447700900001",
            destination_addr="12345",
            esm_class=0x04,
            short_message=b"id:x stat:DELIVRD err:000\x1b[2J",
            tlvs=(
                Tlv(TlvTag.RECEIPTED_MESSAGE_ID, EVIL_ID.encode("latin-1") + b"\x00"),
                Tlv(TlvTag.MESSAGE_STATE, bytes([MessageState.DELIVERED])),
            ),
        )
        await conn.request(receipt)
        await conn.request(DeliverSm(source_addr=EVIL_SOURCE, destination_addr="12345", short_message=b"hi"))
        await conn.wait_closed()

    async def serve(stream: trio.abc.Stream) -> None:
        await handle_stream(stream, handler=handle, config=SessionConfig())

    return serve


def _formatted(record: logging.LogRecord) -> tuple[str, str]:
    return TextFormatter().format(record), JsonFormatter().format(record)


async def test_a_receipt_id_with_a_newline_and_control_characters_is_one_escaped_line(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smppgw")
    bound = trio.Event()
    async with trio.open_nursery() as nursery:
        port = memory_net().listen(_evil_smsc(bound), nursery)
        table = {
            "name": "a",
            "host": MEMORY_HOST,
            "port": port,
            "system_id": "s",
            "password": "p",
            "binds": 1,
        }
        async with gateway(table, receipts={"hold": 5.0}) as gw:
            await trio.sleep(10)  # past the hold: the receipt is reported unmatched
            assert metric(gw, "smppgw_unmatched_receipts_total", smsc="a") == 1
        nursery.cancel_scope.cancel()

    [unmatched] = [r for r in caplog.records if r.getMessage().startswith("unmatched receipt")]
    [inbound] = [r for r in caplog.records if r.getMessage().startswith("inbound ")]
    # The id escaped: one line, every character printable, the forged "record" still
    # visible as text inside it.
    assert unmatched.getMessage() == (
        'unmatched receipt smsc=a receipt_id="77\\n2026-12-06 00:00:00,000 ERROR smppgw: '
        'FORGED\\x1b[2J\\x07\\r\\x9b31m" stat=DELIVRD'
    )
    assert "source=4477\\nFORGED\\x1b[31m" in inbound.getMessage()
    for record in caplog.records:
        message = record.getMessage()
        assert message.isprintable(), message
        text, as_json = _formatted(record)
        assert "\n" not in text and "\r" not in text and "\x1b" not in text
        assert len(as_json.splitlines()) == 1 and as_json.isascii()
    # The JSON line keeps the id as sent, escaped by JSON itself.
    fields = json.loads(_formatted(unmatched)[1])
    assert (fields["message"], fields["smsc"], fields["stat"]) == ("unmatched receipt", "a", "DELIVRD")
    assert fields["receipt_id"] == EVIL_ID
    assert fields["logger"] == "smppgw.gateway.receipts" and fields["level"] == "WARNING"
