"""Sender pools, pure (``twoway.pools``): the config and the choice of a sender."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.pools import Pool, check_route_pools, pick_sender, pools_from_dict

NUMBERS = ("447700900100", "447700900101", "447700900102")


def test_pools_are_read_from_twoway() -> None:
    config = twoway_from_dict({"pool": [{"name": "care", "numbers": ["+447700900100", "447700900101"]}]})
    assert config.pools == (Pool(name="care", numbers=("447700900100", "447700900101")),)


@pytest.mark.parametrize(
    ("pools", "where"),
    [
        ([{"name": "care"}], "twoway.pool[0].numbers"),
        ([{"name": "care", "numbers": []}], "twoway.pool[0].numbers"),
        ([{"name": "care", "numbers": ["12345"]}], "twoway.pool[0].numbers[0]"),
        ([{"name": "care", "numbers": ["ACME"]}], "twoway.pool[0].numbers[0]"),
        ([{"name": "a b", "numbers": ["447700900100"]}], "twoway.pool[0].name"),
        ([{"numbers": ["447700900100"]}], "twoway.pool[0].name"),
        ([{"name": "care", "numbers": ["447700900100"], "tps": 1}], "twoway.pool[0]"),
        (
            [{"name": "a", "numbers": ["447700900100"]}, {"name": "b", "numbers": ["+447700900100"]}],
            "twoway.pool[1].numbers[0]",
        ),
        (
            [{"name": "a", "numbers": ["447700900100"]}, {"name": "a", "numbers": ["447700900101"]}],
            "twoway.pool[1].name",
        ),
    ],
)
def test_a_bad_pool_is_a_config_error_naming_the_key(pools: list[object], where: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{where.replace('[', '.').replace(']', '.')}"):
        pools_from_dict(pools)


def test_a_route_pool_must_exist() -> None:
    pools = pools_from_dict([{"name": "care", "numbers": ["447700900100"]}])
    check_route_pools([{"smscs": ["a"], "pool": "care"}], pools)
    with pytest.raises(ConfigError, match=r"^route\[1\]\.pool: no \[\[twoway\.pool\]\] named 'sales'"):
        check_route_pools([{"smscs": ["a"]}, {"smscs": ["a"], "pool": "sales"}], pools)


def test_a_new_conversation_takes_a_free_sender() -> None:
    open_since = {NUMBERS[0]: 5.0, NUMBERS[2]: 6.0}
    assert pick_sender(NUMBERS, open_since=open_since, opens=True, load={}) == NUMBERS[1]


def test_with_every_sender_busy_the_oldest_conversation_s_sender_is_taken() -> None:
    open_since = {NUMBERS[0]: 5.0, NUMBERS[1]: 2.0, NUMBERS[2]: 6.0}
    assert pick_sender(NUMBERS, open_since=open_since, opens=True, load={}) == NUMBERS[1]


def test_a_message_without_a_conversation_sticks_to_the_open_one() -> None:
    open_since = {NUMBERS[0]: 5.0, NUMBERS[2]: 6.0}
    assert pick_sender(NUMBERS, open_since=open_since, opens=False, load={}) == NUMBERS[2]


def test_the_sender_with_most_room_wins_then_turns() -> None:
    load = {NUMBERS[0]: 0.9, NUMBERS[1]: 0.1, NUMBERS[2]: 0.5}
    assert pick_sender(NUMBERS, open_since={}, opens=True, load=load) == NUMBERS[1]
    picked = [pick_sender(NUMBERS, open_since={}, opens=False, load={}, turn=t) for t in range(6)]
    assert picked == [*NUMBERS, *NUMBERS]


@given(
    busy=st.dictionaries(st.sampled_from(NUMBERS), st.floats(0, 100), max_size=3),
    load=st.dictionaries(st.sampled_from(NUMBERS), st.floats(0, 10)),
    turn=st.integers(0, 100),
)
def test_a_free_sender_is_always_taken_while_there_is_one(
    busy: dict[str, float], load: dict[str, float], turn: int
) -> None:
    sender = pick_sender(NUMBERS, open_since=busy, opens=True, load=load, turn=turn)
    assert sender in NUMBERS
    if len(busy) < len(NUMBERS):
        assert sender not in busy  # each (sender, recipient) pair: at most one open conversation
    else:
        assert busy[sender] == min(busy.values())
