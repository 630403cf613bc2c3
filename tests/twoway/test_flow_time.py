"""Times in flows (``twoway.flow_time``): offsets, ``When``, slots."""

from __future__ import annotations

import pytest

from smppgw.twoway.flow_model import When
from smppgw.twoway.flow_time import (
    parse_offset,
    parse_slot,
    parse_when,
    resolve_when,
    slot_label,
    slot_list,
    slots_named,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2d", 172800.0), ("-2d", -172800.0), ("+1h30m", 5400.0), ("2 days", 172800.0), ("90 minutes", 5400.0),
     ("1 week", 604800.0), (45, 45.0), (1.5, 1.5), ("0.5h", 1800.0)],
)  # fmt: skip
def test_offsets(text: object, seconds: float) -> None:
    assert parse_offset(text) == seconds


@pytest.mark.parametrize("bad", ["", "2", "2 fortnights", "d2", "367d", True, None, [1]])
def test_bad_offsets(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_offset(bad)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2 days before {slot}", When(var="slot", offset=-172800.0)),
        ("2d before slot", When(var="slot", offset=-172800.0)),
        ("1h after {slot}", When(var="slot", offset=3600.0)),
        ("at {slot}", When(var="slot", offset=0.0)),
        ("{slot}", When(var="slot", offset=0.0)),
        ("+1h", When(var=None, offset=3600.0)),
        ("in 2 days", When(var=None, offset=172800.0)),
        ("30m", When(var=None, offset=1800.0)),
        ({"var": "slot", "offset": "-2d"}, When(var="slot", offset=-172800.0)),
        ({"offset": 60}, When(var=None, offset=60.0)),
    ],
)
def test_when(text: object, when: When) -> None:
    assert parse_when(text) == when


@pytest.mark.parametrize(
    "bad",
    [
        "-1h",
        "yesterday",
        "2 days before",
        "before {slot}",
        {"var": "Bad Name"},
        {"offset": "-1h"},
        {"at": 1},
        5,
    ],
)
def test_bad_when(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_when(bad)


def test_resolve_when() -> None:
    vars = {"slot": "1970-01-03T00:00:00Z", "junk": "soon"}
    assert resolve_when(When(var="slot", offset=-86400.0), vars, now=5.0) == 86400.0
    assert resolve_when(When(var=None, offset=10.0), vars, now=5.0) == 15.0
    assert resolve_when(When(var="junk"), vars, now=5.0) is None
    assert resolve_when(When(var="unset"), vars, now=5.0) is None


def test_slots() -> None:
    assert parse_slot("2027-03-15T09:30:00Z") is not None
    assert parse_slot("2027-03-15T09:30:00") is None  # no zone: not an instant
    assert parse_slot("next tuesday") is None
    assert slot_list("2027-03-15T09:30Z, 2027-03-16T10:00+01:00;junk") == [
        "2027-03-15T09:30Z",
        "2027-03-16T10:00+01:00",
    ]
    assert slot_list(["2027-03-15T09:30Z", 5]) == ["2027-03-15T09:30Z"]
    assert slot_label("2027-03-16T10:05:00+01:00") == "Tue 16 Mar 10:05"
    assert slot_label("junk") == "junk"


def test_slots_named() -> None:
    slots = ["2027-03-15T09:30:00+00:00", "2027-03-15T14:00:00+00:00", "2027-04-01T09:30:00+00:00"]
    assert slots_named("9:30am 1 April", slots) == [slots[2]]
    assert slots_named("apr 1st", slots) == [slots[2]]
    assert slots_named("1/4", slots) == [slots[2]]
    assert slots_named("2027-03-15", slots) == slots[:2]
    assert slots_named("monday 2pm", slots) == [slots[1]]
    assert slots_named("12pm", slots) == []
    assert slots_named("hello", slots) == []
