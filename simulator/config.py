"""Simulator configuration: accounts, session timers and carrier behaviour (TOML).

Layering of behaviour for one account, later wins::

    built-in defaults <- profile (account's `profile`, else the global one)
                      <- top-level [behaviour] <- [account.behaviour]

Every key is checked (with ``smppgw.support.config``, as the gateway's config is): an
unknown key or a bad value raises ``ConfigError`` naming the key
(``account[1].behaviour.tps: must be a number > 0, got 0``), which the CLI prints on one
line with exit status 2. Behaviour is kept as a raw dict per account as well, so the
control API can patch a few keys at run time and rebuild a validated ``Behaviour``; its
record, checks and the shipped profiles are in ``simulator.config_behaviour``.

TLS: ``tls_cert`` + ``tls_key`` (PEM files, both or neither) make the simulator serve
SMPP over TLS 1.2+ only; ``tls_client_ca`` (needs them) also requires each client to
present a certificate signed by that CA (mutual TLS).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from simulator.config_behaviour import (
    FINAL_STATES,
    Behaviour,
    ForceRule,
    HandsetRule,
    build_behaviour,
    load_profile,
    profile_names,
)
from smppgw.net.tls import TlsSetupError, server_context
from smppgw.support.config import (
    ConfigError,
    choice,
    each,
    integer,
    positive,
    read_toml,
    require,
    string,
    table,
    unknown_keys,
)

__all__ = [
    "FINAL_STATES",
    "Account",
    "Behaviour",
    "ConfigError",
    "ForceRule",
    "HandsetRule",
    "SessionSettings",
    "SimConfig",
    "build_behaviour",
    "config_from_dict",
    "load_config",
    "load_profile",
    "profile_names",
]

_BIND_TYPES: Final = ("tx", "rx", "trx")
_TOP_KEYS: Final = {
    "max_binds_per_address",
    "host",
    "port",
    "http_host",
    "http_port",
    "system_id",
    "seed",
    "profile",
    "account",
    "behaviour",
    "session",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
}


@attrs.frozen(kw_only=True)
class SessionSettings:
    bind_timeout: float = 30.0  # session_init_timer (SMPP-REFERENCE §4.3)
    inactivity_timeout: float | None = 300.0
    enquire_link_interval: float | None = 60.0
    response_timeout: float = 30.0  # for deliver_sm; then redelivery
    window: int = 64  # deliver_sm in flight per bind (carriers use 1-10; a load-test peer needs more)
    max_command_length: int = 64 * 1024
    # Requests per bind not yet answered (submits waiting out a response delay); one beyond
    # is answered ESME_RTHROTTLED at once: an ESME that ignores its window holds no more.
    receive_window: int = 1024


@attrs.frozen(kw_only=True)
class Account:
    system_id: str
    password: str = attrs.field(repr=False)
    max_binds: int = 4
    bind_types: frozenset[str] = frozenset(_BIND_TYPES)
    profile: str | None = None
    behaviour_raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(kw_only=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    http_host: str = "127.0.0.1"
    http_port: int | None = None
    system_id: str = "smppsim"
    seed: int | None = None
    profile: str = "default"
    accounts: tuple[Account, ...] = (Account(system_id="smppclient1", password="password"),)
    behaviour_raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    session: SessionSettings = SessionSettings()
    tls_cert: str | None = None  # with tls_key: serve SMPP over TLS
    tls_key: str | None = None
    tls_client_ca: str | None = None  # require a client certificate signed by this CA
    # Binds from one source address at once (all accounts); beyond: ESME_RBINDFAIL.
    max_binds_per_address: int = 32

    def behaviour_for(self, account: Account, patch: Mapping[str, Any] | None = None) -> Behaviour:
        """The effective behaviour of ``account`` (see the module docstring)."""
        raw = self.raw_behaviour_for(account)
        if patch:
            raw.update(patch)
        return build_behaviour(raw, f"account {account.system_id} behaviour")

    def raw_global_behaviour(self) -> dict[str, Any]:
        """Behaviour before any account is known (a connection not yet bound)."""
        raw = dict(load_profile(self.profile))
        raw.update(self.behaviour_raw)
        return raw

    def raw_behaviour_for(self, account: Account) -> dict[str, Any]:
        raw = dict(load_profile(account.profile or self.profile))
        raw.update(self.behaviour_raw)
        raw.update(account.behaviour_raw)
        return raw


def _account(v: Any, where: str) -> Account:
    t = table(v, where)
    unknown_keys(t, {"system_id", "password", "max_binds", "bind_types", "profile", "behaviour"}, where)
    require(t, ("system_id", "password"), where)
    # SMPP 3.4 §4.1.1: system_id C(16), password C(9).
    system_id = string(t["system_id"], f"{where}.system_id", min_len=1, max_len=15)
    password = string(t["password"], f"{where}.password", max_len=8)
    bind_types = frozenset(
        each(
            t.get("bind_types", list(_BIND_TYPES)),
            f"{where}.bind_types",
            lambda x, w: choice(x, w, _BIND_TYPES),
        )
    )
    if not bind_types:
        raise ConfigError(f"{where}.bind_types: needs at least one of {', '.join(_BIND_TYPES)}")
    profile = string(t["profile"], f"{where}.profile") if "profile" in t else None
    if profile is not None:
        load_profile(profile)
    behaviour = table(t.get("behaviour", {}), f"{where}.behaviour")
    build_behaviour(behaviour, f"{where}.behaviour")
    return Account(
        system_id=system_id,
        password=password,
        max_binds=integer(t.get("max_binds", 4), f"{where}.max_binds", 1, 1000),
        bind_types=bind_types,
        profile=profile,
        behaviour_raw=behaviour,
    )


def _session(v: Any) -> SessionSettings:
    t = table(v, "session")
    unknown_keys(t, {a.name for a in attrs.fields(SessionSettings)}, "session")
    out: dict[str, Any] = {}
    for key, value in t.items():
        w = f"session.{key}"
        if key in ("window", "max_command_length", "receive_window"):
            out[key] = integer(value, w, 16 if key == "max_command_length" else 1, 16 * 1024 * 1024)
        elif value is None and key in ("inactivity_timeout", "enquire_link_interval"):
            out[key] = None  # that timer off
        else:
            out[key] = positive(value, w)
    return SessionSettings(**out)


def _tls(data: Mapping[str, Any]) -> dict[str, str]:
    """``tls_cert``/``tls_key``/``tls_client_ca``, checked by building the context once."""
    out = {k: string(data[k], k, min_len=1) for k in ("tls_cert", "tls_key", "tls_client_ca") if k in data}
    if ("tls_cert" in out) != ("tls_key" in out):
        raise ConfigError(
            f"{'tls_key' if 'tls_cert' in out else 'tls_cert'}: tls_cert and tls_key go together"
        )
    if "tls_client_ca" in out and "tls_cert" not in out:
        raise ConfigError("tls_client_ca: needs tls_cert and tls_key")
    if out:
        try:
            server_context(out["tls_cert"], out["tls_key"], client_ca=out.get("tls_client_ca"))
        except TlsSetupError as exc:
            raise ConfigError(f"tls_{exc.field}: {exc.message}") from None
    return out


def config_from_dict(data: Mapping[str, Any]) -> SimConfig:
    """Build a ``SimConfig`` from parsed TOML (or the CLI's equivalent dict).

    Raises:
        ConfigError: an unknown key or a bad value, named.
    """
    unknown_keys(data, _TOP_KEYS, "")
    out: dict[str, Any] = {}
    for key in ("host", "http_host"):
        if key in data:
            out[key] = string(data[key], key)
    if "port" in data:
        out["port"] = integer(data["port"], "port", 0, 65535)
    if data.get("http_port") is not None:
        out["http_port"] = integer(data["http_port"], "http_port", 0, 65535)
    if "system_id" in data:
        out["system_id"] = string(data["system_id"], "system_id", min_len=1, max_len=15)
    if data.get("seed") is not None:
        out["seed"] = integer(data["seed"], "seed", 0)
    if "profile" in data:
        out["profile"] = string(data["profile"], "profile")
        load_profile(out["profile"])
    if "account" in data:
        accounts = tuple(each(data["account"], "account", _account))
        ids = [a.system_id for a in accounts]
        if len(set(ids)) != len(ids):
            raise ConfigError("account: duplicate system_id")
        if not accounts:
            raise ConfigError("account: needs at least one account")
        out["accounts"] = accounts
    if "behaviour" in data:
        out["behaviour_raw"] = table(data["behaviour"], "behaviour")
        build_behaviour(out["behaviour_raw"])
    if "session" in data:
        out["session"] = _session(data["session"])
    if "max_binds_per_address" in data:
        out["max_binds_per_address"] = integer(
            data["max_binds_per_address"], "max_binds_per_address", 1, 100_000
        )
    out.update(_tls(data))
    config = SimConfig(**out)
    for account in config.accounts:  # the merged layers must be valid too
        config.behaviour_for(account)
    return config


def load_config(path: str | Path) -> SimConfig:
    """Raises ConfigError for a missing, unreadable, non-UTF-8 or bad TOML file, or bad content."""
    return config_from_dict(read_toml(path))
