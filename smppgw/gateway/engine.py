"""The gateway engine: accept messages, route, split, dispatch, correlate receipts.

    gateway = Gateway(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run)
        record = gateway.submit(source="12345", destination="447700900001", text="Hi")
        await gateway.wait_final(record.id, timeout=30)
        await gateway.aclose()

``submit`` validates, stores the message as ``queued`` and returns at once; the
dispatcher of the chosen SMSC sends it. The SMSC is chosen per message by the route
(first tier with a bind up, weighted inside a tier); a message whose SMSC stays down
longer than ``failover_after`` and none of whose parts reached it is moved to the next
SMSC of its route.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from smppgw.core.constants import RegisteredDelivery
from smppgw.core.events import (
    Event,
    NotificationReceived,
    ProtocolViolation,
    RequestReceived,
    SessionTimedOut,
)
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp, SubmitSm
from smppgw.core.receipt import parse_receipt, quick_receipt
from smppgw.core.text import split_message
from smppgw.gateway.bindpool import BindPool
from smppgw.gateway.config import GatewayConfig, SmscConfig
from smppgw.gateway.dispatcher import Dispatcher, Job
from smppgw.gateway.inbound import Inbound, InboundHandler
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.net.connection import SmppConnection
from smppgw.policy.addressing import AddressError, AddressKind, SmppAddress, to_smpp
from smppgw.policy.routing import Router
from smppgw.policy.throttle import AdaptiveRate, SlidingWindow
from smppgw.store.base import FINAL, MessageRecord, MessageStore, PartRecord, Status
from smppgw.store.memory import MemoryStore

__all__ = ["Gateway", "SubmitError"]

log = logging.getLogger(__name__)


_ENCODINGS = frozenset({"auto", "gsm7", "ucs2", "latin1"})
# Per-message constants: a plain int, a tuple (``A | B`` in a call builds a union each
# time), frozen all-default answers shared by every receipt and MO.
_RECEIPT_ALWAYS = int(RegisteredDelivery.RECEIPT_ALWAYS)
_DELIVERIES = (DeliverSm, DataSm)
_DELIVER_SM_RESP, _DATA_SM_RESP = DeliverSmResp(), DataSmResp()
_MAX_SOURCES = 4096  # sender address cache: cleared when full (a sender per message is odd)


class SubmitError(ValueError):
    """The message can never be sent as given (bad address, no route, text too long)."""


@attrs.define(eq=False)
class _Smsc:
    config: SmscConfig
    pool: BindPool
    dispatcher: Dispatcher
    inbound: Inbound
    down_since: float | None = None


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: MessageStore | None = None,
        metrics: GatewayMetrics | None = None,
        rng: random.Random | None = None,
        inbound_handler: InboundHandler | None = None,
        ssl_context: ssl.SSLContext | None = None,
        failover_after: float = 5.0,
    ) -> None:
        self.config = config
        self.store: MessageStore = store if store is not None else MemoryStore()
        self.metrics = metrics or GatewayMetrics()
        self.rng = rng or random.Random()
        self.router = Router(config.routes)
        self.failover_after = failover_after
        self._waiters: dict[str, trio.Event] = {}
        self._listeners: list[Callable[[MessageRecord], Any]] = []
        self._references = itertools.count(self.rng.randrange(256))
        # Senders are few (short codes, long codes, alphanumerics): classify each once.
        self._sources: dict[str, SmppAddress] = {}
        self._sender_limits: dict[str, SlidingWindow] = {}
        self._route_limits = {name: SlidingWindow(tps) for name, tps in config.route_tps.items()}
        self.receipts = ReceiptBook(
            metrics=self.metrics,
            hold=config.receipt_hold,
            bases={s.name: s.receipt_id_base for s in config.smscs},
            per_message=frozenset(s.name for s in config.smscs if s.receipts == "message"),
            on_change=self._changed,
        )
        self.smscs: dict[str, _Smsc] = {}
        for smsc in config.smscs:
            self.smscs[smsc.name] = self._build_smsc(smsc, inbound_handler, ssl_context)
        self._accepting = False
        self._stopped = trio.Event()

    def _build_smsc(
        self, smsc: SmscConfig, handler: InboundHandler | None, ssl_context: ssl.SSLContext | None
    ) -> _Smsc:
        name = smsc.name
        pool = BindPool(
            smsc,
            on_event=lambda conn, event: self._on_event(name, conn, event),
            metrics=self.metrics,
            rng=self.rng,
            ssl_context=ssl_context if smsc.tls else None,
        )
        dispatcher = Dispatcher(
            name,
            pool,
            account=AdaptiveRate(smsc.tps) if smsc.tps is not None else None,
            retry=self.config.retry,
            metrics=self.metrics,
            rng=self.rng,
            on_submitted=lambda job, smsc_id, now: self.receipts.submitted(
                name, job.message, job.part, smsc_id, now, sent_at=job.sent_at
            ),
            on_final=self._failed,
            on_rebind=lambda conn: conn.close("rebind after a session-level error"),
        )
        return _Smsc(smsc, pool, dispatcher, Inbound(handler))

    # -- running -------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (or ``aclose``); ``task_status.started`` after the pools start."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for smsc in self.smscs.values():
                await nursery.start(smsc.pool.run)
                nursery.start_soon(smsc.dispatcher.run)
            nursery.start_soon(self._housekeeping)
            self._accepting = True
            task_status.started(self)

    async def _housekeeping(self) -> None:
        """Once a second: expire held receipts and stale reassemblies; fail over."""
        while True:
            await trio.sleep(1.0)
            now = trio.current_time()
            self.receipts.expire(now)
            self.metrics.flush()  # the batched per-message counts (metrics.py)
            for name, smsc in self.smscs.items():
                smsc.inbound.expire(name, now)
                smsc.dispatcher.gauges()
                self._check_failover(smsc, now)

    def _check_failover(self, smsc: _Smsc, now: float) -> None:
        if smsc.pool.up:
            smsc.down_since = None
            return
        if smsc.down_since is None:
            smsc.down_since = now
            return
        if now - smsc.down_since < self.failover_after:
            return
        # Parts that already reached this SMSC cannot move (the carrier may hold them):
        # they wait for it, but not past the retry policy's max_age.
        smsc.dispatcher.expire(now)
        for message in smsc.dispatcher.take_unstarted():
            try:
                self._dispatch(message, exclude=frozenset({smsc.config.name}))
            except SubmitError as exc:  # nowhere else to go: put it back, it waits
                log.info("failover for %s impossible: %s", message.id, exc)
                self._dispatch(message)

    async def aclose(self) -> None:
        """Stop accepting; unbind every SMSC within ``shutdown_timeout``; stop."""
        self._accepting = False
        timeout = self.config.shutdown_timeout
        with trio.move_on_after(timeout + 1):
            async with trio.open_nursery() as nursery:
                for smsc in self.smscs.values():
                    nursery.start_soon(smsc.pool.close, timeout)
        if getattr(self, "_nursery", None) is not None:
            self._nursery.cancel_scope.cancel()
        self._stopped.set()

    # -- accepting -----------------------------------------------------------------------------

    def submit(
        self,
        *,
        source: str,
        destination: str,
        text: str,
        encoding: str = "auto",
        dlr: bool = True,
        validity: float | None = None,
        priority: int = 0,
        tags: Iterable[str] = (),
        message_id: str | None = None,
    ) -> MessageRecord:
        """Accept one message: validated, stored as ``queued``, sent in the background.

        Raises:
            SubmitError: bad address, no route, unencodable or too long text.
        """
        if not self._accepting:
            raise SubmitError("the gateway is not running")
        try:
            src = self._sources.get(source)
            if src is None:
                src = to_smpp(source)
                if len(self._sources) >= _MAX_SOURCES:
                    self._sources.clear()
                self._sources[source] = src
            dst = to_smpp(destination)
        except AddressError as exc:
            raise SubmitError(str(exc)) from None
        if dst.kind is AddressKind.ALPHANUMERIC:
            raise SubmitError(f"destination {destination!r} is not a phone number")
        if encoding not in _ENCODINGS:
            raise SubmitError(f"encoding: one of {', '.join(sorted(_ENCODINGS))}, got {encoding!r}")
        now = trio.current_time()
        record = MessageRecord(
            id=message_id or os.urandom(16).hex(),  # 128 random bits, 5x cheaper than uuid4
            source=src.addr,
            destination=dst.addr,
            text=text,
            encoding=encoding,
            dlr=dlr,
            validity=validity,
            priority=priority,
            tags=tuple(tags),
            created_at=now,
            updated_at=now,
        )
        self._dispatch(record, src, dst)  # splitting here also checks the text
        return record

    def _dispatch(
        self,
        record: MessageRecord,
        src: SmppAddress | None = None,
        dst: SmppAddress | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        if src is None or dst is None:
            src, dst = to_smpp(record.source), to_smpp(record.destination)
        sender_kind = src.kind
        route = self.router.route(record.destination, sender_kind, record.tags)
        if route is None:
            raise SubmitError(f"no route for {record.destination} from a {sender_kind.value} sender")
        up = self._up if not exclude else lambda n: n not in exclude and self._up(n)
        name = self.router.pick(route, up, self.rng) or next(
            (n for n in route.smscs if n not in exclude), None
        )
        if name is None:
            raise SubmitError(f"route {route.name}: no SMSC left to fail over to")
        smsc = self.smscs[name]
        parts = self._split(record, smsc.config)
        record.route, record.smsc = route.name, name
        record.parts = [PartRecord(index=p.part_number, total=p.total) for p in parts]
        record.status = Status.QUEUED
        limits = self._limits(record, sender_kind, route.name)
        pdus = self._pdus(record, smsc.config, parts, src, dst)
        for part, pdu in zip(record.parts, pdus, strict=True):
            smsc.dispatcher.put(Job(record, part, pdu, record.created_at, limits))
        self.store.save(record)

    def _up(self, name: str) -> bool:
        return self.smscs[name].pool.up

    def _split(self, record: MessageRecord, smsc: SmscConfig) -> list[Any]:
        reference = next(self._references) % (256 if smsc.concat.value == "udh8" else 65536)
        try:
            return split_message(
                record.text, encoding=record.encoding, method=smsc.concat, reference=reference
            )
        except ValueError as exc:
            raise SubmitError(f"text: {exc}") from None

    def _pdus(
        self, record: MessageRecord, smsc: SmscConfig, parts: list[Any], src: SmppAddress, dst: SmppAddress
    ) -> list[SubmitSm]:
        if smsc.ton_npi:  # per-SMSC TON/NPI overrides by address kind
            src, dst = _override(src, smsc.ton_npi), _override(dst, smsc.ton_npi)
        registered = _RECEIPT_ALWAYS if record.dlr and smsc.registered_delivery else 0
        validity = _relative(record.validity) if record.validity else ""
        priority = record.priority
        if not 0 <= priority <= 3:
            priority = min(3, max(0, priority))
        # trusted: the addresses passed to_smpp, the parts come from split_message.
        return [
            SubmitSm.trusted_from({
                "source_addr_ton": src.ton, "source_addr_npi": src.npi, "source_addr": src.addr,
                "dest_addr_ton": dst.ton, "dest_addr_npi": dst.npi, "destination_addr": dst.addr,
                "esm_class": part.esm_class, "priority_flag": priority, "validity_period": validity,
                "registered_delivery": registered, "data_coding": part.data_coding,
                "short_message": part.short_message, "tlvs": part.tlvs,
            })
            for part in parts
        ]  # fmt: skip

    def _limits(self, record: MessageRecord, kind: AddressKind, route: str) -> tuple[SlidingWindow, ...]:
        limits = []
        tps = self.config.sender_tps.get(record.source)
        if tps is None and kind is AddressKind.E164:
            tps = self.config.long_code_tps
        if tps is not None:
            limiter = self._sender_limits.get(record.source)
            if limiter is None:
                limiter = self._sender_limits[record.source] = SlidingWindow(tps)
            limits.append(limiter)
        if route in self._route_limits:
            limits.append(self._route_limits[route])
        return tuple(limits)

    # -- events from the SMSCs -----------------------------------------------------------------------

    def _on_event(self, smsc: str, conn: SmppConnection, event: Event) -> None:
        if isinstance(event, RequestReceived) and isinstance(event.pdu, _DELIVERIES):
            pdu = event.pdu
            now = trio.current_time()
            short_message = pdu.short_message if isinstance(pdu, DeliverSm) else b""
            receipt = quick_receipt(short_message=short_message, tlvs=pdu.tlvs) if pdu.tlvs else None
            if receipt is None:
                receipt = parse_receipt(short_message=short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
            if receipt is not None:
                self.receipts.receipt(smsc, receipt, now)
                status = 0  # recorded (matched or held): SMPP 3.4 §4.6.2, answer after recording
            else:
                self.metrics.inbound.labels(smsc).inc()
                status = self.smscs[smsc].inbound.deliver(smsc, pdu, now)
            response = _DELIVER_SM_RESP if isinstance(pdu, DeliverSm) else _DATA_SM_RESP
            conn.send_response(event.sequence_number, response, status)
        elif isinstance(event, ProtocolViolation | SessionTimedOut):
            log.warning("%s: %s", smsc, event)
        elif isinstance(event, NotificationReceived):
            log.info("%s: %s", smsc, type(event.pdu).__name__)

    def _failed(self, record: MessageRecord, status: Status, reason: str) -> None:
        if record.is_final:
            return
        record.status = status
        record.error = reason
        record.updated_at = trio.current_time()
        self.metrics.messages.labels(status.value).inc()
        self._changed(record)

    def _changed(self, record: MessageRecord) -> None:
        self.store.save(record)
        for listener in self._listeners:
            listener(record)
        if record.status in FINAL or (not record.dlr and record.status is Status.SUBMITTED):
            waiter = self._waiters.pop(record.id, None)
            if waiter is not None:
                waiter.set()

    # -- queries ---------------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[MessageRecord], Any]) -> None:
        """``listener(record)`` on every status change (webhooks, the CLI, tests)."""
        self._listeners.append(listener)

    async def wait_final(self, message_id: str, timeout: float) -> MessageRecord:
        """Wait until the message is final (or submitted, without a receipt requested).

        Raises:
            KeyError: unknown id. trio.TooSlowError: not settled within ``timeout``.
        """
        record = self.store.get(message_id)
        if record is None:
            raise KeyError(message_id)
        if record.status in FINAL or (not record.dlr and record.status is Status.SUBMITTED):
            return record
        event = self._waiters.setdefault(message_id, trio.Event())
        with trio.fail_after(timeout):
            await event.wait()
        return record

    def queued(self) -> int:
        return sum(len(s.dispatcher) for s in self.smscs.values())


def _override(address: SmppAddress, table: Mapping[AddressKind, tuple[int, int]]) -> SmppAddress:
    pair = table.get(address.kind)
    return address if pair is None else attrs.evolve(address, ton=pair[0], npi=pair[1])


def _relative(seconds: float) -> str:
    """validity_period as an SMPP relative time (3.4 §7.1.1)."""
    from smppgw.core.timefmt import format_relative

    return format_relative(seconds)
