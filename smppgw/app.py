"""The composition root (DESIGN §2): config -> store, gateway, HTTP API -> one nursery.

``smppgw serve --config FILE`` reads one TOML file: the gateway's sections (``[[smsc]]``,
``[[route]]``, ``[retry]``, ``[limits]``, ``[receipts]``, ``[inbound]``, ``[gateway]``) plus

    [store]                          # store/config.py: backend = "sqlite" | "redis" | "memory"
    path = "var/smppgw.sqlite3"      # the embedded store (SQLite, WAL); redis: url, prefix
    flush_interval = 0.05            # seconds between write-behind flushes of the changes
                                     # nothing waits for; receipts, MO parts and submitting
                                     # are group-committed before they are answered or sent

    [api]
    listen = "127.0.0.1:8080"
    keys_env = "SMPPGW_API_KEYS"     # comma-separated keys from the environment: every scope,
    keys = []                        # no tenant (or listed here; keep such a file out of the
                                     # repository); scoped keys: ``smppgw keys create``
    key_rate = 100                   # requests/s of a store key without its own --rate
    key_burst = 200                  # its bucket (default 2 x key_rate)
    key_max_queued = 10000           # its queued parts (default: no per-key quota)
    auth_failures = 20               # wrong keys from one address within auth_window
    auth_window = 60                 # seconds ... block that address for auth_block seconds
    auth_block = 60
    tenants = { acme = ["447700900001"] }  # inbound to these numbers is the tenant's
    max_queued = 100000              # parts waiting to be sent; above it POST answers 429
    default_region = "GB"            # national numbers (07700 900001) are read as this region's;
                                     # unset: numbers must be international (+44..., 447...)
    max_body = 1048576               # bytes of a request body; more is 413 before it is read
    max_batch_body = 16777216        # the same for POST /v1/messages/batch
    max_head = 65536                 # bytes of a request line and headers; more is 431
    request_timeout = 30             # seconds from a request's first byte to its last (408)
    keepalive_timeout = 75           # seconds an idle connection is kept
    max_connections = 1024           # open connections; a new one over it gets 503
    tls_cert = "api-cert.pem"        # serve HTTPS: a PEM certificate (chain) and its key,
    tls_key = "api-key.pem"          # relative to this file's directory

    [webhooks]                       # the event outbox's delivery (gateway/webhook_config.py)
    secret_env = "SMPPGW_WEBHOOK_SECRET"   # signs calls to each message's callback_url
    retry_for = 86400                # seconds of retries from the first attempt, then dead

    [[webhooks.endpoint]]            # every event of the listed types, signed
    url = "https://example.net/sms/events"
    events = ["message.status", "message.inbound"]
    secret_env = "PLATFORM_WEBHOOK_SECRET"

    [streams]                        # the queue interface on Redis Streams (cluster/stream_config.py)
    enabled = true

With no config, the embedded default: the bundled simulator on a free loopback port as
the carrier, SQLite under ``./var/``, the API on 127.0.0.1:8080 with the key from
``SMPPGW_API_KEY`` (or a random one, printed once at start).

At start the store's unfinished messages are resumed (``Gateway.restore``); on SIGTERM
or SIGINT the API stops taking messages, the binds unbind within
``gateway.shutdown_timeout``, and the last changes are flushed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from smppgw.api.limits import KeyLimits, key_limits_from
from smppgw.app_twoway import twoway_handler
from smppgw.app_wiring import resume, work_queue
from smppgw.cluster.stream_config import StreamSettings, streams_from_dict
from smppgw.gateway.config import SECTIONS as GATEWAY_SECTIONS
from smppgw.gateway.config import SERVE_SECTIONS, GatewayConfig, config_from_dict
from smppgw.gateway.conversations import Conversations
from smppgw.gateway.engine import Gateway
from smppgw.gateway.flows import FlowDesk
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.notify import Webhooks, WebhookSettings
from smppgw.gateway.quiet import QuietDesk
from smppgw.gateway.threads import thread_desk
from smppgw.gateway.twoway import TwoWay
from smppgw.gateway.webhook_config import webhooks_from_dict
from smppgw.net.http import HttpLimits, serve_http
from smppgw.net.https import https_context
from smppgw.net.tls import TlsSetupError
from smppgw.net.trace import PduTracer
from smppgw.store.base import Store, StoreError
from smppgw.store.config import StoreSettings, checkpointer, flusher, open_store, store_settings
from smppgw.support.cli import Failed
from smppgw.support.config import (
    ConfigError,
    each,
    host_port,
    integer,
    number,
    read_toml,
    string,
    table,
    unknown_keys,
)
from smppgw.support.envconfig import ENV_PREFIX, apply_env, blame_env
from smppgw.support.gc import server_gc
from smppgw.support.phone import check_region
from smppgw.twoway.config import TwowayConfig, twoway_from_dict
from smppgw.twoway.pools import check_route_pools

__all__ = ["AppConfig", "load_app_config", "run_app", "serve"]

log = logging.getLogger(__name__)

_APP_SECTIONS = SERVE_SECTIONS


@attrs.frozen(kw_only=True)
class AppConfig:
    gateway: GatewayConfig
    store_path: Path = Path("var/smppgw.sqlite3")
    flush_interval: float = 0.05
    store_backend: str = "sqlite"  # [store] backend, url, prefix (store/config.py)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "smppgw"
    redis_cluster: bool = False  # [store] cluster: redis_url is a node of a Redis Cluster
    claim_idle: float = 30.0  # [store] claim_idle: the shared work queue's (redis)
    consumer_idle: float = 3600.0  # [store] consumer_idle: a stopped gateway's consumer removed
    bind_lease_ttl: float = 15.0  # [store] bind_lease_ttl: a dead gateway's bind slots free after it

    def store_settings(self) -> StoreSettings:
        return StoreSettings(
            backend=self.store_backend, path=self.store_path, url=self.redis_url, prefix=self.redis_prefix,
            flush_interval=self.flush_interval, claim_idle=self.claim_idle, consumer_idle=self.consumer_idle,
            cluster=self.redis_cluster, bind_lease_ttl=self.bind_lease_ttl,
        )  # fmt: skip

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    api_keys: tuple[str, ...] = ()
    max_queued: int = 100_000
    default_region: str | None = None  # ISO 3166-1 alpha-2 (support.phone.check_region)
    key_limits: KeyLimits = KeyLimits()
    tenants: dict[str, str] = attrs.field(factory=dict)  # inbound destination number -> tenant
    webhooks: WebhookSettings = WebhookSettings()
    http: HttpLimits = HttpLimits()  # the HTTP front's: max_body is a single request's
    max_batch_body: int = 16 * 1024 * 1024  # POST /v1/messages/batch's body limit
    tls_cert: Path | None = None  # with tls_key: serve HTTPS
    tls_key: Path | None = None
    twoway: TwowayConfig = TwowayConfig()  # [twoway]: keywords, consent, conversations
    streams: StreamSettings | None = None  # [streams] enabled: the queue interface on Redis Streams


_LIMITS = {  # [api] integer keys -> their bounds
    "max_body": (1024, 1024**3),
    "max_batch_body": (1024, 1024**3),
    "max_head": (1024, 1024 * 1024),
    "max_connections": (1, 1_000_000),
}
_KEY_LIMITS = {"key_rate", "key_burst", "key_max_queued", "auth_failures", "auth_window", "auth_block"}
_API_KEYS = {"listen", "keys", "keys_env", "max_queued", "default_region", "request_timeout"}
_API_KEYS |= {"keepalive_timeout", "tls_cert", "tls_key", "tenants", *_LIMITS, *_KEY_LIMITS}


def app_config_from_dict(
    data: dict[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    base: Path | None = None,
    store_keys: bool = False,
) -> AppConfig:
    """Raises ConfigError naming the first bad key. ``base``: the directory relative
    paths (``api.tls_cert``, ``api.tls_key``, ``twoway.flows_dir``) are read from (the
    config file's).
    ``store_keys``: the store holds keys (``smppgw keys create``), so the config need
    not name one."""
    env = os.environ if environ is None else environ
    unknown_keys(data, GATEWAY_SECTIONS | _APP_SECTIONS, "")  # every section named when one is wrong
    out: dict[str, Any] = {
        "gateway": config_from_dict({k: v for k, v in data.items() if k not in _APP_SECTIONS})
    }
    if "twoway" in data:
        out["twoway"] = twoway_from_dict(data["twoway"], base=base)
    check_route_pools(data.get("route"), out.get("twoway", TwowayConfig()).pools)  # [[route]] pool
    out.get("twoway", TwowayConfig()).quiet_hours.check_routes({r.name for r in out["gateway"].routes})
    if "store" in data:
        s = store_settings(table(data["store"], "store"))
        out.update(store_path=s.path, flush_interval=s.flush_interval, store_backend=s.backend)
        out.update(
            redis_url=s.url, redis_prefix=s.prefix, claim_idle=s.claim_idle, consumer_idle=s.consumer_idle,
            redis_cluster=s.cluster, bind_lease_ttl=s.bind_lease_ttl,
        )  # fmt: skip
    keys: list[str] = []
    if "api" in data:
        t = table(data["api"], "api")
        unknown_keys(t, _API_KEYS, "api")
        out.update(_api_http(t, base or Path(".")))
        out["key_limits"] = key_limits_from(t)
        for tenant, numbers in table(t.get("tenants", {}), "api.tenants").items():
            for number in each(numbers, f"api.tenants.{tenant}", string):
                out.setdefault("tenants", {})[number.lstrip("+")] = tenant
        if "default_region" in t:
            try:
                out["default_region"] = check_region(string(t["default_region"], "api.default_region"))
            except ValueError as exc:
                raise ConfigError(f"api.default_region: {exc}") from None
        if "max_queued" in t:
            out["max_queued"] = integer(t["max_queued"], "api.max_queued", 1, 100_000_000)
        if "listen" in t:
            out["listen_host"], out["listen_port"] = host_port(t["listen"], "api.listen")
        keys = each(t.get("keys", []), "api.keys", string)
        if "keys_env" in t:
            name = string(t["keys_env"], "api.keys_env")
            if name not in env:
                raise ConfigError(f"api.keys_env: environment variable {name} is not set")
            keys += [k.strip() for k in env[name].split(",") if k.strip()]
    if "webhooks" in data:
        out["webhooks"] = webhooks_from_dict(table(data["webhooks"], "webhooks"), env)
    if "streams" in data:
        out["streams"] = streams_from_dict(table(data["streams"], "streams"))
    if not keys and not store_keys:
        raise ConfigError("api: no API key (set api.keys_env or api.keys, or add one: smppgw keys create)")
    if any(len(k) < 8 for k in keys):
        raise ConfigError("api: every API key needs at least 8 characters")
    out["api_keys"] = tuple(keys)
    return AppConfig(**out)


def _api_http(t: dict[str, Any], base: Path) -> dict[str, Any]:
    """The ``[api]`` keys of the HTTP front: its limits and HTTPS (the files are loaded
    here, so a bad one stops the start naming its key)."""
    out: dict[str, Any] = {}
    limits: dict[str, Any] = {k: integer(t[k], f"api.{k}", *b) for k, b in _LIMITS.items() if k in t}
    if "max_batch_body" in limits:
        out["max_batch_body"] = limits.pop("max_batch_body")
    for k in ("request_timeout", "keepalive_timeout"):
        if k in t:
            limits[k] = number(t[k], f"api.{k}", gt=0, le=3600)
    out["http"] = HttpLimits(**limits)
    if "tls_cert" in t or "tls_key" in t:
        if "tls_cert" not in t or "tls_key" not in t:
            raise ConfigError(
                f"api.{'tls_key' if 'tls_cert' in t else 'tls_cert'}: tls_cert and tls_key go together"
            )
        cert, key = (base / string(t[k], f"api.{k}", min_len=1) for k in ("tls_cert", "tls_key"))
        try:
            https_context(cert, key)
        except TlsSetupError as exc:
            raise ConfigError(f"api.tls_{exc.field}: {exc.message}") from None
        out["tls_cert"], out["tls_key"] = cert, key
    return out


def load_app_config(
    path: str | Path, *, store_keys: bool = False, environ: Mapping[str, str] | None = None
) -> AppConfig:
    """The config file at ``path`` with the environment's ``SMPPGW_<SECTION>__<KEY>``
    overrides (``support.envconfig``).

    Raises ConfigError for a missing, unreadable, non-UTF-8 or bad TOML file, or bad
    content (a bad override: the key and the variable named). ``store_keys``: see
    ``app_config_from_dict``."""
    env = os.environ if environ is None else environ
    data, origins = apply_env(read_toml(path), ENV_PREFIX, env)
    try:
        return app_config_from_dict(data, environ=env, base=Path(path).parent, store_keys=store_keys)
    except ConfigError as exc:
        raise blame_env(exc, origins) from None


def embedded_config(sim_port: int, *, api_key: str, listen_port: int = 8080) -> AppConfig:
    """The embedded default: the bundled simulator's default account as the carrier."""
    gateway = config_from_dict(
        {
            "smsc": [
                {"name": "sim", "host": "127.0.0.1", "port": sim_port, "system_id": "smppclient1",
                 "password": "password", "binds": 1, "window": 64},
            ]
        }
    )  # fmt: skip
    return AppConfig(gateway=gateway, listen_port=listen_port, api_keys=(api_key,))


async def run_app(
    config: AppConfig,
    *,
    store: Store | None = None,
    tracer: PduTracer | None = None,
    shared: tuple[str, str] | None = None,
    task_status: trio.TaskStatus[tuple[Gateway, Store, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the gateway and the API until cancelled; ``started`` gets (gateway, store, api port).

    ``store``: any ``Store`` (the memory store in tests, another backend); by default
    the one ``[store]`` names (SQLite at ``config.store_path``, or Redis). Everything past
    this point sees the protocol only.
    The store is closed when the app stops. ``tracer`` traces the binds' PDUs (--trace).
    ``shared``: Redis (url, prefix): limits and bind slots shared (``cluster.sharing``); by
    default the store's own when ``[store] backend = "redis"``."""
    from smppgw.api.accept import BATCH, fast_routes
    from smppgw.api.app import build_app

    where = config.store_settings().where() if store is None else type(store).__name__
    if store is None:
        try:
            store = open_store(config.store_settings(), clock_offset=time.time() - trio.current_time())
        except StoreError as exc:
            raise Failed(f"store: {exc}") from None  # Redis away at start: exit 1, naming the URL
    metrics = GatewayMetrics()
    twoway: TwoWay  # the inbound handler, made once the gateway it sends through is
    streams = config.streams
    redis, sink = None, None
    open_streams: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
    if streams is not None:  # coredis (a large import) is loaded only by a deployment on Redis
        from smppgw.cluster.stream_events import StreamEvents
        from smppgw.cluster.streams import StreamInput, opened, redis_client

        redis = redis_client(streams.url, cluster=streams.cluster)
        sink, open_streams = StreamEvents(redis, streams) if streams.events else None, opened(redis, streams)
    webhooks = Webhooks(config.webhooks, store, registry=metrics.registry, sinks=[sink] if sink else [])
    store.route_events(webhooks.targets)  # the outbox: every event, with its deliveries (stream too)
    if shared is None and config.store_backend == "redis":  # several gateways: one account's limits and binds
        shared = (config.redis_url, config.redis_prefix)
    sharing = None
    if shared is not None:  # (connects in its run)
        from smppgw.cluster.sharing import Sharing

        sharing = Sharing(*shared, cluster=config.redis_cluster, lease_ttl=config.bind_lease_ttl)
    gateway = Gateway(
        config.gateway,
        shared_limits=sharing.limits if sharing else None,
        leases=sharing.leases if sharing else None,
        store=store,
        metrics=metrics,
        inbound_handler=lambda message: twoway(message),  # noqa: PLW0108 (made below: it sends through the gateway)
        events=store,
        tracer=tracer,
    )
    twoway = twoway_handler(config, store, gateway)
    if config.twoway.quiet_hours.rules:
        gateway.intake.quiet = QuietDesk(config.twoway.quiet_hours, lambda t: t + (store.wall(0.0) or 0.0))
    gateway.intake.callback_check = webhooks.callback_refusal
    threads = thread_desk(
        store, gateway.submit, config.twoway, config.tenants
    )  # every MT and MO in its thread
    if threads is not None and isinstance(twoway.flows, FlowDesk):
        twoway.flows.threads = threads  # a flow's handoff opens (or reopens) the number's thread
    try:
        async with (
            open_streams,
            work_queue(config, store, gateway) as work,
            trio.open_nursery() as nursery,
        ):
            if sharing is not None:
                await nursery.start(sharing.run)
            await nursery.start(gateway.run)
            if work is not None:  # every gateway takes any queued message (nothing resumed here)
                await nursery.start(work.run)
            if isinstance(twoway.conversations, Conversations):
                nursery.start_soon(twoway.conversations.run)  # their deadlines
            if isinstance(twoway.flows, FlowDesk):
                nursery.start_soon(twoway.flows.run)  # their runs' timers
            if work is None and (resumed := resume(gateway, store)):
                log.warning("resumed %d unfinished messages from %s", resumed, where)
            nursery.start_soon(flusher, store, config.flush_interval)
            nursery.start_soon(checkpointer, store)
            nursery.start_soon(webhooks.run)
            app = build_app(
                gateway, store, config.api_keys, now=trio.current_time, max_queued=config.max_queued,
                region=config.default_region, key_limits=config.key_limits, consent_rules=config.twoway.consent,
                vouchers=twoway.vouchers, flows=twoway.flows if isinstance(twoway.flows, FlowDesk) else None,
                threads=threads,
            )  # fmt: skip
            routes = fast_routes(app.state.acceptor)
            nursery.start_soon(app.state.acceptor.run)
            if redis is not None and streams is not None and streams.input:
                from smppgw.api.stream_intake import StreamIntake

                intake = StreamIntake(app.state.acceptor, streams.tenant)
                nursery.start_soon(StreamInput(redis, streams, intake).run)
            limits = attrs.evolve(config.http, body_limits={BATCH: config.max_batch_body})
            tls = None if config.tls_cert is None else https_context(config.tls_cert, config.tls_key or "")
            port = await nursery.start(
                partial(
                    serve_http, app, host=config.listen_host, port=config.listen_port, routes=routes,
                    limits=limits, ssl_context=tls, admit=app.state.keyring.admit,
                )
            )  # fmt: skip
            task_status.started((gateway, store, port))
    finally:
        with trio.CancelScope(shield=True):
            await gateway.aclose()
            store.close()


async def serve(
    config: AppConfig | None,
    *,
    on_started: Callable[[str], None],
    listen: tuple[str, int] | None = None,
    tracer: PduTracer | None = None,
) -> None:
    """``smppgw serve``: run until SIGTERM/SIGINT; with no config, the embedded default
    (its API on ``listen``, 127.0.0.1:8080 unless given). ``tracer``: --trace."""
    async with trio.open_nursery() as nursery:
        if config is None:
            from simulator import run_simulator
            from simulator.config import config_from_dict as sim_config

            sim = await nursery.start(run_simulator, sim_config({"port": 0}))
            # The carrier shares this process: its diagnostic log of received messages
            # (200k by default) would count as the gateway's memory (issue 13, make soak).
            sim.store.limit = 10_000
            key = os.environ.get("SMPPGW_API_KEY") or secrets.token_urlsafe(18)
            config = embedded_config(sim.port, api_key=key)
            if listen is not None:
                config = attrs.evolve(config, listen_host=listen[0], listen_port=listen[1])
            if "SMPPGW_API_KEY" not in os.environ:
                on_started(f"API key (set SMPPGW_API_KEY to choose one): {key}")
            on_started(f"bundled simulator (smppsim) on 127.0.0.1:{sim.port}")
        gateway, _, port = await nursery.start(partial(run_app, config, tracer=tracer))
        scheme = "http" if config.tls_cert is None else "https"
        on_started(
            f"smppgw serving {scheme}://{config.listen_host}:{port} (store {config.store_settings().where()})"
        )
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals, server_gc():
            async for _ in signals:
                break
        await gateway.aclose()  # unbind first (bounded), then stop the API and the rest
        nursery.cancel_scope.cancel()
