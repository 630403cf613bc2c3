"""Quiet hours (``twoway.quiet``): the window in the recipient's local time, across time
zones, DST, midnight-wrapping windows and days; the config's errors; and the gateway
holding a marketing message to the next opening, then sending it then (virtual time)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from trio.testing import MockClock

from smppgw.app import app_config_from_dict
from smppgw.gateway.quiet import QuietDesk
from smppgw.store.base import Status
from smppgw.store.memory import MemoryStore
from smppgw.support.config import ConfigError
from smppgw.support.phone import time_zones
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.quiet import QuietHours, QuietRules, parse_window, quiet_from_list
from tests.gateway.helpers import gateway, memory_simulator, smsc

NY, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
RULE = QuietHours(start=time(8), end=time(21))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_inside_the_window_goes_now() -> None:
    # 15:00 UTC is 10:00 in New York (EST, UTC-5) in January.
    assert RULE.next_opening(utc(2026, 1, 15, 15), ["America/New_York"]) is None


def test_before_the_window_waits_for_the_local_opening() -> None:
    # 02:00 UTC on the 15th is 21:00 on the 14th in New York: closed; opens 08:00 EST = 13:00 UTC.
    assert RULE.next_opening(utc(2026, 1, 15, 2), ["America/New_York"]) == utc(2026, 1, 15, 13)
    # The same instant is 02:00 in London: opens at 08:00 GMT.
    assert RULE.next_opening(utc(2026, 1, 15, 2), ["Europe/London"]) == utc(2026, 1, 15, 8)


def test_summer_time_moves_the_opening() -> None:
    # July: New York is EDT (UTC-4), so 08:00 local is 12:00 UTC.
    assert RULE.next_opening(utc(2026, 7, 15, 2), ["America/New_York"]) == utc(2026, 7, 15, 12)


def test_an_opening_on_a_dst_change_day() -> None:
    # 2026-03-08: New York springs forward at 02:00. 08:00 EDT is 12:00 UTC.
    assert RULE.next_opening(utc(2026, 3, 8, 5), ["America/New_York"]) == utc(2026, 3, 8, 12)
    gap = QuietHours(start=time(2, 30), end=time(5))  # 02:30 does not exist that day
    opening = gap.next_opening(utc(2026, 3, 8, 5), ["America/New_York"])  # 00:00 EST
    assert opening is not None and gap.is_open(opening.astimezone(NY))


def test_a_number_in_several_zones_waits_until_every_zone_is_open() -> None:
    zones = ["Australia/Perth", "Australia/Sydney"]  # UTC+8 and UTC+11 (AEDT) in January
    # 21:30 UTC on the 14th: 05:30 in Perth, 08:30 in Sydney. Perth opens 08:00 = 00:00 UTC.
    assert RULE.next_opening(utc(2026, 1, 14, 21, 30), zones) == utc(2026, 1, 15, 0)
    # 10:30 UTC: 18:30 Perth, 21:30 Sydney (closed). Sydney opens at 21:00 UTC, when it is
    # 05:00 in Perth: the first time both are open is Perth's 08:00, 00:00 UTC.
    assert RULE.next_opening(utc(2026, 1, 15, 10, 30), zones) == utc(2026, 1, 16, 0)


def test_a_window_that_wraps_midnight_and_days() -> None:
    night = QuietHours(start=time(22), end=time(6), days=frozenset({4}))  # Friday night
    fri, sat = datetime(2026, 1, 16, 23, tzinfo=LONDON), datetime(2026, 1, 17, 5, tzinfo=LONDON)
    assert night.is_open(fri) and night.is_open(sat)  # Saturday 05:00 belongs to Friday's window
    assert not night.is_open(datetime(2026, 1, 17, 23, tzinfo=LONDON))  # Saturday night: closed
    weekdays = QuietHours(start=time(9), end=time(17), days=frozenset(range(5)))
    # Saturday 10:00 London -> Monday 09:00.
    assert weekdays.next_opening(utc(2026, 1, 17, 10), ["Europe/London"]) == utc(2026, 1, 19, 9)


def test_tags_exemptions_routes_and_programmes() -> None:
    rule = QuietHours(start=time(8), end=time(21), exempt_tags=frozenset({"urgent"}), routes=frozenset({"us"}),
                      programmes=frozenset({"promo"}), senders=frozenset({"12345"}))  # fmt: skip
    assert rule.applies(["marketing"], "us", "99999") and rule.applies(["marketing"], "eu", "12345")
    assert not rule.applies(["marketing"], "eu", "99999")  # neither its route nor its programme
    assert not rule.applies(["marketing", "urgent"], "us", "12345")  # exempt
    assert not rule.applies(["otp"], "us", "12345")  # not a held tag


def test_unknown_zones_use_the_default_and_a_configured_zone_wins() -> None:
    assert RULE.next_opening(utc(2026, 1, 15, 2), []) == utc(2026, 1, 15, 8)  # UTC by default
    fixed = QuietHours(start=time(8), end=time(21), timezone=ZoneInfo("Asia/Tokyo"))
    # 02:00 UTC is 11:00 in Tokyo: open, whatever the number says.
    assert fixed.next_opening(utc(2026, 1, 15, 2), ["America/New_York"]) is None


def test_rules_together_wait_for_the_latest_opening() -> None:
    rules = QuietRules((RULE, QuietHours(start=time(10), end=time(18))))
    at = rules.hold_until(utc(2026, 1, 15, 2), tags=["marketing"], route=None, source="x",
                          number_zones=["Europe/London"])  # fmt: skip
    assert at == utc(2026, 1, 15, 10)


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)),
    st.sampled_from(["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"]),
    st.integers(0, 23), st.integers(1, 23),
)  # fmt: skip
def test_the_opening_is_inside_the_window_and_never_in_the_past(
    naive: datetime, name: str, start: int, length: int
) -> None:
    rule = QuietHours(start=time(start), end=time((start + length) % 24))
    now = naive.replace(tzinfo=UTC)
    opening = rule.next_opening(now, [name])
    if opening is None:
        assert rule.is_open(now.astimezone(ZoneInfo(name)))
    else:
        assert opening > now and opening - now <= timedelta(days=2)
        assert rule.is_open(opening.astimezone(ZoneInfo(name)))
        assert not rule.is_open((opening - timedelta(minutes=1)).astimezone(ZoneInfo(name))) or (
            opening.astimezone(ZoneInfo(name)).time() == time(start)
        )


def test_time_zones_of_numbers() -> None:
    assert time_zones("12125550100") == ("America/New_York",)
    assert time_zones("+447700900001") == ("Europe/London",)  # a drama range: the country's zone
    assert time_zones("12345") == ()  # a short code
    assert time_zones("18005550100") == ()  # toll-free: the whole plan's zones say nothing


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([{"window": "8-21"}], r"twoway.quiet_hours\[0\].window: expected HH:MM-HH:MM"),
        ([{"window": "08:00-25:00"}], r"window: not a time of day"),
        ([{"window": "08:00-08:00"}], r"window: an empty window"),
        ([{}], r"twoway.quiet_hours\[0\].window: required"),
        ([{"window": "08:00-21:00", "days": ["funday"]}], r"quiet_hours\[0\].days: expected some of"),
        (
            [{"window": "08:00-21:00", "timezone": "Mars/Olympus"}],
            r"quiet_hours\[0\].timezone: unknown time zone",
        ),
        ([{"window": "08:00-21:00", "tags": []}], r"quiet_hours\[0\].tags: at least one tag"),
        ([{"window": "08:00-21:00", "hours": 3}], r"quiet_hours\[0\].*hours"),
        ([{"window": "08:00-21:00", "programmes": ["promo"]}], r"unknown programme 'promo'"),
    ],
)
def test_config_errors_name_the_key(table: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        twoway_from_dict({"quiet_hours": table})


def test_a_rule_naming_a_route_that_does_not_exist_is_a_config_error() -> None:
    """A misspelt route would silently hold nothing: marketing at night."""
    data = {
        "smsc": [{"name": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "a", "password": "b"}],
        "route": [{"name": "us", "smscs": ["sim"]}],
        "api": {"keys": ["dev-key-123"]},
        "twoway": {"quiet_hours": [{"window": "08:00-21:00", "routes": ["us"]},
                                   {"window": "08:00-21:00", "routes": ["us", "fr"]}]},
    }  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"^twoway\.quiet_hours\[1\]\.routes: no \[\[route\]\] named 'fr' \(routes: us\)"
    ):
        app_config_from_dict(data)
    data["twoway"]["quiet_hours"].pop()  # type: ignore[index]
    assert app_config_from_dict(data).twoway.quiet_hours.rules[0].routes == {"us"}


def test_config_reads_a_rule() -> None:
    config = twoway_from_dict({
        "programmes": {"promo": ["12345"]},
        "quiet_hours": [{"window": "08:00-21:00", "days": ["Mon", "tue"], "programmes": ["promo"],
                         "exempt_tags": ["urgent"], "timezone": "Europe/Paris"}],
    })  # fmt: skip
    (rule,) = config.quiet_hours.rules
    assert (rule.start, rule.end, rule.days, rule.senders) == (time(8), time(21), {0, 1}, {"12345"})
    assert rule.timezone == ZoneInfo("Europe/Paris") and rule.exempt_tags == {"urgent"}
    assert quiet_from_list([]) == QuietRules()
    assert parse_window("00:00-24:00") == (time(0), time(0))


# -- the gateway: held, scheduled, sent at the opening ---------------------------------------------


async def test_a_marketing_message_at_night_is_scheduled_for_the_morning(autojump_clock: MockClock) -> None:
    # The trio clock starts near 0; the store's offset puts it at 02:00 UTC = 21:00 in New York.
    night = utc(2026, 1, 15, 2).timestamp()
    store = MemoryStore(clock_offset=night - trio.current_time())
    desk = QuietDesk(QuietRules((RULE,)), lambda t: t + store.clock_offset)
    with trio.fail_after(100_000):
        async with memory_simulator() as sim, gateway(smsc(sim), store=store) as gw:
            gw.intake.quiet = desk
            promo = gw.submit(source="12345", destination="12125550100", text="50% off", tags=["marketing"])
            otp = gw.submit(source="12345", destination="12125550101", text="code 1234", tags=["otp"])
            assert promo.status is Status.SCHEDULED and otp.status is not Status.SCHEDULED
            opening = utc(2026, 1, 15, 13).timestamp() - store.clock_offset  # 08:00 EST
            assert promo.send_at == pytest.approx(opening)
            await gw.wait_final(otp.id, 60)
            assert [m.destination_addr for m in sim.store.select(limit=10)] == ["12125550101"]
            await trio.sleep_until(opening - 1)
            assert promo.status is Status.SCHEDULED and len(sim.store) == 1  # still held at 07:59:59
            await gw.wait_final(promo.id, 120)
    assert promo.status is Status.DELIVERED
    assert promo.parts[0].submitted_at is not None and promo.parts[0].submitted_at >= opening


def test_the_readme_example_loads_and_says_what_it_does() -> None:
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("\n### Quiet hours\n")
    section = text[start : text.index("\n## ", start)]
    (block,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    config = twoway_from_dict(tomllib.loads(block)["twoway"])
    us, fr = config.quiet_hours.rules
    assert (us.start, us.end, us.senders, us.exempt_tags) == (time(8), time(21), {"12345"}, {"urgent"})
    assert fr.days == set(range(5)) and fr.routes == {"fr"} and fr.timezone == ZoneInfo("Europe/Paris")
    # 22:00 UTC in January is 23:00 in Paris: a marketing message on route fr waits for 09:00 Paris.
    at = config.quiet_hours.hold_until(utc(2026, 1, 15, 22), tags=["marketing"], route="fr", source="x",
                                       number_zones=["Europe/Paris"])  # fmt: skip
    assert at == utc(2026, 1, 16, 8)
