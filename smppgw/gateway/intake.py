"""Intake: from a message to the jobs its SMSC's dispatcher sends.

One plan step serves every way a message enters a dispatcher queue, so each is decided
the same way:

    validate -> route -> split -> limits -> PDUs         (``Intake.plan``)

- a new message (``accept``, for ``Gateway.submit`` and ``submit_many``): validated and
  made a record (``messages.new_record``), checked against the opt-out registry, planned;
  one with a ``send_at`` in the future is ``scheduled`` instead (its plan checks that it
  can be sent; at its time ``Gateway`` plans it again, routed then, and queues it);
- a failover (``failover``, once a second): messages none of whose parts reached an SMSC
  that stayed down longer than ``failover_after`` are planned again without it;
- a restart (``Gateway.restore``): a message with parts is planned again on the SMSC it
  had (``resume``), with the same parts and concatenation reference.

Routing (``policy.routing``): the most specific route for the destination, sender kind
and tags; in it the first tier with a bind up, weighted inside a tier; with every SMSC
down, the first one of the route (the message waits in its queue, and may fail over).
A ``Plan`` is what was decided: the dispatcher and one ``Job`` per part (its submit_sm
built once, so a retry sends the same bytes). ``enqueue`` hands the jobs over; the
caller stores the record first (nothing is sent that is not stored).
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import trio

from smppgw.gateway import lifecycle
from smppgw.gateway.config import GatewayConfig
from smppgw.gateway.dispatcher import Dispatcher
from smppgw.gateway.jobs import Job
from smppgw.gateway.messages import SubmitError, SubmitFields, new_record, split, submit_pdus
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.schedule import Schedule
from smppgw.policy.addressing import AddressKind, SmppAddress, to_smpp
from smppgw.policy.routing import Router
from smppgw.policy.throttle import SlidingWindow
from smppgw.store.base import MessageRecord, MessageStore, PartRecord, Status, advance
from smppgw.support.logsafe import kv

if TYPE_CHECKING:
    from smppgw.gateway.conversations import Conversations

__all__ = ["Intake", "Plan", "Scheduled"]

log = logging.getLogger(__name__)

_QUEUED, _BLOCKED, _E164 = Status.QUEUED, Status.BLOCKED, AddressKind.E164
_ACCEPTED = Status.ACCEPTED
_SCHEDULED = Status.SCHEDULED


class Plan:
    """What ``Intake.plan`` decided for one message: the dispatcher of its SMSC and one
    job per part. Made once per message (slots, no attrs machinery)."""

    __slots__ = ("dispatcher", "handed", "jobs")

    def __init__(self, dispatcher: Dispatcher, jobs: list[Job]) -> None:
        self.dispatcher = dispatcher
        self.jobs = jobs
        self.handed = False  # the shared work queue carries it (``Intake.handing``)

    def enqueue(self) -> None:
        """Queue every part, in order (after the record is stored); a handed plan is
        not queued here: the store put its message on the shared work queue, and
        whichever gateway takes it plans it again (gateway/workqueue.py)."""
        if self.handed:
            return
        put = self.dispatcher.put
        for job in self.jobs:
            put(job)
        if self.jobs and lifecycle.on():
            lifecycle.queued(self.jobs[0].message, self.dispatcher.name, len(self.jobs))


class Scheduled(Plan):
    """The plan of a ``scheduled`` message: ``enqueue`` hands it to the schedule (after
    the record is stored), which releases it at its ``send_at``."""

    __slots__ = ("record", "schedule")

    def __init__(self, plan: Plan, schedule: Schedule, record: MessageRecord) -> None:
        super().__init__(plan.dispatcher, [])
        self.schedule = schedule
        self.record = record

    def enqueue(self) -> None:
        if not self.handed:  # handed: the store keeps it in the shared schedule (work queue)
            self.schedule.add(self.record)


class Intake:
    def __init__(
        self,
        config: GatewayConfig,
        dispatchers: Mapping[str, Dispatcher],
        *,
        store: MessageStore,
        metrics: GatewayMetrics,
        rng: random.Random,
        opted_out: Callable[[str], bool] | None = None,
        failover_after: float = 5.0,
    ) -> None:
        self.router = Router(config.routes)
        # No route keyed on the destination (no prefixes, the usual config): a message
        # without tags has its sender kind's route, found here once instead of per message.
        plain = not any(r.prefixes for r in config.routes)
        self._plain_routes = {k: self.router.route("", k) for k in AddressKind} if plain else None
        self.store = store
        self.opted_out = opted_out  # the opt-out registry, checked before a message is queued
        #: The consent check (gateway.consent.ConsentGate.at_accept): None, or why the
        #: message may not go (it is then stored ``blocked``). None: no check.
        self.consent: Callable[[MessageRecord], str | None] | None = None
        self.failover_after = failover_after
        self._config = config
        self._smscs = {s.name: s for s in config.smscs}
        self._dispatchers = dict(dispatchers)
        # Each SMSC's list of bound senders (its pool keeps the same list object): a
        # non-empty one is an SMSC that is up. ``__getitem__`` answers Router.pick in C.
        self._sending = {name: d.pool.senders for name, d in self._dispatchers.items()}
        self._down_since: dict[str, float] = {}
        self._metrics = metrics
        self._rng = rng
        self._references = itertools.count(rng.randrange(256))  # concatenation references
        self._sender_limits: dict[str, SlidingWindow] = {}
        self._route_limits = {n: SlidingWindow(tps, name=f"route:{n}") for n, tps in config.route_tps.items()}
        # Without any sender or route limit, _limits is () for every message: skip it.
        self._limited = bool(config.sender_tps or config.long_code_tps is not None or self._route_limits)
        self.horizon = config.send_at_horizon
        #: Where ``scheduled`` messages wait (``Gateway`` sets it; None: no send_at taken).
        self.schedule: Schedule | None = None
        #: The run's clock (``Gateway.run`` sets it): one Python frame per read,
        #: trio.current_time() three.
        self.now: Callable[[], float] = trio.current_time
        #: Why a ``callback_url`` is refused, or None (the webhooks' SSRF rule; the
        #: composition root sets it; None: every URL taken).
        self.callback_check: Callable[[str], str | None] | None = None
        #: Quiet hours (``gateway.quiet.QuietDesk``): when a message the rules hold may
        #: go (trio clock), or None; given the record and its route's name.
        self.quiet: Callable[[MessageRecord, str | None], float | None] | None = None
        #: Conversations and sender pools (``gateway.conversations``; the composition
        #: root sets it; None: ``expect`` and ``pool`` are refused).
        self.conversations: Conversations | None = None
        #: New ``queued`` messages go to the shared work queue, not to this process's
        #: dispatchers (``gateway.workqueue``; the store XADDs them with their record).
        self.handing = False

    def accept(self, fields: SubmitFields) -> tuple[MessageRecord, Plan | None]:
        """A new message: its record, and its plan (None when consent blocks it: the
        record is then ``blocked`` with the reason). Raises SubmitError."""
        talk = self.conversations
        if fields.get("pool") is not None:  # a sender pool: the sender is picked
            if talk is None:
                raise SubmitError("from: this gateway has no sender pools")
            fields = talk.with_sender(fields)
        record, src, dst = new_record(self.now(), next(self._references), fields)
        check, url = self.callback_check, record.callback_url
        if check is not None and url is not None and (refused := check(url)) is not None:
            raise SubmitError(f"callback_url: {refused}")
        why = self.consent(record) if self.consent is not None else None
        if why is None and self.opted_out is not None and self.opted_out(dst.addr):
            why = "destination opted out"
        if why is not None:
            advance(record, _BLOCKED, "gateway", record.created_at, why)
            record.error = why
            self._metrics.messages.inc(_BLOCKED.value)
            return record, None
        if self.quiet is not None and record.tags:  # quiet hours: held to the next opening
            found = self.router.route(record.destination, src.kind, record.tags)
            if (opening := self.quiet(record, None if found is None else found.name)) is not None:
                record.send_at = opening
        scheduled = record.send_at is not None and record.send_at > record.created_at
        plan = self.plan(record, src, dst, scheduled=scheduled)  # splitting also checks the text
        plan.handed = self.handing and not scheduled
        if scheduled:
            plan = self._scheduled(record, plan)
            plan.handed = self.handing
        if fields.get("expect") is not None:  # it opens a conversation
            if talk is None:
                raise SubmitError("expect: this gateway keeps no conversations")
            plan = talk.opening(record, src, fields, plan)
        return record, plan

    def _scheduled(self, record: MessageRecord, plan: Plan) -> Plan:
        """``record`` has a future ``send_at``: ``scheduled``, within the horizon."""
        assert record.send_at is not None
        if record.send_at - record.created_at > self.horizon:
            raise SubmitError(f"send_at: more than {self.horizon / 86400:g} days ahead (schedule.horizon)")
        if self.schedule is None:
            raise SubmitError("send_at: this gateway does not schedule messages")
        return Scheduled(plan, self.schedule, record)

    def plan(
        self,
        record: MessageRecord,
        src: SmppAddress | None = None,
        dst: SmppAddress | None = None,
        *,
        exclude: frozenset[str] = frozenset(),
        resume: bool = False,
        scheduled: bool = False,
    ) -> Plan:
        """Route (avoiding ``exclude``), split, limit and build ``record``'s submit_sm; set
        its route, SMSC, status ``queued`` and parts. Queue nothing yet.

        ``scheduled``: a new message with a future ``send_at`` becomes ``scheduled``, not
        ``queued`` (``Gateway`` queues it at its time).
        ``resume`` (a restart): keep the SMSC, route, status and parts the record has;
        the text must still split into as many parts. Raises SubmitError.
        """
        if src is None or dst is None:
            src, dst = to_smpp(record.source), to_smpp(record.destination)
        if resume:
            name, route = record.smsc or "", record.route or ""
            if name not in self._smscs:
                raise SubmitError(f"message {record.id}: SMSC {name!r} is no longer configured")
        else:  # see the module docstring
            plain = self._plain_routes
            if plain is not None and not record.tags:
                found = plain[src.kind]
            else:
                found = self.router.route(record.destination, src.kind, record.tags)
            if found is None:
                raise SubmitError(f"no route for {record.destination} from a {src.kind.value} sender")
            sending = self._sending
            up = sending.__getitem__ if not exclude else lambda n: n not in exclude and sending[n]
            name = self.router.pick(found, up, self._rng) or next(
                (n for n in found.smscs if n not in exclude), ""
            )
            if not name:
                raise SubmitError(f"route {found.name}: no SMSC left to fail over to")
            route = found.name
        config = self._smscs[name]
        if record.reference is None:
            record.reference = next(self._references)
        parts = split(record, config)
        limits = self._limits(record, src.kind, route) if self._limited else ()
        pdus = submit_pdus(record, config, parts, src, dst)
        if not resume:
            record.route, record.smsc = route, name
            if scheduled:
                advance(record, _SCHEDULED, "gateway", record.created_at, "accepted")
            elif record.status is _ACCEPTED:
                advance(record, _QUEUED, "gateway", record.created_at, "accepted")
            elif record.status is _SCHEDULED:
                advance(record, _QUEUED, "gateway", self.now(), f"send_at reached, queued to {name}")
            else:  # a failover: the history says where it went
                advance(record, _QUEUED, "gateway", self.now(), f"requeued to {name}")
            record.parts = []
            for p in parts:  # (loops, not comprehensions: no frame each; most have one part)
                record.parts.append(PartRecord(p.part_number, p.total))
        elif len(parts) != len(record.parts):
            raise SubmitError(
                f"message {record.id}: splits into {len(parts)} parts now, was {len(record.parts)}"
            )
        jobs = []
        created = record.created_at  # validity and max_age count from here (or send_at)
        if record.send_at is not None and record.send_at > created:
            created = record.send_at
        for part, pdu in zip(record.parts, pdus, strict=True):
            jobs.append(Job(record, part, pdu, created, limits))
        return Plan(self._dispatchers[name], jobs)

    def requeue(self, record: MessageRecord, exclude: frozenset[str] = frozenset()) -> None:
        """Plan again, save and queue a message already stored (failover, restart)."""
        plan = self.plan(record, exclude=exclude)
        self.store.save(record)
        plan.enqueue()

    def failover(self, now: float) -> None:
        """Move the unstarted messages of each SMSC down longer than ``failover_after`` to
        the next SMSC of their routes (housekeeping, once a second)."""
        for name, dispatcher in self._dispatchers.items():
            if dispatcher.pool.up:
                self._down_since.pop(name, None)
                continue
            since = self._down_since.get(name)
            if since is None:
                self._down_since[name] = now
                continue
            if now - since < self.failover_after:
                continue
            # Parts that already reached this SMSC cannot move (the carrier may hold
            # them): they wait for it, but not past the retry policy's max_age.
            dispatcher.expire(now)
            for message in dispatcher.take_unstarted():
                try:
                    self.requeue(message, exclude=frozenset({name}))
                except SubmitError as exc:  # nowhere else to go: put it back, it waits
                    log.info("failover impossible %s", kv(message=message.id, reason=exc))
                    self.requeue(message)

    def _limits(self, record: MessageRecord, kind: AddressKind, route: str) -> tuple[SlidingWindow, ...]:
        """The per-sender and per-route limits ``record`` counts against."""
        limits = []
        tps = self._config.sender_tps.get(record.source)
        if tps is None and kind is _E164:
            tps = self._config.long_code_tps
        if tps is not None:
            limiter = self._sender_limits.get(record.source)
            if limiter is None:
                limiter = self._sender_limits[record.source] = SlidingWindow(
                    tps, name=f"sender:{record.source}"
                )
            limits.append(limiter)
        if route in self._route_limits:
            limits.append(self._route_limits[route])
        return tuple(limits)
