"""One error and exit-status wrapper for the four commands (``smppgw``, ``smppsim``,
``smpp-loadtest``, ``smpp-conformance``; DESIGN §4.1).

Exit status: 0 success; 1 the command ran and something failed (a check, a send, the
port was taken); 2 bad usage or bad configuration. A failure is reported as one line
``<prog>: error: <what is wrong>`` on stderr and never as a traceback:

- click's own usage errors (a missing option, a bad value for a typed option) -> 2;
- ``UsageError`` (an option value found wrong after click parsed it) and
  ``smppgw.support.config.ConfigError`` (a bad config file or value) -> 2;
- ``Failed`` (the command could not do its job) and ``OSError`` -> 1.

The last two kinds are also found inside trio's exception groups, so an error raised in
a nursery is reported as itself. Anything else is a bug and keeps its traceback.

Every such command, and each of its subcommands, takes ``-h`` and ``--version``
(``smppgw.support.cliopts``). Use it as the ``cls`` of the top-level command or group::

    @click.command(cls=ToolCommand, prog="smppsim", interrupt_code=0)
    @click.group(cls=ToolGroup, prog="smpp-conformance")
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from smppgw.support.cliopts import HELP_OPTIONS, add_version
from smppgw.support.config import ConfigError
from smppgw.support.groups import find

__all__ = ["Failed", "ToolCommand", "ToolGroup", "UsageError", "fail"]


class UsageError(ValueError):
    """Bad usage found after click parsed the command line; the message names the option."""


class Failed(Exception):
    """The command ran but could not do its job (exit status 1); the message says why."""


def fail(prog: str, message: object, code: int = 2) -> NoReturn:
    """Print ``<prog>: error: <message>`` (whitespace folded onto one line) and exit."""
    click.echo(f"{prog}: error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def _exit_for(exc: BaseException) -> tuple[int, BaseException] | None:
    """(exit status, the error to report) for an error we report in one line, else None."""
    usage = find(exc, (ConfigError, UsageError))
    if usage is not None:
        return 2, usage
    failure = find(exc, (Failed, OSError))
    if failure is not None:
        return 1, failure
    return None


class ToolCommand(click.Command):
    """A top-level command whose errors follow the module docstring.

    ``prog`` names the command in messages and usage lines; ``interrupt_code`` is the
    exit status after Ctrl-C outside the command's own handling (0: a server stopped on
    purpose, reported by nothing; otherwise ``<prog>: interrupted`` is printed).
    """

    def __init__(self, *args: Any, prog: str, interrupt_code: int = 1, **kwargs: Any) -> None:
        # -h and --version on the command and on every subcommand (support.cliopts)
        kwargs["context_settings"] = {"help_option_names": HELP_OPTIONS, **kwargs.get("context_settings", {})}
        super().__init__(*args, **kwargs)
        self.prog = prog
        self.interrupt_code = interrupt_code
        add_version(self, prog)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(args, prog_name or self.prog, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
            sys.exit(2)
        except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption, ...
            fail(self.prog, exc.format_message(), exc.exit_code)
        except click.Abort:  # Ctrl-C (KeyboardInterrupt) or EOF at a prompt
            if self.interrupt_code:
                click.echo(f"{self.prog}: interrupted", err=True)
            sys.exit(self.interrupt_code)
        except (Exception, BaseExceptionGroup) as exc:
            found = _exit_for(exc)
            if found is None:
                raise
            fail(self.prog, found[1], found[0])
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


class ToolGroup(ToolCommand, click.Group):
    """``ToolCommand`` for a command with subcommands."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        add_version(cmd, self.prog)
        # The help names on the subcommand itself, not only inherited from this group's
        # context: click (8.1.8 and later) makes a command's help option once and keeps
        # it, so a context made for the subcommand alone would otherwise fix it as
        # ``--help`` only, and a later ``-h`` would be taken as an argument.
        cmd.context_settings = {"help_option_names": HELP_OPTIONS, **cmd.context_settings}
        super().add_command(cmd, name)
