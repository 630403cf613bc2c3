"""The ``smpp-loadtest`` command (DESIGN §4.1).

    smpp-loadtest --sim --rate 2000 --duration 30 --html report.html
    smpp-loadtest --smsc 10.0.0.5:2775 --system-id acme --password s3cret \\
        --ramp 100:5000 --duration 120 --binds 4 --window 128 --check 'p99 < 200ms'
    smpp-loadtest --scenario nightly.toml --json result.json
    smpp-loadtest report result.json --html report.html      # re-render (loadtest.reportcmd)
    smpp-loadtest report --compare before.json after.json

Exit status: 0 the run completed and every check passed; 1 a check failed or the run
failed (could not bind, say); 2 bad usage or a bad scenario, with one line
``smpp-loadtest: error: ...`` on stderr and never a traceback (``smppgw.support.cli``).
"""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import trio

from loadtest.checks import parse_check
from loadtest.display import open_display
from loadtest.params import (
    Phase,
    RunParams,
    UsageError,
    parse_destinations,
    parse_mix,
    parse_ramp,
    parse_steps,
)
from loadtest.reportcmd import report
from loadtest.scenario import load_scenario
from smppgw.support.cli import Failed, ToolGroup
from smppgw.support.cliopts import AliasOption, check_writable, log_level, verbose_option
from smppgw.support.logformat import configure_logging, log_format_option
from smppgw.tracecmd import open_trace, trace_options

__all__ = ["build_params", "main"]

_PROG = "smpp-loadtest"


def _sim_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--sim-option: expected KEY=VALUE, got {text!r}")
    try:  # a TOML value: 100, 0.05, true, "text", {kind = "uniform", low = 0.1, high = 1}
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def build_params(opts: dict[str, Any], given: set[str]) -> RunParams:
    """Merge a scenario (if any) with the options given on the command line (they win)."""
    base: dict[str, Any] = load_scenario(opts["scenario"]) if opts.get("scenario") else {}

    def take(name: str, field: str | None = None, conv: Any = None) -> None:
        if name in given and opts.get(name) is not None:
            value = opts[name]
            base[field or name] = conv(value) if conv else value

    targets = [k for k in ("target", "sim", "http") if k in given and opts.get(k)]
    if len(targets) > 1:
        raise UsageError("give only one of --smsc, --sim and --http")
    if targets:
        kind = targets[0]
        base["target"] = {"target": "smsc", "sim": "sim", "http": "http"}[kind]
        base["address"] = None if kind == "sim" else opts[kind]
    if "target" not in base:
        raise UsageError("no target: give --smsc HOST:PORT, --sim, --http URL or --scenario FILE")
    for name in ("system_id", "password", "system_type", "api_key", "profile", "binds", "window", "count"):
        take(name)
    for name in ("source", "seed", "timeout", "wait_dlr", "max_seconds", "callback_listen"):
        take(name)
    take("bind", "bind_mode")
    take("mix", "mix", parse_mix)
    take("destinations", "destinations", parse_destinations)
    if opts.get("sim_option"):
        base["sim_options"] = {**base.get("sim_options", {}), **dict(map(_sim_option, opts["sim_option"]))}
    _workload(opts, given, base)
    checks = list(base.get("checks", ())) + list(opts.get("check") or ())
    for text in checks:
        parse_check(text)
    base["checks"] = tuple(checks)
    if opts.get("scenario"):
        base["scenario"] = str(opts["scenario"])
    if base["target"] != "sim" and (base.get("profile") or base.get("sim_options")):
        raise UsageError("--profile and --sim-option apply to --sim only")
    return RunParams(**base)


def _workload(opts: dict[str, Any], given: set[str], base: dict[str, Any]) -> None:
    picked = [
        k for k in ("rate", "ramp", "steps", "closed") if k in given and opts.get(k) not in (None, False)
    ]
    if len(picked) > 1:
        raise UsageError(f"give only one of --rate, --ramp, --steps and --closed (got {', '.join(picked)})")
    duration = opts.get("duration") if "duration" in given else None
    poisson = bool(opts.get("poisson"))
    if not picked:
        if duration is not None or poisson:  # adjust the scenario's workload
            phases = base.get("phases", ())
            if base.get("closed"):
                base["duration"] = duration if duration is not None else base.get("duration")
            elif len(phases) == 1:
                first = phases[0]
                base["phases"] = (
                    Phase(
                        rate=first.rate,
                        ramp=first.ramp,
                        duration=duration if duration is not None else first.duration,
                        poisson=poisson or first.poisson,
                    ),
                )
            elif phases and duration is not None:
                raise UsageError("--duration: the scenario has several phases; set their durations there")
        return
    kind = picked[0]
    base.pop("phases", None)
    base.pop("duration", None)
    base["closed"] = kind == "closed"
    if kind == "closed":
        if poisson:
            raise UsageError("--poisson applies to open-loop rates, not --closed")
        base["duration"] = duration
    elif kind == "rate":
        base["phases"] = (Phase(rate=opts["rate"], duration=duration, poisson=poisson),)
    elif kind == "ramp":
        if duration is None:
            raise UsageError("--ramp needs --duration")
        base["phases"] = (Phase(ramp=parse_ramp(opts["ramp"]), duration=duration, poisson=poisson),)
    else:
        if duration is not None:
            raise UsageError("--steps carries its own durations: drop --duration")
        base["phases"] = tuple(
            Phase(rate=r, duration=s, poisson=poisson) for r, s in parse_steps(opts["steps"])
        )


def _write_outputs(result: dict[str, Any], json_path: str | None, html_path: str | None) -> None:
    if json_path:
        text = json.dumps(result, indent=2) + "\n"
        if json_path == "-":
            sys.stdout.write(text)
        else:
            Path(json_path).write_text(text)
    if html_path:
        _write_html(result, html_path)


def _write_html(result: dict[str, Any], path: str) -> None:
    """Hand the result to the HTML report (``loadtest.report_html``, written alongside):
    ``write_html(result, path)`` if it has one, else ``render_html(result) -> str``."""
    try:
        from loadtest import report_html
    except ImportError as exc:
        raise OSError(f"the HTML report is not available ({exc})") from None
    write = getattr(report_html, "write_html", None)
    if callable(write):
        write(result, path)
        return
    render = getattr(report_html, "render_html", None)
    if not callable(render):
        raise OSError("loadtest.report_html has neither write_html() nor render_html()")
    Path(path).write_text(render(result), encoding="utf-8")


@click.group(
    cls=ToolGroup,
    prog=_PROG,
    invoke_without_command=True,  # the load test itself; `report` is the one subcommand
    subcommand_metavar="[report ...]",
    context_settings={"max_content_width": 100},
)
@click.option(
    "--smsc",
    "--target",
    "target",
    cls=AliasOption,
    hidden_aliases=["--target"],
    metavar="HOST:PORT",
    help="Load an SMSC directly, as an ESME.",
)
@click.option(
    "--sim", is_flag=True, default=False, help="Start the bundled simulator in-process and load it."
)
@click.option("--http", metavar="URL", help="Load the gateway's HTTP queue API (POST /v1/messages).")
@click.option("--system-id", help="Bind system_id.  [default: smppclient1]")
@click.option("--password", help="Bind password.  [default: password]")
@click.option("--system-type", help="Bind system_type.")
@click.option("--bind", type=click.Choice(["trx", "tx"]), help="Bind mode.  [default: trx]")
@click.option("--api-key", help="API key for --http.")
@click.option(
    "--callback-listen",
    metavar="HOST:PORT",
    help="--http --wait-dlr: where to take the gateway's receipt webhooks.  [default: 127.0.0.1:0]",
)
@click.option(
    "--profile", help="Simulator profile for --sim (see `smppsim --list-profiles`).  [default: fast]"
)
@click.option("--sim-option", multiple=True, metavar="KEY=VALUE", help="Simulator behaviour key for --sim.")
@click.option("--rate", type=float, help="Open loop: constant submit_sm/s.")
@click.option("--ramp", metavar="FROM:TO", help="Open loop: linear ramp of submit_sm/s over --duration.")
@click.option("--steps", metavar="RATE:SECONDS,...", help="Open loop: constant steps.")
@click.option(
    "--poisson", is_flag=True, default=False, help="Poisson arrivals at the --rate/--ramp/--steps mean."
)
@click.option("--closed", is_flag=True, default=False, help="Closed loop: as fast as the windows allow.")
@click.option("--duration", type=float, help="Seconds of load.")
@click.option("--count", type=int, help="Stop after this many submit_sm.")
@click.option("--binds", type=int, help="Binds (connections).  [default: 1]")
@click.option("--window", type=int, help="Requests it keeps in flight per bind (submit_sm).  [default: 64]")
@click.option("--mix", help="Message mix, e.g. gsm:0.8,ucs2:0.1,long:0.1 (also long_ucs2).  [default: gsm]")
@click.option(
    "--destinations", metavar="FIRST-LAST", help="Destination range.  [default: 447700900000-447700999999]"
)
@click.option("--source", help="source_addr.  [default: LOADTEST]")
@click.option(
    "--wait-dlr", type=float, help="Ask for receipts; wait up to this long after the load for them."
)
@click.option("--timeout", type=float, help="Seconds to wait for a submit_sm_resp.  [default: 10]")
@click.option("--seed", type=int, help="Seed for Poisson arrivals, the mix order and the simulator.")
@click.option("--max-seconds", type=float, help="Hard bound on the load phase.  [default: 3600]")
@click.option("--check", multiple=True, metavar="EXPR", help="Threshold such as 'p99 < 200ms' (repeatable).")
@click.option("--scenario", type=click.Path(dir_okay=False), help="TOML scenario; options given here win.")
@click.option("--json", "json_path", metavar="FILE", help="Write the JSON result here ('-': stdout).")
@click.option("--html", "html_path", metavar="FILE", help="Write the HTML report here.")
@click.option("--live/--no-live", default=None, help="Live progress display.  [default: on a terminal]")
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Without the live display: a plain progress line on stderr this often (0: none).",
)
@click.option(
    "--prometheus-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve live smpp_loadtest_ metrics on PORT/metrics during the run (0: any free port).",
)
@click.option(
    "--prometheus-host",
    default="127.0.0.1",
    show_default=True,
    metavar="ADDRESS",
    help="Address of --prometheus-port (0.0.0.0 for a Prometheus in another container).",
)
@click.option("-q", "--quiet", is_flag=True, default=False, help="No summary table and no progress lines.")
@verbose_option
@trace_options
@click.option(
    "--trace-sample",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    metavar="N",
    help="With --trace: 1 PDU in N, by sequence_number (a request with its response); "
    "binds, unbinds and generic_nacks always.",
)
@log_format_option
@click.pass_context
def main(ctx: click.Context, /, **opts: Any) -> None:
    """Load an SMSC, the bundled simulator or the gateway; report throughput and latency.

    `smpp-loadtest report --help`: re-render a saved result or compare two."""
    if ctx.invoked_subcommand is not None:
        return
    given = {
        name
        for name in opts
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }
    params = build_params(opts, given)  # UsageError, ConfigError: exit 2 (ToolCommand)
    check_writable(opts["json_path"], "--json")  # before the run, not after it
    check_writable(opts["html_path"], "--html")
    configure_logging(log_level(opts["verbose"]), opts["log_format"], text_format=f"{_PROG}: %(message)s")
    from loadtest.runner import RunFailed, run_load

    if params.target == "sim" and not opts["verbose"]:  # in-process: its refused bind is our error line
        logging.getLogger("simulator").setLevel(logging.ERROR)
    tracer = open_trace(opts["trace"], hex=opts["trace_hex"], sample=opts["trace_sample"])
    exporter = _exporter(opts["prometheus_port"], opts["prometheus_host"])
    every = 0.0 if opts["quiet"] and "progress_every" not in given else opts["progress_every"]
    display = open_display(opts["live"], progress_every=every, also=[exporter] if exporter else [])
    try:
        result = trio.run(lambda: run_load(params, display=display, stop_on_sigint=True, tracer=tracer))
    except RunFailed as exc:
        raise Failed(str(exc)) from None
    finally:
        if tracer is not None:
            tracer.close()
        if exporter is not None:
            exporter.stop()
    try:
        _write_outputs(result, opts["json_path"], opts["html_path"])
    except OSError as exc:
        raise Failed(f"cannot write the report: {exc}") from None
    if not opts["quiet"]:
        from loadtest.summary import print_summary

        print_summary(result, err=opts["json_path"] == "-")
    sys.exit(0 if result["passed"] else 1)


def _exporter(port: int | None, host: str) -> Any:
    if port is None:
        return None
    from loadtest.prom import PrometheusExporter

    try:
        exporter = PrometheusExporter(port, host)
    except OSError as exc:
        raise UsageError(
            f"--prometheus-port: cannot listen on {host}:{port} ({exc.strerror or exc})"
        ) from None
    click.echo(f"{_PROG}: Prometheus metrics on {exporter.url}", err=True)
    return exporter


main.add_command(report)
