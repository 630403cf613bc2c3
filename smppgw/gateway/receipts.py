"""Receipts: correlate each delivery receipt to its part and settle the message.

Status rules for a message (DESIGN §3): a part's final receipt sets the part's status
(DELIVRD -> delivered, EXPIRED -> expired, REJECTD -> rejected, UNDELIV / DELETED /
UNKNOWN / anything unrecognised -> undeliverable, the raw stat kept). The message is
final when every part is: ``delivered`` only if every part was delivered, else the
worst part's status in the order unknown > rejected > undeliverable > expired. For an SMSC
configured with ``receipts = "message"`` (one receipt per concatenated message, whatever
part's id it carries) the first final receipt settles every part still open. A non-final
receipt (ENROUTE, ACCEPTD) never overwrites a final one (checklist 70); it moves the
part to ``en_route``, and the message once every part is there. A duplicate (same
part, same stat) is counted and changes nothing (checklist 69). A part that became
``unknown`` (no receipt in time) takes the outcome of a late receipt, the one move out
of a final status. The message rule is ``store.base.rollup``; every message move goes
through ``store.base.advance`` (the rank rule and the history: "smpp" ESME_ROK for a
submit_sm_resp, "receipt" with stat and err); a change goes to ``on_change``
(``Changes.publish``).

The receipt deadline (issue 13, DESIGN §3): a part still waiting for its final receipt
``receipt_grace`` seconds (per SMSC) after its validity ends — after it was submitted,
when it has none — becomes ``unknown``, and the message with it once no part waits any
more. ``unknown`` is final; a receipt that comes later still records the real outcome
(matched to the closed part after the hold, ``policy.correlation``) and is published:
the only move out of a final status. Final parts leave the correlator's memory (a
bounded LRU and the store's correlation rows, kept ``horizon`` seconds, remain).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from smppgw.core.constants import MessageState
from smppgw.core.receipt import INTERIM_STATES, IdBase, Receipt
from smppgw.gateway import lifecycle
from smppgw.gateway.config import DEFAULT_RECEIPT_GRACE
from smppgw.gateway.deadline import DeadlineStore
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts_shared import SHARED_KEEP, NotRecordedYet, SharedReceipts
from smppgw.policy.correlation import Correlator, Held
from smppgw.store.base import (
    FINAL,
    RANK,
    CorrelationStore,
    MessageRecord,
    MessageStore,
    PartRecord,
    Status,
    StoreError,
    advance,
    rollup,
)
from smppgw.support.logsafe import kv
from smppgw.support.ratelog import RateLimitedLog, escape

__all__ = ["SHARED_KEEP", "NotRecordedYet", "ReceiptBook"]  # (the first two: receipts_shared's)

log = logging.getLogger(__name__)

_PART_STATUS = {
    MessageState.DELIVERED: Status.DELIVERED,
    MessageState.EXPIRED: Status.EXPIRED,
    MessageState.REJECTED: Status.REJECTED,
}
_NOT_SUBMITTED = frozenset({Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED, Status.SUBMITTING})
_SUBMITTED, _UNDELIVERABLE = Status.SUBMITTED, Status.UNDELIVERABLE
_EN_ROUTE, _UNKNOWN = Status.EN_ROUTE, Status.UNKNOWN
_UP_TO_SUBMITTED = RANK[_SUBMITTED]
_EN_ROUTE_RANK = RANK[_EN_ROUTE]
_LABEL = {status: status.value for status in Status}  # ``.value`` is a property: two frames

Ref = tuple[MessageRecord, PartRecord]


class ReceiptBook(SharedReceipts):
    def __init__(
        self,
        *,
        metrics: GatewayMetrics,
        hold: float,
        bases: dict[str, IdBase],
        on_change: Callable[[MessageRecord], Any],
        per_message: frozenset[str] = frozenset(),
        graces: dict[str, float] | None = None,
        store: MessageStore | None = None,
        max_held: int = 100_000,
    ) -> None:
        # Closed parts the correlator no longer holds are asked of the store, if it keeps them.
        self._store = store if isinstance(store, CorrelationStore) else None
        self._deadlines = store if isinstance(store, DeadlineStore) else None  # shared (Redis)
        self._messages = store
        self.correlator: Correlator[Ref, Receipt] = Correlator(
            hold=hold,
            max_held=max_held,
            bases=bases,
            recall=self._recall if self._store is not None else None,
            remember=self._remember if self._store is not None else None,
        )
        # The receipt deadline per SMSC (validity + grace); the smallest bounds the walk.
        self._graces = dict(graces or {})
        self._min_grace = min(self._graces.values(), default=DEFAULT_RECEIPT_GRACE)
        # Correlation rows live twice the longest grace (a late receipt for an ``unknown``
        # part comes after validity + grace) plus the hold it waits out before its lookup.
        self.horizon = 2 * max(self._graces.values(), default=DEFAULT_RECEIPT_GRACE) + hold
        self._swept_rows = 0.0
        # SMSCs that send one receipt per concatenated message, not one per part.
        self._per_message = per_message
        self._metrics = metrics
        self._on_change = on_change
        self.duplicates = 0
        self._ratelog = RateLimitedLog(log)  # per instance: two gateways never mute each other
        self.applied = 0
        #: Several gateways share the store (the Redis work queue, issue 19): a part's
        #: correlation is written when it is submitted, not only when it closes, and a
        #: receipt for a part not open here is looked up in the store at once.
        self.shared = False
        #: ``prefetch``'s answers, by (smsc, resp key), while its batch is applied.
        self.prefetched: dict[tuple[str, str], Ref | None] | None = None

    def submitted(
        self,
        smsc: str,
        message: MessageRecord,
        part: PartRecord,
        smsc_id: str,
        now: float,
        sent_at: float | None = None,
    ) -> None:
        """A submit_sm_resp gave ``part`` its SMSC id; apply receipts that overtook it.

        ``sent_at``: when the submit_sm left, so submit->receipt latency counts from the
        submit (not from its response) and is right for receipts that overtook it.
        """
        fresh = part.smsc_message_id is None  # a new resp (a restart passes the id it had)
        part.smsc_message_id = smsc_id
        if RANK[part.status] <= _UP_TO_SUBMITTED:  # never back from en_route or final
            part.status = _SUBMITTED
        part.submitted_at = sent_at if sent_at is not None else now
        part.error = None
        parts = message.parts
        if (fresh or message.status in _NOT_SUBMITTED) and (
            len(parts) == 1 or all(p.smsc_message_id is not None for p in parts)
        ):  # (a late resp after the message moved on goes into its history only)
            advance(message, _SUBMITTED, "smpp", now, "ESME_ROK")
        if message.dlr and self.shared and self._store is not None:  # its receipt may reach another gateway
            key = self.correlator.resp_key(smsc, smsc_id)
            self._store.put_correlation(smsc, key, message.id, part.index, part.submitted_at or now)
            if self._deadlines is not None:  # any gateway settles it if this one dies (gateway.deadline)
                grace = self._graces.get(smsc, DEFAULT_RECEIPT_GRACE)
                self._deadlines.put_deadline(
                    message.id, (part.submitted_at or now) + (message.validity or 0.0) + grace
                )
        if message.dlr:  # no receipt asked for: nothing waits for one (bounded memory)
            for match in self.correlator.submitted(smsc, smsc_id, (message, part), now):
                self._apply(smsc, match.ref, match.payload, now)
        self._on_change(message)

    def receipt(self, smsc: str, receipt: Receipt, now: float) -> bool:
        """Record one receipt. True if it matched a part now; False if held or useless."""
        if receipt.message_id is None:
            self._metrics.unmatched.labels(smsc).inc()
            self._ratelog.emit(  # an SMSC can send one a PDU: at most a line per interval
                "no-id:" + smsc, "receipt without an id %s", kv(smsc=smsc, stat=receipt.stat)
            )
            return False
        if self.shared and not self.correlator.holds(smsc, receipt.message_id):
            ref = self.correlator.recall_now(smsc, receipt.message_id)  # sent by another gateway
            if ref is None:  # its sender has not committed it yet (or died first): not held
                # here, where it would die with this process (Deliveries asks again shortly)
                raise NotRecordedYet(f"receipt {receipt.message_id}: its part is not recorded yet")
            self._apply(smsc, ref, receipt, now)
            return True
        ref = self.correlator.match(smsc, receipt.message_id, receipt, now)
        if ref is None:
            if self.correlator.held_evicted:
                self._held_evicted()
            return False
        self._apply(smsc, ref, receipt, now)
        return True

    def _held_evicted(self) -> None:
        """Early receipts pushed out by ``max_held``: counted, logged (rate-limited)."""
        evicted, self.correlator.held_evicted = self.correlator.held_evicted, []
        for held in evicted:
            self._metrics.early_receipts_evicted.labels(held.smsc).inc()
        first = evicted[0]
        self._ratelog.emit(
            "held:" + first.smsc,
            "%s: early receipts held reached max_held (%d): the oldest evicted unmatched (id %s)",
            first.smsc,
            self.correlator.max_held,
            escape(first.receipt_id),
        )

    def resume(self, smsc: str, message: MessageRecord, part: PartRecord) -> None:
        """After a restart: ``part`` (submitted, no final receipt) waits for its receipt
        again. Nothing is published: its listeners were told before the restart."""
        now = part.submitted_at if part.submitted_at is not None else message.updated_at
        assert part.smsc_message_id is not None
        for match in self.correlator.submitted(smsc, part.smsc_message_id, (message, part), now):
            self._apply(smsc, match.ref, match.payload, now)

    @property
    def open(self) -> int:
        """Parts waiting for a receipt (in memory until final or ``unknown``)."""
        return self.correlator.open

    def expire(self, now: float) -> list[Held[Receipt]]:
        """Once a second: held receipts past the hold time are matched to a closed part
        (a duplicate, a late outcome) or unmatched (counted and kept for diagnosis);
        parts past their receipt deadline become ``unknown``; old correlation rows go."""
        late: list[Any] = []
        expired = self.correlator.expire(now, late)
        for match in late + self.correlator.rematch():
            self._apply(match.ref[0].smsc or "", match.ref, match.payload, now)
        self.overdue(now)
        with contextlib.suppress(StoreError):  # (Redis away: those wait in the store's set)
            self.resettle(now)
        if self._store is not None and now - self._swept_rows >= 1.0:  # a bounded bite a second
            self._swept_rows = now
            try:
                self._store.expire_correlations(now - self.horizon, 50_000)
            except StoreError as exc:  # e.g. the file locked a moment: a sweep can wait a second
                self._ratelog.emit("sweep", "correlation sweep failed; trying again %s", kv(error=str(exc)))
        for held in expired:
            self._metrics.unmatched.labels(held.smsc).inc()
            self._ratelog.emit(
                "unmatched:" + held.smsc,
                "unmatched receipt %s",
                kv(smsc=held.smsc, receipt_id=held.receipt_id, stat=held.payload.stat),
            )
        return expired

    def _apply(self, smsc: str, ref: Ref, receipt: Receipt, now: float) -> None:
        message, part = ref
        part.receipts += 1
        stat = receipt.stat or (receipt.state.stat if receipt.state is not None else "UNKNOWN")
        if part.receipt_final and part.status is not _UNKNOWN:
            if stat.upper() == (part.receipt_stat or "").upper():
                self.duplicates += 1
                self._metrics.duplicates.labels(smsc).inc()
            return  # a final outcome is never overwritten
        self._metrics.receipts.inc(smsc, stat.upper())
        if lifecycle.on():
            lifecycle.receipt(smsc, message, part, stat)
        part.receipt_stat = stat
        part.receipt_at = now
        part.receipt_error = receipt.error
        state = receipt.state
        if state is None or state in INTERIM_STATES:  # not receipt.is_final (no property call)
            if state is not None and RANK[part.status] < _EN_ROUTE_RANK:  # ENROUTE / ACCEPTD
                part.status = _EN_ROUTE
                if RANK[message.status] < _EN_ROUTE_RANK and all(
                    RANK[p.status] >= _EN_ROUTE_RANK for p in message.parts
                ):
                    advance(message, _EN_ROUTE, "receipt", now, _detail(part, stat, receipt.error))
                self._on_change(message)
            return
        self.applied += 1
        part.receipt_final = True
        part.status = _PART_STATUS.get(state, _UNDELIVERABLE)
        if part.submitted_at is not None:
            part.receipt_latency = now - part.submitted_at
            self._metrics.receipt_latency.observe(part.receipt_latency, smsc)
        if smsc in self._per_message:
            # One receipt speaks for the whole message (whichever part's id it carries).
            for other in message.parts:
                if not other.receipt_final:
                    other.receipt_final = True
                    other.receipt_stat, other.receipt_at = stat, now
                    other.receipt_error, other.status = receipt.error, part.status
        self._close(smsc, message)
        if message.status not in FINAL or message.status is _UNKNOWN:  # a late receipt: the real outcome
            settled = rollup(message.parts)
            if settled is not None and settled[0] is not message.status:
                status, error = settled
                if advance(message, status, "receipt", now, _detail(part, stat, receipt.error)):
                    if error is not None:
                        message.error = error
                    self._metrics.messages.inc(_LABEL[status])
        self._on_change(message)

    # -- the receipt deadline and the correlation rows -----------------------------------------

    def overdue(self, now: float) -> int:
        """Parts past validity + receipt_grace become ``unknown``; returns how many."""
        if self.shared:
            self.forget_old(now)
        due: list[tuple[str, str, Ref]] = []
        floor = now - self._min_grace
        graces = self._graces
        correlator = self.correlator
        for (smsc, key), ref in correlator.open_refs():
            message, part = ref
            sent = part.submitted_at if part.submitted_at is not None else message.created_at
            if sent > floor:
                break  # open in submit order: the rest are younger still
            if sent + (message.validity or 0.0) + graces.get(smsc, DEFAULT_RECEIPT_GRACE) <= now:
                due.append((smsc, key, ref))
        for smsc, key, ref in due:
            correlator.close_key(smsc, key, ref)
            self._unknown(smsc, ref, now)
        # Open parts the correlator let go (max_refs, or the SMSC reused their id): no
        # receipt can reach them any more, unless they wait under a newer id.
        evicted, correlator.evicted = correlator.evicted, []
        if self.shared:  # (as forget_old: the shared deadline settles them if no receipt comes)
            evicted = []
        for smsc, ref in evicted:
            smsc_id = ref[1].smsc_message_id
            if smsc_id is None or not correlator.is_open(smsc, smsc_id, ref):
                self._unknown(smsc, ref, now)
        return len(due) + len(evicted)

    def settle_overdue(self, message: MessageRecord, now: float) -> bool:
        """The shared deadline (``gateway.deadline``) found ``message`` (any gateway's)
        past its receipt deadline: its parts without a final receipt become ``unknown``,
        and it with them, guarded in the store (written only if it is still waiting for
        receipts there). False, changing nothing: its parts are open in this correlator
        (the local deadline settles them) or one is not submitted yet (still sending)."""
        smsc, correlator = message.smsc or "", self.correlator
        for part in message.parts:
            if part.receipt_final or part.status in FINAL:
                continue
            if part.smsc_message_id is None:
                return False
            ref = correlator.lookup(smsc, part.smsc_message_id)
            if ref is not None and correlator.is_open(smsc, part.smsc_message_id, ref):
                return False
        if message.status in FINAL or self._deadlines is None:
            return False
        self._deadlines.guard(message.id, (_SUBMITTED.value, _EN_ROUTE.value))
        for part in message.parts:
            self._unknown(smsc, (message, part), now)
        return True

    def _unknown(self, smsc: str, ref: Ref, now: float) -> None:
        message, part = ref
        if part.receipt_final or part.status in FINAL:
            return  # settled meanwhile (or an old id of a part sent again)
        if part.smsc_message_id is not None:
            self.correlator.close(smsc, part.smsc_message_id, ref)
        part.status = _UNKNOWN
        settled = rollup(message.parts)  # unknown is the worst outcome a part can have
        if message.status in FINAL or settled is None:
            return  # another part still waits: the message with it
        reason = "no final receipt within validity + receipt_grace"
        advance(message, settled[0], "gateway", now, reason)
        message.error = reason
        self._metrics.messages.inc(_LABEL[_UNKNOWN])
        self._on_change(message)

    def _close(self, smsc: str, message: MessageRecord) -> None:
        """Final parts of ``message`` leave the correlator's open map."""
        for part in message.parts:
            if part.receipt_final and part.smsc_message_id is not None:
                self.correlator.close(smsc, part.smsc_message_id, (message, part))

    def _remember(self, smsc: str, key: str, ref: Ref) -> None:
        message, part = ref
        assert self._store is not None
        when = part.submitted_at if part.submitted_at is not None else message.created_at
        self._store.put_correlation(smsc, key, message.id, part.index, when)

    def _recall(self, smsc: str, key: str) -> Ref | None:
        assert self._store is not None
        if self.prefetched is not None and (smsc, key) in self.prefetched:
            return self.prefetched[(smsc, key)]
        found = self._store.get_correlation(smsc, key)
        if found is None:
            return None
        message = self._messages.get(found[0]) if self._messages is not None else None
        if message is None or not 1 <= found[1] <= len(message.parts):
            return None
        return message, message.parts[found[1] - 1]


def _detail(part: PartRecord, stat: str, error: str | None) -> str:
    """A receipt's history detail: its stat and err (and the part, for a multi-part message)."""
    detail = stat if error is None else f"{stat} err:{error}"
    return detail if part.total == 1 else f"part {part.index}/{part.total}: {detail}"
