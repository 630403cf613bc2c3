"""Writes the Grafana dashboards of deploy/compose.yaml (gateway, simulator, load tester)
as JSON into deploy/grafana/dashboards/. The JSON files are checked in; a test checks
that they are what this script writes and that every query names a metric the code
exports. Run: python deploy/grafana/dashboards.py"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def _panel(n: int, title: str, targets: list[tuple[str, str]], unit: str = "short") -> dict[str, Any]:
    """A time series panel, two per row."""
    return {
        "id": n,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _quantiles(metric: str, by: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket[5m])))",
            f"p{int(q * 100)} {{{{{by}}}}}",
        )
        for q in (0.5, 0.99)
    ]


def _dashboard(uid: str, title: str, panels: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["smppgw"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "panels": [_panel(n, *p) for n, p in enumerate(panels)],
    }


GATEWAY = _dashboard(
    "smppgw-gateway",
    "smppgw gateway",
    [
        ("Throughput by route and SMSC (submit_sm/s)",
         [("sum by (route, smsc) (rate(smppgw_submits_total[1m]))", "{{route}} via {{smsc}}")], "ops"),
        ("submit_sm_resp by status", [("sum by (status) (rate(smppgw_submits_total[1m]))", "{{status}}")], "ops"),
        ("Receipts by stat", [("sum by (stat) (rate(smppgw_receipts_total[5m]))", "{{stat}}")], "ops"),
        ("Messages final, by status", [("sum by (status) (rate(smppgw_messages_total[5m]))", "{{status}}")], "ops"),
        ("submit_sm -> resp latency", _quantiles("smppgw_submit_resp_seconds", "smsc"), "s"),
        ("submit_sm -> final receipt latency", _quantiles("smppgw_submit_receipt_seconds", "smsc"), "s"),
        ("Window in flight", [("sum by (smsc) (smppgw_window_in_flight)", "{{smsc}}")]),
        ("Throttle rate (segments/s)", [("smppgw_throttle_rate", "{{scope}} {{name}}")]),
        ("Queue depth", [("sum by (smsc) (smppgw_queued_parts)", "queued {{smsc}}"),
                         ("smppgw_scheduled_messages", "scheduled")]),
        ("Binds", [("sum by (smsc, state) (smppgw_binds)", "{{smsc}} {{state}}"),
                   ("sum by (smsc, result) (rate(smppgw_reconnects_total[5m]))", "reconnect {{smsc}} {{result}}")]),
        ("Inbound (MO) messages", [("sum by (smsc) (rate(smppgw_inbound_total[5m]))", "{{smsc}}")], "ops"),
        ("Webhooks", [("sum by (endpoint, result) (rate(smppgw_webhooks_total[5m]))", "{{endpoint}} {{result}}"),
                      ("sum by (endpoint) (smppgw_webhook_backlog)", "backlog {{endpoint}}")]),
        ("Receipts unmatched, duplicated; parts resent",
         [("sum by (smsc) (rate(smppgw_unmatched_receipts_total[5m]))", "unmatched {{smsc}}"),
          ("sum by (smsc) (rate(smppgw_duplicate_receipts_total[5m]))", "duplicate {{smsc}}"),
          ("sum by (smsc) (rate(smppgw_resent_unknown_total[5m]))", "resent {{smsc}}")]),
    ],
)  # fmt: skip

SIMULATOR = _dashboard(
    "smppsim",
    "smppsim (simulator)",
    [
        ("Messages accepted by account", [("sum by (account) (rate(smppsim_messages_total[1m]))", "{{account}}")], "ops"),
        ("Binds", [("sum by (account, mode) (smppsim_binds)", "{{account}} {{mode}}"),
                   ("rate(smppsim_binds_refused_total[5m])", "refused")]),
        ("Receipts by stat", [("sum by (stat) (rate(smppsim_receipts_total[1m]))", "{{stat}}")], "ops"),
        ("Throttled (ESME_RTHROTTLED)", [("sum(rate(smppsim_throttled_total[1m]))", "throttled")], "ops"),
        ("PDUs", [("sum by (command) (rate(smppsim_pdus_total[1m]))", "{{command}}")], "ops"),
        ("Deliveries (MO and receipts) and connections",
         [("sum(rate(smppsim_deliveries_total[1m]))", "deliveries"),
          ("rate(smppsim_connections_total[5m])", "connections")], "ops"),
    ],
)  # fmt: skip

LOADTEST = _dashboard(
    "smpp-loadtest",
    "smpp-loadtest (live run)",
    [
        ("Offered, sent and acknowledged (per second)",
         [("rate(smpp_loadtest_offered_total[10s])", "offered"), ("rate(smpp_loadtest_sent_total[10s])", "sent"),
          ("rate(smpp_loadtest_acked_total[10s])", "acked"), ("smpp_loadtest_target_rate", "target")], "ops"),
        ("Errors, throttled, timeouts (per second)",
         [("rate(smpp_loadtest_errors_total[10s])", "errors"),
          ("rate(smpp_loadtest_throttled_total[10s])", "throttled"),
          ("rate(smpp_loadtest_timeouts_total[10s])", "timeouts")], "ops"),
        ("submit_sm -> resp latency (last second)", [("smpp_loadtest_latency_seconds", "q{{quantile}}")], "s"),
        ("In flight and backlog", [("smpp_loadtest_inflight", "in flight"), ("smpp_loadtest_backlog", "backlog")]),
        ("Receipts (per second)", [("rate(smpp_loadtest_receipts_total[10s])", "receipts")], "ops"),
        ("Load generator CPU (100 = one core)", [("smpp_loadtest_client_cpu_percent", "cpu")], "percent"),
    ],
)  # fmt: skip

DASHBOARDS = {"gateway.json": GATEWAY, "simulator.json": SIMULATOR, "loadtest.json": LOADTEST}


def render(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, dashboard in DASHBOARDS.items():
        (HERE / name).write_text(render(dashboard))


if __name__ == "__main__":
    main()
