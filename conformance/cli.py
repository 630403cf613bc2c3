"""``smpp-conformance``: qualify an SMSC, or (acting as one) an ESME.

    smpp-conformance smsc --smsc HOST:PORT --system-id ID --password PW [--strict]
    smpp-conformance esme --listen HOST:PORT [--wait S] [--client-window N] -- COMMAND...
    smpp-conformance list [smsc|esme] [--markdown] [--steps]

Exit status (``conformance.model.exit_status``): 0 no case failed (WARN included) and
every must case was judged, 1 a case FAILed or ERRORed (could not run), 3 none failed
but a must case was SKIPPED, 2 bad usage (one line on stderr, never a traceback:
``smppgw.support.cli``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import attrs
import click
import trio

from conformance.model import Case, CaseResult, exit_status, select_cases
from conformance.report import Meta, render_table, write_json, write_junit
from smppgw.support.cli import Failed, ToolGroup, UsageError
from smppgw.support.cliopts import AliasOption, check_writable, log_level, sub_verbose_option, verbose_option
from smppgw.support.config import host_port
from smppgw.support.logformat import configure_logging

__all__ = ["main"]

_PROG = "smpp-conformance"


def _host_port(value: str, option: str) -> tuple[str, int]:
    host, port = host_port(value, option)
    return host.strip("[]"), port


def _int_auto(value: str, option: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise UsageError(f"{option}: expected a number such as 0x34, got {value!r}") from None


def _select(cases: Sequence[Case], only: tuple[str, ...], skip: tuple[str, ...]) -> list[Any]:
    try:
        chosen = select_cases(cases, only, skip)
    except ValueError as exc:
        raise UsageError(f"--only/--skip: {exc}") from None
    if not chosen:
        raise UsageError("--only/--skip select no case")
    return chosen


def _progress(total: int, enabled: bool) -> Any:
    done = [0]

    def show(result: CaseResult) -> None:
        done[0] += 1
        if enabled:
            click.echo(f"[{done[0]:>3}/{total}] {result.verdict.value:5} {result.case.id}", err=True)

    return show


def _report(results: Sequence[CaseResult], meta: Meta, opts: dict[str, Any]) -> int:
    plain = opts["plain"] or not sys.stdout.isatty()  # rich's 80-column wrap ruins logs
    render_table(results, meta, sys.stdout, verbose=opts["show_pdus"], plain=plain)
    try:
        if opts["json_path"]:
            write_json(opts["json_path"], results, meta, verbose=opts["show_pdus"])
        if opts["junit_path"]:
            write_junit(opts["junit_path"], results, meta)
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc}") from None
    return exit_status(results)


def _common(fn: Any) -> Any:
    options = [
        click.option(
            "--only",
            multiple=True,
            metavar="PATTERN",
            help="Run only these cases: id, area or glob (repeatable, comma-separated).",
        ),
        click.option(
            "--skip", multiple=True, metavar="PATTERN", help="Skip these cases (same patterns as --only)."
        ),
        click.option(
            "--strict", is_flag=True, help="'should' cases fail too, and lenient variants are refused."
        ),
        click.option(
            "--json", "json_path", type=click.Path(dir_okay=False), help="Write a JSON report here."
        ),
        click.option(
            "--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report here."
        ),
        click.option(
            "--show-pdus", "show_pdus", is_flag=True, help="Show the observed PDUs of passing cases too."
        ),
        sub_verbose_option,
        click.option("--plain", is_flag=True, help="Plain-text table even when rich is installed."),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="One line per case on stderr (default: when stderr is a terminal).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(cls=ToolGroup, prog=_PROG, context_settings={"max_content_width": 100})
@verbose_option
def main(verbose: int) -> None:
    """Black-box SMPP 3.4 conformance suite: qualify an SMSC, or an ESME.

    Exit status: 0 no case failed and every must case was judged; 1 a case failed or
    could not run; 2 bad usage; 3 nothing failed, but a must case was skipped."""
    configure_logging(log_level(verbose))


@main.command()
@click.option(
    "--smsc",
    "--target",
    "target",
    cls=AliasOption,
    hidden_aliases=["--target"],
    required=True,
    metavar="HOST:PORT",
    help="The SMSC under test.",
)
@click.option("--system-id", required=True, help="Account to bind with (use a test account).")
@click.option("--password", required=True, help="Its password.")
@click.option("--system-type", default="", show_default=True)
@click.option(
    "--interface-version", default="0x34", show_default=True, help="interface_version of the suite's binds."
)
@click.option(
    "--source-addr", default="447700900100", show_default=True, help="Source of every test message."
)
@click.option("--source-ton", default=1, show_default=True, type=click.IntRange(0, 255))
@click.option("--source-npi", default=1, show_default=True, type=click.IntRange(0, 255))
@click.option(
    "--dest-addr",
    default="447700900001",
    show_default=True,
    help="Destination of every test message (a test handset: messages ARE sent).",
)
@click.option("--dest-ton", default=1, show_default=True, type=click.IntRange(0, 255))
@click.option("--dest-npi", default=1, show_default=True, type=click.IntRange(0, 255))
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds allowed for each response.",
)
@click.option(
    "--receipt-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds to wait for a delivery receipt.",
)
@click.option(
    "--quiet-period",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds watched for something that must not arrive.",
)
@click.option(
    "--session-init-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="The SMSC's session_init timer (bind deadline) as you expect it.",
)
@click.option(
    "--inactivity-timeout",
    default=None,
    type=click.FloatRange(min=0.01),
    help="The SMSC's inactivity timer; without it that case is skipped.",
)
@click.option(
    "--throttle-backoff",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Pause before resending a request the SMSC throttled.",
)
@_common
def smsc(**opts: Any) -> int:
    """Run the SMSC cases against a live SMSC (each case on fresh connections)."""
    from conformance.smsc import ALL, SmscSettings, run_smsc_cases
    from conformance.smsc.preflight import preflight

    host, port = _host_port(opts["target"], "--smsc")
    settings = SmscSettings(
        host=host,
        port=port,
        system_id=opts["system_id"],
        password=opts["password"],
        system_type=opts["system_type"],
        interface_version=_int_auto(opts["interface_version"], "--interface-version"),
        source_addr=opts["source_addr"],
        source_ton=opts["source_ton"],
        source_npi=opts["source_npi"],
        dest_addr=opts["dest_addr"],
        dest_ton=opts["dest_ton"],
        dest_npi=opts["dest_npi"],
        strict=opts["strict"],
        timeout=opts["timeout"],
        receipt_timeout=opts["receipt_timeout"],
        quiet=opts["quiet_period"],
        session_init_timeout=opts["session_init_timeout"],
        inactivity_timeout=opts["inactivity_timeout"],
        throttle_backoff=opts["throttle_backoff"],
    )
    if len(settings.system_id) > 15 or len(settings.password) > 8:
        raise UsageError("--system-id is at most 15 characters and --password at most 8 (SMPP 3.4 §4.1.1)")
    cases = _select(ALL, opts["only"], opts["skip"])
    progress = _progress(
        len(cases), opts["progress"] if opts["progress"] is not None else sys.stderr.isatty()
    )
    check_writable(opts["json_path"], "--json")  # before the run, not after it
    check_writable(opts["junit_path"], "--junit")
    problem = trio.run(preflight, settings)
    if problem is not None:  # every case would fail the same way: say it once, run none
        where = "" if f"{host}:{port}" in problem else f"{host}:{port}: "
        raise Failed(f"{where}{problem} (no case was run)")
    start = time.monotonic()
    results = trio.run(run_smsc_cases, cases, settings, progress)
    meta = Meta(
        suite="smsc", target=f"{host}:{port}", strict=settings.strict, duration=time.monotonic() - start
    )
    return _report(results, meta, opts)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--listen",
    default="127.0.0.1:2775",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the fake SMSC listens (port 0: any free port).",
)
@click.option(
    "--wait",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Longest one run of the client may take.",
)
@click.option(
    "--client-window",
    "--window",
    "window",
    cls=AliasOption,
    hidden_aliases=["--window"],
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="The window the client under test is configured with (its requests in flight).",
)
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds allowed for each response from the client.",
)
@click.option("--quiet-period", default=1.0, show_default=True, type=click.FloatRange(min=0.0))
@click.option(
    "--connect-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds for the client to connect and bind.",
)
@click.option(
    "--throttle-backoff",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Least pause expected after ESME_RTHROTTLED.",
)
@click.option("--unbind-resp-delay", default=0.2, show_default=True, type=click.FloatRange(min=0.0))
@click.option(
    "--grace",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds the client gets to unbind after SIGTERM.",
)
@click.option("--system-id", default=None, help="Refuse binds with another system_id.")
@click.option("--password", default=None, help="Refuse binds with another password.")
@_common
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def esme(command: tuple[str, ...], **opts: Any) -> int:
    """Act as an SMSC and run the ESME cases against a client.

    COMMAND (after --) starts the client; {host} and {port} in it are replaced, and
    SMPP_HOST / SMPP_PORT are set. It is started twice: once for the main cases, once
    for the case where the SMSC unbinds first. Without COMMAND, connect the client
    yourself (twice). The client should bind (TRX, or TX and RX), submit at least 16
    messages with registered_delivery=1 and a window of --client-window, answer deliver_sm,
    stay bound a little, then unbind; all within --wait seconds.
    """
    from conformance.esme import ALL, EsmeSettings, HarnessError, run_esme_cases

    host, port = _host_port(opts["listen"], "--listen")
    if not command and port == 0:
        raise UsageError("--listen needs a fixed port when no COMMAND is given (the client must know it)")
    settings = EsmeSettings(
        host=host,
        port=port,
        command=command or None,
        wait=opts["wait"],
        window=opts["window"],
        timeout=opts["timeout"],
        quiet=opts["quiet_period"],
        connect_timeout=opts["connect_timeout"] if command else max(opts["connect_timeout"], opts["wait"]),
        throttle_backoff=opts["throttle_backoff"],
        unbind_resp_delay=opts["unbind_resp_delay"],
        grace=opts["grace"],
        system_id=opts["system_id"],
        password=opts["password"],
        strict=opts["strict"],
    )
    cases = _select(ALL, opts["only"], opts["skip"])
    check_writable(opts["json_path"], "--json")  # before the run, not after it
    check_writable(opts["junit_path"], "--junit")
    if not command:
        click.echo(f"{_PROG}: listening on {host}:{port}; connect the client under test (twice).", err=True)
    progress = _progress(
        len(cases), opts["progress"] if opts["progress"] is not None else sys.stderr.isatty()
    )
    start = time.monotonic()
    try:
        report = trio.run(run_esme_cases, cases, settings, progress)
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    runs = [attrs.asdict(run) for run in report.runs]
    target = f"{host}:{runs[0]['port'] if runs else port}"
    meta = Meta(
        suite="esme",
        target=target,
        strict=settings.strict,
        duration=time.monotonic() - start,
        extra={"client_runs": runs},
    )
    return _report(report.results, meta, opts)


@main.command(name="list")
@click.argument("suite", type=click.Choice(["smsc", "esme", "all"]), default="all")
@click.option("--markdown", is_flag=True, help="A Markdown table (for documentation).")
@click.option("--steps", is_flag=True, help="Show each SMSC case's steps.")
def list_cases(suite: str, markdown: bool, steps: bool) -> int:
    """List the cases with their spec sections and severities."""
    from conformance.esme import ALL as ESME
    from conformance.smsc import ALL as SMSC

    chosen: list[Case] = []
    if suite in ("smsc", "all"):
        chosen += SMSC
    if suite in ("esme", "all"):
        chosen += ESME
    if markdown:
        click.echo("| role tested | id | severity | spec | checklist | title |")
        click.echo("|---|---|---|---|---|---|")
        for c in chosen:
            items = ", ".join(map(str, c.checklist))
            title = c.title.replace("|", "\\|")  # a pipe would end the cell
            click.echo(
                f"| {c.role.value.upper()} | `{c.id}` | {c.severity.value} | {c.spec} | {items} | {title} |"
            )
        return 0
    width = max(len(c.id) for c in chosen)
    for c in chosen:
        click.echo(f"{c.role.value.upper():4} {c.id:{width}} {c.severity.value:6} {c.spec:28} {c.title}")
        if steps:
            for line in getattr(c, "explain", list)():
                click.echo(f"{'':5}- {line}")
    click.echo(f"{len(chosen)} cases", err=True)
    return 0


if __name__ == "__main__":
    main()
