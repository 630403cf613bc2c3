"""``smpp-conformance`` end to end: exit codes, reports, usage errors (DESIGN §4.1)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import trio

from conformance.esme import ALL as ESME_CASES
from conformance.smsc import ALL as SMSC_CASES
from tests.conformance.helpers import ACCOUNT, GOOD_CLIENT, start_simulator

FAST = ["--timeout", "1", "--receipt-timeout", "2", "--quiet-period", "0.2", "--throttle-backoff", "0.05"]


async def cli(*args: str) -> trio.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "conformance", *args], check=False, capture_stdout=True, capture_stderr=True
    )


def smsc_args(port: int, *extra: str) -> list[str]:
    return [
        "smsc",
        "--target",
        f"127.0.0.1:{port}",
        "--system-id",
        ACCOUNT["system_id"],
        "--password",
        ACCOUNT["password"],
        *FAST,
        *extra,
    ]


def junit_cases(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    return suite.findall("testcase")


async def test_smsc_all_pass_exits_0_with_json_and_junit(tmp_path: Path) -> None:
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery)
        done = await cli(
            *smsc_args(
                sim.port, "--skip", "timers,manage", "--json", str(json_path), "--junit", str(junit_path)
            )
        )
        nursery.cancel_scope.cancel()
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    selected = [c for c in SMSC_CASES if c.area not in ("timers", "manage")]
    report: dict[str, Any] = json.loads(json_path.read_text())
    assert report["passed"] is True and report["suite"] == "smsc"
    assert [c["id"] for c in report["cases"]] == [c.id for c in selected]
    assert all(c["spec"] and c["severity"] in ("must", "should", "may") for c in report["cases"])
    testcases = junit_cases(junit_path)
    assert len(testcases) == len(selected)
    assert not any(tc.find("failure") is not None for tc in testcases)
    assert b"PASSED:" in done.stdout


async def test_smsc_failure_exits_1_with_observed_pdus(tmp_path: Path) -> None:
    json_path, junit_path = tmp_path / "r.json", tmp_path / "r.xml"
    account = {"account": [{**ACCOUNT, "behaviour": {"receipt_tlvs": False}}]}
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **account)
        done = await cli(
            *smsc_args(
                sim.port,
                "--strict",
                "--only",
                "delivery.receipt-tlvs,submit.accepted",
                "--json",
                str(json_path),
                "--junit",
                str(junit_path),
            )
        )
        nursery.cancel_scope.cancel()
    assert done.returncode == 1, done.stderr.decode()
    report = json.loads(json_path.read_text())
    [failed] = [c for c in report["cases"] if c["verdict"] == "FAIL"]
    assert failed["id"] == "delivery.receipt-tlvs"
    assert any("deliver_sm" in line for line in failed["observed"])
    [fail_tc] = [tc for tc in junit_cases(junit_path) if tc.find("failure") is not None]
    failure = fail_tc.find("failure")
    assert failure is not None and "receipted_message_id" in failure.get("message", "")
    assert "deliver_sm" in (failure.text or "")
    assert b"FAILED:" in done.stdout


async def test_smsc_lenient_mode_warns_and_exits_0() -> None:
    account = {"account": [{**ACCOUNT, "behaviour": {"receipt_tlvs": False}}]}
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, **account)
        done = await cli(*smsc_args(sim.port, "--only", "delivery.receipt-tlvs"))
        nursery.cancel_scope.cancel()
    assert done.returncode == 0
    assert b"WARN" in done.stdout


async def test_smsc_unreachable_ends_the_run_at_once_with_one_line() -> None:
    with trio.socket.socket() as s:  # a port nobody listens on
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = await cli(*smsc_args(port, "--plain"))
    assert done.returncode == 1
    err = done.stderr.decode()
    assert err.startswith("smpp-conformance: error: ") and err.count("\n") == 1, err
    assert "cannot connect" in err and "no case was run" in err
    assert done.stdout == b""  # no table: not one case ran


async def test_smsc_refused_bind_ends_the_run_at_once_with_one_line(tmp_path: Path) -> None:
    json_path = tmp_path / "r.json"
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery)
        args = smsc_args(sim.port, "--json", str(json_path))
        args[args.index("--password") + 1] = "wrong"
        done = await cli(*args)
        nursery.cancel_scope.cancel()
    assert done.returncode == 1
    err = done.stderr.decode()
    assert err.startswith("smpp-conformance: error: ") and err.count("\n") == 1, err
    assert "ESME_RINVPASWD" in err and "no case was run" in err
    assert done.stdout == b"" and not json_path.exists()


async def test_report_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    """A report that cannot be written stops the run before it starts (exit 2), for
    both suites; the SMSC is never contacted (port 1: nothing listens there)."""
    missing = tmp_path / "no-such-dir" / "r.json"
    for args in (
        smsc_args(1, "--json", str(missing)),
        smsc_args(1, "--junit", str(tmp_path)),  # a directory
        ["esme", "--listen", "127.0.0.1:0", "--junit", str(missing), "--", *GOOD_CLIENT],
    ):
        done = await cli(*args)
        err = done.stderr.decode()
        assert done.returncode == 2, (args, err)
        assert err.startswith("smpp-conformance: error: ") and err.count("\n") == 1, err
        assert ("--json" in err or "--junit" in err) and ("cannot write" in err or "is a directory" in err)


async def test_esme_good_client_exits_0_with_junit(tmp_path: Path) -> None:
    junit_path = tmp_path / "esme.xml"
    done = await cli(
        "esme",
        "--listen",
        "127.0.0.1:0",
        "--wait",
        "10",
        "--timeout",
        "1",
        "--quiet-period",
        "0.3",
        "--strict",
        "--junit",
        str(junit_path),
        "--",
        *GOOD_CLIENT,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    testcases = junit_cases(junit_path)
    assert [tc.get("name", "").split(":")[0] for tc in testcases] == [c.id for c in ESME_CASES]
    root = ET.parse(junit_path).getroot()
    assert "esme_client:" in "".join(root.itertext())  # the client's output is kept


async def test_usage_errors_exit_2_with_one_line() -> None:
    cases = [
        ["smsc", "--system-id", "x", "--password", "y"],  # no --smsc
        ["smsc", "--target", "nohostport", "--system-id", "x", "--password", "y"],
        ["smsc", "--target", "127.0.0.1:1", "--system-id", "x", "--password", "y", "--only", "no.such-case"],
        ["smsc", "--target", "127.0.0.1:1", "--system-id", "x" * 16, "--password", "y"],
        [
            "smsc",
            "--target",
            "127.0.0.1:1",
            "--system-id",
            "x",
            "--password",
            "y",
            "--interface-version",
            "zz",
        ],
        ["esme", "--listen", "127.0.0.1:0", "--", "/nonexistent/client"],
        ["esme", "--listen", "127.0.0.1:0"],  # waiting for a client needs a known port
        ["nosuchcommand"],
    ]
    done_by_case: dict[int, trio.CompletedProcess[bytes]] = {}

    async def one(i: int) -> None:
        done_by_case[i] = await cli(*cases[i])

    async with trio.open_nursery() as nursery:
        for i in range(len(cases)):
            nursery.start_soon(one, i)
    for i, args in enumerate(cases):
        done = done_by_case[i]
        err = done.stderr.decode()
        assert done.returncode == 2, (args, err)
        assert err.startswith("smpp-conformance: error: ") and err.count("\n") == 1, (args, err)
        assert "Traceback" not in err


async def test_list_shows_every_case_with_spec_and_severity() -> None:
    done = await cli("list", "--markdown")
    assert done.returncode == 0
    lines = [
        line
        for line in done.stdout.decode().splitlines()
        if line.startswith("| SMSC") or line.startswith("| ESME")
    ]
    assert len(lines) == len(SMSC_CASES) + len(ESME_CASES)
    steps = await cli("list", "smsc", "--steps")
    assert b"- send submit_sm" in steps.stdout
