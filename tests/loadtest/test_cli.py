"""The ``smpp-loadtest`` command: exit codes, one-line errors, scenarios, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.scenario import load_scenario, scenario_from_dict
from loadtest.schema import validate

SIM_RUN = ["--sim", "--rate", "200", "--duration", "1", "--no-live", "-q"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_one_line_error(result: Result, code: int, text: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smpp-loadtest: error: "), lines[0]
    assert text in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((), "no target"),
        (("--sim",), "no workload"),
        (("--sim", "--rate", "abc", "--duration", "1"), "--rate"),
        (("--sim", "--rate", "10", "--ramp", "1:2", "--duration", "1"), "only one of"),
        (("--sim", "--target", "h:1", "--rate", "1", "--duration", "1"), "only one of --smsc"),
        (("--target", "nohost", "--rate", "1", "--duration", "1"), "HOST:PORT"),
        (("--http", "http://127.0.0.1:1", "--rate", "1", "--duration", "1"), "--api-key"),
        (("--sim", "--ramp", "1:2"), "--ramp needs --duration"),
        (("--sim", "--steps", "10:1,20", "--no-live"), "--steps"),
        (("--sim", "--rate", "1", "--duration", "1", "--check", "p99 < banana"), "--check"),
        (("--sim", "--rate", "1", "--duration", "1", "--mix", "mms:1"), "--mix"),
        (("--sim", "--rate", "1", "--duration", "1", "--sim-option", "tps"), "--sim-option"),
        (("--target", "h:1", "--rate", "1", "--duration", "1", "--profile", "x"), "--sim only"),
        (("--sim", "--rate", "1", "--duration", "1", "--bogus"), "--bogus"),
        (("--scenario", "/nonexistent/x.toml"), "x.toml"),
        (("--sim", "--rate", "1", "--duration", "1", "--sim-option", "tps=-5"), "tps"),
        (("--sim", "--rate", "1", "--duration", "1", "--profile", "no-such-profile"), "no-such-profile"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(invoke(*args), 2, text)


def test_help_exits_0() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "--wait-dlr" in result.stdout and "--scenario" in result.stdout


def test_unreachable_target_exits_1_with_one_line() -> None:
    result = invoke("--target", "127.0.0.1:1", "--rate", "10", "--duration", "1", "--no-live")
    assert_one_line_error(result, 1, "cannot connect to 127.0.0.1:1")


def test_refused_bind_exits_1() -> None:
    result = invoke(*SIM_RUN, "--sim-option", "refuse_binds=true")
    assert_one_line_error(result, 1, "bind refused by 127.0.0.1")
    assert "ESME_RBINDFAIL" in result.stderr


def test_checks_decide_the_exit_code(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    ok = invoke(*SIM_RUN, "--check", "p99 < 10s", "--check", "error_rate < 1%", "--json", str(out))
    assert ok.exit_code == 0, ok.stderr
    doc = json.loads(out.read_text())
    assert validate(doc, strict=True) == []
    assert [c["passed"] for c in doc["checks"]] == [True, True]
    assert doc["passed"] is True

    bad = invoke(*SIM_RUN, "--check", "p50 < 1us", "--check", "rate >= 100/s", "--json", str(out))
    assert bad.exit_code == 1
    doc = json.loads(out.read_text())
    assert [c["passed"] for c in doc["checks"]] == [False, True]
    assert doc["passed"] is False


def test_summary_table_and_json_on_stdout() -> None:
    result = CliRunner().invoke(
        main, ["--sim", "--rate", "100", "--duration", "1", "--no-live", "--json", "-"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["acked"] == 100
    assert "submit->resp" in result.stderr  # the table goes to stderr when stdout has the JSON


SCENARIO = """
[target]
kind = "sim"
binds = 2
window = 16
[target.sim_options]
resp_latency = 0.002

[run]
seed = 4
destinations = "447700900100-447700900199"

[[phase]]
rate = 100
duration = 0.5

[[phase]]
rate = 200
duration = 0.5

[mix]
gsm = 0.9
ucs2 = 0.1

[thresholds]
p99 = "< 5s"
error_rate = "< 1%"
"""


def test_scenario_file_runs_and_the_command_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    out = tmp_path / "r.json"
    result = invoke("--scenario", str(path), "--json", str(out), "--no-live", "-q", "--check", "sent >= 100")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    p = doc["params"]
    assert (p["workload"], p["steps"], p["binds"], p["window"]) == ("steps", [[100, 0.5], [200, 0.5]], 2, 16)
    assert (p["scenario"], p["mix"], p["destinations"]) == (
        str(path),
        {"gsm": 0.9, "ucs2": 0.1},
        "447700900100-447700900199",
    )
    assert [c["name"] for c in doc["checks"]] == ["p99 < 5s", "error_rate < 1%", "sent >= 100"]
    assert doc["summary"]["sent"] == 150

    result = invoke(
        "--scenario", str(path), "--rate", "300", "--duration", "0.5", "--json", str(out), "--no-live", "-q"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    assert (doc["params"]["workload"], doc["params"]["rate"], doc["summary"]["sent"]) == (
        "constant",
        300,
        150,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[targte]\nkind='sim'", "targte: unknown key"),
        ("[target]\nkind='smsc'", "target.address: required"),
        ("[target]\nkind='carrier'", "target.kind: one of"),
        ("[target]\nkind='sim'\nwindow='big'", "target.window: expected an integer"),
        ("[target]\nkind='sim'\nspeed=1", "target.speed: unknown key"),
        ("[[phase]]\nrate=1\nduration=1\nburst=3", "phase[0].burst: unknown key"),
        ("[[phase]]\nramp=[1]\nduration=1", "phase[0].ramp: expected [FROM, TO]"),
        ("[[phase]]\nrate='fast'", "phase[0].rate: expected a number"),
        ("[run]\ncount=1.5", "run.count: expected an integer"),
        ("[run]\ndestinations='abc'", "run.destinations"),
        ("[mix]\nsms=1", "mix: unknown kind 'sms'"),
        ("[thresholds]\np99='fast'", "thresholds.p99"),
        ("[thresholds]\np99=200", "thresholds.p99: expected a string"),
        ("phase = 3", "phase: expected one or more"),
        ("not toml at all [", "scenario"),
    ],
)
def test_scenario_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(Exception, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(path)
    result = invoke("--scenario", str(path), "--rate", "1", "--duration", "1", "--sim")
    assert_one_line_error(result, 2, "bad.toml")


def test_a_scenario_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "utf16.toml"
    path.write_text("[target]\nkind = 'sim'\n", encoding="utf-16")
    assert_one_line_error(invoke("--scenario", str(path)), 2, f"scenario {path}: not UTF-8 text")


def test_scenario_phase_rules_are_checked_when_the_run_is_built(tmp_path: Path) -> None:
    path = tmp_path / "ramp.toml"
    path.write_text(
        "[target]\nkind='sim'\n[[phase]]\nramp=[1,5]\nduration=1\n[[phase]]\nrate=3\nduration=1\n"
    )
    assert_one_line_error(invoke("--scenario", str(path)), 2, "a ramp must be the only phase")


def test_scenario_dict_maps_to_run_params() -> None:
    out = scenario_from_dict(
        {
            "target": {"kind": "http", "address": "http://gw:8080", "api_key": "k", "binds": 2},
            "run": {"closed": True, "duration": 5, "wait_dlr": 0},
        }
    )
    assert out["target"] == "http" and out["address"] == "http://gw:8080" and out["closed"] is True


def test_console_script_end_to_end_with_html(tmp_path: Path) -> None:
    """What a QA engineer types (shortened): the installed command, JSON and HTML out."""
    exe = Path(sys.executable).with_name("smpp-loadtest")
    cmd = [str(exe), "--sim", "--rate", "200", "--duration", "1", "--json", "r.json", "--html", "r.html"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "submit->resp" in proc.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert validate(doc, strict=True) == []
    assert doc["summary"]["acked"] == 200
    assert (tmp_path / "r.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_ctrl_c_ends_the_load_phase_and_still_reports(tmp_path: Path) -> None:
    import signal
    import time

    exe = Path(sys.executable).with_name("smpp-loadtest")
    cmd = [str(exe), "--sim", "--rate", "100", "--duration", "30", "--json", "r.json", "-q", "--no-live"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4.0)  # started (about a second) and loading for a while
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, err
    assert "interrupted" in err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert validate(doc, strict=True) == []
    assert 0.5 < doc["summary"]["duration_s"] < 10
    assert doc["summary"]["acked"] == doc["summary"]["sent"] > 0
