"""The deployment kit (deploy/, Dockerfile, examples/): the dashboards are what their
script writes and every query and alert names a metric (and labels) the code exports;
the compose file parses and mounts files that exist; every example config loads."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from smppgw.app import load_app_config
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.notify import Webhooks, WebhookSettings
from smppgw.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
_METRIC = re.compile(r"\b((?:smppgw|smppsim|smpp_loadtest)_[a-z_]+)\b")
_BY = re.compile(r"\bby \(([^)]*)\)")
_LABELS_IN_BRACES = re.compile(r"\{([a-z_]+)(?:=|!=|=~)")


def _exported() -> dict[str, set[str]]:
    """Every sample name the gateway, its webhook worker and the simulator export, with
    the label names of its metric."""
    from simulator.metrics import SimMetrics

    gateway = GatewayMetrics()
    Webhooks(WebhookSettings(), MemoryStore(), registry=gateway.registry)
    out: dict[str, set[str]] = {}
    for registry, objects in ((gateway.registry, vars(gateway)), (SimMetrics().registry, vars(SimMetrics()))):
        labels = {}
        for obj in objects.values():
            name = getattr(obj, "_name", None) or getattr(obj, "name", None)
            names = getattr(obj, "_labelnames", None) or getattr(obj, "labelnames", None)
            if isinstance(name, str) and names is not None:
                labels[name] = set(names)
        for family in registry.collect():
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
            for suffix in suffixes[family.type]:
                out[family.name + suffix] = labels.get(family.name, set()) | (
                    {"le"} if suffix == "_bucket" else set()
                )
    for family in _loadtest_families():
        suffix = "_total" if family.type == "counter" else ""
        out[family.name + suffix] = {label for sample in family.samples for label in sample.labels}
    for family_labels in (
        ("smppgw_webhooks", {"endpoint", "result"}),
        ("smppgw_webhook_backlog", {"endpoint"}),
    ):
        for name in out:
            if name.startswith(family_labels[0] + "_") or name == family_labels[0]:
                out[name] |= family_labels[1]
    return out


def _loadtest_families() -> list[Any]:
    """What a running load test's exporter serves (loadtest.prom), from a full snapshot."""
    from loadtest.prom import _Snapshots

    snaps = _Snapshots()
    snaps.snap = dict.fromkeys(
        ["offered", "sent", "acked", "errors", "throttled", "timeouts", "receipts", "binds_lost", "inflight",
         "backlog", "rate_target", "elapsed_s", "cpu_percent", "p50_ms", "p90_ms", "p99_ms", "max_ms"], 1
    )  # fmt: skip
    return list(snaps.collect())


def _check_expr(expr: str, exported: dict[str, set[str]]) -> list[str]:
    problems = []
    names = _METRIC.findall(expr)
    if not names:
        problems.append(f"names no metric: {expr}")
    known_labels = set().union(*(exported.get(n, set()) for n in names)) if names else set()
    for name in names:
        if name not in exported:
            problems.append(f"{name} is not exported (in {expr})")
    for group in _BY.findall(expr):
        for label in (g.strip() for g in group.split(",")):
            if label and label not in known_labels:
                problems.append(f"label {label} is not on {names} (in {expr})")
    for label in _LABELS_IN_BRACES.findall(expr):
        if label not in known_labels:
            problems.append(f"label {label} is not on {names} (in {expr})")
    return problems


def _dashboards_script() -> Any:
    spec = importlib.util.spec_from_file_location("dashboards", DEPLOY / "grafana" / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboards_are_what_their_script_writes() -> None:
    script = _dashboards_script()
    for name, dashboard in script.DASHBOARDS.items():
        assert (DEPLOY / "grafana" / "dashboards" / name).read_text() == script.render(dashboard), (
            f"{name} is stale: run python deploy/grafana/dashboards.py"
        )


def test_every_dashboard_query_names_an_exported_metric_and_its_labels() -> None:
    exported = _exported()
    problems = []
    files = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert {f.name for f in files} >= {"gateway.json", "simulator.json", "loadtest.json"}
    for path in files:
        dashboard = json.loads(path.read_text())
        assert dashboard["panels"], path
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                problems += [
                    f"{path.name} / {panel['title']}: {p}" for p in _check_expr(target["expr"], exported)
                ]
    assert problems == []


def test_every_alert_names_an_exported_metric() -> None:
    exported = _exported()
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {a["alert"] for a in alerts} >= {
        "SmppgwNoBindUp", "SmppgwQueueGrowing", "SmppgwReceiptRatioFalling", "SmppgwWebhookDeadLetters"
    }  # fmt: skip
    problems = [f"{a['alert']}: {p}" for a in alerts for p in _check_expr(a["expr"], exported)]
    assert problems == []
    assert all(a["annotations"]["summary"] and a["labels"]["severity"] for a in alerts)


def test_the_compose_file_parses_and_mounts_what_exists() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]) == {"simulator", "gateway", "prometheus", "grafana", "loadtest"}
    assert compose["services"]["loadtest"]["profiles"] == ["load"]  # only when asked for
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is missing"
    build = compose["services"]["simulator"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {c["job_name"]: c["static_configs"][0]["targets"] for c in prometheus["scrape_configs"]}
    assert targets["smppgw"] == ["gateway:8080"] and targets["smppsim"] == ["simulator:8081"]
    # The gateway's config in the kit is a valid config (its secrets from the environment).
    assert "password_env" in (DEPLOY / "config" / "gateway.toml").read_text()


def test_the_dockerfile_runs_as_a_user_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER smppgw$", text, re.M) and "HEALTHCHECK" in text and "/healthz" in text
    assert text.count("FROM ") == 2  # multi-stage: the build tools stay in the first


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.toml")) + [DEPLOY / "config" / "gateway.toml"],
                         ids=lambda p: p.name)  # fmt: skip
def test_every_example_config_loads(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text()
    for env in re.findall(r'password_env = "([A-Z_]+)"', text):
        monkeypatch.setenv(env, "secret1")  # SMPP passwords: 8 characters at most
    for env in re.findall(r'(?:keys_env|secret_env) = "([A-Z_]+)"', text):
        monkeypatch.setenv(env, "a-long-example-secret")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    if "tls_cert" in text:  # give it certificates where it looks for them
        ca = trustme.CA()
        cert = ca.issue_cert("smppgw.example")
        (tmp_path / "certs").mkdir()
        cert.private_key_pem.write_to_path(str(tmp_path / "certs" / "api-key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(tmp_path / "certs" / "api-cert.pem"))
    config = load_app_config(copy)
    assert config.gateway.smscs and config.api_keys == ("a-long-example-secret",)


def test_the_systemd_unit_runs_serve_as_its_user() -> None:
    unit = (DEPLOY / "systemd" / "smppgw.service").read_text()
    assert "ExecStart=/usr/local/bin/smppgw serve --config /etc/smppgw/smppgw.toml" in unit
    assert "User=smppgw" in unit and "KillSignal=SIGTERM" in unit
