"""smppgw.support.groups (exception-group hygiene) and smppgw.support.gc (server GC tuning)."""

from __future__ import annotations

import gc

import pytest
import trio

from smppgw.support.gc import server_gc
from smppgw.support.groups import find, leaves, lone, unwrap_single


def test_lone_walks_nested_single_member_groups() -> None:
    error = ValueError("x")
    assert lone(ExceptionGroup("a", [ExceptionGroup("b", [error])])) is error
    assert lone(ExceptionGroup("a", [error, KeyError("y")])) is None
    assert lone(ExceptionGroup("a", [ExceptionGroup("b", [error, KeyError("y")])])) is None


def test_leaves_and_find() -> None:
    first, second, third = ValueError("1"), OSError("2"), KeyError("3")
    group = ExceptionGroup("a", [first, ExceptionGroup("b", [second, third])])
    assert leaves(group) == [first, second, third]
    assert leaves(first) == [first]
    assert find(group, OSError) is second
    assert find(group, (KeyError, OSError)) is second  # the first in order
    assert find(group, TypeError) is None
    assert find(third, KeyError) is third


async def test_unwrap_single_reraises_a_nursery_s_lone_error_as_itself() -> None:
    async def fail() -> None:
        raise ValueError("lone")

    with pytest.raises(ValueError, match="lone"):
        with unwrap_single():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fail)
    with pytest.raises(ExceptionGroup) as info:  # several errors stay a group
        with unwrap_single():
            raise ExceptionGroup("two", [ValueError("a"), KeyError("b")])
    assert len(info.value.exceptions) == 2


def test_server_gc_tunes_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with server_gc(young=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # unfreeze() thaws everything
