"""Quiet hours: a sending window in the recipient's local time (pure, ``now`` injected).

A rule (``[[twoway.quiet_hours]]``) holds messages carrying one of its ``tags``
("marketing" by default) that would reach the recipient outside ``window`` (e.g.
08:00-21:00, as the US TCPA's 8 am - 9 pm) on its ``days``; such a message is
``scheduled`` for the next opening instead of being sent. A message with one of the
rule's ``exempt_tags`` is never held. A rule applies to the routes (``routes``) or the
senders of the programmes (``programmes``) it names, or to every message if it names
neither.

The recipient's time zone comes from its number (libphonenumber's time zone data, read
at the edge: ``support.phone.time_zones``), or from the rule's ``timezone``, which wins
when set. A number whose zones are unknown uses the rule's ``default_timezone`` (UTC
unless set). A number spanning several zones (a country-level answer, such as
Australia's mobiles) must be inside the window in all of them: the opening is the
first time that holds, so nobody is woken up.

A window whose end is before its start wraps midnight (22:00-06:00). ``next_opening``
answers None when the message may go now.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from smppgw.support.config import ConfigError, each, string, table, unknown_keys

__all__ = ["DAYS", "QuietHours", "QuietRules", "parse_window", "quiet_from_list", "zone"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_STEPS = 64  # zones x days: far more than any real number needs to agree


def parse_window(text: str) -> tuple[time, time]:
    """``"08:00-21:00"`` -> (08:00, 21:00). Raises ValueError saying what is wrong."""
    m = _WINDOW.match(text)
    if m is None:
        raise ValueError(f"expected HH:MM-HH:MM (e.g. 08:00-21:00), got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"not a time of day in {text!r}")
    start, end = time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2)
    if start == end and h2 != 24:
        raise ValueError(f"an empty window {text!r}: start and end are the same")
    return start, end


def zone(name: str) -> ZoneInfo:
    """Raises ValueError for a name the time zone database doesn't have."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@attrs.frozen(kw_only=True)
class QuietHours:
    start: time
    end: time  # 00:00 with start 00:00: the whole day
    days: frozenset[int] = frozenset(range(7))  # weekday(): Monday 0
    tags: frozenset[str] = frozenset({"marketing"})
    exempt_tags: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()  # empty with no programmes: every message
    programmes: frozenset[str] = frozenset()  # names ([twoway.programmes])
    senders: frozenset[str] = frozenset()  # the programmes' senders (QuietRules.resolve)
    timezone: ZoneInfo | None = None
    default_timezone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("UTC"))

    def applies(self, tags: Collection[str], route: str | None, source: str) -> bool:
        if not any(t in self.tags for t in tags) or any(t in self.exempt_tags for t in tags):
            return False
        if not self.routes and not self.programmes:
            return True
        return (route is not None and route in self.routes) or source in self.senders

    def is_open(self, local: datetime) -> bool:
        """Whether ``local`` (an aware time in the recipient's zone) is inside the window."""
        t = local.time()
        whole_day = self.start == self.end
        if whole_day or self.start < self.end or self.end == time(0, 0):
            day_ok = local.weekday() in self.days
            inside = whole_day or (self.start <= t and (self.end == time(0, 0) or t < self.end))
            return day_ok and inside
        # Wraps midnight: the part after midnight belongs to the day the window opened.
        if t >= self.start:
            return local.weekday() in self.days
        if t < self.end:
            return (local - timedelta(days=1)).weekday() in self.days
        return False

    def opening(self, local: datetime) -> datetime:
        """The first time at or after ``local`` that is inside the window (same zone)."""
        if self.is_open(local):
            return local
        day = local.date()
        for offset in range(8):
            candidate = datetime.combine(day + timedelta(days=offset), self.start, tzinfo=local.tzinfo)
            # A start that falls into a DST gap is read as the wall time after it.
            candidate = candidate.astimezone(local.tzinfo)
            if candidate >= local and self.is_open(candidate):
                return candidate
        raise ValueError("quiet hours: the window is never open (no days)")

    def zones(self, number_zones: Sequence[str]) -> list[ZoneInfo]:
        if self.timezone is not None:
            return [self.timezone]
        found = []
        for name in number_zones:
            try:
                found.append(ZoneInfo(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue  # "Etc/Unknown" and names this machine's database lacks
        return found or [self.default_timezone]

    def next_opening(self, now: datetime, number_zones: Sequence[str]) -> datetime | None:
        """None if a message may go at ``now`` (aware, any zone); else when it may, in UTC:
        the first time inside the window in every zone of the number."""
        zones = self.zones(number_zones)
        t = now
        for _ in range(_MAX_STEPS):
            later = max(self.opening(t.astimezone(z)) for z in zones)
            if later == t:
                return None if t == now else t.astimezone(ZoneInfo("UTC"))
            t = later
        # No time is inside the window in all of its zones at once: the first zone decides.
        return self.opening(now.astimezone(zones[0])).astimezone(ZoneInfo("UTC"))


@attrs.frozen
class QuietRules:
    rules: tuple[QuietHours, ...] = ()

    def resolve(self, programmes: Mapping[str, Collection[str]]) -> QuietRules:
        """The rules with their programmes' senders filled in. Raises KeyError naming
        a programme that isn't defined."""
        out = []
        for rule in self.rules:
            senders = {s for name in rule.programmes for s in programmes[name]}
            out.append(attrs.evolve(rule, senders=frozenset(senders)))
        return QuietRules(tuple(out))

    def check_routes(self, names: Collection[str], where: str = "twoway.quiet_hours") -> None:
        """Every rule's ``routes`` names a ``[[route]]``: a misspelt one would silently hold
        nothing. Raises ConfigError naming the key."""
        for i, rule in enumerate(self.rules):
            for name in sorted(rule.routes - set(names)):
                known = ", ".join(sorted(names))
                raise ConfigError(f"{where}[{i}].routes: no [[route]] named {name!r} (routes: {known})")

    def hold_until(
        self,
        now: datetime,
        *,
        tags: Collection[str],
        route: str | None,
        source: str,
        number_zones: Sequence[str],
    ) -> datetime | None:
        """When a message must wait for (UTC), or None: the first time every rule that
        applies allows it."""
        rules = [rule for rule in self.rules if rule.applies(tags, route, source)]
        t = now
        for _ in range(_MAX_STEPS):
            openings = [at for rule in rules if (at := rule.next_opening(t, number_zones)) is not None]
            if not openings:
                return None if t == now else t
            t = max(openings)
        return t  # rules that never agree: the last opening found (bounded)


_RULE_KEYS = {"window", "days", "tags", "exempt_tags", "routes", "programmes", "timezone", "default_timezone"}


def quiet_from_list(data: Any, where: str = "twoway.quiet_hours") -> QuietRules:
    """``[[twoway.quiet_hours]]``: one table per rule. Raises ConfigError naming the key."""
    rules = []
    for i, item in enumerate(each(data, where, table)):
        at = f"{where}[{i}]"
        unknown_keys(item, _RULE_KEYS, at)
        if "window" not in item:
            raise ConfigError(f'{at}.window: required (e.g. "08:00-21:00")')
        fields: dict[str, Any] = {}
        try:
            fields["start"], fields["end"] = parse_window(string(item["window"], f"{at}.window"))
        except ValueError as exc:
            raise ConfigError(f"{at}.window: {exc}") from exc
        if "days" in item:
            names = each(item["days"], f"{at}.days", string)
            bad = [d for d in names if d.lower()[:3] not in DAYS]
            if bad or not names:
                raise ConfigError(f"{at}.days: expected some of {', '.join(DAYS)}, got {item['days']!r}")
            fields["days"] = frozenset(DAYS.index(d.lower()[:3]) for d in names)
        for key in ("tags", "exempt_tags", "routes", "programmes"):
            if key in item:
                fields[key] = frozenset(each(item[key], f"{at}.{key}", string))
        if "tags" in fields and not fields["tags"]:
            raise ConfigError(f"{at}.tags: at least one tag (the messages this rule holds)")
        for key in ("timezone", "default_timezone"):
            if key in item:
                try:
                    fields[key] = zone(string(item[key], f"{at}.{key}"))
                except ValueError as exc:
                    raise ConfigError(f"{at}.{key}: {exc}") from exc
        rules.append(QuietHours(**fields))
    return QuietRules(tuple(rules))
