"""The gateway engine: wiring, lifecycle and queries.

    gateway = Gateway(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run)
        record = gateway.submit(source="12345", destination="447700900001", text="Hi")
        await gateway.wait_final(record.id, timeout=30)
        await gateway.aclose()

``submit`` validates, stores the message as ``queued`` and returns at once; the
dispatcher of the chosen SMSC sends it. The rooms it wires together, per SMSC a bind
pool, a dispatcher and the deliveries of its binds:

- ``intake``: validate, route, split, limit, build the submit_sm (``Intake.plan``); the
  failover of messages whose SMSC stays down longer than ``failover_after``;
- ``dispatcher`` / ``bindpool``: send each part, as fast as the SMSC allows;
- ``deliveries``: what arrives on a bind (receipt -> ``receipts``, MO -> ``inbound``);
- ``changes``: every status change saved and handed to the listeners (webhooks);
- ``actions``: after acceptance: ``restore`` (a restart), the ``schedule`` of messages
  with a future ``send_at`` and their release, ``cancel``, ``block_destination``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack, cast

import trio

from smppgw.gateway import lifecycle
from smppgw.gateway.actions import Actions, CancelError
from smppgw.gateway.bindpool import BindPool
from smppgw.gateway.changes import Changes, Listener
from smppgw.gateway.commit import GroupCommit
from smppgw.gateway.config import GatewayConfig, SmscConfig
from smppgw.gateway.deliveries import Deliveries
from smppgw.gateway.dispatcher import Dispatcher
from smppgw.gateway.inbound import Inbound, InboundHandler
from smppgw.gateway.intake import Intake, Plan
from smppgw.gateway.messages import SubmitError, SubmitFields
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.gateway.shared import LeaseKeeper, SharedLimits
from smppgw.net.esme import Connect, connect_tcp
from smppgw.net.tls import client_context
from smppgw.net.trace import PduTracer
from smppgw.policy.throttle import AdaptiveRate
from smppgw.store.base import EventStore, InboundPartStore, MessageRecord, MessageStore, StoreError
from smppgw.store.memory import MemoryStore
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["CancelError", "Gateway", "SubmitError", "SubmitFields"]


log = logging.getLogger(__name__)


class _Smsc:
    """One configured SMSC's rooms."""

    __slots__ = ("config", "deliveries", "dispatcher", "pool")

    def __init__(
        self, config: SmscConfig, pool: BindPool, dispatcher: Dispatcher, deliveries: Deliveries
    ) -> None:
        self.config = config
        self.pool = pool
        self.dispatcher = dispatcher
        self.deliveries = deliveries


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
        events: EventStore | None = None,
        tracer: PduTracer | None = None,
        shared_limits: SharedLimits | None = None,
        leases: LeaseKeeper | None = None,
    ) -> None:
        """``events``: where status changes append their events (the outbox, usually the
        store itself); None: no events (one-shot tools, most tests). ``tracer``: traces
        the PDUs of every bind (``--trace``). ``shared_limits`` / ``leases``: the TPS
        limits, adaptive rates and bind slots shared with other gateways (Redis,
        ``cluster``); None: this process's own (``gateway.shared``)."""
        self.config = config
        self._shared_limits = shared_limits
        self._leases = leases
        self._tracer = tracer
        self._connect = connect  # how each bind pool opens its streams (tests: memory)
        self._ratelog = RateLimitedLog(log)  # per instance: two gateways never mute each other
        self.store: MessageStore = store if store is not None else MemoryStore()
        # Group commit (DESIGN §3, StoreControl.commit): once per read batch before its
        # deliver_sm_resp, once per dispatch batch before its submit_sm are written.
        commit = getattr(self.store, "commit", None)
        self.group = GroupCommit(commit if callable(commit) else None)
        self._parts = self.store if isinstance(self.store, InboundPartStore) else None
        self.metrics = metrics or GatewayMetrics()
        self.rng = rng or random.Random()
        self.changes = Changes(self.store, self.metrics, events)
        self.receipts = ReceiptBook(
            metrics=self.metrics,
            hold=config.receipt_hold,
            bases={s.name: s.receipt_id_base for s in config.smscs},
            per_message=frozenset(s.name for s in config.smscs if s.receipts == "message"),
            on_change=self.changes.publish,
            graces={s.name: s.receipt_grace for s in config.smscs},
            store=self.store,
            max_held=config.receipt_max_held,
        )
        self.smscs: dict[str, _Smsc] = {}
        for smsc in config.smscs:
            self.smscs[smsc.name] = self._build_smsc(smsc, inbound_handler, ssl_context)
        self.intake = Intake(
            config,
            {name: smsc.dispatcher for name, smsc in self.smscs.items()},
            store=self.store,
            metrics=self.metrics,
            rng=self.rng,
            opted_out=opted_out,
            failover_after=failover_after,
        )
        self.actions = Actions(
            store=self.store,
            intake=self.intake,
            dispatchers={name: smsc.dispatcher for name, smsc in self.smscs.items()},
            receipts=self.receipts,
            changes=self.changes,
            metrics=self.metrics,
        )
        # After acceptance: restore (a restart), release (send_at), cancel, an opt-out.
        self.schedule = self.intake.schedule = self.actions.schedule
        self.restore = self.actions.restore
        self.cancel = self.actions.cancel
        self.block_destination = self.actions.block_destination
        # Read when /metrics is scraped: the queue's depth costs nothing between scrapes.
        for name, smsc_ in self.smscs.items():
            self.metrics.queued.labels(name).set_function(smsc_.dispatcher.__len__)
        self.metrics.scheduled.set_function(self.schedule.__len__)
        self._accepting = False
        self._stopped = trio.Event()

    def _build_smsc(
        self, smsc: SmscConfig, handler: InboundHandler | None, ssl_context: ssl.SSLContext | None
    ) -> _Smsc:
        name = smsc.name
        inbound = Inbound(
            handler,
            parts=self._parts,
            max_groups=self.config.inbound_max_groups,
            timeout=self.config.inbound_timeout,
            on_evicted=self._reassembly_evicted,
        )
        inbound.reload(name)  # MO parts acknowledged before a restart, still incomplete
        deliveries = Deliveries(name, self.receipts, inbound, self.metrics, group=self.group)
        pool = BindPool(
            smsc,
            on_event=deliveries.on_event,
            on_batch_end=deliveries.end_batch,
            metrics=self.metrics,
            rng=self.rng,
            ssl_context=self._ssl_context(smsc, ssl_context),
            connect=self._connect,
            tracer=self._tracer,
            leases=self._leases,
        )
        shared = self._shared_limits
        dispatcher = Dispatcher(
            name,
            pool,
            account=AdaptiveRate(smsc.tps) if smsc.tps is not None and shared is None else None,
            shared=shared.account(name, smsc.tps) if shared is not None else None,
            retry=self.config.retry,
            metrics=self.metrics,
            rng=self.rng,
            # (message, part, smsc_id, now, sent_at): a partial, no extra frame per response
            on_submitted=functools.partial(self.receipts.submitted, name),
            on_final=self.changes.fail,
            on_rebind=lambda conn: conn.close("rebind after a session-level error"),
            save=self.store.save,
            commit=self.group.commit_now if self.group.durable else None,
        )
        return _Smsc(smsc, pool, dispatcher, deliveries)

    def _reassembly_evicted(self, smsc: str, count: int) -> None:
        self.metrics.reassembly_evicted.labels(smsc).inc(count)
        self._ratelog.emit(
            "reassembly:" + smsc,
            "%s: MO messages in reassembly reached inbound.max_groups (%d): %d oldest handed over incomplete",
            smsc,
            self.config.inbound_max_groups,
            count,
        )

    @staticmethod
    def _ssl_context(smsc: SmscConfig, given: ssl.SSLContext | None) -> ssl.SSLContext | None:
        """One context per SMSC from its ``tls_*`` keys; ``given`` (the ``ssl_context``
        argument, for embedders and tests) replaces it for every SMSC with ``tls = true``."""
        settings = smsc.tls_settings()
        if settings is None:
            return None
        if not settings.verify:
            log.warning("%s: tls_verify = false: the SMSC's certificate is NOT verified", smsc.name)
        return given if given is not None else client_context(settings)

    # -- running -------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (or ``aclose``); ``task_status.started`` after the pools start."""
        self.intake.now = trio.lowlevel.current_clock().current_time
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for smsc in self.smscs.values():
                await nursery.start(smsc.pool.run)
                nursery.start_soon(smsc.dispatcher.run)
                nursery.start_soon(smsc.deliveries.run)
            nursery.start_soon(self._housekeeping)
            nursery.start_soon(self.group.run)
            nursery.start_soon(self.schedule.run)
            self._accepting = True
            task_status.started(self)

    async def _housekeeping(self) -> None:
        """Once a second: expire held receipts, parts past their receipt deadline
        (``unknown``) and stale reassemblies; fail over."""
        while True:
            await trio.sleep(1.0)
            now = trio.current_time()
            self.receipts.expire(now)
            for smsc in self.smscs.values():
                smsc.deliveries.expire(now)
                smsc.dispatcher.gauges()
                smsc.dispatcher.expire_validity(now)  # validity lapsed while queued: expired
            self.intake.failover(now)

    async def aclose(self) -> None:
        """Stop accepting; unbind every SMSC within ``shutdown_timeout``; stop."""
        self._accepting = False
        timeout = self.config.shutdown_timeout
        # The answers to deliver_sm already recorded go out before the unbinds, not after
        # (3.4 §4.2): else the SMSC sees its receipts unanswered and redelivers them.
        with contextlib.suppress(StoreError):
            self.group.commit_now()
        with trio.move_on_after(timeout + 1):
            async with trio.open_nursery() as nursery:
                for smsc in self.smscs.values():
                    nursery.start_soon(smsc.pool.close, timeout)
        if getattr(self, "_nursery", None) is not None:
            self._nursery.cancel_scope.cancel()
        self._stopped.set()

    # -- accepting -----------------------------------------------------------------------------

    def submit(self, **fields: Unpack[SubmitFields]) -> MessageRecord:
        """Accept one message: validated, stored as ``queued``, sent in the background
        (``scheduled`` with a future ``send_at``: queued at that time, on the trio clock).

        ``fields``: ``messages.SubmitFields`` (``source``, ``destination``, ``text``, ...).
        ``encoding="binary"`` takes ``text`` as hex octets sent with data_coding 4 (one
        part, at most 140 octets). A destination in the opt-out registry is stored as
        ``blocked`` and not sent.

        Raises:
            SubmitError: bad address, no route, unencodable or too long text.
            StoreError (from a durable store): not stored, so not accepted.
        """
        if not self._accepting:
            raise SubmitError("the gateway is not running")
        record, plan = self.intake.accept(fields)
        self.store.add((record,))
        if lifecycle.on():
            lifecycle.accepted(record)
        if plan is not None:
            plan.enqueue()
        return record

    def submit_many(self, messages: Sequence[Mapping[str, Any]]) -> list[MessageRecord | SubmitError]:
        """Accept a batch: each item a ``SubmitFields`` (``submit``'s keywords, checked as
        a call checks them); the valid ones are stored in one transaction (all or none),
        then queued. Returns a record or the error per item."""
        results: list[MessageRecord | SubmitError] = []
        plans: list[Plan] = []
        accept = self.intake.accept
        for fields in cast(Sequence[SubmitFields], messages):  # (once: cast is a call)
            try:
                if not self._accepting:
                    raise SubmitError("the gateway is not running")
                record, plan = accept(fields)
            except SubmitError as exc:
                results.append(exc)
                continue
            results.append(record)
            if plan is not None:
                plans.append(plan)
        self.store.add([r for r in results if isinstance(r, MessageRecord)])
        if lifecycle.on():
            for result in results:
                if isinstance(result, MessageRecord):
                    lifecycle.accepted(result)
        for plan in plans:
            plan.enqueue()
        return results

    def check_consent(
        self,
        at_accept: Callable[[MessageRecord], str | None],
        at_dispatch: Callable[[MessageRecord], str | None],
    ) -> None:
        """Ask consent before every send (``gateway.consent.ConsentGate``): at acceptance
        (a message it refuses is stored ``blocked`` with the reason) and again just before
        each submit_sm (consent may change while a message waits)."""
        self.intake.consent = at_accept
        for smsc in self.smscs.values():
            smsc.dispatcher.consent = at_dispatch

    # -- queries ---------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """``listener(record)`` on every status change (webhooks, the CLI, tests)."""
        self.changes.listeners.append(listener)

    async def wait_final(self, message_id: str, timeout: float) -> MessageRecord:
        """Wait until the message is final (or submitted, without a receipt requested).

        Raises:
            KeyError: unknown id. trio.TooSlowError: not settled within ``timeout``.
        """
        return await self.changes.wait_final(message_id, timeout)

    @property
    def accepting(self) -> bool:
        return self._accepting

    def queued(self) -> int:
        return sum(len(s.dispatcher) for s in self.smscs.values())
