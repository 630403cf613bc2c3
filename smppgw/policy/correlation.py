"""Delivery-receipt correlation: which part of which message a receipt is about.

Theory of operation
-------------------
When a submit_sm_resp arrives the gateway calls ``submitted(smsc, smsc_id, ref, now)``;
when a receipt arrives it calls ``receipt(smsc, receipt_id, payload, now)``; when a part
is final (its final receipt, or the receipt deadline) it calls ``close``. Ids are
compared in the forms ``smppgw.core.receipt.id_forms`` gives (trimmed, upper-cased,
leading zeros dropped, converted by base), *per SMSC*, because two carriers may reuse
the same ids.

Open and closed. SMSC ids are unique per SMSC only within a time horizon: a restarted
SMSC may number from 1 again. Parts still waiting for a receipt are *open* (in memory,
the hot path: no store read); a closed part is kept in a bounded LRU (``max_recent``)
and, through ``remember`` / ``recall`` (the store's correlation section, with a TTL),
beyond it. A receipt is matched at once only to an open part. A receipt that finds no
open part is held for ``hold`` seconds for its own submit_sm_resp (it may have overtaken
it, SMPP-REFERENCE §6.3 item 2); only when the hold passes is it matched to a closed
part (a duplicate, or the late real outcome of an ``unknown`` part), else reported
unmatched. So an early receipt after an id reuse is never taken for a duplicate of the
old message.

Id bases (§6.3 item 1). Carriers that write the receipt id in another base than the
submit_sm_resp id are configured per SMSC with ``IdBase``: ``HEX`` (resp ids hex,
receipts decimal), ``DEC`` (resp decimal, receipts hex), ``AS_IS`` (exact only).
``AUTO`` (default) reads a receipt id both ways where that is possible: a numeric
receipt id also as the hex resp id of the same number once the SMSC has sent a resp id
with hex letters, and an id with hex letters also as the decimal id of its value. If
exactly one reading finds an open part it is matched; if both do, the receipt is held
(ambiguous) until the SMSC's base is learnt, then matched, else reported unmatched:
never attributed to a wrong part. The base is learnt from evidence (it then decides how
numeric receipt ids are read): a receipt id with hex letters from an SMSC whose resp ids
have them makes it as-is; ``learn_after`` numeric receipts that matched only by their
hex reading make it HEX.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import attrs

from smppgw.core.receipt import IdBase, id_forms

__all__ = ["Correlator", "Held", "Match"]

R = TypeVar("R")  # what the gateway stores per submitted part
P = TypeVar("P")  # the receipt payload the gateway wants back on a match

_AUTO, _HEX, _DEC, _AS_IS = IdBase.AUTO, IdBase.HEX, IdBase.DEC, IdBase.AS_IS
_LETTERS = frozenset("ABCDEF")
_HEXDIGITS = "0123456789ABCDEF"
Key = tuple[str, str]


def _receipt_base(base: IdBase) -> IdBase:
    """How a receipt id is written when the SMSC's setting is ``base`` (the base of its
    submit_sm_resp ids): HEX resps come with decimal receipts and DEC resps with hex."""
    return _DEC if base is _HEX else _HEX if base is _DEC else base


@attrs.frozen(slots=False)  # dict-based: its attrs __init__ is the cheaper one (per receipt)
class Match(Generic[R, P]):
    ref: R
    payload: P
    early: bool  # the receipt arrived before the submit_sm_resp (or was held)


@attrs.frozen(eq=False)  # by identity: two equal receipts are two receipts
class Held(Generic[P]):
    smsc: str
    receipt_id: str
    payload: P
    since: float
    keys: tuple[str, ...] = ()  # the readings of the id (first: the exact one)


class Correlator(Generic[R, P]):
    """Pure bookkeeping; ``now`` is injected. See the module docstring.

    ``recall(smsc, key)``: a closed ref the store still knows (None if not); ``remember(
    smsc, key, ref)``: a part was closed (the store keeps it for the horizon).
    """

    def __init__(
        self,
        *,
        hold: float = 60.0,
        max_refs: int = 1_000_000,
        max_recent: int = 10_000,
        max_held: int = 100_000,
        max_unmatched: int = 10_000,
        learn_after: int = 3,
        bases: dict[str, IdBase] | None = None,
        recall: Callable[[str, str], R | None] | None = None,
        remember: Callable[[str, str, R], None] | None = None,
    ) -> None:
        self.hold = hold
        self.max_refs = max_refs
        self.max_recent = max_recent
        self.max_held = max_held
        self.max_unmatched = max_unmatched
        self.learn_after = learn_after
        self._recall = recall
        self._remember = remember
        self._resp_bases = dict(bases or {})
        self._receipt_bases = {smsc: _receipt_base(base) for smsc, base in self._resp_bases.items()}
        self._open: dict[Key, R] = {}  # parts waiting for a receipt, oldest first
        self._recent: OrderedDict[Key, R] = OrderedDict()  # closed, newest last (bounded)
        self.evicted: list[tuple[str, R]] = []  # open refs pushed out by max_refs or an id reuse
        # AUTO: SMSCs whose resp ids showed hex letters; the base learnt per SMSC; evidence.
        self._resp_hex: set[str] = set()
        self.learned: dict[str, IdBase] = {}
        self._evidence: dict[str, int] = {}
        self.retry: list[Held[P]] = []  # held receipts to read again (``rematch``)
        # Held receipts under each reading of their id (several under one key: an ENROUTE
        # and a DELIVRD can both overtake the resp), and all of them oldest first.
        self._held: dict[Key, list[Held[P]]] = {}
        self._order: OrderedDict[Held[P], None] = OrderedDict()
        self.unmatched: OrderedDict[Key, Held[P]] = OrderedDict()
        # Held receipts pushed out by ``max_held`` (oldest first), for the caller to count.
        self.held_evicted: list[Held[P]] = []
        self.matched = 0
        self.matched_early = 0
        self.unmatched_total = 0
        self.ambiguous_total = 0

    # -- keys --------------------------------------------------------------------------------

    def _resp_key(self, smsc: str, smsc_id: str) -> str:
        base = self._resp_bases.get(smsc, _AUTO)
        exact, alias = id_forms(smsc_id, base)
        if alias is not None and base is _AUTO and smsc not in self._resp_hex:
            self._resp_hex.add(smsc)  # AUTO: this SMSC writes resp ids in hex
        return exact

    def readings(self, smsc: str, receipt_id: str) -> tuple[str, ...]:
        """The resp keys a receipt id may stand for, the exact one first."""
        return self._readings(smsc, receipt_id)

    def _readings(self, smsc: str, receipt_id: str) -> tuple[str, ...]:
        """The resp keys a receipt id may stand for, the exact one first."""
        base = self._receipt_bases.get(smsc, _AUTO)
        if base is not _AUTO:
            return (id_forms(receipt_id, base)[0],)
        exact, value = id_forms(receipt_id, _AUTO)  # value: decimal of an id with hex letters
        learned = self.learned.get(smsc)
        if value is not None:  # hex letters
            if smsc in self._resp_hex:  # hex resps, and receipts in hex: as-is
                if learned is None:
                    self.learned[smsc] = _AS_IS  # numeric receipt ids are never decimal here
                    self._retry_held(smsc)
                return (exact,)
            return (exact, value)  # decimal resps, receipts in hex (DEC) or opaque ids
        if learned is _AS_IS:
            return (exact,)
        if smsc in self._resp_hex and exact.isdigit() and len(exact) <= 128:
            as_hex = format(int(exact), "X")
            if learned is _HEX:
                return (as_hex,)
            if as_hex != exact:
                return (exact, as_hex)
        return (exact,)

    # -- the events ----------------------------------------------------------------------------

    def submitted(self, smsc: str, smsc_id: str, ref: R, now: float) -> list[Match[R, P]]:
        """Remember ``ref`` (open) under ``smsc_id``; return receipts that were waiting for it."""
        key = self._resp_key(smsc, smsc_id)
        opened = self._open
        old = opened.pop((smsc, key), None)
        if old is not None and old != ref:
            self.evicted.append((smsc, old))  # the SMSC reused an id of a part still open
        opened[smsc, key] = ref
        if len(opened) > self.max_refs:
            (old_smsc, _), oldest = next(iter(opened.items()))
            del opened[old_smsc, _]
            self.evicted.append((old_smsc, oldest))
        if not self._order:
            return []  # nothing held (the usual case: receipts follow their resp)
        waiting = self._held.get((smsc, key))
        if not waiting:
            return []
        # Receipts whose exact reading is this id win over those that only may mean it.
        exact = [h for h in waiting if h.keys[0] == key]
        matches: list[Match[R, P]] = []
        for held in exact or list(waiting):
            if not exact and any(k != key and (smsc, k) in opened for k in held.keys):
                continue  # another reading is open too: still ambiguous
            self._drop_held(held)
            self.matched += 1
            self.matched_early += 1
            matches.append(Match(ref, held.payload, True))
        return matches

    def receipt(self, smsc: str, receipt_id: str, payload: P, now: float) -> Match[R, P] | None:
        """The open ref this receipt is about, or None: then it is held for ``hold`` seconds."""
        ref = self.match(smsc, receipt_id, payload, now)
        return None if ref is None else Match(ref, payload, False)

    def match(self, smsc: str, receipt_id: str, payload: P, now: float) -> R | None:
        """``receipt`` without its ``Match``: the open ref, or None (held). For a caller
        that has the payload already (the gateway, once per receipt: a value less)."""
        keys = self._readings(smsc, receipt_id)
        opened = self._open
        ref = opened.get((smsc, keys[0]))
        if len(keys) > 1:
            other = opened.get((smsc, keys[1]))
            if ref is not None and other is not None and other is not ref:
                self.ambiguous_total += 1
                ref = None  # both readings are open parts: never guess
            elif ref is None and other is not None:
                ref = other
                if (smsc, keys[0]) not in self._recent and keys[0].isdigit():
                    self._learn_hex(smsc)
        if ref is not None:
            self.matched += 1
            return ref
        held = Held(smsc, receipt_id, payload, now, keys)
        for key in keys:
            self._held.setdefault((smsc, key), []).append(held)
        self._order[held] = None
        while len(self._order) > self.max_held:
            oldest, _ = self._order.popitem(last=False)
            self._forget_held(oldest)
            self._unmatched(oldest)
            self.held_evicted.append(oldest)
            if len(self.held_evicted) > self.max_held:  # nobody drains it: stay bounded
                del self.held_evicted[: len(self.held_evicted) - self.max_held]
        return None

    def close(self, smsc: str, smsc_id: str, ref: R) -> None:
        """``ref`` is final: no receipt is matched to it at once any more (module docstring)."""
        self.close_key(smsc, self._resp_key(smsc, smsc_id), ref)

    def forget_key(self, smsc: str, resp_key: str, ref: R) -> None:
        """``ref`` leaves the open map without being closed here: its receipt, if one
        comes, is looked up in the store (``recall_now``; several gateways share it)."""
        if self._open.get((smsc, resp_key)) == ref:
            del self._open[(smsc, resp_key)]

    def close_key(self, smsc: str, resp_key: str, ref: R) -> None:
        """``close`` by the key ``open_refs`` gave (a part resent under a new id leaves
        its old key open until then)."""
        key = (smsc, resp_key)
        if self._open.get(key) != ref:
            return  # not open (already closed, or its id went to a newer part)
        del self._open[key]
        recent = self._recent
        recent[key] = ref
        recent.move_to_end(key)
        if len(recent) > self.max_recent:
            recent.popitem(last=False)
        if self._remember is not None:
            self._remember(smsc, key[1], ref)

    # -- AUTO ------------------------------------------------------------------------------------

    def _learn_hex(self, smsc: str) -> None:
        if smsc in self.learned:
            return
        seen = self._evidence[smsc] = self._evidence.get(smsc, 0) + 1
        if seen >= self.learn_after:
            self.learned[smsc] = _HEX
            self._retry_held(smsc)

    def _retry_held(self, smsc: str) -> None:
        """The base of ``smsc`` was learnt: its held receipts are read again (matched later
        by ``expire`` or a resp when they still find nothing)."""
        self.retry.extend(h for h in self._order if h.smsc == smsc)

    def rematch(self) -> list[Match[R, P]]:
        """Held receipts read again after their SMSC's base was learnt: those now matched."""
        out: list[Match[R, P]] = []
        retry, self.retry = self.retry, []
        for held in retry:
            if held not in self._order:
                continue
            keys = self._readings(held.smsc, held.receipt_id)
            ref = self._open.get((held.smsc, keys[0])) if len(keys) == 1 else None
            if ref is not None:
                self._drop_held(held)
                self.matched += 1
                self.matched_early += 1
                out.append(Match(ref, held.payload, True))
        return out

    # -- held receipts -----------------------------------------------------------------------------

    def _drop_held(self, held: Held[P]) -> None:
        del self._order[held]
        self._forget_held(held)

    def _forget_held(self, held: Held[P]) -> None:
        for key in held.keys:
            waiting = self._held.get((held.smsc, key))
            if waiting is not None and held in waiting:
                waiting.remove(held)
                if not waiting:
                    del self._held[held.smsc, key]

    def _unmatched(self, held: Held[P]) -> None:
        self.unmatched_total += 1
        self.unmatched.pop((held.smsc, held.receipt_id), None)  # newest last
        self.unmatched[held.smsc, held.receipt_id] = held
        while len(self.unmatched) > self.max_unmatched:
            self.unmatched.popitem(last=False)

    def _closed(self, smsc: str, key: str) -> R | None:
        ref = self._recent.get((smsc, key))
        if ref is None and self._recall is not None:
            ref = self._recall(smsc, key)
        return ref

    # -- time ------------------------------------------------------------------------------------

    def expire(self, now: float, late: list[Match[R, P]] | None = None) -> list[Held[P]]:
        """Held receipts older than ``hold``: matched to a closed part if exactly one
        reading finds one (appended to ``late``), else counted as unmatched (returned)."""
        out: list[Held[P]] = []
        order = self._order
        while order:
            first = next(iter(order))
            if now - first.since < self.hold:
                break
            self._drop_held(first)
            keys = self._readings(first.smsc, first.receipt_id)
            found = [r for r in (self._closed(first.smsc, k) for k in keys) if r is not None]
            if late is not None and len(found) == 1:
                self.matched += 1
                late.append(Match(found[0], first.payload, True))
                continue
            self._unmatched(first)
            out.append(first)
        return out

    def next_deadline(self) -> float | None:
        if not self._order:
            return None
        return next(iter(self._order)).since + self.hold

    @property
    def held(self) -> int:
        return len(self._order)

    @property
    def open(self) -> int:
        """Parts waiting for a receipt."""
        return len(self._open)

    def resp_key(self, smsc: str, smsc_id: str) -> str:
        """The key a submit_sm_resp id is remembered under (``remember``'s)."""
        return self._resp_key(smsc, smsc_id)

    def holds(self, smsc: str, receipt_id: str) -> bool:
        """Whether a reading of ``receipt_id`` names a part open here."""
        return any((smsc, key) in self._open for key in self._readings(smsc, receipt_id))

    def recall_now(self, smsc: str, receipt_id: str) -> R | None:
        """The part ``receipt_id`` names, closed here or remembered by the store (another
        gateway's, issue 19): found by exactly one reading, else None."""
        found = [
            r for r in (self._closed(smsc, k) for k in self._readings(smsc, receipt_id)) if r is not None
        ]
        return found[0] if len(found) == 1 else None

    def is_open(self, smsc: str, smsc_id: str, ref: R) -> bool:
        """Whether ``ref`` waits for a receipt under ``smsc_id``."""
        return self._open.get((smsc, self._resp_key(smsc, smsc_id))) == ref

    def open_refs(self) -> Iterator[tuple[Key, R]]:
        """The open parts, oldest first (the receipt deadline walks them; do not ``close``
        while iterating)."""
        return iter(self._open.items())

    def lookup(self, smsc: str, smsc_id: str) -> R | None:
        """The ref remembered under the submit_sm_resp id ``smsc_id`` (open, else closed)."""
        key = self._resp_key(smsc, smsc_id)
        ref = self._open.get((smsc, key))
        return ref if ref is not None else self._closed(smsc, key)
