"""``open_esme()``: connect, bind, keep alive, unbind on exit, every step bounded.

Usage::

    async with open_esme("127.0.0.1", 2775, system_id="smppclient1", password="password") as conn:
        response = await conn.request(SubmitSm(...))
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Protocol

import attrs
import trio

from smppgw.core.constants import InterfaceVersion, Npi, Ton
from smppgw.core.errors import CommandFailed, ConnectionLost, SmppError
from smppgw.core.pdu import BindReceiver, BindTransceiver, BindTransmitter, _BindResp
from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import BindMode, Role
from smppgw.net.connection import SmppConnection
from smppgw.net.tls import handshake_failure
from smppgw.net.trace import PduTracer
from smppgw.support.groups import unwrap_single

__all__ = ["BindFailed", "Connect", "EsmeSettings", "bind", "connect_tcp", "open_esme"]

_BIND_CLASSES = {BindMode.TX: BindTransmitter, BindMode.RX: BindReceiver, BindMode.TRX: BindTransceiver}


class BindFailed(CommandFailed):
    """The SMSC answered the bind with a non-zero status (ESME_RINVPASWD, ESME_RALYBND...)."""


@attrs.frozen(kw_only=True)
class EsmeSettings:
    """What an ESME needs to bind. ``password`` never appears in repr or logs."""

    system_id: str
    password: str = attrs.field(repr=False)
    mode: BindMode = BindMode.TRX
    system_type: str = ""
    interface_version: int = InterfaceVersion.V34
    addr_ton: int = Ton.UNKNOWN
    addr_npi: int = Npi.UNKNOWN
    address_range: str = ""
    session: SessionConfig = attrs.field(factory=SessionConfig)
    connect_timeout: float = 10.0
    bind_timeout: float = 10.0
    unbind_timeout: float = 5.0


class Connect(Protocol):
    """How an ESME opens the byte stream to its SMSC: ``connect_tcp`` unless a caller
    injects another (the way httpcore takes a network backend). The gateway's bind pools
    take one, so tests run the whole gateway over ``trio.testing.memory_stream_pair``.

    Raises:
        ConnectionLost: the SMSC cannot be reached (refused, unreachable, timed out).
    """

    async def __call__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None = None,  # passed only when a config names one
    ) -> trio.abc.Stream: ...


async def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> trio.abc.Stream:
    """A TCP (optionally TLS) stream to ``host:port``. With ``ssl_context`` the TLS
    handshake completes before this returns, so nothing is ever written in clear;
    ``server_hostname`` (SNI, the name verified) defaults to ``host``.

    Raises:
        TlsHandshakeFailed: the handshake failed (a ``ConnectionLost``; never plaintext).
        ConnectionLost: refused, unreachable, or ``timeout`` passed.
    """
    try:
        with trio.fail_after(timeout):
            try:
                tcp = await trio.open_tcp_stream(host, port)
            except OSError as exc:  # what an operator reads in the log: the address and why
                raise ConnectionLost(f"cannot connect to {host}:{port}: {_why(exc)}") from exc
            if ssl_context is None:
                return tcp
            stream = trio.SSLStream(tcp, ssl_context, server_hostname=server_hostname or host)
            try:
                await stream.do_handshake()
            except (trio.BrokenResourceError, OSError) as exc:
                await trio.aclose_forcefully(stream)
                raise handshake_failure(host, port, exc) from exc
            return stream
    except trio.TooSlowError:
        raise ConnectionLost(f"connect to {host}:{port} timed out after {timeout}s") from None


def _why(exc: OSError) -> str:
    """The reason of a failed connect: trio's error wraps one per address tried
    (``Connection refused``); else its own words (a name that does not resolve)."""
    cause = exc.__cause__
    for error in getattr(cause, "exceptions", ()) or (cause,):
        if isinstance(error, OSError) and error.strerror:
            return error.strerror.rpartition(": ")[2]  # ("Error connecting to (...): ") Connection refused
    return exc.strerror or str(exc)


async def bind(conn: SmppConnection, settings: EsmeSettings) -> _BindResp:
    """Send the bind for ``settings.mode`` and wait for its response.

    Raises:
        BindFailed: the SMSC refused the bind.
        ConnectionLost / ResponseTimeout: no answer.
    """
    pdu = _BIND_CLASSES[settings.mode](
        system_id=settings.system_id,
        password=settings.password,
        system_type=settings.system_type,
        interface_version=settings.interface_version,
        addr_ton=settings.addr_ton,
        addr_npi=settings.addr_npi,
        address_range=settings.address_range,
    )
    try:
        with trio.fail_after(settings.bind_timeout):
            response = await conn.request(pdu)
    except trio.TooSlowError:
        raise ConnectionLost(f"no bind response within {settings.bind_timeout}s") from None
    except CommandFailed as exc:
        raise BindFailed(exc.request, exc.status) from None
    assert isinstance(response, _BindResp)
    return response


@contextlib.asynccontextmanager
async def open_esme(
    host: str,
    port: int,
    *,
    system_id: str,
    password: str,
    mode: BindMode = BindMode.TRX,
    ssl_context: ssl.SSLContext | None = None,
    settings: EsmeSettings | None = None,
    connect: Connect = connect_tcp,
    tracer: PduTracer | None = None,
    **overrides: object,
) -> AsyncIterator[SmppConnection]:
    """Connect and bind; on exit unbind (bounded by ``unbind_timeout``) and close.

    Extra keyword arguments override fields of ``EsmeSettings``. ``connect`` opens the
    stream (see ``Connect``); ``tracer`` traces its PDUs (``net.trace``).

    Raises:
        ConnectionLost: cannot connect, or the connection broke while binding.
        BindFailed: the SMSC refused the bind.
    """
    if settings is None:
        settings = EsmeSettings(system_id=system_id, password=password, mode=mode, **overrides)  # type: ignore[arg-type]
    stream = await connect(host, port, timeout=settings.connect_timeout, ssl_context=ssl_context)
    session = Session(Role.ESME, settings.session, now=trio.current_time())
    conn = SmppConnection(stream, session, tracer=tracer)
    with unwrap_single():
        async with trio.open_nursery() as nursery:
            await nursery.start(conn.run)
            try:
                await bind(conn, settings)
                yield conn
            finally:
                with trio.CancelScope(shield=True):
                    with contextlib.suppress(SmppError):
                        await conn.unbind(settings.unbind_timeout)
                    await conn.aclose()
