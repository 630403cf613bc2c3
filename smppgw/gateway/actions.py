"""What happens to a message after it was accepted, outside the send path: resumed after
a restart, released at its ``send_at``, canceled, or blocked by an opt-out.

Each action goes through the same rooms as the send path: ``Intake.plan`` (the one plan
step), the dispatchers' queues, ``Changes`` (the one place a status change is saved and
told) and ``store.status.advance`` (the rank rule), so none of them is a second way to
do the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from smppgw.gateway.changes import Changes
from smppgw.gateway.deadline import Guarded
from smppgw.gateway.dispatcher import Dispatcher
from smppgw.gateway.intake import Intake
from smppgw.gateway.messages import SubmitError
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.gateway.schedule import Schedule
from smppgw.store.base import MessageRecord, MessageStore, Status

__all__ = ["Actions", "CancelError"]

_CANCELABLE = frozenset({Status.ACCEPTED, Status.SCHEDULED, Status.QUEUED})
_CANCELABLE_VALUES = tuple(sorted(s.value for s in _CANCELABLE))


class CancelError(ValueError):
    """The message can no longer be canceled (submitted, or final): its ``status`` says."""

    def __init__(self, record: MessageRecord) -> None:
        super().__init__(
            f"message {record.id} is {record.status.value}: only a message not yet submitted can be canceled"
        )
        self.status = record.status


class Actions:
    def __init__(
        self,
        *,
        store: MessageStore,
        intake: Intake,
        dispatchers: Mapping[str, Dispatcher],
        receipts: ReceiptBook,
        changes: Changes,
        metrics: GatewayMetrics,
    ) -> None:
        self.store = store
        self.intake = intake
        self.dispatchers = dict(dispatchers)
        self.receipts = receipts
        self.changes = changes
        self.metrics = metrics
        self.schedule = Schedule(self.release)

    def restore(self, record: MessageRecord) -> None:
        """Resume a stored message after a restart (DESIGN §3: nothing lost).

        Parts with an SMSC id wait for their receipts (correlation is rebuilt, nothing is
        published again); the others are queued again, on the same route, with the same
        concatenation reference. A part that was ``submitting`` when the process stopped
        may have reached the SMSC: it is sent again and counted in ``resent_unknown``.
        A ``scheduled`` message waits for its ``send_at`` again.
        """
        if record.is_final:
            return
        if record.status is Status.SCHEDULED:
            self.schedule.add(record)
            return
        if not record.parts:
            self.intake.requeue(record)
            return
        plan = self.intake.plan(record, resume=True)
        for job in plan.jobs:
            part = job.part
            if part.smsc_message_id is not None:
                if record.dlr and not part.receipt_final:
                    self.receipts.resume(record.smsc or "", record, part)  # told before: not again
                continue
            if part.status is Status.SUBMITTING:
                # Durable before its submit_sm was written (Dispatcher): it may have
                # reached the SMSC, and no id to query_sm it by. Resent, counted.
                part.resent_unknown += 1
                self.metrics.resent_unknown.labels(plan.dispatcher.name).inc()
            plan.dispatcher.put(job)

    def release(self, record: MessageRecord) -> None:
        """A scheduled message's ``send_at`` came: plan it as a new message (routed now,
        to an SMSC that is up), save it ``queued`` and queue it."""
        try:
            plan = self.intake.plan(record)
        except SubmitError as exc:  # e.g. its route's SMSCs left the config since
            self.changes.fail(record, Status.FAILED, str(exc))
            return
        record.updated_at = trio.current_time()
        self.changes.publish(record)
        plan.enqueue()

    def cancel(self, message_id: str) -> MessageRecord:
        """Cancel a message not yet submitted (``scheduled`` or ``queued``): its parts
        leave the schedule or the dispatcher and it ends ``canceled`` (final).

        Raises:
            KeyError: unknown id. CancelError: submitted already, or final (on Redis: as
            the shared store has it, checked in the write). StoreError: Redis away.
        """
        record = self.store.get(message_id)
        if record is None:
            raise KeyError(message_id)
        if record.status not in _CANCELABLE:
            raise CancelError(record)
        reason = "canceled"
        if record.status is Status.SCHEDULED:
            self.schedule.discard(message_id)
        for dispatcher in self.dispatchers.values():
            dispatcher.drop(lambda j: j.message.id == message_id, Status.CANCELED, reason, "api")
        for part in record.parts:
            part.status = Status.CANCELED
        self.changes.fail(record, Status.CANCELED, reason, source="api")  # (drop made it final)
        store = self.store
        if isinstance(store, Guarded):  # several gateways: one may be sending it (gateway.workqueue)
            store.guard(message_id, _CANCELABLE_VALUES)  # written only if still cancelable there,
            store.commit()  # now (StoreError: the API's 503; the guard goes with the next commit)
            if store.refused(message_id):  # another gateway wrote ``submitting`` (or final) first
                raise CancelError(store.get(message_id) or record)
        return record

    def block_destination(
        self,
        destination: str,
        reason: str = "destination opted out",
        *,
        within: Callable[[MessageRecord], bool] | None = None,
        source: str = "api",
    ) -> int:
        """An opt-out arrived: queued parts for ``destination`` (of the messages ``within``
        picks: those the opt-out's scope covers; None: every one) are not sent, their
        messages become ``blocked`` with ``reason``. Returns how many parts were dropped."""
        return sum(
            d.drop(
                lambda j: j.message.destination == destination and (within is None or within(j.message)),
                Status.BLOCKED, reason, source,
            )
            for d in self.dispatchers.values()
        )  # fmt: skip
