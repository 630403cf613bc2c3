"""Match delivery receipts to the submits they report on (only with ``--wait-dlr``).

Carriers disagree on how a receipt names the message (SMPP-REFERENCE §6.3 item 1): the
same id in both places (``same``), the submit_sm_resp id in hex and the receipt in
decimal (``hex_to_dec``), or the other way round (``dec_to_hex``), with case and
leading zeros changed on the way. For small ids the three readings collide: receipt
``16`` is submit ``16`` read as is, or submit ``10`` read as hex. So each receipt is
looked up under all three relations, and every relation that finds a pending submit
scores a hit: the relation this carrier really uses finds one for nearly every receipt,
the others only by coincidence. When exactly one pending submit answers, that is the
match. When several answer, the relation with clearly more hits decides; until there is
such a relation, a receipt whose id could be read more than one way waits (``resolve``
retries it; at the end it falls back to ``same``), since its own submit_sm_resp may still
be on the way while a coincidence is pending.

A receipt may overtake its submit_sm_resp: it is held in ``early`` until the response
comes. Latency is receipt arrival minus the message's intended send time.
"""

from __future__ import annotations

from typing import Final

from loadtest.stats import Counters

__all__ = ["ReceiptTracker"]

_HEX: Final = "0123456789ABCDEF"
_RELATIONS: Final = ("same", "hex_to_dec", "dec_to_hex")


def _canonical(message_id: str) -> str:
    upper = message_id.strip().upper()
    return upper.lstrip("0") or ("0" if upper else "")


def _value(canonical: str) -> str | None:
    """The decimal value of an all-hex-digit id (``1A`` -> ``26``), else None."""
    if canonical and len(canonical) <= 32 and not canonical.strip(_HEX):
        return str(int(canonical, 16))
    return None


def _hex(canonical: str) -> str | None:
    """The hex form of an all-decimal id (``26`` -> ``1A``), else None."""
    if canonical and len(canonical) <= 40 and canonical.isascii() and canonical.isdigit():
        return f"{int(canonical):X}"
    return None


class ReceiptTracker:
    __slots__ = (
        "_ambiguous",
        "_by_canon",
        "_by_value",
        "_counters",
        "_early",
        "_early_by_canon",
        "_hits",
        "_pending",
    )

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._pending: dict[str, int] = {}  # submitted id -> intended time (µs)
        self._by_canon: dict[str, str] = {}  # canonical form -> submitted id
        self._by_value: dict[str, str] = {}  # decimal value of a hex-looking id -> submitted id
        self._early: dict[str, int] = {}  # receipt id matching nothing (yet) -> arrival (µs)
        self._early_by_canon: dict[str, str] = {}  # its canonical form -> receipt id
        self._ambiguous: list[tuple[str, int]] = []  # (receipt id, arrival) awaiting evidence
        self._hits = dict.fromkeys(_RELATIONS, 0)

    # -- submits -----------------------------------------------------------------------------

    def submitted(self, message_id: str, intended_us: int) -> None:
        self._counters.receipts_expected += 1
        self._pending[message_id] = intended_us
        canon = _canonical(message_id)
        self._by_canon.setdefault(canon, message_id)
        value = _value(canon)
        if value is not None:
            self._by_value.setdefault(value, message_id)
        if self._early:  # a receipt that overtook this response, written the way we expect
            best = self._best() or "same"
            form = canon if best == "same" else value if best == "hex_to_dec" else _hex(canon)
            rid = self._early_by_canon.pop(form, None) if form is not None else None
            if rid is not None:
                self.receipt(rid, self._early.pop(rid))

    def _forget(self, message_id: str) -> int:
        intended = self._pending.pop(message_id)
        canon = _canonical(message_id)
        if self._by_canon.get(canon) == message_id:
            del self._by_canon[canon]
        value = _value(canon)
        if value is not None and self._by_value.get(value) == message_id:
            del self._by_value[value]
        return intended

    # -- receipts ----------------------------------------------------------------------------

    def _candidates(self, receipt_id: str) -> dict[str, str]:
        canon = _canonical(receipt_id)
        pending = self._pending
        out = {}
        found = self._by_canon.get(canon)
        if found is not None and found in pending:
            out["same"] = found
        found = self._by_value.get(canon)
        if found is not None and found in pending:
            out["hex_to_dec"] = found
        as_hex = _value(canon)  # the receipt read as hex: a decimal submit id
        if as_hex is not None:
            found = self._by_canon.get(as_hex)
            if found is not None and found in pending:
                out["dec_to_hex"] = found
        return out

    def receipt(self, receipt_id: str | None, now_us: int) -> None:
        if not receipt_id:
            self._counters.unmatched_receipts += 1
            return
        candidates = self._candidates(receipt_id)
        for relation in candidates:
            self._hits[relation] += 1
        best = self._best()
        if best is not None and best not in candidates:
            candidates = {}  # only coincidences: its own submit has not been answered yet
        distinct = set(candidates.values())
        # Until the relation is known, an id that reads as hex and decimal alike may match
        # a coincidence while its own submit_sm_resp is still on the way: hold it too.
        if len(distinct) == 1 and (best is not None or _value(_canonical(receipt_id)) is None):
            self._match(distinct.pop(), now_us)
            if self._ambiguous and self._best() is not None:
                self.resolve()
        elif distinct:
            if best is not None:
                self._match(candidates[best], now_us)
            else:
                self._ambiguous.append((receipt_id, now_us))
        elif len(self._early) < 100_000 and receipt_id not in self._early:
            self._early[receipt_id] = now_us  # early, a duplicate or a stranger: see ``unmatched``
            self._early_by_canon.setdefault(_canonical(receipt_id), receipt_id)
        else:
            self._counters.unmatched_receipts += 1

    def _best(self) -> str | None:
        """The relation with clearly the most hits so far, if there is one."""
        (top, n1), (_, n2), _ = sorted(self._hits.items(), key=lambda kv: -kv[1])
        return top if n1 >= 8 and n1 >= 1.25 * n2 else None

    def _match(self, message_id: str, arrived_us: int) -> None:
        c = self._counters
        c.receipts += 1
        c.dlr_lat.append(arrived_us - self._forget(message_id))

    def resolve(self, *, final: bool = False) -> None:
        """Retry the ambiguous receipts with the evidence gathered so far; with ``final``,
        fall back to reading ids as they are (``same``)."""
        held, self._ambiguous = self._ambiguous, []
        best = self._best() or ("same" if final else None)
        for receipt_id, arrived in held:
            candidates = self._candidates(receipt_id)
            if best is not None and best in candidates:
                self._match(candidates[best], arrived)
            elif final and len(set(candidates.values())) == 1:
                self._match(next(iter(candidates.values())), arrived)  # no other reading left
            elif final:
                self._counters.unmatched_receipts += 1
            else:
                self._ambiguous.append((receipt_id, arrived))

    @property
    def outstanding(self) -> int:
        """Submits still waiting for their receipt."""
        return len(self._pending)

    @property
    def unmatched(self) -> int:
        """Receipts that matched no submit (duplicates included), as far as known now."""
        return self._counters.unmatched_receipts + len(self._early) + len(self._ambiguous)
