"""``smppgw demo`` end to end: the embedded default over real loopback TCP and HTTP (the
bundled simulator with personas, SQLite, the API, the webhook receiver), its exit status
and its summary; and that a failed check or a wait that runs out makes it exit 1."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from rich.console import Console

import smppgw.demo.campaign
import smppgw.demo.flowstep
import smppgw.demo.stage
from smppgw.demo import run_demo
from smppgw.demo.checks import score_of

ROOT = Path(__file__).resolve().parents[2]
# The 2-way steps (a build without one shows them WAITING), and one check each runs.
STEP_CHECKS = {
    "keywords": "every opt-out wording read as an opt-out keyword",
    "consent": "every send to an opted-out number ends blocked",
    "conversations": "every YES/NO and score linked to its message and parsed",
    "pools": "appointments sent from the pool's long numbers",
    "quiet hours": "held scheduled for its opening",
    "flows": "every booking completed: the slot its handset picked, CONFIRM at the reminder",
}
WAITABLE = set(STEP_CHECKS)


async def demo() -> tuple[int, list[str]]:
    out = io.StringIO()
    with trio.fail_after(60):
        code = await run_demo(Console(file=out, width=200))
    return code, out.getvalue().splitlines()


async def test_the_demo_runs_the_campaign_and_every_check_holds() -> None:
    code, lines = await demo()
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "demo OK"
    summary = "\n".join(lines)
    accepted = re.search(r"^  accepted +(\d+) of (\d+) sent$", summary, re.M)
    assert accepted and accepted[1] == accepted[2] and int(accepted[1]) >= 36, summary
    # the two numbers the carrier fails, with their reasons
    assert re.search(
        r"^  failed +\d+; 1 rejected \(ESME_RINVDSTADR\); 2 undeliverable \(UNDELIV\)", summary, re.M
    )
    assert re.search(r"^  accept->receipt +p50 \d+ ms, p99 \d+ ms \(\d+ parts\)$", summary, re.M), summary
    hooks = re.search(
        r"^  webhooks +(\d+) verified, 0 refused; .*message\.inbound.*message\.status", summary, re.M
    )
    assert hooks and int(hooks[1]) > 36, summary
    replies = re.search(r"^  replies in +(\d+): (.*)$", summary, re.M)
    assert replies and int(replies[1]) > 10 and "stop" in replies[2] and "help" in replies[2], summary
    checks = lines[lines.index("checks") + 1 : -1]
    assert not [c for c in checks if c.startswith("  FAILED")], checks
    assert sum(c.startswith("  ok ") for c in checks) >= 7, checks
    # Every 2-way feature is in this build: none of its steps waits, and its checks ran and held.
    assert not [c for c in checks if c.startswith("  WAITING")], checks
    for step in WAITABLE:
        assert any(c.startswith("  ok ") and STEP_CHECKS[step] in c for c in checks), (step, checks)
    # the offer's STOP answers, each with its exact text
    [opt_outs] = [line for line in lines if line.startswith("  opt-outs")]
    assert re.search(r"447700900024 to 70707 '[^']+'", opt_outs), opt_outs
    # the flow step: bookings confirmed at the reminder, HELP in a thread an agent answered
    assert "  bookings          3 runs: 3 completed; at the reminder 3 CONFIRM" in lines, summary
    [thread] = [line for line in lines if line.startswith("  HELP thread")]
    assert "queue billing, note 'Broadband: Billing'" in thread and "waiting_on_customer" in thread, thread
    for check in ("HELP triaged by the HELP flow", "the agent's reply sent through the thread's sender"):
        assert any(c.startswith("  ok ") and check in c for c in checks), (check, checks)


async def test_a_check_that_does_not_hold_fails_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    behaviour = smppgw.demo.stage.carrier_behaviour()

    def one_more_failure() -> dict[str, Any]:  # the carrier fails a third number
        return {
            **behaviour,
            "force": [*behaviour["force"], {"destination": "447700900002", "outcome": "UNDELIV"}],
        }

    monkeypatch.setattr(smppgw.demo.stage, "carrier_behaviour", one_more_failure)
    code, lines = await demo()
    assert code == 1 and lines[-1] == "demo FAILED"
    [failed] = [line for line in lines if line.startswith("  FAILED")]
    assert failed.startswith(
        "  FAILED delivered, but for the two numbers made to fail: 447700900002: undeliverable"
    )


async def test_a_wait_that_runs_out_says_what_it_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smppgw.demo.campaign, "SETTLE", 0.01)
    code, lines = await demo()
    assert code == 1
    assert re.match(r"demo FAILED: waited 0\.01 s for the campaign to settle: \d+ ", lines[-1]), lines[-1]


async def test_without_the_example_flows_the_flow_step_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed demo has no examples/ beside it: the flow step says so and the rest runs."""
    monkeypatch.setattr(smppgw.demo.flowstep, "EXAMPLES", Path("/nonexistent/examples/flows"))
    code, lines = await demo()
    assert code == 0 and lines[-1] == "demo OK", "\n".join(lines)
    assert any(line.startswith("flows and threads: WAITING (booking, help-triage not in") for line in lines)
    assert any(line.startswith("  WAITING flows: booking, help-triage not in") for line in lines)
    assert not any("CONFIRM at the reminder" in line for line in lines)


def test_make_demo_exits_0_with_plain_lines() -> None:
    """The command as ``make demo`` runs it, stdout a pipe (no terminal: plain lines)."""
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "smppgw.cli", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=90,
        env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "demo OK" and "summary" in lines and "checks" in lines
    assert "\x1b[" not in done.stdout  # no terminal codes in a pipe
    assert any(line.startswith("  ... ") for line in lines)  # the progress, as plain lines


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("8", 8),
        ("8/10", 8),
        ("eight", 8),
        ("8!", 8),
        ("10", 10),
        ("0", 0),
        ("11", None),
        ("8o", None),
        ("ok", None),
    ],
)
def test_score_of_reads_what_a_handset_meant(text: str, score: int | None) -> None:
    assert score_of(text) == score
