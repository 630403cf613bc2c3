"""The bind pool's read size follows the window: ~16 octets per slot, 4-64 KiB."""

from __future__ import annotations

import pytest

from smppgw.gateway.bindpool import read_size


@pytest.mark.parametrize(
    ("window", "expected"),
    [(1, 4096), (10, 4096), (256, 4096), (257, 4112), (1024, 16384), (4096, 65536), (10_000, 65536)],
)
def test_read_size_is_a_sixteenth_of_a_window_within_bounds(window: int, expected: int) -> None:
    assert read_size(window) == expected
