"""Delivery-receipt correlation: which part of which message a receipt is about.

Theory of operation
-------------------
When a submit_sm_resp arrives the gateway calls ``submitted(smsc, smsc_id, ref, now)``;
when a receipt arrives it calls ``receipt(smsc, receipt_id, now)``. Ids are compared in
the forms ``smppgw.core.receipt.id_forms`` gives (trimmed, upper-cased, leading zeros
dropped, converted by base), *per SMSC*, because two carriers may reuse the same ids.

Carriers that write the receipt id in another base than the submit_sm_resp id (Kannel's
msg-id-type, SMPP-REFERENCE §6.3 item 1) are configured per SMSC with ``IdBase``:
``HEX`` (resp ids are hex, receipts decimal: the resp id is indexed by its decimal
value), ``DEC`` (resp decimal, receipts hex: receipt ids are converted to decimal before
lookup), ``AS_IS`` (exact only). ``AUTO`` (default) indexes the exact form and, for ids
that are unmistakably hex (they contain A-F), the decimal value as an *alias*; a receipt
id that is unmistakably hex is also looked up by its decimal value. Purely numeric ids
are never reinterpreted in AUTO, because "10" read as hex is 16 and sequential decimal
ids would then cross-match.

Exact forms and aliases live in two indexes, and an exact match always wins: with
sequential hex ids the alias of "A" is "10", which is also the exact id of the
sixteenth message; one shared index let whichever resp came last take "10". A lookup
tries the exact index with the exact form, then the alias index with the exact form,
then the exact index with the receipt's alias; receipts held for a resp are matched in
the same order, the first kind that has any winning.

A receipt may overtake its submit_sm_resp (§6.3 item 2). It is held for ``hold``
seconds and matched by ``submitted`` when the resp arrives; a receipt still unmatched
after ``hold`` is returned by ``expire`` and kept in ``unmatched`` (bounded) for
diagnosis, never dropped silently. Mappings are remembered (bounded, oldest first) after
a final receipt so duplicates and late receipts still resolve.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

import attrs

from smppgw.core.receipt import IdBase, id_forms

__all__ = ["Correlator", "Held", "Match"]

R = TypeVar("R")  # what the gateway stores per submitted part
P = TypeVar("P")  # the receipt payload the gateway wants back on a match

_AUTO, _HEX, _DEC = IdBase.AUTO, IdBase.HEX, IdBase.DEC


def _receipt_base(base: IdBase) -> IdBase:
    """How a receipt id is written when the SMSC's setting is ``base`` (the base of its
    submit_sm_resp ids): HEX resps come with decimal receipts and DEC resps with hex."""
    return _DEC if base is _HEX else _HEX if base is _DEC else base


@attrs.frozen(slots=False)  # dict-based: its attrs __init__ is the cheaper one (per receipt)
class Match(Generic[R, P]):
    ref: R
    payload: P
    early: bool  # the receipt arrived before the submit_sm_resp


@attrs.frozen(eq=False)  # by identity: two equal receipts are two receipts
class Held(Generic[P]):
    smsc: str
    receipt_id: str
    payload: P
    since: float


class Correlator(Generic[R, P]):
    """Pure bookkeeping; ``now`` is injected. See the module docstring."""

    def __init__(
        self,
        *,
        hold: float = 60.0,
        max_refs: int = 1_000_000,
        max_held: int = 100_000,
        max_unmatched: int = 10_000,
        bases: dict[str, IdBase] | None = None,
    ) -> None:
        self.hold = hold
        self.max_refs = max_refs
        self.max_held = max_held
        self.max_unmatched = max_unmatched
        # The id base per SMSC (AUTO if absent) of its submit_sm_resp ids and of its
        # receipt ids (see the module docstring); fixed at construction.
        self._resp_bases = dict(bases or {})
        self._receipt_bases = {smsc: _receipt_base(base) for smsc, base in self._resp_bases.items()}
        self._refs: OrderedDict[tuple[str, str], R] = OrderedDict()  # by exact form
        self._aliases: OrderedDict[tuple[str, str], R] = OrderedDict()  # by other base
        # Held receipts by exact form and by alias (several under one key: an ENROUTE and
        # a DELIVRD can both overtake the resp), and all of them oldest first.
        self._held: dict[tuple[str, str], list[Held[P]]] = {}
        self._held_aliases: dict[tuple[str, str], list[Held[P]]] = {}
        self._order: OrderedDict[Held[P], None] = OrderedDict()
        self.unmatched: OrderedDict[tuple[str, str], Held[P]] = OrderedDict()
        self.matched = 0
        self.matched_early = 0
        self.unmatched_total = 0

    # -- lookup ----------------------------------------------------------------------------

    def _find(self, smsc: str, exact: str, alias: str | None) -> R | None:
        """Exact index by exact form, alias index by exact form, exact index by alias."""
        ref = self._refs.get((smsc, exact))
        if ref is None:
            ref = self._aliases.get((smsc, exact))
            if ref is None and alias is not None:
                ref = self._refs.get((smsc, alias))
        return ref

    # -- the two events ------------------------------------------------------------------------

    def submitted(self, smsc: str, smsc_id: str, ref: R, now: float) -> list[Match[R, P]]:
        """Remember ``ref`` under ``smsc_id``; return receipts that were waiting for it."""
        exact, alias = id_forms(smsc_id, self._resp_bases.get(smsc, _AUTO))
        refs, aliases = self._refs, self._aliases
        refs[smsc, exact] = ref
        if alias is not None:
            aliases[smsc, alias] = ref
            while len(aliases) > self.max_refs:
                aliases.popitem(last=False)
        while len(refs) > self.max_refs:
            refs.popitem(last=False)
        if not self._order:
            return []  # nothing held (the usual case: receipts follow their resp)
        # Held receipts in the order of _find: the first kind that has any wins.
        waiting = self._held.get((smsc, exact)) or self._held_aliases.get((smsc, exact))
        if not waiting and alias is not None:
            waiting = self._held.get((smsc, alias))
        matches: list[Match[R, P]] = []
        for held in list(waiting or ()):
            del self._order[held]
            self._forget_held(held)
            self.matched += 1
            self.matched_early += 1
            matches.append(Match(ref, held.payload, True))
        return matches

    def receipt(self, smsc: str, receipt_id: str, payload: P, now: float) -> Match[R, P] | None:
        """The ref this receipt is about, or None: then it is held for ``hold`` seconds."""
        exact, alias = id_forms(receipt_id, self._receipt_bases.get(smsc, _AUTO))
        ref = self._find(smsc, exact, alias)
        if ref is not None:
            self.matched += 1
            return Match(ref, payload, False)
        held = Held(smsc, receipt_id, payload, now)
        self._held.setdefault((smsc, exact), []).append(held)
        if alias is not None:
            self._held_aliases.setdefault((smsc, alias), []).append(held)
        self._order[held] = None
        while len(self._order) > self.max_held:
            oldest, _ = self._order.popitem(last=False)
            self._forget_held(oldest)
            self._unmatched(oldest)
        return None

    def _forget_held(self, held: Held[P]) -> None:
        exact, alias = id_forms(held.receipt_id, self._receipt_bases.get(held.smsc, _AUTO))
        for index, key in ((self._held, exact), (self._held_aliases, alias)):
            if key is None:
                continue
            waiting = index.get((held.smsc, key))
            if waiting is not None and held in waiting:
                waiting.remove(held)
                if not waiting:
                    del index[held.smsc, key]

    def _unmatched(self, held: Held[P]) -> None:
        self.unmatched_total += 1
        self.unmatched.pop((held.smsc, held.receipt_id), None)  # newest last
        self.unmatched[held.smsc, held.receipt_id] = held
        while len(self.unmatched) > self.max_unmatched:
            self.unmatched.popitem(last=False)

    # -- time ------------------------------------------------------------------------------------

    def expire(self, now: float) -> list[Held[P]]:
        """Held receipts older than ``hold``: now counted as unmatched."""
        out: list[Held[P]] = []
        order = self._order
        while order:
            first = next(iter(order))
            if now - first.since < self.hold:
                break
            del order[first]
            self._forget_held(first)
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

    def lookup(self, smsc: str, smsc_id: str) -> R | None:
        """The ref remembered under the submit_sm_resp id ``smsc_id`` (same order as a receipt)."""
        exact, alias = id_forms(smsc_id, self._resp_bases.get(smsc, _AUTO))
        return self._find(smsc, exact, alias)
