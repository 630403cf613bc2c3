"""smppgw.support.cli: the one error/exit wrapper of the four commands."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner, Result

from smppgw.support.cli import Failed, ToolCommand, ToolGroup, UsageError
from smppgw.support.config import ConfigError


def _boom(kind: str) -> None:
    errors: dict[str, BaseException] = {
        "usage": UsageError("--rate: expected a number,\n  got 'x'"),
        "config": ConfigError("smsc[0].port: an integer in 1..65535, got 0"),
        "grouped-config": ExceptionGroup("nursery", [ExceptionGroup("inner", [ConfigError("tps: bad")])]),
        "failed": Failed("bind refused by 127.0.0.1:2775"),
        "oserror": OSError(98, "Address already in use"),
        "grouped-oserror": ExceptionGroup("nursery", [ValueError("noise"), OSError(13, "Permission denied")]),
        "interrupt": KeyboardInterrupt(),
        "bug": RuntimeError("a bug"),
    }
    if kind in errors:
        raise errors[kind]


@click.command("tool", cls=ToolCommand, prog="tool")
@click.option("--raise", "kind", default="none")
@click.option("--count", type=int, default=0)
def command(kind: str, count: int) -> int:
    _boom(kind)
    return count


@click.group("grouptool", cls=ToolGroup, prog="grouptool")
def group() -> None:
    """A group."""


@group.command()
@click.option("--raise", "kind", default="none")
def sub(kind: str) -> int:
    _boom(kind)
    return 3


@click.command(cls=ToolCommand, prog="server", interrupt_code=0)
def server() -> None:
    raise KeyboardInterrupt


def _run(cli: click.Command, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _assert_one_line(result: Result, code: int, line: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.stderr == line + "\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("kind", "code", "line"),
    [
        ("usage", 2, "tool: error: --rate: expected a number, got 'x'"),  # folded onto one line
        ("config", 2, "tool: error: smsc[0].port: an integer in 1..65535, got 0"),
        ("grouped-config", 2, "tool: error: tps: bad"),
        ("failed", 1, "tool: error: bind refused by 127.0.0.1:2775"),
        ("oserror", 1, "tool: error: [Errno 98] Address already in use"),
        ("grouped-oserror", 1, "tool: error: [Errno 13] Permission denied"),
        ("interrupt", 1, "\ntool: interrupted"),  # click ends the terminal's ^C line first
    ],
)
def test_errors_become_one_line_and_an_exit_status(kind: str, code: int, line: str) -> None:
    _assert_one_line(_run(command, "--raise", kind), code, line)


def test_click_usage_errors_exit_2_with_one_line() -> None:
    _assert_one_line(
        _run(command, "--count", "x"),
        2,
        "tool: error: Invalid value for '--count': 'x' is not a valid integer.",
    )
    _assert_one_line(_run(command, "--bogus"), 2, "tool: error: No such option '--bogus'.")
    _assert_one_line(_run(group, "nosuch"), 2, "grouptool: error: No such command 'nosuch'.")


def test_a_subcommand_error_and_return_value() -> None:
    _assert_one_line(
        _run(group, "sub", "--raise", "config"),
        2,
        "grouptool: error: smsc[0].port: an integer in 1..65535, got 0",
    )
    assert _run(group, "sub").exit_code == 3  # a subcommand's int is the exit status
    assert _run(command, "--count", "0").exit_code == 0


def test_a_group_without_arguments_shows_help_and_exits_2() -> None:
    result = _run(group)
    assert result.exit_code == 2
    assert "Usage: grouptool" in result.stderr and "sub" in result.stderr


def test_help_exits_0_with_the_program_name() -> None:
    result = _run(command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: tool [OPTIONS]")


def test_interrupt_code_0_is_silent() -> None:
    result = _run(server)
    assert result.exit_code == 0
    assert result.stderr.strip() == ""


def test_a_bug_keeps_its_traceback() -> None:
    result = _run(command, "--raise", "bug")
    assert isinstance(result.exception, RuntimeError)
    assert result.exit_code == 1 and result.stderr == ""


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["smppgw", "serve", "--config", "/nonexistent/gw.toml"], 2),
        (["smppsim", "--config", "/nonexistent/sim.toml"], 2),
        (["smpp-loadtest", "--scenario", "/nonexistent/run.toml"], 2),
        (["smpp-conformance", "smsc", "--target", "nohost", "--system-id", "a", "--password", "b"], 2),
    ],
)
def test_the_four_commands_report_bad_usage_in_one_line(argv: list[str], code: int) -> None:
    """Each installed command goes through the wrapper: exit 2, one line, no traceback."""
    module = {"smppgw": "smppgw.cli", "smppsim": "simulator.cli", "smpp-loadtest": "loadtest.cli"}.get(
        argv[0], "conformance.cli"
    )
    script = f"import sys; sys.argv[0] = {argv[0]!r}; from {module} import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, *argv[1:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == code, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{argv[0]}: error: "), line
    assert "Traceback" not in done.stderr
