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

import functools
import itertools
import logging
import random
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import trio

from smppgw.core.events import (
    Event,
    NotificationReceived,
    ProtocolViolation,
    RequestReceived,
    SessionTimedOut,
)
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp
from smppgw.core.receipt import parse_receipt, quick_receipt
from smppgw.core.text import Part
from smppgw.gateway.bindpool import BindPool
from smppgw.gateway.config import GatewayConfig, SmscConfig
from smppgw.gateway.dispatcher import Dispatcher, Job
from smppgw.gateway.inbound import Inbound, InboundHandler
from smppgw.gateway.messages import SubmitError, new_record, split, submit_pdus
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.net.connection import SmppConnection
from smppgw.net.esme import Connect, connect_tcp
from smppgw.policy.addressing import AddressKind, SmppAddress, to_smpp
from smppgw.policy.routing import Router
from smppgw.policy.throttle import AdaptiveRate, SlidingWindow
from smppgw.store.base import FINAL, MessageRecord, MessageStore, PartRecord, Status
from smppgw.store.memory import MemoryStore

__all__ = ["Gateway", "SubmitError"]

# Enum members as module constants for the per-message paths: on Python 3.11 every
# ``EnumClass.MEMBER`` lookup goes through EnumType.__getattr__'s slow hook (~0.1 us).
_QUEUED = Status.QUEUED

log = logging.getLogger(__name__)

# Per-message constants: a tuple (``A | B`` in a call builds a union each time), frozen
# all-default answers shared by every receipt and MO.
_DELIVERIES = (DeliverSm, DataSm)
_DELIVER_SM_RESP, _DATA_SM_RESP = DeliverSmResp(), DataSmResp()


_Plan = tuple[Dispatcher, list[Job]]  # what _plan decided (a tuple per message, not an object)


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
        opted_out: Callable[[str], bool] | None = None,
        connect: Connect = connect_tcp,
    ) -> None:
        self.config = config
        self._connect = connect  # how each bind pool opens its streams (tests: memory)
        self.store: MessageStore = store if store is not None else MemoryStore()
        self.metrics = metrics or GatewayMetrics()
        self.rng = rng or random.Random()
        self.router = Router(config.routes)
        self.failover_after = failover_after
        self.opted_out = opted_out  # the opt-out registry, checked before a message is queued
        self._waiters: dict[str, trio.Event] = {}
        self._listeners: list[Callable[[MessageRecord], Any]] = []
        self._references = itertools.count(self.rng.randrange(256))
        self._sender_limits: dict[str, SlidingWindow] = {}
        self._route_limits = {name: SlidingWindow(tps) for name, tps in config.route_tps.items()}
        # Without any sender or route limit, _limits is () for every message: skip it.
        self._limited = bool(config.sender_tps or config.long_code_tps is not None or self._route_limits)
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
        # Each SMSC's list of bound senders (its pool keeps the same list object): a
        # non-empty one is an SMSC that is up. ``__getitem__`` answers Router.pick in C.
        self._sending = {name: smsc.pool.senders for name, smsc in self.smscs.items()}
        self._accepting = False
        self._stopped = trio.Event()
        # The run's clock (set by ``run``): one Python frame per read, trio.current_time() 3.
        self._now: Callable[[], float] = trio.current_time

    def _build_smsc(
        self, smsc: SmscConfig, handler: InboundHandler | None, ssl_context: ssl.SSLContext | None
    ) -> _Smsc:
        name = smsc.name
        pool = BindPool(
            smsc,
            on_event=functools.partial(self._on_event, name),  # called from C: no extra frame
            metrics=self.metrics,
            rng=self.rng,
            ssl_context=ssl_context if smsc.tls else None,
            connect=self._connect,
        )
        dispatcher = Dispatcher(
            name,
            pool,
            account=AdaptiveRate(smsc.tps) if smsc.tps is not None else None,
            retry=self.config.retry,
            metrics=self.metrics,
            rng=self.rng,
            # (message, part, smsc_id, now, sent_at): a partial, no extra frame per response
            on_submitted=functools.partial(self.receipts.submitted, name),
            on_final=self._failed,
            on_rebind=lambda conn: conn.close("rebind after a session-level error"),
        )
        return _Smsc(smsc, pool, dispatcher, Inbound(handler))

    # -- running -------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (or ``aclose``); ``task_status.started`` after the pools start."""
        self._now = trio.lowlevel.current_clock().current_time
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
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> MessageRecord:
        """Accept one message: validated, stored as ``queued``, sent in the background.

        ``encoding="binary"`` takes ``text`` as hex octets sent with data_coding 4 (one
        part, at most 140 octets). A destination in the opt-out registry is stored as
        ``blocked`` and not sent.

        Raises:
            SubmitError: bad address, no route, unencodable or too long text.
            StoreError (from a durable store): not stored, so not accepted.
        """
        if not self._accepting:
            raise SubmitError("the gateway is not running")
        # The keywords passed on as they are: no dict of locals() and no ** repacking.
        record, src, dst = new_record(
            self._now(), next(self._references), source=source, destination=destination,
            text=text, encoding=encoding, dlr=dlr, validity=validity, priority=priority, tags=tags,
            message_id=message_id, idempotency_key=idempotency_key, callback_url=callback_url)  # fmt: skip
        # (_accepted and _enqueue, inlined: the one per-message path through here)
        plan = self._plan(record, src, dst) if self.opted_out is None else self._accepted(record, src, dst)
        self.store.add((record,))
        if plan is not None:
            dispatcher, jobs = plan
            for job in jobs:
                dispatcher.put(job)
        return record

    def submit_many(self, messages: Sequence[Mapping[str, Any]]) -> list[MessageRecord | SubmitError]:
        """Accept a batch: each item as ``submit``'s keywords; the valid ones are stored in
        one transaction (all or none), then queued. Returns a record or the error per item."""
        results: list[MessageRecord | SubmitError] = []
        plans = []
        for item in messages:
            try:
                record, plan = self._prepare(**item)
            except SubmitError as exc:
                results.append(exc)
                continue
            results.append(record)
            plans.append(plan)
        self.store.add([r for r in results if isinstance(r, MessageRecord)])
        for plan in plans:
            self._enqueue(plan)
        return results

    def _prepare(self, **fields: Any) -> tuple[MessageRecord, _Plan | None]:
        """``fields``: ``submit``'s keywords. Raises SubmitError."""
        if not self._accepting:
            raise SubmitError("the gateway is not running")
        record, src, dst = new_record(self._now(), next(self._references), **fields)
        return record, self._accepted(record, src, dst)

    def _accepted(self, record: MessageRecord, src: SmppAddress, dst: SmppAddress) -> _Plan | None:
        """The plan for a new record, or None when its destination opted out (blocked)."""
        if self.opted_out is not None and self.opted_out(dst.addr):
            record.status, record.error = Status.BLOCKED, "destination opted out"
            self.metrics.messages.labels(Status.BLOCKED.value).inc()
            return None
        return self._plan(record, src, dst)  # splitting here also checks the text

    def _dispatch(
        self,
        record: MessageRecord,
        src: SmppAddress | None = None,
        dst: SmppAddress | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        """Route and queue a message already stored (failover, restart)."""
        plan = self._plan(record, src, dst, exclude)
        self.store.save(record)
        self._enqueue(plan)

    def _plan(
        self,
        record: MessageRecord,
        src: SmppAddress | None = None,
        dst: SmppAddress | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> _Plan:
        """Route and split ``record`` (setting its route, SMSC and parts); queue nothing yet."""
        if src is None or dst is None:
            src, dst = to_smpp(record.source), to_smpp(record.destination)
        sender_kind = src.kind
        route = self.router.route(record.destination, sender_kind, record.tags)
        if route is None:
            raise SubmitError(f"no route for {record.destination} from a {sender_kind.value} sender")
        up = self._sending.__getitem__ if not exclude else lambda n: n not in exclude and self._up(n)
        name = self.router.pick(route, up, self.rng) or next(
            (n for n in route.smscs if n not in exclude), None
        )
        if name is None:
            raise SubmitError(f"route {route.name}: no SMSC left to fail over to")
        smsc = self.smscs[name]
        config = smsc.config
        parts = split(record, config) if record.reference is not None else self._split(record, config)
        record.route, record.smsc = route.name, name
        record.status = _QUEUED
        limits = self._limits(record, sender_kind, route.name) if self._limited else ()
        pdus = submit_pdus(record, smsc.config, parts, src, dst)
        if len(parts) == 1:  # the common case: no comprehension, zip or part numbers to copy
            part = PartRecord(1, 1)
            record.parts = [part]
            return smsc.dispatcher, [Job(record, part, pdus[0], record.created_at, limits)]
        record.parts = [PartRecord(index=p.part_number, total=p.total) for p in parts]
        jobs = [
            Job(record, part, pdu, record.created_at, limits)
            for part, pdu in zip(record.parts, pdus, strict=True)
        ]
        return smsc.dispatcher, jobs

    def _up(self, name: str) -> bool:
        return self.smscs[name].pool.up

    @staticmethod
    def _enqueue(plan: _Plan | None) -> None:
        if plan is not None:
            dispatcher, jobs = plan
            for job in jobs:
                dispatcher.put(job)

    def restore(self, record: MessageRecord) -> None:
        """Resume a stored message after a restart (DESIGN §3: nothing lost).

        Parts with an SMSC id wait for their receipts (correlation is rebuilt); the
        others are queued again, on the same route, with the same concatenation
        reference. A part that was in a window when the process stopped may have
        reached the SMSC: it is sent again and counted in ``resent_unknown``.
        """
        if record.is_final:
            return
        if not record.parts:
            self._dispatch(record)
            return
        src, dst = to_smpp(record.source), to_smpp(record.destination)
        smsc = self.smscs.get(record.smsc or "")
        if smsc is None:
            raise SubmitError(f"message {record.id}: SMSC {record.smsc!r} is no longer configured")
        parts = self._split(record, smsc.config)
        if len(parts) != len(record.parts):
            raise SubmitError(
                f"message {record.id}: splits into {len(parts)} parts now, was {len(record.parts)}"
            )
        limits = self._limits(record, src.kind, record.route or "")
        pdus = submit_pdus(record, smsc.config, parts, src, dst)
        for part, pdu in zip(record.parts, pdus, strict=True):
            if part.smsc_message_id is not None:
                if record.dlr and not part.receipt_final:
                    self.receipts.submitted(
                        smsc.config.name, record, part, part.smsc_message_id, trio.current_time(),
                        sent_at=part.submitted_at,
                    )  # fmt: skip
                continue
            if part.status is Status.SUBMITTING:
                part.resent_unknown += 1
            smsc.dispatcher.put(Job(record, part, pdu, record.created_at, limits))

    def _split(self, record: MessageRecord, smsc: SmscConfig) -> list[Part]:
        if record.reference is None:
            record.reference = next(self._references)
        return split(record, smsc)

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
            now = conn.event_time  # when the read that carried it happened
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
        record.updated_at = self._now()
        self.metrics.messages.labels(status.value).inc()
        self._changed(record)

    def _changed(self, record: MessageRecord) -> None:
        self.store.save(record)
        for listener in self._listeners:
            listener(record)
        if self._waiters and (
            record.status in FINAL or (not record.dlr and record.status is Status.SUBMITTED)
        ):
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

    def block_destination(self, destination: str) -> int:
        """An opt-out arrived: queued parts for ``destination`` are not sent, their
        messages become ``blocked``. Returns how many parts were dropped."""
        return sum(
            s.dispatcher.drop(
                lambda j: j.message.destination == destination, Status.BLOCKED, "destination opted out"
            )
            for s in self.smscs.values()
        )

    @property
    def accepting(self) -> bool:
        return self._accepting

    def queued(self) -> int:
        return sum(len(s.dispatcher) for s in self.smscs.values())
