"""The ``smppgw`` command line (DESIGN.md §4.1). Exit codes: 0 ok, 1 failed, 2 bad usage
or a bad config, reported in one line on stderr by ``smppgw.support.cli``."""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import NoReturn

import click
import trio

from smppgw.support.cli import ToolGroup, UsageError
from smppgw.support.cliopts import listen_address, log_level, sub_verbose_option, verbose_option
from smppgw.support.envconfig import ENV_PREFIX, env_overrides
from smppgw.support.logformat import configure_logging, log_format_option
from smppgw.tracecmd import open_trace, trace_options
from smppgw.tracecmd import trace as trace_group

__all__ = ["main"]


@click.group(cls=ToolGroup, prog="smppgw")
@verbose_option
def main(verbose: int) -> None:
    """smppgw: an asynchronous SMPP 3.4 gateway toolkit."""
    configure_logging(log_level(verbose))


@main.command()
@sub_verbose_option
def demo() -> None:
    """The product end to end in under a minute: the embedded default of ``serve`` with
    the bundled simulator (its handsets answer like people), a 2-way campaign through
    the HTTP API, signed webhooks checked; a summary, exit 0 only if every check holds."""
    from smppgw.demo import run_demo

    sys.exit(trio.run(run_demo))


def _fail_usage(message: str) -> NoReturn:
    """Bad usage: ``smppgw: error: <message>`` on stderr, exit 2 (by ``ToolGroup``)."""
    raise UsageError(message)


@main.command()
@click.option("--smsc", "smsc", required=True, metavar="HOST:PORT", help="The SMSC to bind to.")
@click.option("--system-id", required=True)
@click.option("--password", envvar="SMPPGW_PASSWORD", required=True, help="Or set SMPPGW_PASSWORD.")
@click.option("--from", "source", required=True, help="Sender: E.164, short code or alphanumeric.")
@click.option(
    "--to", "destination", required=True, help="Destination number (E.164, or national with --region)."
)
@click.option(
    "--region",
    metavar="CC",
    help="Region of national numbers (ISO 3166-1, e.g. GB: 07700 900001 -> 447700900001).",
)
@click.option("--text", required=True)
@click.option("--dlr", is_flag=True, help="Request a delivery receipt and wait for it.")
@click.option("--wait-dlr", type=float, default=30.0, show_default=True, help="Seconds to wait for receipts.")
@click.option("--bind", "bind", type=click.Choice(["trx", "tx"]), default="trx", show_default=True)
@click.option(
    "--encoding", type=click.Choice(["auto", "gsm7", "ucs2", "latin1"]), default="auto", show_default=True
)
@click.option("--tls", is_flag=True, help="Bind over TLS (certificate and name verified).")
@click.option("--tls-ca", metavar="FILE", help="PEM CA bundle for --tls.  [default: the system CAs]")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Response timeout, seconds.")
@trace_options
@sub_verbose_option
@log_format_option
def send(log_format: str, trace: str | None, trace_hex: bool, **kwargs: object) -> None:
    """Bind, send one message, print one JSON line per part and per receipt, unbind.

    Exit 0: every part accepted (and delivered, with --dlr); 1: a failure (the JSON names
    the SMPP status); 2: bad usage."""
    from smppgw.sendcmd import SendOptions, run_send

    configure_logging(log_format=log_format)

    host, sep, port = str(kwargs.pop("smsc")).rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        _fail_usage("--smsc: expected HOST:PORT")
    if kwargs["bind"] == "tx" and kwargs["dlr"]:
        _fail_usage("--dlr needs a transceiver bind (--bind trx)")
    tracer = open_trace(trace, hex=trace_hex)
    try:
        opts = SendOptions(host=host, port=int(port), **kwargs)  # type: ignore[arg-type]
        status = trio.run(partial(run_send, opts, tracer=tracer))
    except ValueError as exc:  # a bad address, text or option (AddressError, SubmitError)
        _fail_usage(str(exc))
    finally:
        if tracer is not None:
            tracer.close()
    sys.exit(status)


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML config (every key: python -m smppgw.configref).",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where the HTTP API listens; overrides [api] listen.  [default: 127.0.0.1:8080]",
)
@trace_options
@sub_verbose_option
@log_format_option
def serve(
    config_path: str | None, listen: str | None, log_format: str, trace: str | None, trace_hex: bool
) -> None:
    """Run the gateway and its HTTP queue API until SIGTERM/SIGINT.

    With no --config, the embedded default: the bundled simulator as the carrier, SQLite
    under ./var/, the API on 127.0.0.1:8080 (key from SMPPGW_API_KEY, or printed).
    Keys made by ``smppgw keys create`` work too (and then the config needs none).
    SMPPGW_<SECTION>__<KEY> environment variables override keys of the config file
    (SMPPGW_API__LISTEN=0.0.0.0:8080)."""
    import attrs

    from smppgw.app import load_app_config
    from smppgw.app import serve as run_serve

    configure_logging(log_format=log_format)

    # A bad config is exit 2; the API port taken, the store directory not writable, ...
    # (an OSError, also inside trio's exception groups) exit 1; both one line (ToolGroup).
    from smppgw.keyscmd import store_has_keys

    address = listen_address(listen) if listen is not None else None
    if config_path:
        config = load_app_config(config_path, store_keys=store_has_keys(config_path))
        if address is not None:
            config = attrs.evolve(config, listen_host=address[0], listen_port=address[1])
    else:
        config = None
        overrides = env_overrides(ENV_PREFIX, os.environ)
        if overrides:
            name = next(iter(overrides.values()))[0]
            _fail_usage(f"{name}: environment overrides apply to a --config file (or use --listen)")
    tracer = open_trace(trace, hex=trace_hex)
    try:
        trio.run(lambda: run_serve(config, on_started=click.echo, listen=address, tracer=tracer))
    finally:
        if tracer is not None:
            tracer.close()


def _keys() -> None:
    from smppgw.keyscmd import keys

    main.add_command(keys)


_keys()
main.add_command(trace_group)

if __name__ == "__main__":  # pragma: no cover
    main()
