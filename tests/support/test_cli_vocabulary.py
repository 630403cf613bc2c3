"""One command-line vocabulary across smppgw, smppsim, smpp-loadtest and smpp-conformance
(support.cliopts): --version and -h on every command and subcommand, --smsc and --listen,
one meaning of -v and of --window, old spellings kept as hidden aliases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conformance.cli import main as conformance
from loadtest.cli import build_params
from loadtest.cli import main as loadtest
from simulator.cli import main as smppsim
from smppgw.cli import main as smppgw
from smppgw.support.cliopts import HELP_OPTIONS, check_writable, log_level
from smppgw.support.config import ConfigError

TOOLS: dict[str, click.Command] = {
    "smppgw": smppgw,
    "smppsim": smppsim,
    "smpp-loadtest": loadtest,
    "smpp-conformance": conformance,
}


def _every_command() -> Iterator[tuple[str, list[str], click.Command]]:
    """(tool, the subcommand path, the command) for each tool and each of its subcommands."""

    def walk(
        tool: str, path: list[str], command: click.Command
    ) -> Iterator[tuple[str, list[str], click.Command]]:
        yield tool, path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(tool, [*path, name], sub)

    for tool, command in TOOLS.items():
        yield from walk(tool, [], command)


EVERY = list(_every_command())
IDS = [" ".join([tool, *path]) for tool, path, _ in EVERY]


def _help(tool: str, *args: str) -> str:
    result = CliRunner().invoke(TOOLS[tool], [*args, "-h"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(("tool", "path", "command"), EVERY, ids=IDS)
def test_version_and_h_on_every_command_and_subcommand(
    tool: str, path: list[str], command: click.Command
) -> None:
    version = CliRunner().invoke(TOOLS[tool], [*path, "--version"])
    assert version.exit_code == 0, version.output
    assert version.stdout == f"{tool} {metadata.version('smppgw')}\n"  # from the package metadata
    text = _help(tool, *path)
    assert text.startswith("Usage: ") and "-h, --help" in text and "--version" in text


@pytest.mark.parametrize(
    ("tool", "path", "shown", "hidden"),
    [
        (
            "smppsim",
            [],
            ["--listen HOST:PORT", "--http-listen HOST:PORT"],
            ["--host", "--port", "--http-host"],
        ),
        ("smpp-loadtest", [], ["--smsc HOST:PORT"], ["--target"]),
        ("smpp-conformance", ["smsc"], ["--smsc HOST:PORT"], ["--target"]),
        ("smpp-conformance", ["esme"], ["--listen HOST:PORT", "--client-window"], ["--window"]),
        ("smppgw", ["send"], ["--smsc HOST:PORT"], []),
        ("smppgw", ["serve"], ["--listen HOST:PORT"], []),
    ],
)
def test_smsc_and_listen_are_shown_and_old_spellings_are_not(
    tool: str, path: list[str], shown: list[str], hidden: list[str]
) -> None:
    text = _help(tool, *path)
    for name in shown:
        assert name in text
    for name in hidden:
        assert f"{name} " not in text and f"{name}," not in text, name


def _params(command: click.Command, args: list[str]) -> dict[str, object]:
    with command.make_context("x", args) as ctx:
        return ctx.params


def test_old_spellings_still_work_as_hidden_aliases() -> None:
    new = _params(loadtest, ["--smsc", "h:1", "--rate", "1", "--duration", "1"])
    old = _params(loadtest, ["--target", "h:1", "--rate", "1", "--duration", "1"])
    assert new == old and new["target"] == "h:1"
    given = {"target", "rate", "duration"}
    assert build_params(new, given) == build_params(old, given)
    smsc = conformance.commands["smsc"]  # type: ignore[attr-defined]
    creds = ["--system-id", "a", "--password", "b"]
    assert _params(smsc, ["--target", "h:1", *creds]) == _params(smsc, ["--smsc", "h:1", *creds])
    esme = conformance.commands["esme"]  # type: ignore[attr-defined]
    assert (
        _params(esme, ["--window", "7"])["window"] == _params(esme, ["--client-window", "7"])["window"] == 7
    )


def test_a_missing_option_is_named_by_its_new_spelling() -> None:
    result = CliRunner().invoke(conformance, ["smsc", "--system-id", "a", "--password", "b"])
    assert result.exit_code == 2
    assert "'--smsc'" in result.stderr and "--target" not in result.stderr


def test_h_stays_help_after_a_subcommand_was_used_alone() -> None:
    # A context made for a subcommand without its group (as a test or an embedding
    # program does) must not fix its help option without -h (click keeps the first one).
    for tool, path, command in _every_command():
        if path:
            with command.make_context(path[-1], [], resilient_parsing=True):
                pass
            assert "-h, --help" in _help(tool, *path), (tool, path)


@pytest.mark.parametrize(("tool", "path"), [("smppgw", []), ("smppgw", ["serve"]), ("smppgw", ["send"]),
                                           ("smppgw", ["demo"]), ("smppsim", []), ("smpp-loadtest", []),
                                           ("smpp-conformance", []), ("smpp-conformance", ["smsc"]),
                                           ("smpp-conformance", ["esme"])])  # fmt: skip
def test_v_means_more_logging_everywhere(tool: str, path: list[str]) -> None:
    text = _help(tool, *path)
    assert "-v, --verbose" in text and "More logging (-v info, -vv debug)" in text


def test_conformance_shows_pdus_with_its_own_flag() -> None:
    text = _help("smpp-conformance", "smsc")
    assert "--show-pdus" in text and "Show the observed PDUs" in text


def test_v_counts_to_info_and_debug() -> None:
    assert [log_level(n) for n in (0, 1, 2, 3)] == [
        logging.WARNING,
        logging.INFO,
        logging.DEBUG,
        logging.DEBUG,
    ]


def test_v_on_a_subcommand_sets_the_level() -> None:
    root = logging.getLogger()
    before = root.level
    try:
        result = CliRunner().invoke(conformance, ["list", "smsc"])  # the group's default: WARNING
        assert result.exit_code == 0 and root.level == logging.WARNING
        result = CliRunner().invoke(conformance, ["-v", "list", "smsc"])
        assert result.exit_code == 0 and root.level == logging.INFO
        # -v after the subcommand's name (smppgw serve -vv): its own option. With the
        # group's help names: click caches a command's help option the first time it is
        # made, so a context without -h here would take -h from later tests of smsc.
        ctx = conformance.commands["smsc"].make_context(  # type: ignore[attr-defined]
            "smsc",
            ["-vv", "--smsc", "h:1", "--system-id", "a", "--password", "b"],
            help_option_names=HELP_OPTIONS,
        )
        with ctx:
            assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


def test_window_means_requests_this_tool_keeps_in_flight() -> None:
    for tool in ("smppsim", "smpp-loadtest"):
        assert "Requests it keeps in flight per bind" in _help(tool).replace("\n", " ").replace("  ", " ")
    esme = _help("smpp-conformance", "esme")
    assert "--client-window" in esme and "--window " not in esme


def test_check_writable(tmp_path: Path) -> None:
    check_writable(None, "--json")
    check_writable("-", "--json")
    check_writable(str(tmp_path / "new.json"), "--json")
    assert not (tmp_path / "new.json").exists()  # tried, then removed again
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    check_writable(str(kept), "--json")
    assert kept.read_text() == "old"
    with pytest.raises(ConfigError, match=r"^--html: .* is a directory$"):
        check_writable(str(tmp_path), "--html")
    with pytest.raises(ConfigError, match=r"^--junit: cannot write .*: No such file or directory$"):
        check_writable(str(tmp_path / "missing" / "r.xml"), "--junit")
