"""SMPP time fields (3.4 §7.1.1): spec examples, every malformed variant, round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.timefmt import (
    AbsoluteTime,
    RelativeTime,
    SmppTimeError,
    format_relative,
    format_smpp_time,
    parse_smpp_time,
    resolve_smpp_time,
)

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

# -- spec examples (SMPP-REFERENCE §5.7) ---------------------------------------------------


def test_absolute_spec_example_is_local_time_at_utc_plus_one() -> None:
    parsed = parse_smpp_time("250314153000004+")
    assert parsed == AbsoluteTime(utc=datetime(2025, 3, 14, 14, 30, tzinfo=UTC), offset_quarters=4)
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.local == datetime(2025, 3, 14, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parsed.utc.tzinfo is UTC


def test_relative_spec_example_is_two_days_twelve_and_a_half_hours() -> None:
    parsed = parse_smpp_time("000002123000000R")
    assert parsed == RelativeTime(days=2, hours=12, minutes=30)
    assert isinstance(parsed, RelativeTime)
    assert parsed.to_seconds() == 2 * 86_400 + 12 * 3600 + 30 * 60


def test_empty_string_is_none() -> None:
    assert parse_smpp_time("") is None
    assert resolve_smpp_time("", NOW) is None


def test_negative_offset_is_behind_utc() -> None:
    parsed = parse_smpp_time("250314153000020-")  # UTC-5h
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == datetime(2025, 3, 14, 20, 30, tzinfo=UTC)
    assert parsed.offset_quarters == -20


def test_tenths_become_microseconds() -> None:
    parsed = parse_smpp_time("250314153000700+")
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == datetime(2025, 3, 14, 15, 30, 0, 700_000, tzinfo=UTC)


def test_two_digit_year_is_in_the_2000s() -> None:
    parsed = parse_smpp_time("991231235959900+")
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc.year == 2099


def test_feb_29_is_valid_in_a_leap_year() -> None:
    parsed = parse_smpp_time("240229000000000+")
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == datetime(2024, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize("value", ["250101000000048+", "250101000000048-"])
def test_offset_of_48_quarters_is_the_maximum(value: str) -> None:
    parsed = parse_smpp_time(value)
    assert isinstance(parsed, AbsoluteTime)
    assert abs(parsed.offset_quarters) == 48


def test_relative_fields_are_counts_not_clock_values() -> None:
    # 48 hours, 90 minutes: unambiguous as a duration.
    assert parse_smpp_time("000000489000000R") == RelativeTime(hours=48, minutes=90)


def test_relative_months_and_years_are_approximated() -> None:
    assert RelativeTime(months=1).to_seconds() == 30 * 86_400
    assert RelativeTime(years=1).to_seconds() == 365 * 86_400
    assert RelativeTime(seconds=59).to_timedelta() == timedelta(seconds=59)


# -- malformed values: each error names the wrong part -----------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("25031415300000+", "16 characters, got 15"),
        ("2503141530000004+", "16 characters, got 17"),
        ("2", "16 characters, got 1"),
        ("250314153000004X", "last character"),
        ("250314153000004 ", "last character"),
        ("2503141530000040", "last character"),
        ("A50314153000004+", "year"),
        ("25O314153000004+", "month"),
        ("2503 4153000004+", "day"),
        ("250314x53000004+", "hour"),
        ("25031415-000004+", "minute"),
        ("25031415300.004+", "second"),
        ("250314153000+04+", "tenths"),
        ("25031415300000A+", "UTC offset nn"),
        ("²50314153000004+", "year"),  # a Unicode digit is not an ASCII digit
        ("251314153000004+", "month 13"),
        ("250014153000004+", "month 00"),
        ("250230153000004+", "day 30"),
        ("250229153000004+", "day 29"),  # 2025 is not a leap year
        ("250431153000004+", "day 31"),
        ("250300153000004+", "day 00"),
        ("250314243000004+", "hour 24"),
        ("250314156000004+", "minute 60"),
        ("250314153060004+", "second 60"),
        ("250314153000049+", "nn 49"),
        ("250314153000099-", "nn 99"),
        ("000002123000100R", "tenths must be 0"),
        ("000002123000001R", "offset must be 00"),
        ("000002123000010R", "offset must be 00"),
        ("0000021230000A0R", "UTC offset nn"),
        ("00000212300X000R", "second"),
    ],
)
def test_malformed_values_raise_with_the_wrong_part_named(value: str, fragment: str) -> None:
    with pytest.raises(SmppTimeError, match=fragment.replace(".", r"\.")):
        parse_smpp_time(value)


def test_smpp_time_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="month"):
        parse_smpp_time("251314153000004+")


# -- resolve -------------------------------------------------------------------------------


def test_resolve_absolute_ignores_now() -> None:
    assert resolve_smpp_time("250314153000004+", NOW) == datetime(2025, 3, 14, 14, 30, tzinfo=UTC)


def test_resolve_relative_adds_to_now_and_returns_utc() -> None:
    now = datetime(2025, 3, 14, 13, 0, tzinfo=timezone(timedelta(hours=1)))  # 12:00 UTC
    resolved = resolve_smpp_time("000002123000000R", now)
    assert resolved == datetime(2025, 3, 17, 0, 30, tzinfo=UTC)
    assert resolved is not None
    assert resolved.tzinfo is UTC


def test_resolve_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_smpp_time("000002123000000R", datetime(2025, 1, 1))


def test_resolve_propagates_parse_errors() -> None:
    with pytest.raises(SmppTimeError):
        resolve_smpp_time("000002123000100R", NOW)


# -- format --------------------------------------------------------------------------------


def test_format_uses_the_datetime_offset() -> None:
    dt = datetime(2025, 3, 14, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_smpp_time(dt) == "250314153000004+"
    assert format_smpp_time(dt.astimezone(UTC)) == "250314143000000+"
    west = datetime(2025, 3, 14, 9, 30, 0, 250_000, tzinfo=timezone(-timedelta(hours=5, minutes=45)))
    assert format_smpp_time(west) == "250314093000223-"


def test_format_truncates_below_tenths() -> None:
    dt = datetime(2025, 3, 14, 15, 30, 0, 999_999, tzinfo=UTC)
    assert format_smpp_time(dt) == "250314153000900+"


@pytest.mark.parametrize("offset", [timedelta(hours=13), timedelta(minutes=20), timedelta(hours=-14)])
def test_format_falls_back_to_utc_for_offsets_smpp_cannot_write(offset: timedelta) -> None:
    dt = datetime(2025, 3, 14, 15, 30, tzinfo=timezone(offset))
    text = format_smpp_time(dt)
    assert text.endswith("00+")
    parsed = parse_smpp_time(text)
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == dt


def test_format_rejects_naive_and_out_of_range_years() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_smpp_time(datetime(2025, 1, 1))
    with pytest.raises(SmppTimeError, match="year 1999"):
        format_smpp_time(datetime(1999, 12, 31, tzinfo=UTC))
    with pytest.raises(SmppTimeError, match="year 2100"):
        format_smpp_time(datetime(2100, 1, 1, tzinfo=UTC))


def test_format_relative_examples() -> None:
    assert format_relative(2 * 86_400 + 12 * 3600 + 30 * 60) == "000002123000000R"
    assert format_relative(0) == "000000000000000R"
    assert format_relative(59.6) == "000000000100000R"  # rounded to whole seconds
    assert format_relative(99 * 86_400) == "000099000000000R"  # days used up to 99
    assert format_relative(100 * 86_400) == "000310000000000R"  # then months of 30 days
    assert format_relative(400 * 86_400) == "010105000000000R"


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), 100.0 * 365 * 86_400])
def test_format_relative_rejects_unwritable_durations(bad: float) -> None:
    with pytest.raises(ValueError, match="relative SMPP time"):
        format_relative(bad)


def test_value_objects_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="UTC"):
        AbsoluteTime(utc=datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    with pytest.raises(ValueError, match="offset_quarters"):
        AbsoluteTime(utc=NOW, offset_quarters=49)
    with pytest.raises(ValueError, match="days"):
        RelativeTime(days=100)


# -- round trips (property-based) ----------------------------------------------------------

_offsets = st.integers(-48, 48).map(lambda q: timezone(q * timedelta(minutes=15)))
_aware_datetimes = st.builds(
    lambda naive, tenths, tz: naive.replace(microsecond=tenths * 100_000, tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)),
    st.integers(0, 9),
    _offsets,
)


@given(dt=_aware_datetimes)
def test_format_then_parse_is_the_same_instant_and_offset(dt: datetime) -> None:
    text = format_smpp_time(dt)
    assert len(text) == 16
    parsed = parse_smpp_time(text)
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == dt
    assert parsed.local.utcoffset() == dt.utcoffset()


@given(
    dt=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)),
    tz=_offsets,
)
def test_format_truncates_to_tenths_and_keeps_the_instant(dt: datetime, tz: timezone) -> None:
    parsed = parse_smpp_time(format_smpp_time(dt.astimezone(tz)))
    assert isinstance(parsed, AbsoluteTime)
    assert parsed.utc == dt.replace(microsecond=dt.microsecond // 100_000 * 100_000)


@given(seconds=st.integers(0, 99 * 365 * 86_400))
def test_format_relative_then_parse_gives_back_the_seconds(seconds: int) -> None:
    parsed = parse_smpp_time(format_relative(seconds))
    assert isinstance(parsed, RelativeTime)
    assert parsed.to_seconds() == seconds
    assert resolve_smpp_time(format_relative(seconds), NOW) == NOW + timedelta(seconds=seconds)


@given(text=st.text(max_size=20))
def test_parse_never_raises_anything_but_smpp_time_error(text: str) -> None:
    try:
        parse_smpp_time(text)
    except SmppTimeError:
        pass


@given(
    digits=st.text(alphabet="0123456789", min_size=15, max_size=15),
    sign=st.sampled_from("+-R"),
)
def test_parse_of_any_digits_is_valid_or_a_smpp_time_error(digits: str, sign: str) -> None:
    try:
        parsed = parse_smpp_time(digits + sign)
    except SmppTimeError:
        return
    if isinstance(parsed, AbsoluteTime):
        assert format_smpp_time(parsed.local)[:15] == digits
    else:
        assert parsed is not None
        assert format_relative(parsed.to_seconds()).endswith("000R")
