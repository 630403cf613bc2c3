"""The vocabulary the four commands share (README, "One command-line vocabulary").

- ``--version`` on every command and subcommand (the installed package's version, read
  from its metadata) and ``-h``/``--help`` everywhere;
- ``-v``/``--verbose``: more logging, ``-v`` INFO, ``-vv`` DEBUG (the default is WARNING);
- ``--smsc HOST:PORT`` where a tool connects to an SMSC, ``--listen HOST:PORT`` where it
  listens; an old spelling stays a *hidden alias* (``AliasOption``): it still works, help
  shows only the new name;
- an output file (a report) is checked writable before a run, not after it
  (``check_writable``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from smppgw.support.config import ConfigError, host_port

__all__ = [
    "HELP_OPTIONS",
    "AliasOption",
    "add_version",
    "check_writable",
    "listen_address",
    "log_level",
    "package_version",
    "sub_verbose_option",
    "verbose_option",
]

HELP_OPTIONS: Final = ["-h", "--help"]
_DISTRIBUTION: Final = "smppgw"
_F = TypeVar("_F", bound=Callable[..., Any])


def package_version() -> str:
    """The installed distribution's version (``importlib.metadata``), or ``unknown`` when
    the code runs from a checkout that was never installed."""
    try:
        return metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def _version_option(prog: str) -> click.Option:
    def show(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(f"{prog} {package_version()}")
            ctx.exit(0)

    return click.Option(
        ["--version"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=show,
        help="Show the version and exit.",
    )


def add_version(command: click.Command, prog: str) -> None:
    """Give ``command`` and (for a group) every subcommand it has a ``--version``."""
    if not any("--version" in p.opts for p in command.params if isinstance(p, click.Option)):
        command.params.append(_version_option(prog))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_version(sub, prog)


class AliasOption(click.Option):
    """A ``click.Option`` whose ``hidden_aliases`` work but are shown nowhere: not in
    ``--help``, not in error hints. Kept so scripts written for an old name still run::

        @click.option("--smsc", "--target", "target", cls=AliasOption, hidden_aliases=["--target"])
    """

    def __init__(self, *args: Any, hidden_aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_aliases = tuple(hidden_aliases)

    def _shown(self) -> list[str]:
        return [o for o in self.opts if o not in self.hidden_aliases]

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts = self.opts
        self.opts = self._shown()
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return " / ".join(f"'{o}'" for o in self._shown())


def log_level(verbose: int) -> int:
    """``-v`` count -> logging level: WARNING, INFO (-v), DEBUG (-vv and more)."""
    return logging.WARNING - 10 * min(verbose, 2)


def verbose_option(fn: _F) -> _F:
    """``-v``/``--verbose`` (a count) passed to the command as ``verbose``."""
    return click.option("-v", "--verbose", "verbose", count=True, help="More logging (-v info, -vv debug).")(
        fn
    )


def _raise_level(_ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        logging.getLogger().setLevel(log_level(value))


def sub_verbose_option(fn: _F) -> _F:
    """``-v`` on a subcommand (``smppgw serve -v``): sets the root logger's level; the
    group's own ``-v`` before the subcommand's name works too."""
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_raise_level,
        help="More logging (-v info, -vv debug).",
    )(fn)


def listen_address(value: str, option: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too; port 0: any free port) -> (host without brackets, port).

    Raises:
        ConfigError: ``--listen: expected HOST:PORT, got 'x'`` (exit status 2).
    """
    host, port = host_port(value, option)
    return host.strip("[]"), port


def check_writable(path: str | None, option: str) -> None:
    """Fail before a run, not after it, when its report cannot be written to ``path``
    (``None`` and ``-``, standard output, pass). The file is created and, if it was not
    there, removed again: only trying tells (read-only file systems, permissions, ACLs).

    Raises:
        ConfigError: ``--json: cannot write out/r.json: No such file or directory``.
    """
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{option}: {path} is a directory")
    existed = target.exists()
    try:
        with target.open("a"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
    if not existed:
        target.unlink(missing_ok=True)
