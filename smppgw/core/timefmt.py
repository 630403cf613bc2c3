"""SMPP time fields: ``YYMMDDhhmmsstnnp`` (SMPP 3.4 §7.1.1; SMPP-REFERENCE §5.7).

schedule_delivery_time, validity_period and final_date travel as 16 ASCII characters
(17 octets with the NUL) or as an empty string:

* ``YYMMDDhhmmss``: date and time; YY is taken as 2000 + YY (no SMPP peer predates 2000
  in a way that matters, and a two-digit year needs *some* century).
* ``t``: tenths of a second, 0-9.
* ``nn``: distance from UTC in quarter hours, 00-48 (so at most 12 hours).
* ``p``: ``+`` (local time is ahead of UTC), ``-`` (behind) or ``R`` (relative).

With ``p == 'R'`` the twelve digits are a *duration* from "now" (years, months, days,
hours, minutes, seconds) and ``t`` / ``nn`` must be ``0`` / ``00``. Each relative field may
hold any two-digit value (``000000480000000R`` is an unambiguous 48 hours), because the
spec only defines them as a count.

Pure: nothing here reads a clock. Functions that need "now" take it as a parameter.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, NoReturn

import attrs

__all__ = [
    "AbsoluteTime",
    "RelativeTime",
    "SmppTime",
    "SmppTimeError",
    "format_relative",
    "format_smpp_time",
    "parse_smpp_time",
    "resolve_smpp_time",
]

_LENGTH: Final = 16
_QUARTER: Final = timedelta(minutes=15)
_MAX_QUARTERS: Final = 48
# Approximations for relative times, whose months and years have no fixed length.
SECONDS_PER_DAY: Final = 86_400
SECONDS_PER_MONTH: Final = 30 * SECONDS_PER_DAY
SECONDS_PER_YEAR: Final = 365 * SECONDS_PER_DAY
_MAX_TWO_DIGITS: Final = 99

# (name, start, end) of each digit field, in wire order.
_DIGIT_FIELDS: Final = (
    ("year", 0, 2),
    ("month", 2, 4),
    ("day", 4, 6),
    ("hour", 6, 8),
    ("minute", 8, 10),
    ("second", 10, 12),
    ("tenths", 12, 13),
    ("UTC offset nn", 13, 15),
)


class SmppTimeError(ValueError):
    """A time field is not a valid ``YYMMDDhhmmsstnnp`` value; the message names the part."""


def _is_utc(instance: AbsoluteTime, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.utcoffset() != timedelta(0):
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime in UTC, got {value!r}")


def _quarters_in_range(instance: AbsoluteTime, attribute: attrs.Attribute[int], value: int) -> None:
    if not -_MAX_QUARTERS <= value <= _MAX_QUARTERS:
        raise ValueError(f"{attribute.name} must be in -48..48, got {value}")


def _two_digits(instance: RelativeTime, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= _MAX_TWO_DIGITS:
        raise ValueError(f"{attribute.name} must be in 0..99, got {value}")


@attrs.frozen(kw_only=True)
class AbsoluteTime:
    """An absolute SMPP time: the instant in UTC plus the sender's UTC offset.

    ``offset_quarters`` is signed (``-8`` for ``08-``); with ``utc`` it gives back the
    local time the peer wrote (``local``).
    """

    utc: datetime = attrs.field(validator=_is_utc)
    offset_quarters: int = attrs.field(default=0, validator=_quarters_in_range)

    @property
    def local(self) -> datetime:
        """The same instant in the sender's own UTC offset."""
        return self.utc.astimezone(timezone(self.offset_quarters * _QUARTER))


@attrs.frozen(kw_only=True)
class RelativeTime:
    """A relative SMPP time (``p == 'R'``): a duration counted from "now"."""

    years: int = attrs.field(default=0, validator=_two_digits)
    months: int = attrs.field(default=0, validator=_two_digits)
    days: int = attrs.field(default=0, validator=_two_digits)
    hours: int = attrs.field(default=0, validator=_two_digits)
    minutes: int = attrs.field(default=0, validator=_two_digits)
    seconds: int = attrs.field(default=0, validator=_two_digits)

    def to_seconds(self) -> int:
        """Length in seconds, **approximating a month as 30 days and a year as 365 days**.

        The spec gives no calendar to count relative months and years against; these are
        the usual SMSC conventions, and validity periods rarely use either field.
        """
        return (
            self.years * SECONDS_PER_YEAR
            + self.months * SECONDS_PER_MONTH
            + self.days * SECONDS_PER_DAY
            + self.hours * 3600
            + self.minutes * 60
            + self.seconds
        )

    def to_timedelta(self) -> timedelta:
        """``to_seconds()`` as a timedelta (same approximations)."""
        return timedelta(seconds=self.to_seconds())


SmppTime = AbsoluteTime | RelativeTime


def _raise_non_digit(value: str) -> NoReturn:
    """Name the first of the 15 digit positions that holds something else."""
    for name, start, end in _DIGIT_FIELDS:
        part = value[start:end]
        if not (part.isascii() and part.isdigit()):
            raise SmppTimeError(f"SMPP time {value!r}: {name} {part!r} is not {end - start} digit(s)")
    raise AssertionError("unreachable: all 15 positions are digits")


def _check_range(value: str, name: str, number: int, low: int, high: int) -> None:
    if not low <= number <= high:
        raise SmppTimeError(f"SMPP time {value!r}: {name} {number:02d} is not in {low:02d}-{high:02d}")


def _parse_relative(value: str, fields: list[int], tenths: int, quarters: int) -> RelativeTime:
    if tenths != 0:
        raise SmppTimeError(f"SMPP time {value!r}: tenths must be 0 in a relative time, got {tenths}")
    if quarters != 0:
        raise SmppTimeError(
            f"SMPP time {value!r}: UTC offset must be 00 in a relative time, got {quarters:02d}"
        )
    years, months, days, hours, minutes, seconds = fields
    return RelativeTime(years=years, months=months, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _parse_absolute(value: str, fields: list[int], tenths: int, quarters: int, sign: str) -> AbsoluteTime:
    yy, month, day, hour, minute, second = fields
    year = 2000 + yy
    _check_range(value, "month", month, 1, 12)
    _check_range(value, "day", day, 1, calendar.monthrange(year, month)[1])
    _check_range(value, "hour", hour, 0, 23)
    _check_range(value, "minute", minute, 0, 59)
    _check_range(value, "second", second, 0, 59)
    _check_range(value, "UTC offset nn", quarters, 0, _MAX_QUARTERS)
    offset = quarters if sign == "+" else -quarters
    local = datetime(
        year, month, day, hour, minute, second, tenths * 100_000, tzinfo=timezone(offset * _QUARTER)
    )
    return AbsoluteTime(utc=local.astimezone(UTC), offset_quarters=offset)


def parse_smpp_time(value: str) -> AbsoluteTime | RelativeTime | None:
    """Parse a ``YYMMDDhhmmsstnnp`` field; the empty string (a lone NUL on the wire) is None.

    Raises:
        SmppTimeError: wrong length, a non-digit where a digit belongs, a field out of
            range (month, day of that month, hour, minute, second, nn > 48), an unknown
            ``p``, or a relative time with non-zero tenths or offset.
    """
    if not value:
        return None
    if len(value) != _LENGTH:
        raise SmppTimeError(f"SMPP time {value!r}: must be 16 characters, got {len(value)}")
    sign = value[15]
    if sign not in "+-R":
        raise SmppTimeError(f"SMPP time {value!r}: last character must be '+', '-' or 'R', got {sign!r}")
    head = value[:15]
    if not (head.isascii() and head.isdigit()):  # isdigit() alone accepts '²' and '٣'
        _raise_non_digit(value)
    fields = [
        int(value[0:2]),
        int(value[2:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[8:10]),
        int(value[10:12]),
    ]
    tenths = ord(value[12]) - 48
    quarters = int(value[13:15])
    if sign == "R":
        return _parse_relative(value, fields, tenths, quarters)
    return _parse_absolute(value, fields, tenths, quarters, sign)


def resolve_smpp_time(value: str, now: datetime) -> datetime | None:
    """The instant ``value`` names, in UTC: itself if absolute, ``now`` + duration if relative.

    ``now`` must be timezone-aware. Relative months and years are approximated as in
    ``RelativeTime.to_seconds``. Returns None for the empty string.

    Raises:
        SmppTimeError: ``value`` is malformed (see ``parse_smpp_time``).
        ValueError: ``now`` is naive.
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    parsed = parse_smpp_time(value)
    if parsed is None:
        return None
    if isinstance(parsed, AbsoluteTime):
        return parsed.utc
    return (now + parsed.to_timedelta()).astimezone(UTC)


def format_smpp_time(dt: datetime) -> str:
    """The absolute SMPP time of ``dt``, written in ``dt``'s own UTC offset.

    Sub-tenth precision is truncated. An offset SMPP cannot express (not a whole number of
    quarter hours, or beyond 12 hours such as UTC+13) is replaced by UTC: the instant is
    kept, the local wall time is not.

    Raises:
        ValueError: ``dt`` is naive.
        SmppTimeError: the year (in the chosen offset) is outside 2000-2099.
    """
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError(f"format_smpp_time needs a timezone-aware datetime, got {dt!r}")
    quarters, rest = divmod(offset, _QUARTER)
    if rest or abs(quarters) > _MAX_QUARTERS:
        dt, quarters = dt.astimezone(UTC), 0
    if not 2000 <= dt.year <= 2099:
        raise SmppTimeError(f"year {dt.year} cannot be written as an SMPP time (2000-2099)")
    sign = "-" if quarters < 0 else "+"
    return f"{dt:%y%m%d%H%M%S}{dt.microsecond // 100_000}{abs(quarters):02d}{sign}"


def format_relative(seconds: float) -> str:
    """A relative SMPP time (``...000R``) for a duration, rounded to whole seconds.

    Durations up to 99 days are written as days/hours/minutes/seconds, which every SMSC
    reads the same way; longer ones also use years (365 days) and months (30 days), the
    approximations ``RelativeTime.to_seconds`` reverses exactly.

    Raises:
        ValueError: ``seconds`` is negative or not finite, or too long for the two-digit
            years field.
    """
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"a relative SMPP time needs a non-negative duration, got {seconds!r}")
    total = int(seconds + 0.5)
    years = months = 0
    if total >= (_MAX_TWO_DIGITS + 1) * SECONDS_PER_DAY:
        years, total = divmod(total, SECONDS_PER_YEAR)
        months, total = divmod(total, SECONDS_PER_MONTH)
    days, total = divmod(total, SECONDS_PER_DAY)
    hours, total = divmod(total, 3600)
    minutes, secs = divmod(total, 60)
    if years > _MAX_TWO_DIGITS:
        raise ValueError(f"{seconds!r} seconds is too long for a relative SMPP time")
    return f"{years:02d}{months:02d}{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"
