"""The flow desk: runs of flows (``twoway.flows``, the pure machine) kept in the store
and carried out. ``FlowDesk`` is the ``flows`` of ``gateway.twoway.TwoWay``, the API's
(``api.flows``) and a timer task of ``smppgw serve``.

- Inbound (``claim`` then ``take``, around the inbound message's write): the active run
  of the (their number, our number) pair reads the text first (the machine's ``reply``);
  with none, a flow's keyword ("BOOK") starts a run. STOP and START are the consent
  desk's, never a run's; HELP is too unless a flow starts with HELP (the triage flow).
  A STOP ends the pair's active run ``stopped`` (``stopped``), after the consent desk
  recorded it: nothing is sent for the run after it but the STOP's one confirmation.
- The API starts runs (``start_run``): ``POST /v1/flows/{name}/runs``.
- Time: ``run`` wakes at the earliest ``next_due`` of the store (a step's deadline, a
  timer: the booking's reminder) and moves those runs on (``due``); after a restart it
  finds them in the store, and what fell due while the gateway was down happens at once.

Carrying out an outcome's effects, in order: a text is sent through ``send`` (the 2-way
replies' send: consent and quiet hours apply; purpose "flow", tag ``flow:<name>``); a
text the consent gate blocks ends the run ``stopped`` (reason "opt_out") and nothing more
is sent for it. A voucher comes from the ``VoucherDesk`` and a handoff goes to the
``ThreadDesk`` (None when not configured: no code, and a handoff just ends the run with its
event). Then the run is written with its events (``flow.step``, the flow's own ``emit``
types, and at its end ``flow.completed``, ``flow.expired``, ``flow.handoff`` or
``flow.ended``), in one transaction. A run is written before its first text goes (which
reserves the pair), and after each change.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import trio

from smppgw.gateway.flow_book import FlowBook
from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.messages import SubmitError
from smppgw.gateway.twoway import Reply
from smppgw.store.base import InboundRecord, Status, StoreError
from smppgw.store.flows import FLOW_EVENTS, FlowRunRecord, FlowStore, flow_event
from smppgw.support.logsafe import kv
from smppgw.twoway import flows as machine
from smppgw.twoway.flow_model import Flow, Outcome, RunState
from smppgw.twoway.keywords import KeywordMatch, Keywords, Kind

__all__ = ["Claim", "FlowDesk", "ThreadDesk", "VoucherDesk", "flow_desk"]

log = logging.getLogger(__name__)

_BATCH = 100  # due runs moved on per store read
_RETRY = 5.0  # seconds before the timer task tries again after a store error
_STUCK = 60.0  # seconds a due run that did not move on waits before it is tried again


class VoucherDesk(Protocol):
    def issue(self, pool: str, number: str, *, campaign: str | None, now: float) -> str | None:
        """The number's code of ``pool`` (the one it has, else the next unused), or None."""


class ThreadDesk(Protocol):
    def handoff(
        self, number: str, sender: str, *, tenant: str | None, queue: str, note: str,
        transcript: list[dict[str, Any]], source: dict[str, Any],
    ) -> str:  # fmt: skip
        """Open (or reopen) the pair's thread for a human ``queue``; its id."""


@attrs.frozen(kw_only=True)
class Claim:
    """An inbound text a flow takes: the pair's active ``run`` with the machine's
    ``outcome`` (read before the text is stored), or ``run`` None: it starts ``flow``."""

    flow: Flow
    now: float  # wall clock
    run: FlowRunRecord | None = None
    outcome: Outcome | None = None
    keyword: str | None = None  # the flow's keyword that started it


class FlowDesk:
    def __init__(
        self,
        store: FlowStore,
        book: FlowBook,
        *,
        send: Callable[[Reply], object],
        wall: Callable[[float | None], float | None],
        vouchers: VoucherDesk | None = None,
        threads: ThreadDesk | None = None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        """``send``: the 2-way replies' send (returns the message record); ``wall``: trio
        clock -> wall clock (``StoreControl.wall``); ``clock``: the trio clock."""
        self.store = store
        self.book = book
        self.send = send
        self.wall = wall
        self.vouchers = vouchers
        self.threads = threads
        self.clock = clock
        self._wake = trio.Event()
        self._waiting_for = math.inf  # wall clock: the next_due the timer task sleeps until

    def now(self) -> float:
        return self.wall(self.clock()) or 0.0

    # -- inbound (gateway.twoway) ------------------------------------------------------------

    def claim(self, message: InboundMessage, match: KeywordMatch | None) -> Claim | None:
        """Whether a flow takes ``message`` (a read): the pair's active run, or a flow
        its keyword starts. None: the text is not a flow's (STOP, START, HELP without a
        triage flow, an ordinary text)."""
        kind = None if match is None else match.kind
        if kind in (Kind.OPT_OUT, Kind.OPT_IN):
            return None
        flows = self.book.all()
        if not flows:  # nothing to start or go on with: no store read per inbound text
            return None
        triage = next((f for f in flows if "HELP" in f.keywords), None)
        if kind is Kind.HELP and triage is None:
            return None
        now = self.now()
        run = self.store.active_flow_run(message.source, message.destination)
        if run is not None:
            flow = self.book.get(run.flow)
            if flow is None:  # deleted while the run was on: it ends, the text is ordinary
                self._orphan(run, now)
                return None
            outcome = machine.reply(flow, RunState.from_json(run.state), message.text, now=now)
            return Claim(flow=flow, now=now, run=run, outcome=outcome) if outcome.handled else None
        flow = triage if kind is Kind.HELP else machine.flow_for_keyword(flows, message.text)
        if flow is None:
            return None
        keyword = "HELP" if kind is Kind.HELP else next(iter(flow.keywords), None)
        return Claim(flow=flow, now=now, keyword=keyword)

    def take(self, claim: Claim, record: InboundRecord) -> FlowRunRecord:
        """The stored ``record`` goes to its run: a new one (its first step) or the
        active one (``claim.outcome``). Raises StoreError (the SMSC delivers it again)."""
        if claim.run is None:
            run = self._new(
                claim.flow, record.source, record.destination, record.tenant, "keyword", claim.now
            )
            run.note(_inbound(record, None, claim.now))
            self.store.add_flow_run(run)  # reserves the pair before anything is sent
            outcome = machine.start(claim.flow, now=claim.now)
        else:
            assert claim.outcome is not None
            run, outcome = claim.run, claim.outcome
            run.note(_inbound(record, run.state.get("step"), claim.now))
        if claim.run is None:
            self._first(run, claim.flow, outcome, claim.now)
        else:
            self._carry(run, claim.flow, outcome, claim.now)
        return run

    def stopped(self, record: InboundRecord) -> FlowRunRecord | None:
        """A STOP from ``record``'s number to its sender (recorded by the consent desk):
        the pair's active run ends ``stopped``. Raises StoreError."""
        run = self.store.active_flow_run(record.source, record.destination)
        if run is None:
            return None
        now = self.now()
        run.note(_inbound(record, run.state.get("step"), now))
        flow = self.book.get(run.flow)
        if flow is None:
            self._orphan(run, now, status="stopped", reason="stop")
            return run
        self._carry(run, flow, machine.stop(flow, RunState.from_json(run.state), now=now, reason="stop"), now)
        return run

    # -- the API -------------------------------------------------------------------------------

    def start_run(
        self, name: str, *, number: str, sender: str, vars: dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> FlowRunRecord:  # fmt: skip
        """A run of flow ``name`` for ``number`` from our ``sender`` (SMPP digits), its
        first step entered. Raises KeyError (no such flow), ActiveRunExists, StoreError."""
        flow = self.book.get(name)
        if flow is None:
            raise KeyError(name)
        now = self.now()
        run = self._new(flow, number, sender, tenant, "api", now)
        self.store.add_flow_run(run)
        self._first(run, flow, machine.start(flow, vars=vars, now=now), now)
        return run

    # -- time ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Move runs on at their ``next_due`` (the earliest first), until cancelled."""
        task_status.started()
        while True:
            try:
                while self.fire(self.now()) == _BATCH:
                    await trio.sleep(0)  # more are due: let the rest of the gateway run between batches
                due = self.store.next_flow_due()
            except StoreError as exc:
                log.warning("flow timers not moved on, retrying %s", kv(error=str(exc)))
                await trio.sleep(_RETRY)
                continue
            self._wake = trio.Event()
            self._waiting_for = math.inf if due is None else due
            offset = self.wall(0.0) or 0.0
            with trio.move_on_at(math.inf if due is None else due - offset):
                await self._wake.wait()

    def fire(self, now: float) -> int:
        """Move on the runs due by ``now`` (at most a batch); returns how many. Raises StoreError."""
        runs = self.store.due_flow_runs(now, limit=_BATCH)
        for run in runs:
            flow = self.book.get(run.flow)
            if flow is None or run.state.get("step") is None:  # deleted, or its start failed
                self._orphan(run, now, reason="flow deleted" if flow is None else "not started")
                continue
            self._carry(run, flow, machine.due(flow, RunState.from_json(run.state), now=now), now)
        return len(runs)

    # -- carrying out --------------------------------------------------------------------------

    def _new(
        self, flow: Flow, number: str, sender: str, tenant: str | None, source: str, now: float
    ) -> FlowRunRecord:
        state = RunState(flow=flow.name).to_dict()
        return FlowRunRecord(
            id=os.urandom(16).hex(), flow=flow.name, number=number, sender=sender, status="active", state=state,
            created_at=now, updated_at=now, tenant=tenant, source=source,
            next_due=now + _STUCK,  # reserved: if its start fails, the timer task ends it
        )  # fmt: skip

    def _first(self, run: FlowRunRecord, flow: Flow, outcome: Outcome, now: float) -> None:
        """A new run's start carried out; if it fails, the reserved pair is freed (or,
        with the store down, by the timer task later)."""
        try:
            self._carry(run, flow, outcome, now)
        except Exception:
            with contextlib.suppress(Exception):
                self._orphan(run, now, reason="not started")
            raise

    def _carry(self, run: FlowRunRecord, flow: Flow, outcome: Outcome, now: float) -> None:
        """Carry out ``outcome``'s effects in order, then write the run with its events."""
        state, effects = outcome.state, list(outcome.effects)
        step = run.state.get("step")
        told: list[tuple[str, dict[str, Any]]] = []  # (event type, data), in order
        handoff: dict[str, Any] = {}
        blocked = False
        for effect in effects:  # grows with what a voucher's step goes on to (bounded by the machine)
            if isinstance(effect, machine.StepEntered):
                step = effect.step
                told.append(("flow.step", {"step": effect.step}))
            elif isinstance(effect, machine.SendText):
                if not blocked:
                    blocked = self._send_text(run, flow, effect, step, now)
            elif isinstance(effect, machine.EmitEvent):
                told.append((effect.type, {"step": step, "data": dict(effect.data)}))
            elif isinstance(effect, machine.HandOff):
                handoff = self._hand_off(run, effect, step, now)
            elif isinstance(effect, machine.NeedVoucher):
                code = self._issue(run, flow, effect, now)
                more = machine.voucher_issued(flow, state, effect.var, code, now=now)
                state = more.state
                effects.extend(more.effects)
            elif isinstance(effect, machine.Finished):
                told.append(
                    (FLOW_EVENTS.get(effect.status, "flow.ended"), {"status": effect.status, **handoff})
                )
            if blocked and state.active:  # the consent gate refused a text: the run ends here
                more = machine.stop(flow, state, now=now, reason="opt_out")
                state = more.state
                effects.extend(more.effects)
        run.state, run.status, run.updated_at = state.to_dict(), state.status, now
        run.next_due = state.next_due
        if run.active and run.next_due is not None and run.next_due <= now:
            run.next_due = now + _STUCK  # the machine left it due: never a busy loop
        events = [flow_event(run, kind, self._data(run, kind, data), now) for kind, data in told]
        self.store.save_flow_run(run, events)
        if run.next_due is not None and run.next_due < self._waiting_for:
            self._wake.set()  # earlier than what the timer task sleeps until
        if not run.active:
            log.info("flow run %s %s", run.status, kv(run=run.id, flow=run.flow, reason=state.reason))

    @staticmethod
    def _data(run: FlowRunRecord, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """An end event tells the vars, the answers and why."""
        if kind in (*FLOW_EVENTS.values(), "flow.ended"):
            view = run.to_dict()
            data = {**data, "vars": view["vars"], "answers": view["answers"], "reason": view["reason"]}
        return data

    def _send_text(
        self, run: FlowRunRecord, flow: Flow, effect: machine.SendText, step: str | None, now: float
    ) -> bool:
        """Send one text of the run; True if the consent gate blocked it."""
        reply = Reply(source=run.sender, destination=run.number, text=effect.text, purpose="flow",
                      tags=(f"flow:{flow.name}"[:64],))  # fmt: skip
        entry: dict[str, Any] = {"at": now, "direction": "out", "text": effect.text, "step": step}
        try:
            sent = self.send(reply)
        except SubmitError as exc:
            log.warning("flow text not sent %s", kv(run=run.id, flow=run.flow, error=str(exc)))
            run.note({**entry, "error": str(exc)})
            return False
        status = getattr(sent, "status", None)
        entry["message_id"] = getattr(sent, "id", None)
        if status is Status.BLOCKED:
            entry.update(status=status.value, error=getattr(sent, "error", None))
        run.note(entry)
        return status is Status.BLOCKED

    def _hand_off(
        self, run: FlowRunRecord, effect: machine.HandOff, step: str | None, now: float
    ) -> dict[str, Any]:
        thread_id = None
        if self.threads is not None:
            thread_id = self.threads.handoff(
                run.number, run.sender, tenant=run.tenant, queue=effect.queue, note=effect.note,
                transcript=run.to_dict()["transcript"], source={"flow": run.flow, "run_id": run.id, "step": step},
            )  # fmt: skip
        return {"queue": effect.queue, "note": effect.note, "thread_id": thread_id}

    def _issue(self, run: FlowRunRecord, flow: Flow, effect: machine.NeedVoucher, now: float) -> str | None:
        if self.vouchers is None:
            log.warning("flow wants a voucher, none configured %s", kv(run=run.id, pool=effect.pool))
            return None
        return self.vouchers.issue(effect.pool, run.number, campaign=flow.campaign, now=now)

    def _orphan(
        self, run: FlowRunRecord, now: float, *, status: str = "cancelled", reason: str = "flow deleted"
    ) -> None:
        """End a run whose flow is no longer defined, or whose start failed."""
        run.state = {**run.state, "status": status, "reason": reason, "timers": [], "deadline": None}
        run.status, run.next_due, run.updated_at = status, None, now
        kind = FLOW_EVENTS.get(status, "flow.ended")
        self.store.save_flow_run(run, [flow_event(run, kind, self._data(run, kind, {"status": status}), now)])


def _inbound(record: InboundRecord, step: Any, now: float) -> dict[str, Any]:
    return {"at": now, "direction": "in", "text": record.text, "step": step, "inbound_seq": record.seq}


def flow_desk(
    store: object,
    *,
    flows: tuple[Flow, ...],
    keywords: Keywords,
    send: Callable[[Reply], object],
    wall: Callable[[float | None], float | None],
    vouchers: VoucherDesk | None = None,
    threads: ThreadDesk | None = None,
) -> FlowDesk | None:
    """The flow desk of ``smppgw serve`` on ``store`` (None: a store without flows),
    with the stored flows read and the config's ``flows``; ``vouchers`` and ``threads``:
    the desks of the ``voucher`` and ``handoff`` actions (None: not configured)."""
    if not isinstance(store, FlowStore):
        if flows:
            log.warning(
                "this store keeps no flows: [[twoway.flow]] is not used %s", kv(store=type(store).__name__)
            )
        return None
    book = FlowBook(store, configured=flows, keywords=keywords, now=lambda: wall(trio.current_time()) or 0.0)
    if stored := book.reload():
        log.info("flows read from the store %s", kv(count=stored))
    return FlowDesk(store, book, send=send, wall=wall, vouchers=vouchers, threads=threads)
