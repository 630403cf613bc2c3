"""The end-to-end demo: bind to an SMSC, send a small campaign, match every receipt.

It exercises the whole foundation over real loopback TCP: text encoding and
segmentation (GSM 7-bit with extension characters, UCS-2 with emoji, a three-part
concatenated message), the session and window, the trio adapter, receipt parsing and id
correlation, and a clean unbind. ``smppgw demo`` runs it against the bundled SMSC.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import trio

from smppgw.core.constants import CommandStatus, RegisteredDelivery, Ton
from smppgw.core.events import RequestReceived
from smppgw.core.pdu import DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp
from smppgw.core.receipt import id_keys, is_receipt, parse_receipt
from smppgw.core.text import decode_text, split_message
from smppgw.net.esme import open_esme

__all__ = ["CAMPAIGN", "DemoResult", "run_demo"]

CAMPAIGN: tuple[tuple[str, str], ...] = (
    ("447700900001", "Your code is 4821. Cost: £0 {free} ~ €0"),
    ("447700900004", "Appointment tomorrow 10:00. Reply YES to confirm or NO to cancel."),
    ("447700900002", "Ünïcödé and emoji 👋🏽 force UCS-2 for the whole message"),
    ("447700900003", "A long notice. " * 25),  # 375 GSM chars: 3 parts with an 8-bit UDH
)


@attrs.define
class DemoResult:
    messages: int = 0
    parts: int = 0
    accepted: int = 0
    receipts: int = 0
    matched: int = 0
    unmatched: int = 0
    latencies_ms: list[float] = attrs.field(factory=list)
    replies: list[tuple[str, str]] = attrs.field(factory=list)  # (from, text) of MO replies

    @property
    def ok(self) -> bool:
        return (
            self.accepted == self.parts
            and self.matched == self.parts
            and self.unmatched == 0
            and bool(self.replies)
        )


async def run_demo(
    host: str,
    port: int,
    *,
    system_id: str,
    password: str,
    wait: float = 5.0,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Send ``CAMPAIGN`` to ``host:port`` and wait up to ``wait`` seconds for receipts."""
    result = DemoResult()
    pending: dict[str, str] = {}  # id key -> "message n part k"
    # A receipt may overtake its submit_sm_resp (SMPP-REFERENCE §6.3 item 2): hold it.
    early: dict[str, tuple[str, str]] = {}  # id key -> (receipted id, stat)
    all_matched = trio.Event()

    def matched(label: str, stat: str | None, message_id: str) -> None:
        result.matched += 1
        say(f"  receipt {stat} for {label} (id {message_id})")
        check_done()

    def check_done() -> None:
        if result.matched == result.parts and not pending and result.replies:
            all_matched.set()

    async with open_esme(host, port, system_id=system_id, password=password) as conn:
        say(f"bound as transceiver to {host}:{port} (system_id {system_id})")

        async def receive() -> None:
            async for event in conn.incoming:
                if not (isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm)):
                    continue
                pdu = event.pdu
                receipt = parse_receipt(
                    short_message=pdu.short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class
                )
                # SMPP 3.4 §4.6.2: answer after recording, and always with ESME_ROK for a receipt.
                if receipt is None and not is_receipt(pdu.esm_class):
                    # An inbound (MO) message: a subscriber answering the confirmation.
                    text = decode_text(pdu.short_message, pdu.data_coding)
                    result.replies.append((pdu.source_addr, text))
                    say(f"  2-way reply from {pdu.source_addr}: {text!r}")
                    check_done()
                elif receipt is not None and receipt.message_id is not None:
                    result.receipts += 1
                    keys = id_keys(receipt.message_id)
                    hit = keys & pending.keys()
                    if hit:
                        label = pending.pop(next(iter(hit)))
                        for key in keys:
                            pending.pop(key, None)
                        matched(label, receipt.stat, receipt.message_id)
                    else:
                        early.update(dict.fromkeys(keys, (receipt.message_id, receipt.stat or "?")))
                conn.send_response(event.sequence_number, DeliverSmResp(), CommandStatus.ESME_ROK)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            for n, (destination, text) in enumerate(CAMPAIGN, 1):
                parts = split_message(text, reference=n)
                result.messages += 1
                say(
                    f"message {n}: {len(text)} chars -> {len(parts)} part(s), data_coding {parts[0].data_coding}"
                )
                for part in parts:
                    result.parts += 1
                    started = time.perf_counter()
                    response = await conn.request(
                        SubmitSm(
                            source_addr="12345",
                            source_addr_ton=Ton.NETWORK_SPECIFIC,
                            destination_addr=destination,
                            esm_class=part.esm_class,
                            data_coding=part.data_coding,
                            registered_delivery=RegisteredDelivery.RECEIPT_ALWAYS,
                            short_message=part.short_message,
                            tlvs=part.tlvs,
                        )
                    )
                    assert isinstance(response, SubmitSmResp)
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
                    result.accepted += 1
                    label = f"message {n} part {part.part_number}/{part.total}"
                    keys = id_keys(response.message_id)
                    held = keys & early.keys()
                    if held:
                        stat = early[next(iter(held))][1]
                        for key in keys:
                            early.pop(key, None)
                        matched(label, stat, response.message_id)
                    else:
                        pending.update(dict.fromkeys(keys, label))
            if result.parts and result.matched == result.parts and result.replies:
                all_matched.set()
            with trio.move_on_after(wait):
                await all_matched.wait()
            result.unmatched = len({receipted for receipted, _ in early.values()})
            nursery.cancel_scope.cancel()
    say("unbound cleanly")
    return result
