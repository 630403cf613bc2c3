"""LiveDisplay: rendered into a StringIO terminal, it shows the numbers and never raises."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from rich.console import Console

from loadtest.live import LiveDisplay

PARAMS: dict[str, Any] = {
    "target": "sim",
    "address": "127.0.0.1:2775",
    "workload": "ramp",
    "ramp": [500, 2500],
    "duration_s": 30,
    "binds": 4,
    "window": 64,
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def snapshot(**over: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "elapsed_s": 12.0,
        "offered": 11000,
        "sent": 10990,
        "acked": 10950,
        "receipts": 9000,
        "errors": 40,
        "throttled": 12,
        "rate_target": 1300,
        "p50_ms": 2.5,
        "p99_ms": 17.25,
        "cpu_percent": 40.0,
        "planned_s": 30,
        "planned_count": None,
        "inflight": 37,
        "backlog": 0,
        "second": {"t": 11, "sent": 1290},
    }
    snap.update(over)
    return snap


def terminal(width: int = 120) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=width, color_system=None), buf


def last_frame(buf: io.StringIO) -> str:
    """The newest redraw, without the cursor-control sequences."""
    text = ANSI.sub("", buf.getvalue())
    return text[text.rindex("╭") :]


def test_shows_totals_rates_latency_and_progress() -> None:
    console, buf = terminal()
    display = LiveDisplay(console)
    display.start(PARAMS)
    display.update(snapshot())
    frame = last_frame(buf)
    assert "ramp 500 → 2,500/s for 30 s → sim 127.0.0.1:2775" in frame
    for total in ("11,000", "10,990", "10,950", "9,000"):
        assert total in frame
    assert re.search(r"errors\s+40\b", frame) and re.search(r"throttled\s+12\b", frame)
    assert re.search(r"offered\s+11,000\s+917\b", frame)  # first update: average since the start
    assert "1,300/s" in frame and "2.50 ms" in frame and "17.25 ms" in frame and "40.0%" in frame
    assert "40%" in frame and "12.0 s / 30.0 s" in frame
    assert re.search(r"in flight\s+37\b", frame) and re.search(r"backlog\s+0\b", frame)

    display.update(
        snapshot(elapsed_s=13.0, offered=12300, sent=12290, acked=12200, receipts=10100, p99_ms=21.5)
    )
    frame = last_frame(buf)
    assert re.search(r"offered\s+12,300\s+1,300\b", frame)  # rate from the change since the last update
    assert re.search(r"acked\s+12,200\s+1,250\b", frame)
    assert re.search(r"receipts\s+10,100\s+1,100\b", frame)
    assert "21.50 ms" in frame and "43%" in frame
    display.stop()
    assert "12,300" in last_frame(buf)  # the final state stays on screen


def test_count_mode_progress_and_draining() -> None:
    console, buf = terminal()
    display = LiveDisplay(console)
    display.start(
        {"target": "smsc", "address": "10.0.0.1:2775", "workload": "constant", "rate": 100, "count": 5000}
    )
    display.update(snapshot(elapsed_s=20.0, offered=2000, sent=2000, planned_s=None, planned_count=5000))
    frame = last_frame(buf)
    assert "constant 100/s, 5,000 messages → smsc 10.0.0.1:2775" in frame
    assert "2,000 / 5,000 messages" in frame and "40%" in frame
    display.update(snapshot(elapsed_s=55.0, offered=5000, sent=5000, planned_s=None, planned_count=5000))
    assert "100%" in last_frame(buf) and "draining" in last_frame(buf)
    display.stop()


def test_missing_values_show_a_dash() -> None:
    console, buf = terminal()
    display = LiveDisplay(console)
    display.start(PARAMS)
    display.update({"elapsed_s": 3.0, "sent": 10, "p50_ms": None, "p99_ms": None})
    frame = last_frame(buf)
    assert re.search(r"latency p50\s+—", frame) and re.search(r"offered\s+—", frame)
    assert "elapsed 3.0 s" in frame
    display.stop()


def test_saturation_warning() -> None:
    console, buf = terminal()
    display = LiveDisplay(console)
    display.start(PARAMS)
    display.update(snapshot(cpu_percent=97.5))
    assert "97.5%" in last_frame(buf) and "load generator near saturation" in last_frame(buf)
    display.stop()


def test_update_never_raises(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    console, buf = terminal()
    display = LiveDisplay(console)
    display.update(snapshot())  # before start: ignored
    display.start(PARAMS)
    for bad in (None, {"elapsed_s": "soon", "sent": object()}, {"elapsed_s": float("nan")}, 42):
        display.update(bad)  # type: ignore[arg-type]

    def broken(_snap: Any) -> Any:
        raise RuntimeError("terminal on fire")

    monkeypatch.setattr(display, "_render", broken)
    with caplog.at_level(logging.WARNING, logger="loadtest.live"):
        display.update(snapshot())
        display.update(snapshot(elapsed_s=13.0))
    assert [r.getMessage() for r in caplog.records].count(
        "live display failed (the run continues): RuntimeError: terminal on fire"
    ) == 1  # logged once, not once per update
    monkeypatch.undo()
    display.update(snapshot(elapsed_s=14.0, sent=20000))
    assert "20,000" in last_frame(buf)  # still alive after the errors
    display.stop()
    display.stop()  # idempotent


def test_not_a_terminal_prints_the_final_state_once() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=120)
    display = LiveDisplay(console)
    display.start(PARAMS)
    for i in range(1, 5):
        display.update(snapshot(elapsed_s=float(i), sent=1000 * i))
    display.stop()
    out = buf.getvalue()
    assert "\x1b[" not in out
    assert out.count("smpp-loadtest") == 1 and "4,000" in out
    assert out.endswith("╯\n")  # whatever is printed next starts on its own line
