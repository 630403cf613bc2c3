"""The ``smppsim`` command: run the carrier-realistic simulator (DESIGN.md §4.1).

Flags map onto the TOML schema of ``simulator.config`` and are validated by the same
``config_from_dict``, so a bad flag and a bad config file are reported the same way: one
line ``smppsim: error: <what is wrong>`` on stderr and exit status 2, never a traceback.

With ``--config FILE`` the file is read first and every flag given explicitly wins over
it, everywhere: ``--tps``/``--dlr-delay``/``--dlr-outcomes`` replace those keys in the
top-level ``[behaviour]`` and in every ``[account.behaviour]``; ``--profile`` replaces the
global profile and every account's own; ``--account`` replaces the file's accounts;
``--max-binds`` applies to every account. Ctrl-C and SIGTERM stop the simulator cleanly
with exit status 0.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import sys
import tomllib
from collections.abc import Sequence
from functools import partial
from importlib import resources
from typing import Any, Final

import click
import trio

from simulator.config import ConfigError, SimConfig, check_control, config_from_dict, profile_names
from smppgw.net.trace import PduTracer
from smppgw.support.cli import ToolCommand, UsageError
from smppgw.support.cliopts import listen_address, log_level, verbose_option
from smppgw.support.config import read_toml
from smppgw.support.gc import server_gc
from smppgw.support.logformat import configure_logging, log_format_option
from smppgw.tracecmd import open_trace, trace_options

__all__ = ["main"]

_PROG = "smppsim"
_DEFAULT_ACCOUNT = {"system_id": "smppclient1", "password": "password"}


# -- flags -> config dict --------------------------------------------------------------------


def _parse_account(value: str) -> dict[str, str]:
    system_id, sep, password = value.partition(":")
    if not sep:
        raise ConfigError(f"--account: expected SYSTEM_ID:PASSWORD, got {value!r}")
    return {"system_id": system_id, "password": password}


def _account_tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    accounts = data.get("account")
    if not isinstance(accounts, list):
        return []  # absent, or broken: config_from_dict names the problem
    return [a for a in accounts if isinstance(a, dict)]


def _merge(data: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a parsed config file) with every explicit flag in ``flags`` winning."""
    out = dict(data)
    for key in (
        "host",
        "port",
        "http_host",
        "http_port",
        "http_token",
        "seed",
        "profile",
        "tls_cert",
        "tls_key",
        "tls_client_ca",
    ):
        if key in flags:
            out[key] = flags[key]
    if "account" in flags:
        out["account"] = [dict(a) for a in flags["account"]]
    else:
        accounts = out.get("account")
        if isinstance(accounts, list):
            out["account"] = [dict(a) if isinstance(a, dict) else a for a in accounts]
    if "session" in flags:
        session = out.get("session")
        out["session"] = {**(session if isinstance(session, dict) else {}), **flags["session"]}
    if "behaviour" in flags:
        behaviour = out.get("behaviour")
        behaviour = behaviour if isinstance(behaviour, dict) else {}
        out["behaviour"] = {**behaviour, **flags["behaviour"]}
        if isinstance(behaviour.get("personas"), dict) and "personas" in flags["behaviour"]:
            # --personas SEED reseeds the file's personas; their weights stay
            out["behaviour"]["personas"] = {**behaviour["personas"], **flags["behaviour"]["personas"]}
    for account in _account_tables(out):
        if "max_binds" in flags:
            account["max_binds"] = flags["max_binds"]
        if "profile" in flags and "profile" in account:
            account["profile"] = flags["profile"]
        behaviour = account.get("behaviour")
        if "behaviour" in flags and isinstance(behaviour, dict):
            account["behaviour"] = {
                **behaviour,
                **{k: v for k, v in flags["behaviour"].items() if k in behaviour},
            }
    return out


# config key (as ConfigError names it) -> the flag that set it, for errors in flags
_FLAG_NAMES: Final = tuple(
    (re.compile(pattern + r"(?=[:.\[ ]|$)"), flag)
    for pattern, flag in (
        (r"behaviour\.tps", "--tps"),
        (r"behaviour\.dlr_delay", "--dlr-delay"),
        (r"behaviour\.outcomes", "--dlr-outcomes"),
        (r"behaviour\.personas\.seed", "--personas"),
        (r"session\.window", "--window"),
        (r"account\[\d+\]\.max_binds", "--max-binds"),
        (r"account\[\d+\]\.(system_id|password)", r"--account \1"),
        (r"account", "--account"),
        (r"http_port", "--http-port"),
        (r"http_host", "--http-host"),
        (r"http_token", "--http-token"),
        (r"port", "--port"),
        (r"host", "--host"),
        (r"seed", "--seed"),
        (r"profile", "--profile"),
        (r"tls_cert", "--tls-cert"),
        (r"tls_key", "--tls-key"),
        (r"tls_client_ca", "--tls-client-ca"),
    )
)


def _flag_error(exc: ConfigError) -> ConfigError:
    """``behaviour.tps: must be > 0`` -> ``--tps: must be > 0`` for an error in a flag."""
    message = str(exc)
    for pattern, flag in _FLAG_NAMES:
        m = pattern.match(message)
        if m:
            rest = message[m.end() :]
            return ConfigError(m.expand(flag) + (" " + rest[1:] if rest.startswith(".") else rest))
    return exc


def build_config(
    *,
    config_file: str | None = None,
    host: str | None = None,
    port: int | None = None,
    accounts: Sequence[str] = (),
    tps: float | None = None,
    window: int | None = None,
    max_binds: int | None = None,
    dlr_delay: float | None = None,
    dlr_outcomes: str | None = None,
    profile: str | None = None,
    seed: int | None = None,
    personas: int | None = None,
    http_port: int | None = None,
    http_host: str | None = None,
    http_token: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_client_ca: str | None = None,
) -> SimConfig:
    """The ``SimConfig`` for these command-line values (``None``: not given).

    Raises:
        ConfigError: a bad flag, a missing or broken file, or bad config content, named.
    """
    data = read_toml(config_file) if config_file is not None else {}
    flags: dict[str, Any] = {}
    for key, value in (
        ("host", host),
        ("port", port),
        ("http_host", http_host),
        ("http_port", http_port),
        ("http_token", http_token),
        ("seed", seed),
    ):
        if value is not None:
            flags[key] = value
    if profile is not None:
        flags["profile"] = profile
    for key, path in (("tls_cert", tls_cert), ("tls_key", tls_key), ("tls_client_ca", tls_client_ca)):
        if path is not None:
            flags[key] = path
    if accounts:
        flags["account"] = [_parse_account(a) for a in accounts]
    if max_binds is not None:
        flags["max_binds"] = max_binds
    if window is not None:
        flags["session"] = {"window": window}
    behaviour: dict[str, Any] = {}
    if tps is not None:
        behaviour["tps"] = tps
    if dlr_delay is not None:
        behaviour["dlr_delay"] = dlr_delay
    if dlr_outcomes is not None:
        behaviour["outcomes"] = dlr_outcomes
    if personas is not None:
        behaviour["personas"] = {"seed": personas}
    if behaviour:
        flags["behaviour"] = behaviour

    # The flags on their own first, so a bad flag is named as such and not blamed on the file.
    # (The TLS files are checked together, from the merged config, as a file may give some.)
    alone = {k: v for k, v in flags.items() if k != "max_binds" and not k.startswith("tls_")}
    if "max_binds" in flags:
        alone["account"] = [
            {**a, "max_binds": flags["max_binds"]} for a in flags.get("account", [_DEFAULT_ACCOUNT])
        ]
    try:
        config = config_from_dict(alone)
    except ConfigError as exc:
        raise _flag_error(exc) from None
    if config_file is not None or any(k.startswith("tls_") for k in flags):
        try:
            config = config_from_dict(_merge(data, flags))
        except ConfigError as exc:
            raise (_flag_error(exc) if str(exc).split(":")[0] in flags else exc) from None
    check_control(config)  # not blamed on a flag: the host may come from one, the file or neither
    return config


# -- running ---------------------------------------------------------------------------------


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _banner(config: SimConfig, sim: Any) -> str:
    accounts = ", ".join(a.system_id for a in config.accounts)
    line = (
        f"{_PROG} listening on {_address(config.host, sim.port)}{' (TLS)' if config.tls_cert else ''} "
        f"(profile {config.profile}, accounts {accounts})"
    )
    http_port = getattr(sim, "http_port", None)
    if http_port is not None:
        line += f", HTTP on http://{_address(config.http_host, http_port)}"
        token = getattr(sim, "http_token", None)
        if config.http_token is None and token:  # made up at start: its only showing (not logged)
            line += f"\ncontrol API token (set SMPPSIM_HTTP_TOKEN to choose one): {token}"
    return line


async def _serve(config: SimConfig, tracer: PduTracer | None = None) -> None:
    from simulator import run_simulator  # written alongside; imported late so errors print cleanly

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(partial(run_simulator, config, tracer=tracer))
            with server_gc():
                click.echo(_banner(config, sim))
                sys.stdout.flush()
                async for signum in signals:
                    logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
                    break
                nursery.cancel_scope.cancel()


def _list_profiles() -> None:
    files = resources.files("simulator.profiles")
    names = profile_names()
    width = max(len(n) for n in names)
    for name in names:
        try:
            description = tomllib.loads(files.joinpath(f"{name}.toml").read_text()).get("description", "")
        except tomllib.TOMLDecodeError:
            description = "(broken profile file)"
        click.echo(f"{name:<{width}}  {description}".rstrip())


@click.command(cls=ToolCommand, prog=_PROG, interrupt_code=0)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where SMPP listens; port 0 picks a free one.  [default: 127.0.0.1:2775]",
)
@click.option("--host", hidden=True, help="The host of --listen (an older spelling).")
@click.option("--port", type=int, hidden=True, help="The port of --listen (an older spelling).")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="SYSTEM_ID:PASSWORD",
    help="An account (repeatable).  [default: smppclient1:password]",
)
@click.option("--tps", type=float, help="Submits per second per account; above it ESME_RTHROTTLED.")
@click.option("--window", type=int, help="Requests it keeps in flight per bind (deliver_sm).")
@click.option("--max-binds", type=int, help="Simultaneous binds per account.  [default: 4]")
@click.option("--dlr-delay", type=float, metavar="SECONDS", help="Delay from submit to receipt.")
@click.option(
    "--dlr-outcomes", metavar="STAT=WEIGHT,...", help="Receipt outcomes, e.g. DELIVRD=0.9,UNDELIV=0.1."
)
@click.option("--profile", metavar="NAME", help="Carrier behaviour profile (see --list-profiles).")
@click.option("--seed", type=int, help="Seed for every random choice (reproducible runs).")
@click.option(
    "--personas",
    type=int,
    metavar="SEED",
    help="Handsets answer like people (YES/NO, scores, STOP, HELP, silence), reproducibly by SEED.",
)
@click.option(
    "--http-listen",
    metavar="HOST:PORT",
    help="Where the control API and /metrics listen (off unless given); beyond loopback it "
    "needs --http-token.",
)
@click.option("--http-port", type=int, hidden=True, help="The port of --http-listen (an older spelling).")
@click.option("--http-host", hidden=True, help="The host of --http-listen (an older spelling).")
@click.option(
    "--http-token",
    envvar="SMPPSIM_HTTP_TOKEN",
    metavar="TOKEN",
    help="Token the control API asks for (Bearer or X-Token) to change anything, and to read "
    "beyond loopback; or set SMPPSIM_HTTP_TOKEN.  [default: a random one, printed]",
)
@click.option(
    "--tls-cert", metavar="FILE", help="Serve SMPP over TLS with this PEM certificate (and --tls-key)."
)
@click.option("--tls-key", metavar="FILE", help="The PEM private key of --tls-cert.")
@click.option(
    "--tls-client-ca", metavar="FILE", help="Require client certificates signed by this PEM CA (mutual TLS)."
)
@click.option(
    "--config", "config_file", metavar="FILE", help="TOML config; flags given explicitly override it."
)
@click.option("--list-profiles", is_flag=True, help="List the shipped profiles and exit.")
@verbose_option
@trace_options
@log_format_option
def main(
    listen: str | None,
    host: str | None,
    port: int | None,
    accounts: tuple[str, ...],
    tps: float | None,
    window: int | None,
    max_binds: int | None,
    dlr_delay: float | None,
    dlr_outcomes: str | None,
    profile: str | None,
    seed: int | None,
    personas: int | None,
    http_listen: str | None,
    http_port: int | None,
    http_host: str | None,
    http_token: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    config_file: str | None,
    list_profiles: bool,
    verbose: int,
    log_format: str,
    trace: str | None,
    trace_hex: bool,
) -> None:
    """smppsim: a carrier-realistic SMPP 3.4 SMSC simulator.

    Exit status: 0 after Ctrl-C or SIGTERM, 2 for bad flags or a bad config.
    """
    if list_profiles:
        _list_profiles()
        return
    if listen is not None:
        if host is not None or port is not None:
            raise UsageError("give --listen HOST:PORT or the older --host/--port, not both")
        host, port = listen_address(listen)
    if http_listen is not None:
        if http_host is not None or http_port is not None:
            raise UsageError("give --http-listen HOST:PORT or the older --http-host/--http-port, not both")
        http_host, http_port = listen_address(http_listen, "--http-listen")
    config = build_config(
        config_file=config_file,
        host=host,
        port=port,
        accounts=accounts,
        tps=tps,
        window=window,
        max_binds=max_binds,
        dlr_delay=dlr_delay,
        dlr_outcomes=dlr_outcomes,
        profile=profile,
        seed=seed,
        personas=personas,
        http_port=http_port,
        http_host=http_host,
        http_token=http_token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
    )
    configure_logging(log_level(verbose), log_format)
    tracer = open_trace(trace, hex=trace_hex)
    # A ConfigError from a run-time check is exit 2, an OSError (the port is taken) exit 1:
    # both one line, by ToolCommand.
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the signal receiver was installed
            trio.run(_serve, config, tracer)
    finally:
        if tracer is not None:
            tracer.close()


if __name__ == "__main__":  # pragma: no cover
    main()
