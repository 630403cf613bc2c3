"""``smppgw keys create|list|revoke``: the API keys kept in the store (``store.keys``).

They work on the store the config names (``[store]``: the SQLite ``path`` or the Redis
``url`` and ``prefix``; without ``--config`` the embedded default, ``var/smppgw.sqlite3``),
also while ``smppgw serve`` runs on it: the
server reads the keys again every few seconds (``api.keys.RELOAD``). ``create`` prints
the new key once, on stdout, and stores only its SHA-256; nobody can show it again.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from smppgw.store.base import SCOPES, ApiKeyRecord, Store, StoreError, key_hash
from smppgw.store.config import StoreSettings, open_store, store_settings
from smppgw.support.cli import Failed, UsageError
from smppgw.support.config import ConfigError, read_toml, table
from smppgw.support.envconfig import ENV_PREFIX, apply_env, blame_env

__all__ = ["keys", "store_has_keys", "store_path"]

DEFAULT_STORE = Path("var/smppgw.sqlite3")
PREFIX = "smppgw_"  # tells a key apart in a log or a leak scanner


def _settings(config_path: str | None) -> StoreSettings:
    """The ``[store]`` section of the config (only that part of it is read), with its
    environment overrides (``SMPPGW_STORE__PATH``...)."""
    if config_path is None:
        return StoreSettings(path=DEFAULT_STORE)
    data, origins = apply_env(read_toml(config_path), ENV_PREFIX, os.environ)
    try:
        return store_settings(table(data.get("store", {}), "store"))
    except ConfigError as exc:
        raise blame_env(exc, origins) from None


def store_path(config_path: str | None) -> Path:
    """The ``[store] path`` of the config (the SQLite file)."""
    return _settings(config_path).path


def _open(config_path: str | None) -> Store:
    """The config's store; Redis away is a one-line failure naming the URL (exit 1)."""
    try:
        return open_store(_settings(config_path), clock_offset=0.0)
    except StoreError as exc:
        raise Failed(f"store: {exc}") from None


def store_has_keys(config_path: str | None) -> bool:
    """Whether the store holds a live key (then the config need not name one)."""
    settings = _settings(config_path)
    if settings.backend == "memory" or (settings.backend == "sqlite" and not settings.path.exists()):
        return False
    store = _open(config_path)
    try:
        return bool(store.api_keys())
    finally:
        store.close()


def _when(wall: float | None) -> str:
    if wall is None:
        return "-"
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="TOML config: its [store] path."
)


@click.group()
def keys() -> None:
    """API keys kept (hashed) in the store: scopes, a tenant, limits."""


@keys.command()
@config_option
@click.option("--name", required=True, help="Who or what uses it (shown by list).")
@click.option(
    "--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES),
    help="Repeat for each scope (admin: every scope).",
)  # fmt: skip
@click.option("--tenant", help="Its tenant: it sees only that tenant's messages.")
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), help="Requests/s. [default: api.key_rate]"
)
@click.option("--max-queued", type=click.IntRange(min=1), help="Queued parts. [default: api.key_max_queued]")
def create(
    config_path: str | None, name: str, scopes: tuple[str, ...], tenant: str | None,
    rate: float | None, max_queued: int | None,
) -> None:  # fmt: skip
    """Make a key; print it once (only its hash is stored)."""
    if tenant is not None and not tenant.strip():
        raise UsageError("--tenant: empty")
    key = PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        id="key_" + secrets.token_hex(6), name=name, hash=key_hash(key),
        scopes=tuple(dict.fromkeys(scopes)), tenant=tenant, rate=rate, max_queued=max_queued,
        created_at=time.time(),
    )  # fmt: skip
    store = _open(config_path)
    try:
        store.add_key(record)
    finally:
        store.close()
    click.echo(f"id: {record.id}", err=True)
    click.echo("the key (shown this once; keep it secret):", err=True)
    click.echo(key)


@keys.command(name="list")
@config_option
@click.option("--revoked", is_flag=True, help="Show revoked keys too.")
def list_keys(config_path: str | None, revoked: bool) -> None:
    """One line per key: id, name, scopes, tenant, limits, created, last used."""
    store = _open(config_path)
    try:
        found = store.api_keys(revoked=revoked)
    finally:
        store.close()
    click.echo("id\tname\tscopes\ttenant\trate\tmax_queued\tcreated\tlast_used\trevoked")
    for k in found:
        rate = "-" if k.rate is None else f"{k.rate:g}"
        queued = "-" if k.max_queued is None else str(k.max_queued)
        times = [_when(k.created_at), _when(k.last_used_at), _when(k.revoked_at)]
        click.echo("\t".join([k.id, k.name, ",".join(k.scopes), k.tenant or "-", rate, queued, *times]))


@keys.command()
@config_option
@click.argument("key_id")
def revoke(config_path: str | None, key_id: str) -> None:
    """Revoke a key by its id (a running server stops taking it within seconds)."""
    store = _open(config_path)
    try:
        done = store.revoke_key(key_id, now=time.time())
    finally:
        store.close()
    if not done:
        raise Failed(f"no live key {key_id!r}")
    click.echo(f"revoked {key_id}")
