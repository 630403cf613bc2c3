"""The ``[webhooks]`` section: where events are delivered, how they are signed and retried.

    [webhooks]
    secret_env = "SMPPGW_WEBHOOK_SECRET"  # signs each message's callback_url calls
    allow_private_targets = false        # callback_url to loopback/private addresses
    timeout = 5.0                        # seconds per attempt
    max_concurrency = 8                  # attempts in flight per endpoint
    retry_for = 86400                    # seconds from the first attempt, then dead
    backoff = 1.0                        # first retry within this; doubles, to backoff_cap
    backoff_cap = 3600
    retention = 604800                   # delivered events kept this long for replay
    inbound_url = "https://..."          # (older form) an endpoint for message.inbound

    [[webhooks.endpoint]]
    url = "https://platform.example/hooks"
    events = ["message.status", "message.inbound"]   # default: every type
    secret_env = "PLATFORM_WEBHOOK_SECRET"
    name = "platform"                    # in metrics and logs; default: the URL's host
    batch = 1                            # events per call; above 1: a JSON array (webhook_batch)
    batch_wait = 0.05                    # seconds a batch waits to fill (batch > 1)

A ``secret_env`` names an environment variable holding one secret, or two separated by
whitespace while a secret is rotated (``whsec_<base64>``): each call then carries both
signatures. Configured endpoints are the operator's, so any address is allowed there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from smppgw.gateway.signing import parse_secrets
from smppgw.store.base import Target
from smppgw.support.config import (
    ConfigError,
    array,
    boolean,
    each,
    integer,
    number,
    positive,
    string,
    table,
    unknown_keys,
)

__all__ = ["Endpoint", "EventRoutes", "WebhookSettings", "callback_endpoint", "webhooks_from_dict"]

_KEYS = {
    "secret_env", "allow_private_targets", "timeout", "max_concurrency", "retry_for", "backoff",
    "backoff_cap", "retention", "inbound_url", "endpoint",
}  # fmt: skip


@attrs.frozen(kw_only=True)
class Endpoint:
    name: str
    url: str = attrs.field(repr=False)  # may carry a token: never logged
    events: frozenset[str] | None = None  # None: every type
    secrets: tuple[bytes, ...] = attrs.field(default=(), repr=False)
    batch: int = 1  # events per call (gateway.webhook_batch)
    batch_wait: float = 0.05  # seconds a batch waits for more events

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events


@lru_cache(maxsize=4096)  # once per URL: it is asked for every status event
def callback_endpoint(url: str) -> str:
    """The queue of a message's callback_url: its host and port (never the path)."""
    parsed = urlsplit(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"callback:{parsed.hostname or ''}:{port}"


@lru_cache(maxsize=4096)
def _callback_target(url: str) -> Target:
    return Target(endpoint=callback_endpoint(url), url=url)


class EventRoutes:
    """Where an event goes (``targets``, the store's ``EventRouter``): each endpoint that
    wants its type, a ``message.status`` event's callback URL, then each of ``extra``
    (the sinks). Asked for every event written: what depends on the type alone is made
    once per type (``Target`` is frozen: the tuples are shared)."""

    def __init__(self, endpoints: Sequence[Endpoint], extra: Sequence[Target] = ()) -> None:
        self._endpoints = tuple(endpoints)
        self._extra = tuple(extra)
        self._by_type: dict[str, tuple[Target, ...]] = {}

    def targets(self, event_type: str, callback_url: str | None) -> Sequence[Target]:
        wanted = self._by_type.get(event_type)
        if wanted is None:
            wanted = self._by_type[event_type] = tuple(
                Target(endpoint=e.name, url=e.url) for e in self._endpoints if e.wants(event_type)
            )
        if callback_url is not None and event_type == "message.status":
            return (*wanted, _callback_target(callback_url), *self._extra)
        return wanted + self._extra if self._extra else wanted


@attrs.frozen(kw_only=True)
class WebhookSettings:
    endpoints: tuple[Endpoint, ...] = ()
    callback_secrets: tuple[bytes, ...] = attrs.field(default=(), repr=False)
    allow_private_targets: bool = False
    timeout: float = 5.0
    max_concurrency: int = 8
    retry_for: float = 86_400.0
    backoff: float = 1.0
    backoff_cap: float = 3_600.0
    retention: float = 7 * 86_400.0
    batch: int = 256  # due deliveries read per poll
    poll_interval: float = 0.05  # seconds between polls of an idle outbox


def _secrets(name_key: Any, where: str, env: Mapping[str, str]) -> tuple[bytes, ...]:
    name = string(name_key, where)
    if name not in env:
        raise ConfigError(f"{where}: environment variable {name} is not set")
    try:
        return parse_secrets(env[name])
    except ValueError as exc:
        raise ConfigError(f"{where}: {name}: {exc}") from None


def _url(v: Any, where: str) -> str:
    url = string(v, where)
    if not url.startswith(("http://", "https://")) or not httpx.URL(url).host:
        raise ConfigError(f"{where}: an http(s) URL, got {url!r}")
    return url


def _endpoint(t: dict[str, Any], where: str, env: Mapping[str, str]) -> Endpoint:
    unknown_keys(t, {"url", "events", "secret_env", "name", "batch", "batch_wait"}, where)
    if "url" not in t:
        raise ConfigError(f"{where}.url: missing")
    url = _url(t["url"], f"{where}.url")
    events = None
    if "events" in t:
        events = frozenset(each(t["events"], f"{where}.events", string))
        if not events:
            raise ConfigError(f"{where}.events: at least one event type (or leave it out: all)")
    name = string(t["name"], f"{where}.name") if "name" in t else httpx.URL(url).host
    secrets = _secrets(t["secret_env"], f"{where}.secret_env", env) if "secret_env" in t else ()
    batch = integer(t["batch"], f"{where}.batch", 1, 1000) if "batch" in t else 1
    wait = 0.05
    if "batch_wait" in t:
        wait = number(t["batch_wait"], f"{where}.batch_wait", ge=0.0, le=10.0)
    return Endpoint(name=name, url=url, events=events, secrets=secrets, batch=batch, batch_wait=wait)


def webhooks_from_dict(t: dict[str, Any], environ: Mapping[str, str] | None = None) -> WebhookSettings:
    """Raises ConfigError naming the first bad key."""
    env = os.environ if environ is None else environ
    unknown_keys(t, _KEYS, "webhooks")
    out: dict[str, Any] = {}
    secrets: tuple[bytes, ...] = ()
    if "secret_env" in t:
        secrets = out["callback_secrets"] = _secrets(t["secret_env"], "webhooks.secret_env", env)
    if "allow_private_targets" in t:
        out["allow_private_targets"] = boolean(t["allow_private_targets"], "webhooks.allow_private_targets")
    if "max_concurrency" in t:
        out["max_concurrency"] = integer(t["max_concurrency"], "webhooks.max_concurrency", 1, 1024)
    for key in ("timeout", "retry_for", "backoff", "backoff_cap", "retention"):
        if key in t:
            out[key] = positive(t[key], f"webhooks.{key}")
    endpoints = [
        _endpoint(table(e, f"webhooks.endpoint[{i}]"), f"webhooks.endpoint[{i}]", env)
        for i, e in enumerate(array(t.get("endpoint", []), "webhooks.endpoint"))
    ]
    if "inbound_url" in t:  # the older form: an endpoint for inbound messages
        url = _url(t["inbound_url"], "webhooks.inbound_url")
        endpoints.append(
            Endpoint(name="inbound", url=url, events=frozenset({"message.inbound"}), secrets=secrets)
        )
    names = [e.name for e in endpoints]
    for i, name in enumerate(names):
        if name in names[:i] or name.startswith("callback:"):
            raise ConfigError(f"webhooks.endpoint[{i}].name: {name!r} is taken (give each endpoint a name)")
    out["endpoints"] = tuple(endpoints)
    return WebhookSettings(**out)
