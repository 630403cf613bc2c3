"""Times in flows (``twoway.flows``): offsets ("2d", "-1h30m"), ``When`` ("2 days
before {slot}", "+1h"), and slots (ISO 8601 date-times with a zone): their list in a
var, how they are shown, and which one a reply names ("2", "Tue 10:30", "15 Dec",
"2026-12-15T10:30+01:00"). Pure: ``now`` is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from smppgw.twoway.answers import normalise
from smppgw.twoway.flow_model import When

__all__ = [
    "MAX_OFFSET",
    "parse_offset",
    "parse_slot",
    "parse_when",
    "resolve_when",
    "slot_label",
    "slot_list",
    "slots_named",
]

MAX_OFFSET: Final = 366 * 86400.0
_UNITS: Final = {
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0, "hr": 3600.0, "hrs": 3600.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}  # fmt: skip
_PART: Final = re.compile(r"(\d{1,6}(?:\.\d{1,6})?)\s*([a-z]+)")
_OFFSET: Final = re.compile(r"(?:\d{1,6}(?:\.\d{1,6})?\s*[a-z]+\s*){1,4}")
_VAR: Final = r"\{?([a-z_][a-z0-9_]{0,31})\}?"
_RELATIVE: Final = re.compile(rf"(.+?)\s+(before|after)\s+{_VAR}")
_AT_VAR: Final = re.compile(r"(?:at\s+)?\{([a-z_][a-z0-9_]{0,31})\}")
_SIGNED: Final = re.compile(r"([+-]|in\s+)?\s*(.+)")


def parse_offset(value: object) -> float:
    """Seconds of ``"2d"``, ``"-1h30m"``, ``"+90m"``, ``"2 days"``, or a number.
    Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("an offset such as -2d, +1h or 90m, or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-").strip()
        parts = _PART.findall(body) if _OFFSET.fullmatch(body) else []
        if not parts or any(unit not in _UNITS for _, unit in parts):
            raise ValueError(f"an offset such as -2d, +1h, 1h30m or 2 days, got {value!r}")
        seconds = sign * sum(float(n) * _UNITS[unit] for n, unit in parts)
    else:
        raise ValueError("an offset such as -2d, +1h or 90m, or a number of seconds")
    if abs(seconds) > MAX_OFFSET:
        raise ValueError(f"at most {MAX_OFFSET / 86400:g} days either way, got {value!r}")
    return seconds


def parse_when(value: object) -> When:
    """A ``When`` from ``"2 days before {slot}"``, ``"1h after {slot}"``, ``"at {slot}"``,
    ``"+1h"`` / ``"in 1h"`` (from now) or ``{"var": "slot", "offset": "-2d"}``.
    Raises ValueError."""
    if isinstance(value, Mapping):
        extra = set(value) - {"var", "offset"}
        if extra:
            raise ValueError(f"unknown key {sorted(extra)[0]!r} (known: offset, var)")
        var = value.get("var")
        if var is not None and (not isinstance(var, str) or not re.fullmatch(_VAR, var)):
            raise ValueError(f"var: a var name, got {var!r}")
        offset = parse_offset(value.get("offset", 0))
        if var is None and offset <= 0:
            raise ValueError("a time from now must be in the future (offset > 0)")
        return When(var=var.strip("{}") if var else None, offset=offset)
    if not isinstance(value, str):
        raise ValueError(f'"2 days before {{slot}}", "+1h" or {{var, offset}}, got {value!r}')
    text = " ".join(value.lower().split())
    if m := _RELATIVE.fullmatch(text):
        size = parse_offset(m.group(1))
        return When(var=m.group(3), offset=-size if m.group(2) == "before" else size)
    if m := _AT_VAR.fullmatch(text):
        return When(var=m.group(1), offset=0.0)
    m = _SIGNED.fullmatch(text)
    if m is None or (m.group(1) or "").strip() == "-":
        raise ValueError(f'"2 days before {{slot}}", "at {{slot}}" or "+1h", got {value!r}')
    offset = parse_offset(m.group(2))
    if offset <= 0:
        raise ValueError(f"a time from now must be in the future, got {value!r}")
    return When(var=None, offset=offset)


def resolve_when(when: When, vars: Mapping[str, str], now: float) -> float | None:
    """The POSIX time of ``when``, or None: its var is unset or not a date-time."""
    if when.var is None:
        return now + when.offset
    slot = parse_slot(vars.get(when.var, ""))
    return None if slot is None else slot.timestamp() + when.offset


# -- slots -------------------------------------------------------------------------------------


def parse_slot(text: str) -> datetime | None:
    """An ISO 8601 date-time with its zone (``2026-12-15T10:30:00+01:00``, ``...Z``), or
    None (not one, or no zone: a slot is an instant)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def slot_list(value: Any) -> list[str]:
    """The slots a var holds: a list, or a text of ISO date-times separated by commas,
    spaces or semicolons (a var is text; ``start`` joins a list with commas). Items
    that are not date-times with a zone are left out."""
    items: Iterable[Any] = value if isinstance(value, list | tuple) else re.split(r"[\s,;]+", str(value))
    return [s.strip() for s in items if isinstance(s, str) and parse_slot(s) is not None]


_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def slot_label(slot: str) -> str:
    """``2026-12-15T10:30+01:00`` as ``Tue 15 Dec 10:30``: in the slot's own zone."""
    when = parse_slot(slot)
    if when is None:
        return slot
    day, month = _DAYS[when.weekday()].title(), _MONTHS[when.month - 1].title()
    return f"{day} {when.day} {month} {when.hour:02d}:{when.minute:02d}"


_TIME: Final = re.compile(r"\b(\d{1,2})(?:[:h.](\d{2}))?\s*(am|pm)\b|\b(\d{1,2})[:h.](\d{2})\b")
_ISO_DATE: Final = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH: Final = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3})[a-z]*\b")
_MONTH_DAY: Final = re.compile(r"\b([a-z]{3})[a-z]*\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_NUMERIC_DATE: Final = re.compile(r"\b(\d{1,2})/(\d{1,2})\b")


def _wanted(text: str) -> dict[str, Any]:
    """The parts of a date-time ``text`` names: hour, minute, day, month, year, weekday."""
    low = " ".join(text.lower().split())
    out: dict[str, Any] = {}
    if m := _ISO_DATE.search(low):
        out.update(year=int(m.group(1)), month=int(m.group(2)), day=int(m.group(3)))
        low = low[: m.start()] + " " + low[m.end() :]
    if m := _TIME.search(low):
        if m.group(3):
            hour = int(m.group(1)) % 12 + (12 if m.group(3) == "pm" else 0)
            minute = int(m.group(2) or 0)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
        out.update(hour=hour, minute=minute)
        low = low[: m.start()] + " " + low[m.end() :]
    for pattern, day_group, month_group in ((_DAY_MONTH, 1, 2), (_MONTH_DAY, 2, 1)):
        m = pattern.search(low)
        if m and m.group(month_group) in _MONTHS and "day" not in out:
            out.update(day=int(m.group(day_group)), month=_MONTHS.index(m.group(month_group)) + 1)
    if "day" not in out and (m := _NUMERIC_DATE.search(low)):
        out.update(day=int(m.group(1)), month=int(m.group(2)))  # day first, as most of the world
    for word in normalise(low).split():
        if word[:3] in _DAYS and (
            len(word) == 3 or word.endswith("day") or word in ("tues", "thur", "thurs")
        ):
            out["weekday"] = _DAYS.index(word[:3])
    return out


def slots_named(text: str, slots: list[str]) -> list[str]:
    """The slots whose date-time matches every part ``text`` names ("tue 10:30",
    "15 dec", "10am", an ISO date-time); none when it names no part."""
    exact = parse_slot(text)
    if exact is not None:
        return [s for s in slots if (p := parse_slot(s)) is not None and p == exact]
    wanted = _wanted(text)
    if not wanted:
        return []
    found = []
    for slot in slots:
        when = parse_slot(slot)
        if when is None:
            continue
        have = {
            "year": when.year,
            "month": when.month,
            "day": when.day,
            "hour": when.hour,
            "minute": when.minute,
            "weekday": when.weekday(),
        }
        if all(have[k] == v for k, v in wanted.items()):
            found.append(slot)
    return found
