"""Sender pools: ``[[twoway.pool]]``, a named set of long numbers a message may be sent
from, and the pure choice of one for a recipient (``pick_sender``).

A pool makes conversation linking exact: replies are linked by (sender, number), so
a sender with at most one open conversation per recipient knows what each reply
answers. The choice, for one message to one recipient:

1. A message that opens a conversation takes a sender of the pool with no open
   conversation with that recipient; among those, the one with the most room under
   its TPS (the least recent use for its rate), ties in turn (round robin).
2. If every sender already has one open with that recipient, the one whose open
   conversation is the oldest: linking then falls back to ``latest`` for that pair.
3. A message that opens none sticks to the sender of the recipient's most recent open
   conversation (the recipient sees one thread); without one, as in 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from smppgw.support.config import ConfigError, array, string, table, unknown_keys

__all__ = ["Pool", "check_route_pools", "pick_sender", "pools_from_dict"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MAX_NUMBERS = 1000


@attrs.frozen(kw_only=True)
class Pool:
    name: str
    numbers: tuple[str, ...]  # E.164 digits, no "+"


def pools_from_dict(data: Any) -> tuple[Pool, ...]:
    """``[[twoway.pool]]``: ``name`` and ``numbers`` (E.164 long numbers, "+" optional).
    Raises ConfigError naming the key."""
    if data is None:
        return ()
    pools: list[Pool] = []
    owner: dict[str, str] = {}
    for i, item in enumerate(array(data, "twoway.pool")):
        where = f"twoway.pool[{i}]"
        t = table(item, where)
        unknown_keys(t, {"name", "numbers"}, where)
        name = string(t.get("name"), f"{where}.name")
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}.name: 1-32 of A-Z a-z 0-9 _ . -, got {name!r}")
        if any(p.name == name for p in pools):
            raise ConfigError(f"{where}.name: a second pool named {name!r}")
        raw = array(t.get("numbers"), f"{where}.numbers")
        if not raw or len(raw) > MAX_NUMBERS:
            raise ConfigError(f"{where}.numbers: 1 to {MAX_NUMBERS} long numbers")
        numbers: list[str] = []
        for j, n in enumerate(raw):
            at = f"{where}.numbers[{j}]"
            digits = string(n, at).removeprefix("+")
            if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15):
                raise ConfigError(f"{at}: an E.164 long number (8-15 digits), got {n!r}")
            if digits in owner:
                raise ConfigError(f"{at}: {n} is already in pool {owner[digits]!r}")
            owner[digits] = name
            numbers.append(digits)
        pools.append(Pool(name=name, numbers=tuple(numbers)))
    return tuple(pools)


def pick_sender(
    numbers: Sequence[str],
    *,
    open_since: Mapping[str, float],
    opens: bool,
    load: Mapping[str, float],
    turn: int = 0,
) -> str:
    """The sender for one message to one recipient (see the module docstring).

    ``open_since``: sender -> when its most recent open conversation with this recipient
    was opened (senders with none are absent); ``opens``: the message opens a
    conversation; ``load``: sender -> its recent use as a fraction of its TPS (absent:
    0); ``turn``: a counter that breaks ties in turn."""
    if not opens and open_since:
        return max(open_since, key=lambda s: open_since[s])
    free = [s for s in numbers if s not in open_since]
    if not free:
        return min(numbers, key=lambda s: open_since[s])
    n = len(free)
    rotated = [free[(turn + i) % n] for i in range(n)]
    return min(rotated, key=lambda s: load.get(s, 0.0))


def check_route_pools(routes: Any, pools: Sequence[Pool]) -> None:
    """Every ``[[route]] pool`` names a ``[[twoway.pool]]``. Raises ConfigError naming it."""
    names = {p.name for p in pools}
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if isinstance(route, dict) and "pool" in route and route["pool"] not in names:
            known = ", ".join(sorted(names)) or "none is configured"
            raise ConfigError(f"route[{i}].pool: no [[twoway.pool]] named {route['pool']!r} ({known})")
