"""``smppgw keys create|list|revoke``: the API keys kept in the store (``store.keys``).

They work on the store the config names (``[store] path``; without ``--config`` the
embedded default, ``var/smppgw.sqlite3``), also while ``smppgw serve`` runs on it: the
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

from smppgw.store.base import SCOPES, ApiKeyRecord, key_hash
from smppgw.store.sqlite import SqliteStore
from smppgw.support.cli import Failed, UsageError
from smppgw.support.config import ConfigError, read_toml, string, table
from smppgw.support.envconfig import ENV_PREFIX, apply_env, blame_env

__all__ = ["keys", "store_has_keys", "store_path"]

DEFAULT_STORE = Path("var/smppgw.sqlite3")
PREFIX = "smppgw_"  # tells a key apart in a log or a leak scanner


def store_path(config_path: str | None) -> Path:
    """The ``[store] path`` of the config (only that part of it is read), or of its
    environment override ``SMPPGW_STORE__PATH``."""
    if config_path is None:
        return DEFAULT_STORE
    data, origins = apply_env(read_toml(config_path), ENV_PREFIX, os.environ)
    try:
        section = table(data.get("store", {}), "store")
        return Path(string(section["path"], "store.path")) if "path" in section else DEFAULT_STORE
    except ConfigError as exc:
        raise blame_env(exc, origins) from None


def store_has_keys(config_path: str | None) -> bool:
    """Whether the store holds a live key (then the config need not name one)."""
    path = store_path(config_path)
    if not path.exists():
        return False
    store = SqliteStore(path)
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
    store = SqliteStore(store_path(config_path))
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
    store = SqliteStore(store_path(config_path))
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
    store = SqliteStore(store_path(config_path))
    try:
        done = store.revoke_key(key_id, now=time.time())
    finally:
        store.close()
    if not done:
        raise Failed(f"no live key {key_id!r}")
    click.echo(f"revoked {key_id}")
