"""``smppgw send --trace FILE`` against the simulator over loopback, and ``smppgw trace
show``: the trace holds every PDU of a submit and its receipt, both ways, password masked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from tests.gateway.helpers import ACCOUNT, HOST, PASSWORD, simulator

SECRET = "Zq7x9Kw"  # a password that appears nowhere else in a trace


async def smppgw(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "smppgw.cli", *args], capture_stdout=True, capture_stderr=True, check=False
    )


async def test_send_traces_every_pdu_both_ways_with_the_password_masked(tmp_path: Path) -> None:
    trace = tmp_path / "send.jsonl"
    with trio.fail_after(30):
        async with simulator(
            behaviour={"dlr_delay": 0.05}, account=[{"system_id": ACCOUNT, "password": SECRET}]
        ) as sim:
            result = await smppgw(
                "send", "--smsc", f"{HOST}:{sim.port}", "--system-id", ACCOUNT, "--password", SECRET,
                "--from", "12345", "--to", "447700900001", "--text", "Hello trace", "--dlr",
                "--wait-dlr", "5", "--trace", str(trace),
            )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = trace.read_text()
    assert SECRET not in text and SECRET.encode().hex() not in text  # masked; no hex without --trace-hex
    records: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    seen = [(r["dir"], r["command"]) for r in records]
    for step in [
        ("tx", "bind_transceiver"), ("rx", "bind_transceiver_resp"), ("tx", "submit_sm"),
        ("rx", "submit_sm_resp"), ("rx", "deliver_sm"), ("tx", "deliver_sm_resp"),
        ("tx", "unbind"), ("rx", "unbind_resp"),
    ]:  # fmt: skip
        assert step in seen, (step, seen)
    assert seen.index(("tx", "bind_transceiver")) == 0
    # The receipt is answered before the unbind (3.4 §4.2), not dropped at shutdown.
    assert seen.index(("tx", "deliver_sm_resp")) < seen.index(("tx", "unbind"))
    assert (
        seen.index(("tx", "submit_sm"))
        < seen.index(("rx", "submit_sm_resp"))
        < seen.index(("rx", "deliver_sm"))
    )
    by_command = {r["command"]: r for r in records}
    bind, submit = by_command["bind_transceiver"], by_command["submit_sm"]
    assert bind["fields"]["password"] == "***" and bind["fields"]["system_id"] == ACCOUNT
    assert submit["fields"]["short_message"] == "Hello trace" and submit["fields"]["sm_length"] == 11
    assert submit["fields"]["destination_addr"] == "447700900001"
    assert submit["conn"]["system_id"] == ACCOUNT
    assert submit["conn"]["peer"] == f"{HOST}:{sim.port}" and submit["conn"]["local"].startswith(HOST)
    message_id = by_command["submit_sm_resp"]["fields"]["message_id"]
    receipt = by_command["deliver_sm"]
    assert f"id:{message_id} " in receipt["fields"]["short_message"]
    assert by_command["submit_sm_resp"]["sequence_number"] == submit["sequence_number"]
    assert by_command["deliver_sm_resp"]["sequence_number"] == receipt["sequence_number"]
    assert all(r["time"].endswith("Z") for r in records)

    shown = await smppgw("trace", "show", str(trace))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.decode().splitlines()
    assert lines[0].startswith("== ") and lines[0].endswith(" (UTC) ==")
    assert len(lines) == len(records) + 1
    [submit_line] = [line for line in lines if " submit_sm " in line]
    assert " -> submit_sm " in submit_line and f"c1 {ACCOUNT}" in submit_line
    assert f"seq={submit['sequence_number']} ESME_ROK" in submit_line
    assert 'short_message="Hello trace"' in submit_line and "destination_addr=447700900001" in submit_line
    [resp_line] = [line for line in lines if " submit_sm_resp " in line]
    assert " <- submit_sm_resp " in resp_line and f"message_id={message_id}" in resp_line
    assert "password=***" in next(line for line in lines if " bind_transceiver " in line)

    grepped = await smppgw("trace", "show", str(trace), "--grep", "deliver_sm", "--conn", "c1")
    assert grepped.returncode == 0, grepped.stderr
    shown_commands = [line.split()[4] for line in grepped.stdout.decode().splitlines()[1:]]
    assert shown_commands == ["deliver_sm", "deliver_sm_resp"]
    other = await smppgw("trace", "show", str(trace), "--conn", "2")
    assert other.returncode == 0 and other.stdout == b""


async def test_trace_show_reports_a_line_that_is_not_a_record(tmp_path: Path) -> None:
    trace = tmp_path / "bad.jsonl"
    trace.write_text(
        'not json\n{"time": "2026-12-06T10:00:00.000001Z", "dir": "rx", "command": "enquire_link"}\n'
    )
    with trio.fail_after(30):
        shown = await smppgw("trace", "show", str(trace))
    assert shown.returncode == 0
    assert "line 1: not a trace record" in shown.stderr.decode()
    assert "10:00:00.000001" in shown.stdout.decode() and "<- enquire_link" in shown.stdout.decode()


async def test_a_trace_file_that_cannot_be_opened_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    where = tmp_path / "missing-dir" / "t.jsonl"
    with trio.fail_after(30):
        result = await smppgw(
            "send", "--smsc", f"{HOST}:9", "--system-id", ACCOUNT, "--password", PASSWORD,
            "--from", "12345", "--to", "447700900001", "--text", "hi", "--trace", str(where),
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == b""  # nothing was sent, not even tried
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(f"smppgw: error: --trace: cannot open {where}")
