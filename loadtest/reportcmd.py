"""``smpp-loadtest report``: re-render a saved result, or set two runs side by side.

    smpp-loadtest report result.json                      # the summary table again
    smpp-loadtest report result.json --html report.html   # the HTML report again
    smpp-loadtest report --compare a.json b.json [--html compare.html]

A result is any ``smpp-loadtest/1`` document (``--json FILE`` of a run), older ones
included. A file that is not one is bad usage: exit 2 with one line naming the file
and the first problem. Otherwise exit 0: the verdict of a run is its own exit status,
not the report's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from loadtest.schema import validate
from smppgw.support.cli import Failed, UsageError

__all__ = ["load_result", "report"]


def load_result(path: str) -> dict[str, Any]:
    """The result in ``path``; UsageError naming the file for anything else."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    problems = validate(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{path}: not a smpp-loadtest/1 result: {problems[0]}{more}")
    assert isinstance(doc, dict)
    return doc


def _write(path: str, text: str) -> None:
    try:
        if path == "-":
            sys.stdout.write(text)
        else:
            Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Failed(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command("report")
@click.argument("result", required=False, metavar="RESULT.json")
@click.option(
    "--compare", nargs=2, metavar="A.json B.json", help="Two results side by side instead (B against A)."
)
@click.option("--html", "html_path", metavar="FILE", help="Write the HTML report (or comparison) here.")
@click.option("-q", "--quiet", is_flag=True, default=False, help="No table on stdout.")
def report(result: str | None, compare: tuple[str, str] | None, html_path: str | None, quiet: bool) -> None:
    """Re-render a saved result (--json of a run), or compare two."""
    if bool(result) == bool(compare):
        raise UsageError("report: give one RESULT.json, or --compare A.json B.json")
    if compare:
        from loadtest.compare import compare_html, compare_text

        a, b = (load_result(p) for p in compare)
        names = [Path(p).name for p in compare]
        if names[0] == names[1]:
            names = list(compare)
        if html_path:
            _write(html_path, compare_html(a, b, names))
        if not quiet:
            click.echo(compare_text(a, b, names), nl=False)
        return
    assert result is not None
    doc = load_result(result)
    if html_path:
        from loadtest.report_html import render_html

        _write(html_path, render_html(doc))
    if not quiet:
        from loadtest.summary import print_summary

        print_summary(doc)
