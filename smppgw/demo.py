"""The end-to-end demo: the gateway engine sends a small campaign to an SMSC and settles it.

It runs the product (``smppgw.gateway.engine.Gateway`` over the memory store) over real
loopback TCP: text encoding and segmentation (GSM 7-bit with extension characters, UCS-2
with emoji, a three-part concatenated message), routing, the bind pool, the dispatcher
and window, receipt correlation by the engine's receipt book (a receipt that overtakes
its submit_sm_resp is held and matched), the inbound (2-way) path for the subscriber's
reply, and a clean unbind. ``smppgw demo`` runs it against the bundled SMSC.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import trio

from smppgw.core.text import count_segments
from smppgw.gateway.engine import Gateway
from smppgw.gateway.inbound import InboundMessage
from smppgw.sendcmd import bind_error_line, one_smsc_config, running_gateway, wait_bound
from smppgw.store.base import MessageRecord

__all__ = ["CAMPAIGN", "DemoResult", "run_demo"]

SENDER = "12345"  # a short code: TON 3 (network specific), as the campaign's replies go to it
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


class _Watch:
    """The gateway's listener and inbound handler: counts and reports what the engine
    records (each part's submit_sm_resp and final receipt, once) and the 2-way replies."""

    def __init__(self, result: DemoResult, say: Callable[[str], None]) -> None:
        self.result = result
        self.say = say
        self.labels: dict[str, int] = {}  # message id -> its number in the campaign
        self._accepted: set[tuple[str, int]] = set()
        self._matched: set[tuple[str, int]] = set()
        self.replied = trio.Event()

    def changed(self, record: MessageRecord) -> None:
        result = self.result
        for part in record.parts:
            key = (record.id, part.index)
            if part.smsc_message_id is not None and key not in self._accepted:
                self._accepted.add(key)
                result.accepted += 1
                result.latencies_ms.append((part.resp_latency or 0.0) * 1000)
            if part.receipt_final and key not in self._matched:
                self._matched.add(key)
                result.matched += 1
                label = f"message {self.labels.get(record.id, '?')} part {part.index}/{part.total}"
                self.say(f"  receipt {part.receipt_stat} for {label} (id {part.smsc_message_id})")

    def inbound(self, message: InboundMessage) -> None:
        """An MO message: a subscriber answering the confirmation."""
        self.result.replies.append((message.source, message.text))
        self.say(f"  2-way reply from {message.source}: {message.text!r}")
        self.replied.set()


async def run_demo(
    host: str,
    port: int,
    *,
    system_id: str,
    password: str,
    wait: float = 5.0,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Send ``CAMPAIGN`` through the gateway to ``host:port`` and wait up to ``wait``
    seconds for every message to be final and the 2-way reply to arrive."""
    result = DemoResult()
    watch = _Watch(result, say)
    config = one_smsc_config({"host": host, "port": port, "system_id": system_id, "password": password})
    async with running_gateway(config, inbound_handler=watch.inbound) as gateway:
        gateway.add_listener(watch.changed)
        error = await wait_bound(gateway)
        if error is not None:
            line = bind_error_line(error)
            say(f"cannot bind to {host}:{port}: {line.get('status', line['error'])}")
            return result
        say(f"bound as transceiver to {host}:{port} (system_id {system_id})")
        records = []
        for n, (destination, text) in enumerate(CAMPAIGN, 1):
            record = gateway.submit(source=SENDER, destination=destination, text=text)
            watch.labels[record.id] = n
            records.append(record)
            result.messages += 1
            result.parts += len(record.parts)
            say(
                f"message {n}: {len(text)} chars -> {len(record.parts)} part(s), "
                f"data_coding {count_segments(text).data_coding}"
            )
        with trio.move_on_after(wait):  # (this bounds it all, not wait_final's timeout)
            for record in records:
                await gateway.wait_final(record.id, timeout=math.inf)
            await watch.replied.wait()
        _count_receipts(gateway, records, result)
    say("unbound cleanly")
    return result


def _count_receipts(gateway: Gateway, records: list[MessageRecord], result: DemoResult) -> None:
    """Receipts seen: those applied to a part (duplicates too) and those the receipt book
    could not match (still held for their submit_sm_resp, or expired)."""
    correlator = gateway.receipts.correlator
    result.unmatched = correlator.held + correlator.unmatched_total
    result.receipts = sum(p.receipts for r in records for p in r.parts) + result.unmatched
