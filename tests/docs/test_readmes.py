"""Every command and code block of the READMEs runs as written (issue 17: docs that run).

Each document is followed top to bottom in a fresh directory (``session.Session``):

- ``sh`` blocks: each command runs with the virtualenv's tools first on PATH (the
  consecutive commands of a block in one ``bash`` with ``set -euo pipefail``, so a
  variable set by one is there for the next) and must exit 0. ``smppsim`` and
  ``smppgw serve`` are servers: started in the background, waited on (the SMPP port
  accepts, ``/healthz`` answers 200), kept for the blocks after them and stopped by PID
  (SIGTERM) at the end of the document (or at `kill %N`, N counting the block's `&`
  servers); a server started again on the same address
  replaces the first, as a reader stops one before starting the next.
- ``toml`` blocks: loaded as ``smppgw serve --config`` loads them
  (``smppgw.app.load_app_config``); a ``<!-- fragment -->`` one is merged into a minimal
  config (one SMSC, one API key) first. The environment variables a config names
  (``*_env``) are given placeholder values and the PEM files it names are made. A
  ``<!-- simulator -->`` one is ``smppsim``'s config (``simulator.config``).
- ``python`` blocks run as scripts; ``json`` blocks must parse.
- ``<!-- file: NAME -->`` writes the block to NAME for the commands after it;
  ``<!-- illustration: REASON -->`` marks a block that is not run, with the reason. A
  block of any other language must be marked.

What the harness changes, so it runs on a shared machine and fast:

- the fixed ports the documents name (2775, 2776, 8080, 8081, 8082, 9090) are replaced,
  in every block, with free ports picked for the run, the same one for every mention;
  ``smppgw serve`` without ``--listen`` is given ``--listen`` with 8080's port, and
  ``smppsim`` without ``--listen``/``--port`` 2775's (their defaults);
- ``smpp-loadtest --duration`` is cut to 2 seconds;
- ``curl`` gets ``--fail-with-body --show-error --max-time 60``, so an HTTP error fails the block;
- from the first block about the Redis streams (a ``[streams]`` table, a ``coredis``
  client) on, the environment has ``SMPPGW_STREAMS__URL`` (the test Redis, fixture
  ``redis_url``) and ``SMPPGW_STREAMS__PREFIX`` (a prefix of this run's own): the
  gateway takes them as config overrides, the document's client reads them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import conformance.cli as conformance_cli
import loadtest.cli as loadtest_cli
import simulator.cli as simulator_cli
import smppgw.cli as smppgw_cli
from simulator.config import profile_names
from tests.docs.markdown import MARKERS, blocks
from tests.docs.session import ROOT, SHELL, Session

DOCUMENTS = sorted(
    {ROOT / "README.md", *ROOT.glob("*/README.md"), *ROOT.glob("*/SCHEMA.md")}
    - set(ROOT.glob("tests/**/*.md"))
)
RUNNABLE = SHELL | {"toml", "python", "json"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs_as_written(document: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    session = Session(tmp_path, redis=lambda: str(request.getfixturevalue("redis_url")))
    try:
        for block in blocks(document):
            if "illustration" not in block.markers:
                session.run(block)
    finally:
        session.close()


def test_every_block_is_runnable_or_an_illustration_with_its_reason() -> None:
    problems = []
    for document in DOCUMENTS:
        for block in blocks(document):
            unknown = set(block.markers) - set(MARKERS)
            if unknown:
                problems.append(
                    f"{block.where}: unknown marker {sorted(unknown)} (known: {', '.join(MARKERS)})"
                )
            if "illustration" in block.markers:
                reason = block.markers["illustration"]
                if len(reason) < 8:
                    problems.append(f"{block.where}: an illustration needs its reason")
                for cited in re.findall(r"[\w./-]+/[\w.-]+\.(?:py|md|toml|ya?ml)\b", reason):
                    if not (ROOT / cited).exists():
                        problems.append(f"{block.where}: the reason cites {cited}, which does not exist")
            elif block.lang not in RUNNABLE:
                problems.append(
                    f"{block.where}: a ```{block.lang or '(no language)'} block neither runs nor is marked"
                )
    assert problems == []


# Files that are not in the repository: user-facing text must not send a reader to them.
OUTSIDE = re.compile(r"DESIGN(?:\.md)?\s*§|DESIGN\.md|SMPP-REFERENCE|STYLE\.md|/work/shared", re.IGNORECASE)


def test_documents_name_no_file_outside_the_repository() -> None:
    found = [
        f"{doc.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
        for doc in DOCUMENTS
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def _helps(tool: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Each command's --help, as a user gets it (through the tool, so its context settings
    apply; a context made by hand would leave click's cached help option wrong)."""
    command = tool
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    result = CliRunner().invoke(tool, [*path, "--help"])
    assert result.exit_code == 0, result.output
    yield " ".join(path), result.output
    if isinstance(command, click.Group):
        for sub in command.commands:
            yield from _helps(tool, (*path, sub))


def test_cli_help_names_no_file_outside_the_repository() -> None:
    tools = {"smppgw": smppgw_cli.main, "smppsim": simulator_cli.main}
    tools |= {"smpp-loadtest": loadtest_cli.main, "smpp-conformance": conformance_cli.main}
    found = [
        f"{tool} {name}: {line.strip()}"
        for tool, command in tools.items()
        for name, text in _helps(command)
        for line in text.splitlines()
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_profile_descriptions_name_no_file_outside_the_repository() -> None:
    """``smppsim --list-profiles`` prints them."""
    found = [
        f"{name}: {description}"
        for name in profile_names()
        if OUTSIDE.search(description := str(tomllib.loads(_profile_text(name)).get("description", "")))
    ]
    assert found == []


def _profile_text(name: str) -> str:
    return (resources.files("simulator.profiles") / f"{name}.toml").read_text(encoding="utf-8")


def test_the_simulator_console_names_no_file_outside_the_repository() -> None:
    assets = resources.files("simulator.static")
    found = [
        f"simulator/static/{item.name}:{n}"
        for item in assets.iterdir()
        if item.name.endswith((".html", ".js", ".css"))
        for n, line in enumerate(item.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []
