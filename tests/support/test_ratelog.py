"""Rate-limited WARNINGs and escaping of what came from the network."""

from __future__ import annotations

import logging

import pytest

from smppgw.support.ratelog import RateLimitedLog, escape


def test_one_line_per_key_per_interval_and_the_count_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("t.ratelog"), interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t.ratelog"):
        assert log.emit("a", "flood %s", 1)
        assert not log.emit("a", "flood %s", 2)
        assert not log.emit("a", "flood %s", 3)
        assert log.emit("b", "other %s", 1)  # another key is not muted
        now[0] = 10.0
        assert log.emit("a", "flood %s", 4)
    assert [r.getMessage() for r in caplog.records] == [
        "flood 1",
        "other 1",
        "flood 4 (2 more like it not logged)",
    ]


def test_escape_keeps_a_value_on_one_line_and_short() -> None:
    assert escape("abc") == "abc"
    assert escape("id\n2026-01-01 INFO forged") == "id\\n2026-01-01 INFO forged"
    assert escape("\x1b[31mred\x00") == "\\x1b[31mred\\x00"
    assert escape("x" * 100, limit=8) == "xxxxxxxx..."
