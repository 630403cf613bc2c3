"""Bind pools: keep N healthy binds to one SMSC (issue: "Bind pools").

Theory of operation
-------------------
One task per configured bind ("slot"). A slot connects, binds, and then only waits for
its connection to end; when it ends it backs off (jittered exponential, ``policy.retry``)
and binds again. A slot owns at most one connection at any moment, and its previous
connection is closed before the next is opened, so a rebind can never leave an orphan
TCP session nor exceed the configured bind count. ESME_RALYBND on a bind means the
carrier still sees our old session (SMPP-REFERENCE §7.1): the slot backs off longer.

What the operator sees: a failed connect or bind is a WARNING naming the SMSC, its
address and the reason, at most one a ``RateLimitedLog`` interval per SMSC (the slots
retry in a loop); a bind lost while running is a WARNING too; an unbind exchanged
either way (the SMSC's, or ours at shutdown) is an INFO "unbound cleanly".

Everything in flight on a lost bind comes back to the dispatcher as RequestAborted
through the request callbacks; the pool itself never holds messages.

Shared with other gateways (``leases``, a ``gateway.shared.LeaseKeeper`` on Redis), a
slot binds only while it holds a lease on one of the account's slots (the same mode): it
asks before each bind, waits (1 s, jittered) while none is free for it, and gives the
slot back once its connection is closed; a lease lost (Redis away too long, or given
back to a gateway with fewer binds) closes its bind. So the configured ``binds`` are
the account's, over every gateway together.

The stream comes from an injected ``connect`` (``net.esme.Connect``; TCP/TLS by
default): tests hand the pool a memory stream to an in-process SMSC. The pool asks its
connections only through their pool-facing API (``can_submit``, ``in_flight``).
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

import trio

from smppgw.core.constants import CommandStatus
from smppgw.core.errors import ConnectionLost, ResponseTimeout, SmppError
from smppgw.core.events import Event
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import BindMode, Role
from smppgw.gateway.config import SmscConfig
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.shared import Lease, LeaseKeeper
from smppgw.net.connection import SmppConnection
from smppgw.net.errors import UNBOUND_CLEANLY
from smppgw.net.esme import BindFailed, Connect, EsmeSettings, bind, connect_tcp
from smppgw.net.tls import TlsHandshakeFailed
from smppgw.net.trace import PduTracer
from smppgw.policy.retry import Backoff
from smppgw.policy.throttle import SlidingWindow
from smppgw.support.groups import lone
from smppgw.support.logsafe import kv
from smppgw.support.ratelog import RateLimitedLog

__all__ = ["BindPool"]

log = logging.getLogger(__name__)

_SENDS = frozenset({BindMode.TX, BindMode.TRX})


def read_size(window: int) -> int:
    """Octets per read for a bind with ``window``: about 16 per window slot, 4-64 KiB.

    A full window brings back ~270 octets per message (submit_sm_resp + receipt), so a
    read takes about 1/16 of it. Much larger and the gateway and the SMSC take turns: a
    whole window handled before the writer runs, the window refilled in one burst, each
    end idle while the other works through it (64 KiB reads at window 256: both processes
    ~55% busy). Much smaller and the per-read cost dominates (4 KiB reads at window 1024:
    ~25% more CPU per message than 16 KiB; bench_gateway, 2 binds, SMSC window 512).
    """
    return min(64 * 1024, max(4 * 1024, 16 * window))


class BindPool:
    """The binds to one SMSC (``smsc.modes``, one slot each); ``connect`` opens each
    slot's stream (``connect_tcp`` unless injected), ``on_event`` gets what arrives."""

    def __init__(
        self,
        smsc: SmscConfig,
        *,
        on_event: Callable[[SmppConnection, Event], Any],
        metrics: GatewayMetrics,
        rng: random.Random,
        ssl_context: ssl.SSLContext | None = None,
        backoff: Backoff = Backoff(initial=0.5, factor=2.0, maximum=30.0, jitter=0.3),
        connect: Connect = connect_tcp,
        on_batch_end: Callable[[], Any] | None = None,
        tracer: PduTracer | None = None,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self.smsc = smsc
        self._leases = leases
        self._tracer = tracer  # traces every bind's PDUs (--trace)
        self._ratelog = RateLimitedLog(log)  # per pool: the slots retry in a loop
        self._on_batch_end = on_batch_end  # each connection's (Deliveries.end_batch)
        self._connect = connect
        self._on_event = on_event
        self._metrics = metrics
        self._rng = rng
        self._ssl = ssl_context
        self._backoff = backoff
        self.senders: list[SmppConnection] = []  # bound TX/TRX connections
        self.connections: set[SmppConnection] = set()  # every open connection of this pool
        self._bind_limits: dict[SmppConnection, SlidingWindow] = {}
        self._room = trio.lowlevel.ParkingLot()
        self._stopping = False
        self._next = 0
        self.binds_made = 0
        self.bind_failures = 0
        self.last_error: Exception | None = None  # the latest failed bind or connect (smppgw send)
        self._gauges = {state: metrics.binds.labels(smsc.name, state) for state in ("bound", "down")}
        self._gauges["down"].set(len(smsc.modes))

    @property
    def up(self) -> bool:
        return bool(self.senders)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for index, mode in enumerate(self.smsc.modes):
                nursery.start_soon(self._slot, index, mode)
            task_status.started()

    def _settings(self, mode: BindMode) -> EsmeSettings:
        s = self.smsc
        return EsmeSettings(
            system_id=s.system_id,
            password=s.password,
            mode=mode,
            system_type=s.system_type,
            interface_version=s.interface_version,
            bind_timeout=s.connect_timeout,
        )

    def _session_config(self) -> SessionConfig:
        s = self.smsc
        return SessionConfig(
            window=s.window,
            response_timeout=s.response_timeout,
            enquire_link_interval=s.enquire_link_interval,
            bind_timeout=None,
            max_owed=s.receive_window,
            over_window_status=CommandStatus.ESME_RX_T_APPN,
        )

    async def _slot(self, index: int, mode: BindMode) -> None:
        failures = 0
        name = self.smsc.name
        address = f"{self.smsc.host}:{self.smsc.port}"
        while not self._stopping:
            delay_hint = 0.0
            lease = None
            if self._leases is not None and (lease := await self._lease(index, mode)) is None:
                return  # stopping
            try:
                await self._bind_once(mode, lease)
                failures = 0  # it was bound, then lost: start the backoff afresh
            except BindFailed as exc:
                self.bind_failures += 1
                self.last_error = exc
                failures += 1
                self._metrics.reconnects.labels(name, "bind_failed").inc()
                self._warn("bind refused", index, address, exc)
                if exc.status == CommandStatus.ESME_RALYBND:
                    delay_hint = self._backoff.maximum / 2  # the old session is still alive
            except TlsHandshakeFailed as exc:  # never retried in clear: the next try is TLS again
                failures += 1
                self.last_error = exc
                self._metrics.reconnects.labels(name, "tls_failed").inc()
                self._warn("bind failed", index, address, exc)
            except (ConnectionLost, ResponseTimeout, OSError) as exc:
                failures += 1
                self.last_error = exc
                self._metrics.reconnects.labels(name, "connect_failed").inc()
                self._warn("bind failed", index, address, exc)
            finally:
                if lease is not None and self._leases is not None:
                    with trio.CancelScope(shield=True):  # (bounded by the keeper)
                        await self._leases.release(lease)
            if self._stopping:
                return
            delay = max(delay_hint, self._backoff.delay(max(1, failures), self._rng))
            await trio.sleep(delay)

    async def _lease(self, index: int, mode: BindMode) -> Lease | None:
        """A lease on a slot of this account for a bind in ``mode`` (this slot's first,
        then the others of that mode); waits while none is ours. None: stopping."""
        assert self._leases is not None
        modes = self.smsc.modes
        wanted = [i % len(modes) for i in range(index, index + len(modes)) if modes[i % len(modes)] == mode]
        while not self._stopping:
            lease = await self._leases.acquire(self.smsc.name, len(modes), wanted)
            if lease is not None:
                return lease
            await trio.sleep(self._rng.uniform(0.7, 1.3))
        return None

    def _warn(self, what: str, index: int, address: str, error: Exception) -> None:
        """A failed connect or bind: a WARNING, at most one per interval for this SMSC."""
        fields = kv(smsc=self.smsc.name, bind=index, error=error, address=address)
        self._ratelog.emit("bind:" + self.smsc.name, "%s %s", what, fields)

    async def _bind_once(self, mode: BindMode, lease: Lease | None = None) -> None:
        smsc = self.smsc
        if self._ssl is not None and smsc.tls_server_name is not None:
            stream = await self._connect(
                smsc.host,
                smsc.port,
                timeout=smsc.connect_timeout,
                ssl_context=self._ssl,
                server_hostname=smsc.tls_server_name,
            )
        else:
            stream = await self._connect(
                smsc.host, smsc.port, timeout=smsc.connect_timeout, ssl_context=self._ssl
            )
        conn = SmppConnection(
            stream,
            Session(Role.ESME, self._session_config(), now=trio.current_time()),
            read_size=read_size(self.smsc.window),
            tracer=self._tracer,
        )
        conn.on_event = functools.partial(self._on_event, conn)  # called from C: no extra frame
        if lease is not None:  # the slot no longer ours: this bind goes (its parts come back)
            lease.on_lost = conn.close
            if lease.lost:
                conn.close("bind lease lost")
        if self._on_batch_end is not None:
            conn.on_batch_end = self._on_batch_end
        self.connections.add(conn)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(conn.run)
                try:
                    await bind(conn, self._settings(mode))
                except ConnectionLost as exc:
                    # Over TLS 1.3 a server refusing the client certificate says so after
                    # the handshake: its alert is what closed the connection; name it.
                    why = conn.close_reason
                    conn.close("bind failed")
                    if why and why not in str(exc):
                        raise ConnectionLost(f"{exc} ({why})") from exc
                    raise
                except SmppError:
                    conn.close("bind failed")
                    raise
                self._bound(conn, mode)
                try:
                    await conn.wait_closed()
                finally:
                    self._unbound(conn, mode)
        except BaseExceptionGroup as group:  # a lone error from the nursery: unwrap it
            if (inner := lone(group)) is not None:
                raise inner from None
            raise
        finally:
            self.connections.discard(conn)
            await conn.aclose()

    def _bound(self, conn: SmppConnection, mode: BindMode) -> None:
        self.binds_made += 1
        if mode in _SENDS:
            self.senders.append(conn)
            if self.smsc.bind_tps is not None:
                self._bind_limits[conn] = SlidingWindow(self.smsc.bind_tps)
        self._gauges["bound"].inc()
        self._gauges["down"].dec()
        self._room.unpark_all()
        log.info("bound %s", kv(smsc=self.smsc.name, mode=mode.value, sending=len(self.senders)))

    def _unbound(self, conn: SmppConnection, mode: BindMode) -> None:
        if conn in self.senders:
            self.senders.remove(conn)
        self._bind_limits.pop(conn, None)
        self._gauges["bound"].dec()
        self._gauges["down"].inc()
        reason = conn.close_reason
        if reason == UNBOUND_CLEANLY:  # unbind and unbind_resp exchanged (3.4 §4.2)
            log.info(
                "unbound cleanly %s", kv(smsc=self.smsc.name, by="gateway" if self._stopping else "smsc")
            )
        elif self._stopping or reason is None:  # None: still open, its task cancelled (a stop)
            log.info("bind closed %s", kv(smsc=self.smsc.name, reason=reason or "stopped"))
        else:
            self._ratelog.emit(
                "lost:" + self.smsc.name, "bind lost %s", kv(smsc=self.smsc.name, reason=reason)
            )

    # -- sending -----------------------------------------------------------------------------

    def pick(self, now: float) -> SmppConnection | None:
        """A bound sender with a free window slot (and bind TPS to spare), round robin."""
        senders = self.senders
        n = len(senders)
        for i in range(n):
            conn = senders[(self._next + i) % n]
            if not conn.can_submit():
                continue
            limit = self._bind_limits.get(conn)
            if limit is not None and limit.wait_time(now) > 0:
                continue
            self._next = (self._next + i + 1) % n
            if limit is not None:
                limit.record(now)
            return conn
        return None

    def bind_wait(self, now: float) -> float:
        """Seconds until some bind's TPS allows a send (0 if none limits)."""
        waits = [lim.wait_time(now) for lim in self._bind_limits.values()]
        return min(waits) if waits and all(w > 0 for w in waits) else 0.0

    async def wait_for_room(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._room.park()

    def refill(self, conn: SmppConnection, waiting: int) -> bool:
        """Whether a dispatcher waiting for room should be woken by ``conn``'s response:
        once a quarter of its window is free, or room for all ``waiting`` parts. Each wake
        is a dispatch batch and its commit (about 160 us on SQLite, however few parts it
        carries), so a full window is refilled in a few batches, not one per response; it
        never idles for it (three quarters stay in flight)."""
        free = self.smsc.window - conn.in_flight
        return free >= self.smsc.window >> 2 or free >= waiting

    def room(self) -> None:
        """A window slot may be free (a response, an expiry, an abort)."""
        if self._room:
            self._room.unpark()

    def in_flight(self) -> int:
        return sum(c.in_flight for c in self.senders)

    # -- the end ---------------------------------------------------------------------------------

    async def close(self, timeout: float) -> None:
        """Unbind every connection (3.4 §4.2), bounded by ``timeout``, then close them."""
        self._stopping = True
        with trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:
                for conn in list(self.connections):
                    nursery.start_soon(conn.unbind, timeout)
        for conn in list(self.connections):
            await conn.aclose()
        self._room.unpark_all()
