"""``smpp-loadtest --trace``: a load run traces 1 PDU in N (by sequence_number), the
session's PDUs always."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from loadtest.cli import main
from loadtest.params import RunParams
from smppgw.net.trace import PduTracer
from tests.loadtest.helpers import run_checked


async def test_a_run_traces_one_exchange_in_n_and_its_binds() -> None:
    out = io.StringIO()
    tracer = PduTracer(out, sample=50)
    params = RunParams(target="sim", closed=True, count=500, window=16, seed=1, max_seconds=30.0)
    result = await run_checked(params, tracer=tracer)
    assert result["summary"]["acked"] == 500
    records: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    submits = [r["sequence_number"] for r in records if r["command"] == "submit_sm"]
    resps = [r["sequence_number"] for r in records if r["command"] == "submit_sm_resp"]
    # The bind is sequence 1, the 500 submits 2..501: the multiples of 50 among them.
    assert submits == list(range(50, 501, 50)) and resps == submits
    assert all(r["dir"] == "tx" for r in records if r["command"] == "submit_sm")
    commands = [r["command"] for r in records]
    assert commands[:2] == ["bind_transceiver", "bind_transceiver_resp"]
    assert "unbind" in commands and "unbind_resp" in commands
    assert next(r for r in records if r["command"] == "bind_transceiver")["fields"]["password"] == "***"


def test_cli_trace_options(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["--sim", "--count", "10", "--closed", "--trace-sample", "0", "-q"])
    assert bad.exit_code == 2 and "--trace-sample" in bad.output
    missing = tmp_path / "no-dir" / "t.jsonl"
    refused = runner.invoke(main, ["--sim", "--count", "10", "--closed", "--trace", str(missing), "-q"])
    assert refused.exit_code == 2 and "--trace: cannot open" in refused.output
    trace = tmp_path / "t.jsonl"
    ok = runner.invoke(
        main, ["--sim", "--count", "20", "--closed", "--trace", str(trace), "--trace-sample", "1", "-q"]
    )
    assert ok.exit_code == 0, ok.output
    commands = [json.loads(line)["command"] for line in trace.read_text().splitlines()]
    assert commands.count("submit_sm") == 20 and commands.count("submit_sm_resp") == 20
