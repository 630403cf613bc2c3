"""``smpp-loadtest report``, plain progress lines off a terminal, and the live Prometheus
metrics (``--prometheus-port``)."""

from __future__ import annotations

import copy
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from loadtest.cli import main
from loadtest.compare import compare_rows, compare_text
from loadtest.progress import PlainProgress
from loadtest.prom import PrometheusExporter
from loadtest.report_html import render_html
from tests.loadtest.helpers import constant, run_checked

FIXTURE = Path(__file__).with_name("sample_result.json")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def result() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _save(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


# -- report ---------------------------------------------------------------------------------------


def test_report_re_renders_the_html_of_a_saved_result(tmp_path: Path, result: dict[str, Any]) -> None:
    out = tmp_path / "again.html"
    run = invoke("report", str(FIXTURE), "--html", str(out))
    assert run.exit_code == 0, run.stderr
    assert out.read_text(encoding="utf-8") == render_html(result)
    assert "submit->resp" in run.stdout and "check error rate < 1%" in run.stdout
    assert "value 2.099%" in run.stdout  # a ratio in percent, as the threshold was written


def test_report_of_a_run_without_checks_says_so(tmp_path: Path, result: dict[str, Any]) -> None:
    result["checks"], result["passed"] = [], True
    run = invoke("report", _save(tmp_path / "r.json", result), "--html", str(tmp_path / "r.html"))
    assert run.exit_code == 0
    assert "no checks" in run.stdout
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "NO CHECKS" in page and "PASSED" not in page


def test_compare_two_runs(tmp_path: Path, result: dict[str, Any]) -> None:
    after = copy.deepcopy(result)
    after["summary"]["latency_ms"]["submit_resp"]["p99"] = 70.274  # twice A's
    del after["summary"]["errors_by_status"]["ESME_RTHROTTLED"]
    after["summary"]["errors"], after["summary"]["throttled"] = 5, 0  # 3 ESME_RSYSERR, 2 timeouts
    a, b = _save(tmp_path / "before.json", result), _save(tmp_path / "after.json", after)
    run = invoke("report", "--compare", a, b, "--html", str(tmp_path / "cmp.html"))
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["before.json", "after.json", "B", "-", "A"]
    p99 = next(line for line in lines if line.startswith("submit_resp p99 "))
    assert p99.split()[2:] == ["35.14", "ms", "70.27", "ms", "+35.14", "ms", "(+100.0%)", "(worse)"]
    errors = next(line for line in lines if line.startswith("error rate"))
    assert "2.1%" in errors and "0.0112%" in errors and "(worse)" not in errors
    page = (tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert page.count('<tr class="worse">') == sum(1 for r in compare_rows(result, after) if r.worse) >= 1
    assert 'id="chart-acked"' in page and 'id="chart-p99"' in page
    assert "A: before.json" in page and "B: after.json" in page


def test_compare_with_an_older_result_shows_what_it_lacks(result: dict[str, Any]) -> None:
    old = copy.deepcopy(result)
    del old["summary"]["unsent"]
    unsent = next(line for line in compare_text(old, result).splitlines() if line.startswith("unsent"))
    assert unsent.split() == ["unsent", "—", "156"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("report",), "give one RESULT.json"),
        (("report", "a.json", "--compare", "a.json", "b.json"), "give one RESULT.json"),
        (("report", "/nonexistent/r.json"), "/nonexistent/r.json: cannot read it"),
        (("report", "--compare", "/nonexistent/a.json"), "--compare"),
    ],
)
def test_report_bad_usage_exits_2_with_one_line(args: tuple[str, ...], text: str) -> None:
    run = invoke(*args)
    assert run.exit_code == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smpp-loadtest: error: ") and text in lines[0], lines


def test_report_refuses_a_file_that_is_not_a_result(tmp_path: Path, result: dict[str, Any]) -> None:
    (tmp_path / "text.json").write_text("not json")
    run = invoke("report", str(tmp_path / "text.json"))
    assert run.exit_code == 2 and "text.json: not JSON" in run.stderr
    del result["summary"]["sent"]
    run = invoke("report", _save(tmp_path / "r.json", result))
    assert run.exit_code == 2 and "not a smpp-loadtest/1 result: $.summary.sent: missing" in run.stderr


def test_help_names_the_report_subcommand() -> None:
    run = invoke("--help")
    assert run.exit_code == 0 and "report" in run.stdout and "--prometheus-port" in run.stdout
    assert invoke("report", "--help").exit_code == 0


# -- progress off a terminal ----------------------------------------------------------------------


def test_progress_lines_when_stdout_is_not_a_terminal() -> None:
    run = CliRunner().invoke(main, ["--sim", "--rate", "100", "--duration", "2", "--progress-every", "1"])
    assert run.exit_code == 0, run.stderr
    progress = [line for line in run.stderr.splitlines() if re.match(r"smpp-loadtest: \d+\.\d s ", line)]
    assert len(progress) >= 2, run.stderr  # after 1 s and 2 s
    assert re.search(r" offered \d+ .* in flight \d+ · backlog \d+ · cpu ", progress[0]), progress[0]
    assert any(line.startswith("smpp-loadtest: done ") for line in run.stderr.splitlines())
    quiet = CliRunner().invoke(main, ["--sim", "--rate", "100", "--duration", "1", "-q"])
    assert quiet.exit_code == 0 and "offered" not in quiet.stderr


def test_plain_progress_prints_once_per_interval() -> None:
    class Sink:
        def __init__(self) -> None:
            self.text = ""

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    sink = Sink()
    progress = PlainProgress(every=5.0, stream=sink)  # type: ignore[arg-type]
    progress.start({"target": "sim", "address": "127.0.0.1:1", "workload": "constant", "rate": 10})
    for t in range(1, 12):
        progress.update({"elapsed_s": float(t), "acked": 10 * t, "offered": 10 * t})
    progress.stop()
    lines = sink.text.splitlines()
    assert lines[0] == "smpp-loadtest: load constant 10/s → sim 127.0.0.1:1"
    assert [line.split()[1] for line in lines[1:3]] == ["5.0", "10.0"]
    assert "acked 10/s" in lines[1]
    assert lines[3].startswith("smpp-loadtest: done 11.0 s") and len(lines) == 4


# -- Prometheus -----------------------------------------------------------------------------------


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        text = response.read().decode()
    return {
        name: float(value) for name, value in re.findall(r"^(smpp_loadtest_[^ ]+) ([-+0-9.e]+)$", text, re.M)
    }


def test_exporter_serves_the_newest_snapshot_on_loopback() -> None:
    exporter = PrometheusExporter(0)
    try:
        assert exporter.url.startswith("http://127.0.0.1:") and exporter.port > 0
        exporter.start({"target": "sim", "address": "127.0.0.1:9", "workload": "constant"})
        exporter.update(
            {"offered": 10, "acked": 7, "inflight": 3, "backlog": 0, "p99_ms": 12.5, "rate_target": 5}
        )
        m = _scrape(exporter.url)
        assert m["smpp_loadtest_offered_total"] == 10 and m["smpp_loadtest_acked_total"] == 7
        assert m["smpp_loadtest_inflight"] == 3 and m["smpp_loadtest_backlog"] == 0
        assert m["smpp_loadtest_target_rate"] == 5
        assert m['smpp_loadtest_latency_seconds{quantile="0.99"}'] == 0.0125
        assert m['smpp_loadtest_info{address="127.0.0.1:9",target="sim",workload="constant"}'] == 1
    finally:
        exporter.stop()
    exporter.stop()  # idempotent


async def test_metrics_are_live_during_a_run() -> None:
    exporter = PrometheusExporter(0)
    scraped: list[dict[str, float]] = []

    class ScrapeOnce:
        """Scrapes in the first update, while the run goes on (the server has its own thread)."""

        def start(self, params: dict[str, Any]) -> None:
            pass

        def update(self, snapshot: dict[str, Any]) -> None:
            if not scraped:
                scraped.append(_scrape(exporter.url))

        def stop(self) -> None:
            pass

    from loadtest.progress import Tee

    try:
        await run_checked(constant(200, 2.0), display=Tee([exporter, ScrapeOnce()]))
    finally:
        exporter.stop()
    (m,) = scraped
    assert 0 < m["smpp_loadtest_offered_total"] <= 400  # scraped during the run (400 in all)
    assert m["smpp_loadtest_target_rate"] == 200
    assert "smpp_loadtest_inflight" in m and m["smpp_loadtest_elapsed_seconds"] >= 1.0


def test_prometheus_port_in_use_is_a_usage_error() -> None:
    exporter = PrometheusExporter(0)
    try:
        run = invoke("--sim", "--rate", "10", "--duration", "1", "--prometheus-port", str(exporter.port))
    finally:
        exporter.stop()
    assert run.exit_code == 2 and "--prometheus-port: cannot listen on 127.0.0.1" in run.stderr


def test_cli_prints_where_the_metrics_are() -> None:
    run = invoke("--sim", "--rate", "50", "--duration", "1", "-q", "--prometheus-port", "0")
    assert run.exit_code == 0, run.stderr
    assert re.search(
        r"^smpp-loadtest: Prometheus metrics on http://127\.0\.0\.1:\d+/metrics$", run.stderr, re.M
    )
