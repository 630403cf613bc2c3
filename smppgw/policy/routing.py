"""Routing: which SMSC carries a message, with ordered failover and weighted sharing.

A route matches on destination prefix, sender kind (short code, long code = E.164,
alphanumeric) and tags. Among matching routes the longest matching prefix wins, then
the order of the config. A route lists SMSCs in *tiers*: the first tier with an SMSC
that is up takes the message, shared by weight inside the tier; lower tiers are for
failover when the tier above is down or rejecting.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import attrs

from smppgw.policy.addressing import AddressKind

__all__ = ["Route", "RouteTarget", "Router"]


@attrs.frozen(kw_only=True)
class RouteTarget:
    smsc: str
    weight: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))


@attrs.frozen(kw_only=True)
class Route:
    name: str
    tiers: tuple[tuple[RouteTarget, ...], ...] = attrs.field(validator=attrs.validators.min_len(1))
    prefixes: tuple[str, ...] = ()  # digits without '+'; empty: any destination
    sender_kinds: frozenset[AddressKind] = frozenset()  # empty: any sender
    tags: frozenset[str] = frozenset()  # empty: any; else the message must carry one of them

    def prefix_match(self, destination: str) -> int | None:
        """Length of the longest matching prefix (0 for a catch-all), None if no match."""
        if not self.prefixes:
            return 0
        best = None
        for prefix in self.prefixes:
            if destination.startswith(prefix) and (best is None or len(prefix) > best):
                best = len(prefix)
        return best

    def matches(self, destination: str, sender_kind: AddressKind, tags: Iterable[str]) -> int | None:
        if self.sender_kinds and sender_kind not in self.sender_kinds:
            return None
        if self.tags and self.tags.isdisjoint(tags):
            return None
        return self.prefix_match(destination) if self.prefixes else 0

    @property
    def smscs(self) -> tuple[str, ...]:
        return tuple(t.smsc for tier in self.tiers for t in tier)


@attrs.frozen
class Router:
    routes: tuple[Route, ...]

    def route(self, destination: str, sender_kind: AddressKind, tags: Iterable[str] = ()) -> Route | None:
        """The most specific matching route (longest prefix, then config order)."""
        tags = tuple(tags)
        best, best_length = None, -1
        for route in self.routes:
            length = route.matches(destination, sender_kind, tags)
            if length is not None and length > best_length:  # the first of the longest wins
                best, best_length = route, length
        return best

    @staticmethod
    def pick(route: Route, up: Callable[[str], object], rng: random.Random) -> str | None:
        """An SMSC of the first tier that has one up, by weight; None if all are down.
        ``up(name)`` is true (in the ``if`` sense) for an SMSC that is up."""
        for tier in route.tiers:
            if len(tier) == 1:  # the usual tier: one SMSC, no list to build
                if up(tier[0].smsc):
                    return tier[0].smsc
                continue
            live = [t for t in tier if up(t.smsc)]
            if not live:
                continue
            if len(live) == 1:
                return live[0].smsc
            return rng.choices([t.smsc for t in live], [t.weight for t in live])[0]
        return None
