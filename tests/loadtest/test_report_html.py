"""The HTML report: structure, escaping, the embedded JSON, and a real headless browser.

The browser tests run Debian's Chromium (``apt-get install -y chromium``). Without it they
skip locally and FAIL under CI (``CI=true``), so a CI image that lacks the browser is noticed.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from loadtest.report_html import embedded_json, render_html, write_html
from loadtest.report_svg import percentile_points

FIXTURE = Path(__file__).with_name("sample_result.json")
CHARTS = ("throughput", "latency", "queue", "errors", "cpu", "distribution")
SERIES = {
    "throughput": ("offered", "sent", "acked", "receipts"),
    "latency": ("p50", "p90", "p99", "max"),
    "errors": ("errors", "throttled"),
    "cpu": ("client CPU %",),
    "queue": ("in flight", "backlog"),
    "distribution": ("submit_resp", "submit_receipt"),
}
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
SVG_SELF_CLOSING = {"line", "path", "rect", "circle", "polyline"}
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
BROWSER_TIMEOUT_S = 120


@pytest.fixture
def result() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


class Page(HTMLParser):
    """Collects ids, the attributes of each element, and checks that tags are balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.problems: list[str] = []
        self.script_json: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag == "script" and a.get("type") == "application/json":
            self._in_json = True
            self.script_json.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._in_json = False
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.script_json[-1] += data

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    assert not p.problems, p.problems[:5]
    assert p.stack == [], f"unclosed elements: {p.stack}"
    return p


def chart_svg(page: str, chart: str) -> str:
    m = re.search(rf'<figure class="chart" id="chart-{chart}".*?</figure>', page, re.S)
    assert m, f"chart {chart} missing"
    return m.group(0)


def test_fixture_follows_the_schema(result: dict[str, Any]) -> None:
    from loadtest.schema import validate

    assert validate(result, strict=True) == []


# -- structure -----------------------------------------------------------------------------------


def test_every_section_and_chart_is_present(result: dict[str, Any]) -> None:
    page = render_html(result)
    assert page.startswith("<!DOCTYPE html>")
    ids = parse(page).ids()
    for section in ("verdict", "checks", "summary", "charts", "parameters", "result"):
        assert section in ids
    for chart in CHARTS:
        assert f"chart-{chart}" in ids
    assert "SMPP load test report" in page
    assert "ramp 500 → 2,500/s for 30 s" in page


def test_every_series_is_drawn(result: dict[str, Any]) -> None:
    page = render_html(result)
    for chart, names in SERIES.items():
        svg = chart_svg(page, chart)
        for name in names:
            paths = re.findall(rf'<path class="series" data-series="{re.escape(name)}" d="M[^"]+"', svg)
            assert paths, f"{chart}: series {name} not drawn"
        assert svg.count('class="hover"') > 10 or chart == "distribution"
    assert "log scale" in chart_svg(page, "latency")  # p50 ~2 ms .. max 10 s
    assert "log scale" in chart_svg(page, "distribution")
    assert "check: p99 &lt; 200ms" in chart_svg(page, "distribution")  # threshold line


def test_summary_values(result: dict[str, Any]) -> None:
    page = render_html(result)
    s = result["summary"]
    assert f"{s['sent']:,}" in page and f"{s['acked']:,}" in page
    assert "35.14" in page  # submit_resp p99
    assert "2,011" in page  # submit_receipt p99
    for status in s["errors_by_status"]:
        assert f"<code>{status}</code>" in page
    assert "99.57%" in page  # receipts / expected
    assert "142.6 MB" in page and "3.8 ms" in page
    assert 'id="saturated"' not in page
    assert "FAILED" in page and "3/4 checks passed" in page
    assert page.count('class="badge pass"') == 3 and page.count('class="badge fail"') == 1


def test_no_checks_is_not_a_pass(result: dict[str, Any]) -> None:
    result["checks"], result["passed"] = [], True
    page = render_html(result)
    verdict = re.search(r'<div class="verdict (\w+)" id="verdict">(.*?)</div>', page)
    assert verdict is not None
    assert verdict.group(1) == "none"
    assert "NO CHECKS" in verdict.group(2) and "no checks were configured" in verdict.group(2)
    assert "PASSED" not in page and "0/0" not in page


def test_ratio_checks_are_shown_in_percent(result: dict[str, Any]) -> None:
    page = render_html(result)
    rows = re.findall(r"<tr><td[^>]*><span class=\"badge \w+\">\w+</span></td>(.*?)</tr>", page)
    error_row = next(r for r in rows if "error rate" in r)
    assert "&lt; 1%" in error_row and "2.099%" in error_row  # not "< 0.01" beside a "2.10%" tile
    receipt_row = next(r for r in rows if "receipts &gt;= 99%" in r)
    assert "&gt;= 99%" in receipt_row and "99.57%" in receipt_row
    assert "&lt; 200 ms" in next(r for r in rows if "p99" in r)


def test_unsent_messages_are_counted_and_warned_about(result: dict[str, Any]) -> None:
    page = render_html(result)
    assert 'id="unsent"' in page
    assert "156 messages" in page and "never sent" in page and "unsent == 0" in page
    volume = re.search(r'<table class="volume">.*?</table>', page, re.S)
    assert volume is not None and '<td class="">unsent</td><td class="n">156</td>' in volume.group(0)
    result["summary"]["unsent"] = 0
    assert 'id="unsent"' not in render_html(result)


def test_partial_last_second_is_scaled_and_its_cpu_left_out(result: dict[str, Any]) -> None:
    from loadtest.report_charts import _full_seconds, _per_second

    tl = result["timeline"]
    tl[-1].update(receipts=21, span_s=0.42)  # 21 receipts in 0.42 s: 50/s
    assert _per_second(tl, "receipts")[-1] == (34.0, 50.0)
    assert _per_second(tl, "receipts")[-2] == (33.0, 0.0)
    assert all(t != 34.0 for t, _ in _full_seconds(tl, "cpu_percent"))  # the 101.5 % sliver
    page = render_html(result)
    assert "the last second covers 0.42 s, scaled" in chart_svg(page, "throughput")
    cpu = chart_svg(page, "cpu")
    assert "the last 0.42 s is left out" in cpu
    assert ">120%<" not in cpu  # the axis stays at 100 %: no spike from the partial second
    tl[-1]["span_s"] = 0.01
    assert _per_second(tl, "receipts")[-1][0] == 33.0  # a 10 ms sliver is not scaled 100-fold


def test_inflight_and_backlog_are_charted(result: dict[str, Any]) -> None:
    svg = chart_svg(render_html(result), "queue")
    assert 'data-series="in flight"' in svg and 'data-series="backlog"' in svg
    assert "in flight" in svg and "backlog 130" in svg  # the hover text of t=30


def test_a_result_from_before_the_new_keys_renders(result: dict[str, Any]) -> None:
    """Schema smpp-loadtest/1 is additive: a result without unsent, inflight, backlog and
    span_s still validates and renders (the queue chart says it has no data)."""
    from loadtest.schema import validate

    del result["summary"]["unsent"]
    for entry in result["timeline"]:
        for key in ("inflight", "backlog", "span_s"):
            del entry[key]
    assert validate(result, strict=True) == []
    page = render_html(result)
    parse(page)
    assert "No data" in chart_svg(page, "queue")
    assert 'id="unsent"' not in page


def test_saturation_warning(result: dict[str, Any]) -> None:
    result["summary"]["client"]["saturated"] = True
    page = render_html(result)
    assert 'id="saturated"' in page
    assert "Load generator saturated" in page


def test_parameters_are_escaped(result: dict[str, Any]) -> None:
    evil = "<script>alert(1)</script>"
    result["params"]["system_id"] = evil
    result["params"]["destinations"] = '"><img src=x onerror=alert(2)>'
    result["params"]["host"] = "a & b </script><script>alert(3)</script>"
    result["checks"][0]["name"] = evil
    result["summary"]["errors_by_status"]["<b>x</b>"] = 1
    page = render_html(result)
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert len(re.findall(r"<script\b", page)) == 2  # the JSON block and the verifier only
    parse(page)


def test_no_external_references(result: dict[str, Any]) -> None:
    result["params"]["address"] = "http://gw.example:8080/api"  # data may hold URLs: not as links
    page = render_html(result)
    stripped = page.replace("http://gw.example:8080/api", "")
    assert not re.search(r"https?://", stripped, re.I)
    for tag, attrs in parse(page).elements:
        for name in ("src", "href", "action", "srcset", "xlink:href"):
            assert name not in attrs or attrs[name].startswith("#"), (tag, attrs)
    assert "@import" not in page and "url(" not in page


def test_embedded_json_round_trips(result: dict[str, Any]) -> None:
    result["params"]["scenario"] = "x</script><script>alert(1)</script>\u2028&"
    page = render_html(result)
    block = parse(page).script_json
    assert len(block) == 1
    assert "</script" not in block[0].lower()
    assert json.loads(block[0]) == result


def test_non_finite_numbers_stay_valid_json(result: dict[str, Any]) -> None:
    result["summary"]["client"]["cpu_percent"] = math.nan
    result["timeline"][3]["p99_ms"] = math.inf
    data = json.loads(embedded_json(result))
    assert data["summary"]["client"]["cpu_percent"] is None
    assert data["timeline"][3]["p99_ms"] is None
    parse(render_html(result))


def test_minimal_result_renders() -> None:
    """An aborted run: no timeline, no histogram, no checks, no receipts awaited."""
    minimal: dict[str, Any] = {
        "schema": "smpp-loadtest/1",
        "params": {"target": "sim", "address": None, "workload": "constant", "rate": 10, "duration_s": 1},
        "summary": {
            "latency_ms": {"submit_resp": {"count": 0}, "submit_receipt": None},
            "errors_by_status": {},
        },
        "timeline": [],
        "histogram": {"submit_resp": [], "submit_receipt": []},
        "checks": [],
        "passed": True,
    }
    page = render_html(minimal)
    parse(page)
    assert "No checks were configured" in page and "No errors." in page
    assert page.count("No data") == len(CHARTS)
    assert "NO CHECKS" in page and "PASSED" not in page and "sim None" not in page


def test_all_zero_series_get_a_sane_axis(result: dict[str, Any]) -> None:
    for entry in result["timeline"]:
        entry["errors"] = entry["throttled"] = 0
    svg = chart_svg(render_html(result), "errors")
    ticks = re.findall(r'<text class="tick"[^>]*text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["0", "0.2", "0.4", "0.6", "0.8", "1"]


def test_large_timeline_is_decimated(result: dict[str, Any]) -> None:
    base = result["timeline"][:30]
    result["timeline"] = [dict(base[i % 30], t=i) for i in range(7200)]  # two hours
    page = render_html(result)
    svg = chart_svg(page, "throughput")
    points = sum(d.count("L") + 1 for d in re.findall(r'data-series="sent" d="([^"]+)"', svg))
    assert points <= 1600
    assert svg.count('class="hover"') <= 400
    assert len(page) < 2_500_000


def test_percentile_points() -> None:
    pts = percentile_points([[1.0, 50], [2.0, 40], [10.0, 9], [100.0, 1]], max_nines=3)
    xs = [x for x, _ in pts]
    ys = [y for _, y in pts]
    assert xs == sorted(xs) and ys == sorted(ys)  # type: ignore[type-var]
    assert pts[0] == (0.0, 1.0)
    assert pts[-1] == (3.0, 100.0)  # p100 clamped to the last plotted nine
    assert percentile_points([], 3) == []


def test_write_html(tmp_path: Path, result: dict[str, Any]) -> None:
    out = tmp_path / "report.html"
    write_html(result, out)
    assert out.read_text(encoding="utf-8") == render_html(result)
    assert not list(tmp_path.glob("*.tmp"))


# -- a real browser -------------------------------------------------------------------------------


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found:
        return found
    message = f"Chromium is not installed; the report's browser check needs it: `{INSTALL_HINT}`"
    if _ci():
        pytest.fail(message + " (CI=true: not skipping)")
    pytest.skip(message)


def _run_chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {BROWSER_TIMEOUT_S} s: {' '.join(cmd)}")
    assert proc.returncode == 0, f"chromium exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture
def report_file(tmp_path: Path, result: dict[str, Any]) -> Path:
    result = copy.deepcopy(result)
    result["params"]["system_id"] = "<script>alert(1)</script>"
    result["summary"]["client"]["saturated"] = True
    path = tmp_path / "report.html"
    write_html(result, path)
    return path


def test_browser_renders_every_chart(tmp_path: Path, report_file: Path) -> None:
    browser = _chromium()
    proc = _run_chromium(
        browser, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", report_file.as_uri()
    )
    dom = proc.stdout
    page = Page()
    page.feed(dom)
    body = next(a for tag, a in page.elements if tag == "body")
    assert body.get("data-rendered") == "ok", f"inline script did not finish: {body}\n{proc.stderr[-2000:]}"
    assert body.get("data-schema") == "smpp-loadtest/1"
    assert body.get("data-charts") == str(len(CHARTS))
    figures = {a["data-chart"]: a for tag, a in page.elements if tag == "figure" and "data-chart" in a}
    assert set(figures) == set(CHARTS)
    for name, attrs in figures.items():
        assert int(attrs["data-elements"]) > 20, f"{name}: only {attrs['data-elements']} SVG elements"
        width, height = (int(v) for v in attrs["data-size"].split("x"))
        assert width > 200 and height > 80, f"{name}: rendered at {attrs['data-size']}"
    assert not any("error" in a.get("class", "").split() for _, a in page.elements)
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]


def test_browser_screenshot_is_not_blank(tmp_path: Path, report_file: Path) -> None:
    browser = _chromium()
    shot = tmp_path / "report.png"
    _run_chromium(
        browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2400", report_file.as_uri()
    )
    assert shot.exists(), "no screenshot written"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 2400)
    assert len(data) > 20_000, f"screenshot is {len(data)} bytes: probably blank"
