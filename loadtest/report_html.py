"""Render a ``smpp-loadtest/1`` result dict as one self-contained HTML report.

The file opens offline: CSS and the charts (SVG, built in :mod:`loadtest.report_svg`) are
inline, there is no external URL at all. The small inline script only verifies the page
(it marks ``<body data-rendered="ok">``) and offers a download of the embedded raw result;
everything is readable without it. Every string taken from the result is HTML-escaped:
parameters can hold user input.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from loadtest.checks import shown
from loadtest.report_charts import charts_section
from loadtest.report_svg import (
    esc,
    fmt_float,
    fmt_int,
    num,
)

LATENCY_KEYS = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))
LATENCY_ROWS = (
    ("submit_resp", "submit_sm → submit_sm_resp"),
    ("submit_receipt", "submit_sm → delivery receipt"),
)

_JSON_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--ok:#1a7f37;--bad:#c62828}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1280px;margin:0 auto;padding:24px 28px 48px}
header.top{display:flex;justify-content:space-between;align-items:flex-start;gap:24px;border-bottom:1px solid var(--line);padding-bottom:16px;margin-bottom:20px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:0 0 12px}
h3{font-size:13px;margin:0 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.subtitle,.muted{color:var(--muted)}
.verdict{font-size:20px;font-weight:700;padding:8px 18px;border-radius:8px;color:#fff;white-space:nowrap}
.verdict.pass,.badge.pass{background:var(--ok)} .verdict.fail,.badge.fail{background:var(--bad)}
.verdict.none{background:#fff;color:var(--muted);border:2px solid var(--line)}
.verdict small{display:block;font-size:12px;font-weight:400;opacity:.9;text-align:center}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 20px}
.alert{border-radius:10px;padding:14px 18px;margin:0 0 20px;font-weight:600}
.alert.saturated,.alert.unsent{background:#fff4e5;border:2px solid #d97706;color:#7a4100} .alert span{display:block;font-weight:400;margin-top:4px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:18px}
.kpi{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}
.kpi .v{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums} .kpi .l{color:var(--muted);font-size:12px} .kpi.bad .v{color:var(--bad)}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:18px 28px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top} tr:last-child td{border-bottom:none}
th{font-size:12px;color:var(--muted);font-weight:600;background:var(--bg)} td.n,th.n{text-align:right}
.params td:first-child{color:var(--muted);width:34%}
.params td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.badge{display:inline-block;min-width:48px;text-align:center;border-radius:12px;padding:1px 10px;font-size:12px;font-weight:700;color:#fff}
.bar{height:8px;background:#f3c1c1;border-radius:4px} .bar i{display:block;height:8px;background:var(--bad);border-radius:4px}
figure.chart{margin:0 0 22px} figure.chart figcaption{font-weight:600;margin-bottom:4px}
figure.chart figcaption span{font-weight:400;color:var(--muted);font-size:12px;margin-left:8px}
.chart-svg text{fill:#4b5560} .chart-svg .axis-label{fill:#59636e}
footer{color:var(--muted);font-size:12px;margin-top:8px}
button{font:inherit;border:1px solid var(--line);background:#fff;border-radius:6px;padding:4px 12px;cursor:pointer}
@media print{body{background:#fff}section{break-inside:avoid;border:none;padding:0}button{display:none}}
"""

_JS = """
(function(){
 var body=document.body;
 try{
  var data=JSON.parse(document.getElementById('result').textContent);
  var figs=document.querySelectorAll('figure.chart');
  for(var i=0;i<figs.length;i++){  // what the browser check asserts on
   var svg=figs[i].querySelector('svg'), box=svg?svg.getBoundingClientRect():{width:0,height:0};
   figs[i].setAttribute('data-elements',String(svg?svg.querySelectorAll('path,rect,line').length:0));
   figs[i].setAttribute('data-size',Math.round(box.width)+'x'+Math.round(box.height));
  }
  var btn=document.getElementById('download-json');
  btn.hidden=false;
  btn.addEventListener('click',function(){
   var blob=new Blob([JSON.stringify(data,null,2)],{type:'application/json'});
   var a=document.createElement('a');a.href=URL.createObjectURL(blob);
   a.download='loadtest-result.json';document.body.appendChild(a);a.click();a.remove();
  });
  body.setAttribute('data-schema',String(data.schema));
  body.setAttribute('data-charts',String(figs.length));
  body.setAttribute('data-rendered','ok');
 }catch(e){
  body.setAttribute('data-rendered','error');
  var d=document.createElement('div');d.className='error alert';d.textContent='Report script error: '+e;
  body.insertBefore(d,body.firstChild);
 }
})();
"""


def fmt_pct(part: Any, whole: Any) -> str:
    p, w = num(part), num(whole)
    return "—" if p is None or not w else f"{100 * p / w:.2f}%"


def _param(v: Any) -> str:
    if v is None:
        return "—"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, bool | dict | list) else str(v)


def workload_text(p: Mapping[str, Any]) -> str:
    """The workload in one line, e.g. ``ramp 500 → 2,500/s for 30 s``."""
    w, by = str(p.get("workload") or "?"), "\u00d7"
    if w == "ramp" and isinstance(p.get("ramp"), list) and len(p["ramp"]) == 2:
        w = f"ramp {fmt_int(p['ramp'][0])} → {fmt_int(p['ramp'][1])}/s"
    elif isinstance(p.get("steps"), list) and w in ("steps", "poisson"):
        steps = [f"{fmt_int(s[0])}/s {by} {fmt_float(s[1])} s" for s in p["steps"] if len(s) == 2]
        w = f"{w} {', '.join(steps)}"
        if p.get("count") is None:
            return w
    elif w in ("constant", "poisson") and p.get("rate") is not None:
        w = f"{w} {fmt_int(p['rate'])}/s"
    elif w == "closed":
        w = f"closed loop, window {p.get('window')} {by} {p.get('binds')} bind(s)"
    if p.get("duration_s") is not None:
        w += f" for {fmt_float(p['duration_s'])} s"
    if p.get("count") is not None:
        w += f", {fmt_int(p['count'])} messages"
    return w


def target_text(p: Mapping[str, Any]) -> str:
    return f"{p.get('target') or '?'} {p.get('address') or ''}".strip()


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1, cls: str = "") -> str:
    """``rows`` cells are already-escaped HTML."""
    th = "".join(f'<th class="{"n" if i >= numeric_from else ""}">{esc(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if i >= numeric_from else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def verdict_text(r: Mapping[str, Any]) -> tuple[str, str]:
    """(css class, word): no checks is not a pass, whatever ``passed`` says."""
    if not r.get("checks"):
        return "none", "NO CHECKS"
    return ("pass", "PASSED") if r.get("passed") else ("fail", "FAILED")


def _header(r: Mapping[str, Any]) -> str:
    p, checks = r.get("params") or {}, r.get("checks") or []
    n_ok = sum(1 for c in checks if c.get("passed"))
    cls, word = verdict_text(r)
    small = f"{n_ok}/{len(checks)} checks passed" if checks else "no checks were configured"
    where = target_text(p)
    parts = (workload_text(p), where, f"started {p.get('started_at', '?')}", f"on {p.get('host', '?')}")
    sub = " · ".join(esc(x) for x in parts)
    return (
        f'<header class="top"><div><h1>SMPP load test report</h1><div class="subtitle">{sub}</div></div>'
        f'<div class="verdict {cls}" id="verdict">{word}<small>{small}</small></div></header>'
    )


def _saturation(s: Mapping[str, Any]) -> str:
    c = s.get("client") or {}
    if not c.get("saturated"):
        return ""
    return (
        '<div class="alert saturated" id="saturated" role="alert">⚠ Load generator saturated: these results'
        " measure the client as much as the system under test.<span>Client CPU "
        f"{esc(fmt_float(c.get('cpu_percent'), '%'))}, event-loop lag p99 {esc(fmt_float(c.get('lag_ms_p99'), ' ms'))}."
        " The offered rate was not reliably generated; rerun with fewer binds/lower rate or on a"
        " bigger/dedicated host before drawing conclusions about the server.</span></div>"
    )


def _unsent(s: Mapping[str, Any]) -> str:
    n = num(s.get("unsent"))
    if not n:
        return ""
    return (
        f'<div class="alert unsent" id="unsent" role="alert">⚠ {esc(fmt_int(n))} messages'
        f" ({esc(fmt_pct(n, s.get('offered')))} of those offered) were never sent.<span>They still waited"
        " for a window when the load phase ended, so they have no latency: the percentiles below leave"
        " them out. The target did not keep up with the offered rate. Fail such a run with"
        " <code>--check 'unsent == 0'</code>.</span></div>"
    )


def _checks(r: Mapping[str, Any]) -> str:
    checks = r.get("checks") or []
    if not checks:
        return '<section id="checks"><h2>Checks</h2><p class="muted">No checks were configured.</p></section>'
    rows = [
        [
            f'<span class="badge {"pass" if c.get("passed") else "fail"}">{"PASS" if c.get("passed") else "FAIL"}</span>',
            esc(c.get("name", "")),
            f"<code>{esc(c.get('metric', ''))}</code>",
            esc(f"{c.get('op', '')} {shown(str(c.get('metric', '')), c.get('threshold'))}"),
            esc(shown(str(c.get("metric", "")), c.get("value"))),
        ]
        for c in checks
    ]
    table = _table(["Result", "Check", "Metric", "Threshold", "Measured"], rows, numeric_from=3, cls="checks")
    return f'<section id="checks"><h2>Checks</h2>{table}</section>'


def _summary(r: Mapping[str, Any]) -> str:
    s = r.get("summary") or {}
    tp, lat, cl = s.get("throughput_per_s") or {}, s.get("latency_ms") or {}, s.get("client") or {}
    err_rate = fmt_pct(s.get("errors"), s.get("sent"))
    kpis = [
        ("Acked throughput", f"{fmt_float(tp.get('acked'))}/s", False),
        ("Messages sent", fmt_int(s.get("sent")), False),
        ("submit_resp p99", fmt_float((lat.get("submit_resp") or {}).get("p99"), " ms"), False),
        ("Error rate", err_rate, bool(s.get("errors"))),
        ("Receipts", fmt_pct(s.get("receipts"), s.get("receipts_expected")), False),
        ("Client CPU", fmt_float(cl.get("cpu_percent"), "%"), bool(cl.get("saturated"))),
    ]
    tiles = "".join(
        f'<div class="kpi{" bad" if bad else ""}"><div class="v">{esc(v)}</div><div class="l">{esc(lb)}</div></div>'
        for lb, v, bad in kpis
    )
    vol = [
        [esc(k), esc(fmt_int(s.get(k))), esc(fmt_float(tp.get(k)) if k in tp else "")]
        for k in ("offered", "sent", "unsent", "acked", "receipts", "errors", "throttled", "timeouts")
        if k in s or k != "unsent"
    ]
    vol.append(["receipts expected", esc(fmt_int(s.get("receipts_expected"))), ""])
    lat_rows = [
        [esc(label), esc(fmt_int(st.get("count"))), esc(fmt_float(st.get("mean")))]
        + [esc(fmt_float(st.get(k))) for k, _ in LATENCY_KEYS]
        for key, label in LATENCY_ROWS
        if isinstance(st := lat.get(key), Mapping)
    ]
    lat_head = ["Latency (ms)", "count", "mean"] + [h for _, h in LATENCY_KEYS]
    ebs = s.get("errors_by_status") or {}
    total_err = sum(v for v in ebs.values() if num(v)) or 1
    err_rows = [
        [
            f"<code>{esc(k)}</code>",
            esc(fmt_int(v)),
            esc(fmt_pct(v, s.get("sent"))),
            f'<div class="bar"><i style="width:{100 * (num(v) or 0) / total_err:.1f}%"></i></div>',
        ]
        for k, v in sorted(ebs.items(), key=lambda kv: -(num(kv[1]) or 0))
    ]
    errors = (
        _table(["Status", "count", "% of sent", "share"], err_rows, cls="errors")
        if err_rows
        else '<p class="muted">No errors.</p>'
    )
    client = [
        ["CPU (mean)", esc(fmt_float(cl.get("cpu_percent"), "%"))],
        ["Max RSS", esc(fmt_float(cl.get("max_rss_mb"), " MB"))],
        ["Event-loop lag p99", esc(fmt_float(cl.get("lag_ms_p99"), " ms"))],
        ["Saturated", "<strong>yes</strong>" if cl.get("saturated") else "no"],
        [
            "Binds lost / re-established",
            esc(f"{fmt_int(s.get('binds_lost'))} / {fmt_int(s.get('binds_reestablished'))}"),
        ],
        ["Duration", esc(fmt_float(s.get("duration_s"), " s"))],
    ]
    return (
        f'<section id="summary"><h2>Summary</h2><div class="kpis">{tiles}</div>'
        f'<div class="grid2"><div><h3>Volume and throughput</h3>{_table(["", "total", "per second"], vol, cls="volume")}</div>'
        f"<div><h3>Errors by status</h3>{errors}<h3 style='margin-top:16px'>Load generator</h3>"
        f"{_table(['', ''], client, cls='client')}</div></div>"
        f'<h3 style="margin-top:18px">Latency percentiles</h3>{_table(lat_head, lat_rows, cls="latency")}'
        '<p class="muted">Latency is measured from the intended send time (open-loop workloads are free of'
        " coordinated omission).</p></section>"
    )


def _params(r: Mapping[str, Any]) -> str:
    p = r.get("params") or {}
    rows = [[esc(k), esc(_param(v))] for k, v in p.items()]
    return f'<section id="parameters"><h2>Parameters</h2>{_table(["Parameter", "Value"], rows, 9, "params")}</section>'


def _clean(v: Any) -> Any:
    """JSON-safe copy: non-finite floats become null (JSON has no NaN/Infinity)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def embedded_json(result: Mapping[str, Any]) -> str:
    """The result as JSON that is safe inside ``<script>``: no ``<``, ``>``, ``&`` or line separators."""
    text = json.dumps(_clean(result), ensure_ascii=False, separators=(",", ":"), default=str)
    return text.translate(_JSON_ESCAPES)


def render_html(result: dict[str, Any]) -> str:
    """The complete report page for one result (schema ``smpp-loadtest/1``)."""
    p, s = result.get("params") or {}, result.get("summary") or {}
    title = f"SMPP load test: {p.get('workload') or '?'} against {target_text(p)}"
    footer = (
        f"<footer>Generated by {esc(p.get('version', 'smppgw'))} · schema {esc(result.get('schema', '?'))}"
        f" · started {esc(p.get('started_at', '?'))} on {esc(p.get('host', '?'))}. The raw result is embedded"
        ' in this file. <button type="button" id="download-json" hidden>Download result JSON</button></footer>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body data-rendered="pending"><main>{_header(result)}{_saturation(s)}{_checks(result)}'
        f"{_unsent(s)}{_summary(result)}{charts_section(result)}{_params(result)}{footer}</main>"
        f'<script type="application/json" id="result">{embedded_json(result)}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report atomically (a partial file never replaces a good one)."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render_html(result))
    os.replace(tmp, path)
