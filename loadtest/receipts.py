"""Match delivery receipts to the submits they report on (only with ``--wait-dlr``).

Each accepted submit's message_id is remembered with the message's intended send time,
under every canonical key of the id (``smppgw.core.receipt.id_keys``), so a carrier that
writes the id in hex in the receipt but in decimal in the submit_sm_resp (or pads it, or
changes its case) still matches. A receipt may overtake its submit_sm_resp: it is held
in ``early`` until the response arrives. Latency is receipt arrival minus intended time.
"""

from __future__ import annotations

from loadtest.stats import Counters
from smppgw.core.receipt import id_keys

__all__ = ["ReceiptTracker"]


class ReceiptTracker:
    __slots__ = ("_by_key", "_counters", "_early", "_early_by_key", "_pending")

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._pending: dict[str, int] = {}  # submitted id -> intended time (µs)
        self._by_key: dict[str, str] = {}  # canonical key -> submitted id
        self._early: dict[str, int] = {}  # receipt id not (yet) matched -> arrival (µs)
        self._early_by_key: dict[str, str] = {}  # canonical key -> receipt id in _early

    def submitted(self, message_id: str, intended_us: int) -> None:
        c = self._counters
        c.receipts_expected += 1
        if self._early:
            arrived = self._pop_early(message_id)
            if arrived is not None:
                c.receipts += 1
                c.dlr_lat.append(arrived - intended_us)
                return
        self._pending[message_id] = intended_us
        for key in id_keys(message_id):
            self._by_key.setdefault(key, message_id)

    def _pop_early(self, message_id: str) -> int | None:
        rid = message_id if message_id in self._early else None
        if rid is None:
            for key in id_keys(message_id):
                rid = self._early_by_key.get(key)
                if rid is not None:
                    break
        if rid is None:
            return None
        for key in id_keys(rid):
            if self._early_by_key.get(key) == rid:
                del self._early_by_key[key]
        return self._early.pop(rid)

    def receipt(self, receipt_id: str | None, now_us: int) -> None:
        c = self._counters
        if not receipt_id:
            c.unmatched_receipts += 1
            return
        found: str | None = receipt_id
        intended = self._pending.pop(receipt_id, None)
        if intended is None:
            found = None
            for key in id_keys(receipt_id):
                candidate = self._by_key.get(key)
                if candidate is not None and candidate in self._pending:
                    found, intended = candidate, self._pending.pop(candidate)
                    break
        if found is None or intended is None:
            # Early (its response is still on the way), a duplicate or a stranger: hold a
            # bounded number; whatever is left at the end counts as unmatched.
            if len(self._early) < 100_000 and receipt_id not in self._early:
                self._early[receipt_id] = now_us
                for key in id_keys(receipt_id):
                    self._early_by_key.setdefault(key, receipt_id)
            else:
                c.unmatched_receipts += 1
            return
        for key in id_keys(found):
            if self._by_key.get(key) == found:
                del self._by_key[key]
        c.receipts += 1
        c.dlr_lat.append(now_us - intended)

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    @property
    def unmatched(self) -> int:
        """Receipts that matched no submit (duplicates included), as far as known now."""
        return self._counters.unmatched_receipts + len(self._early)
