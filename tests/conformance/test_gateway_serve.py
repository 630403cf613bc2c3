"""The ESME suite against ``smppgw serve`` (issue: "the ESME suite passes against our
gateway (smppgw send and smppgw serve)"). The client under test is the gateway process,
fed through its HTTP API by ``serve_client.py``; it is stopped with SIGTERM as an
operator would, and must unbind by itself. Strict mode; every case must pass, in both
bind modes (the TX-only case runs only with a transmitter + receiver pair)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DRIVER = Path(__file__).with_name("serve_client.py")


@pytest.mark.parametrize(("bind", "skipped"), [("trx", {"delivery.refuses-deliver-on-tx"}), ("tx+rx", set())])
def test_smppgw_serve_passes_the_esme_suite(tmp_path: Path, bind: str, skipped: set[str]) -> None:
    report = tmp_path / "esme.json"
    junit = tmp_path / "esme.xml"
    command = [
        str(BIN / "smpp-conformance"), "esme", "--listen", "127.0.0.1:0", "--wait", "30", "--strict",
        "--json", str(report), "--junit", str(junit), "--",
        sys.executable, str(DRIVER), "{host}", "{port}", "--bind", bind, "--messages", "24",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    result = json.loads(report.read_text())
    verdicts = {c["id"]: c["verdict"] for c in result["cases"]}
    assert {k for k, v in verdicts.items() if v == "SKIP"} == skipped, verdicts
    assert all(v in ("PASS", "SKIP") for v in verdicts.values()), verdicts
    # The cases that need a stream of submits ran: window, throttling, generic_nack.
    for case in ("flow.window-respected", "flow.throttled-resubmitted", "flow.survives-generic-nack"):
        assert verdicts[case] == "PASS"
    assert "flow.window-respected" in junit.read_text()
