"""Receipts with several gateways on one store (issue 19): the parts of ``ReceiptBook``
that only run when ``shared`` (the Redis work queue).

- A receipt for a part another gateway sent is looked up in the store; the receipts of
  one read are looked up together (``prefetch``: two round trips for the batch). One
  whose part no gateway has recorded yet raises ``NotRecordedYet`` (``Deliveries`` asks
  again for up to a second).
- The sender keeps a sent part in memory ``SHARED_KEEP`` seconds (``forget_old``); then
  its receipt is looked up like another gateway's, and the deadline is the shared one.
- Two gateways may apply the receipts of one message's parts to two copies; the store
  keeps every part's final receipt and names such messages (``take_stale``):
  ``resettle`` rolls them up from all of their parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from smppgw.core.receipt import Receipt
from smppgw.store.base import FINAL, MessageRecord, PartRecord, Status, StoreError, advance, rollup

if TYPE_CHECKING:
    from smppgw.gateway.metrics import GatewayMetrics
    from smppgw.policy.correlation import Correlator

__all__ = ["SHARED_KEEP", "NotRecordedYet", "SharedReceipts"]

Ref = tuple[MessageRecord, PartRecord]
_LABEL = {status: status.value for status in Status}

#: Several gateways on one store: how long a sent part waits for its receipt in the
#: sender's memory (``ReceiptBook.forget_old``); most receipts come within it.
SHARED_KEEP = 60.0


class NotRecordedYet(StoreError):
    """A receipt (several gateways on one store) for a part no gateway has recorded
    yet: its sender has the submit_sm_resp but has not committed it (a few
    milliseconds), or died first. Not applied, not held here; asked again."""


class SharedReceipts:
    shared: bool
    prefetched: dict[tuple[str, str], Ref | None] | None
    correlator: Correlator[Ref, Receipt]
    _store: Any
    _messages: Any
    _metrics: GatewayMetrics
    _on_change: Callable[[MessageRecord], Any]

    def forget_old(self, now: float) -> int:
        """Several gateways on one store: parts sent more than ``SHARED_KEEP`` seconds ago
        leave memory (not settled): their receipts may reach any gateway, which settles
        them in the store, and the sender would otherwise hold each record until its
        deadline (48 h and more). A receipt that still comes here is looked up in the
        store like another gateway's; the deadline is the shared one (``gateway.deadline``).
        Returns how many."""
        old: list[tuple[str, str, Ref]] = []
        floor = now - SHARED_KEEP
        for (smsc, key), ref in self.correlator.open_refs():
            message, part = ref
            if (part.submitted_at if part.submitted_at is not None else message.created_at) > floor:
                break  # open in submit order: the rest are younger still
            old.append((smsc, key, ref))
        for smsc, key, ref in old:
            self.correlator.forget_key(smsc, key, ref)
        return len(old)

    def resettle(self, now: float) -> int:
        """Several gateways: messages of several parts whose receipts two gateways applied
        to two copies (each wrote its own; Redis keeps every part's, ``take_stale``) are
        rolled up from all of them. Returns how many changed."""
        take = getattr(self._store, "take_stale", None) if self.shared else None
        changed = 0
        for message in take() if take is not None else ():
            settled = rollup(message.parts)
            if settled is not None and message.status not in FINAL and settled[0] is not message.status:
                if advance(message, settled[0], "receipt", now, "the receipts of every part"):
                    message.error = settled[1] if settled[1] is not None else message.error
                    self._metrics.messages.inc(_LABEL[settled[0]])
                changed += 1
                self._on_change(message)
        return changed

    @property
    def batches_lookups(self) -> bool:
        """Whether ``prefetch`` can look many receipts up at once (the Redis store)."""
        return (
            self.shared and hasattr(self._store, "get_correlations") and hasattr(self._messages, "get_many")
        )

    def asks_store(self, smsc: str, receipt: Receipt) -> bool:
        """Whether ``receipt`` needs the store (its part is not open here)."""
        return receipt.message_id is not None and not self.correlator.holds(smsc, receipt.message_id)

    def prefetch(self, smsc: str, receipt_ids: Sequence[str]) -> None:
        """The parts of these receipts from the store in two round trips (correlations,
        then messages), for the ``receipt`` calls that follow until ``prefetched`` is
        set back to None (a later call asks the store again: another gateway may have
        changed them meanwhile)."""
        if not self.batches_lookups or not receipt_ids:
            return
        readings = self.correlator.readings
        keys = list(dict.fromkeys(k for rid in receipt_ids if rid for k in readings(smsc, rid)))
        store: Any = self._store  # (batches_lookups: the Redis store's calls)
        found: list[tuple[str, int] | None] = store.get_correlations(smsc, keys)
        ids = list(dict.fromkeys(f[0] for f in found if f is not None))
        records: dict[str, MessageRecord | None] = dict(zip(ids, store.get_many(ids), strict=True))
        cache: dict[tuple[str, str], Ref | None] = {}
        for key, f in zip(keys, found, strict=True):
            message = records.get(f[0]) if f is not None else None
            if message is not None and f is not None and 1 <= f[1] <= len(message.parts):
                cache[(smsc, key)] = (message, message.parts[f[1] - 1])
            else:
                cache[(smsc, key)] = None
        self.prefetched = cache
