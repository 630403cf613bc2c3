"""Routing: longest prefix, sender kind and tags; tiers for failover, weights inside one."""

from __future__ import annotations

import collections
import random

import pytest

from smppgw.policy.addressing import AddressKind
from smppgw.policy.routing import Route, Router, RouteTarget

E164, SHORT, ALPHA = AddressKind.E164, AddressKind.SHORT_CODE, AddressKind.ALPHANUMERIC


def route(name: str, *tiers: tuple[str, ...] | str, **kwargs: object) -> Route:
    def target(spec: str) -> RouteTarget:
        smsc, _, weight = spec.partition(":")
        return RouteTarget(smsc=smsc, weight=float(weight or 1))

    built = tuple(tuple(target(s) for s in ((t,) if isinstance(t, str) else t)) for t in tiers)
    return Route(name=name, tiers=built, **kwargs)  # type: ignore[arg-type]


ROUTER = Router(
    (
        route("catch-all", "a"),
        route("uk", "b", prefixes=("44",)),
        route("uk-mobile", "c", prefixes=("447", "4479")),
        route("uk-mobile-again", "d", prefixes=("447",)),
        route("us-short", "e", prefixes=("1",), sender_kinds=frozenset({SHORT})),
        route("promo", "f", prefixes=("1",), tags=frozenset({"marketing", "promo"})),
    )
)


@pytest.mark.parametrize(
    ("destination", "kind", "tags", "expected"),
    [
        ("447700900001", E164, (), "uk-mobile"),  # longest prefix, then config order
        ("447900900001", E164, (), "uk-mobile"),  # "4479" is longer still, same route
        ("441632960001", E164, (), "uk"),
        ("33612345678", E164, (), "catch-all"),
        ("14155550100", SHORT, (), "us-short"),
        ("14155550100", E164, (), "catch-all"),  # the short-code route does not take a long code
        ("14155550100", E164, ("promo",), "promo"),
        ("14155550100", SHORT, ("marketing",), "us-short"),  # same length: first in config
        ("14155550100", ALPHA, ("other",), "catch-all"),
    ],
)
def test_route_matching(destination: str, kind: AddressKind, tags: tuple[str, ...], expected: str) -> None:
    found = ROUTER.route(destination, kind, tags)
    assert found is not None and found.name == expected


def test_no_route() -> None:
    router = Router((route("uk", "a", prefixes=("44",)), route("sc", "a", sender_kinds=frozenset({SHORT}))))
    assert router.route("14155550100", E164) is None
    assert router.route("14155550100", SHORT) is not None
    assert Router(()).route("44", E164) is None


def test_prefix_match_lengths() -> None:
    r = route("r", "a", prefixes=("4", "447", "44"))
    assert r.prefix_match("447700") == 3
    assert r.prefix_match("33") is None
    assert route("any", "a").prefix_match("33") == 0
    assert r.smscs == ("a",)


def test_pick_first_tier_that_is_up() -> None:
    r = route("r", ("a", "b"), "c", "d")
    rng = random.Random(1)
    assert Router.pick(r, lambda s: True, rng) in {"a", "b"}
    assert Router.pick(r, lambda s: s != "a", rng) == "b"
    assert Router.pick(r, lambda s: s in {"c", "d"}, rng) == "c"
    assert Router.pick(r, lambda s: s == "d", rng) == "d"
    assert Router.pick(r, lambda s: False, rng) is None
    assert r.smscs == ("a", "b", "c", "d")


def test_weights_inside_a_tier() -> None:
    r = route("r", ("a:3", "b:1"), "c")
    rng = random.Random(42)
    counts = collections.Counter(Router.pick(r, lambda s: True, rng) for _ in range(4000))
    assert set(counts) == {"a", "b"}
    assert 2850 <= counts["a"] <= 3150  # 3000 +- 5.5 standard deviations
    again = collections.Counter(Router.pick(r, lambda s: True, random.Random(42)) for _ in range(10))
    assert again == collections.Counter(Router.pick(r, lambda s: True, random.Random(42)) for _ in range(10))
    assert Router.pick(r, lambda s: s == "b", rng) == "b"  # weights only share live SMSCs


def test_bad_targets() -> None:
    with pytest.raises(ValueError):
        RouteTarget(smsc="a", weight=0)
    with pytest.raises(ValueError):
        Route(name="r", tiers=())
