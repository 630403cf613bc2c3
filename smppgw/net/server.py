"""``serve_smsc()``: accept SMPP connections and run one handler per connection.

The handler receives a running ``SmppConnection`` in the SMSC role and typically loops
over ``conn.incoming`` answering binds and submits. A handler that raises closes only
its own connection; the listener keeps serving (a hostile peer must never take the
server down).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from functools import partial

import trio

from smppgw.core.session import Session, SessionConfig
from smppgw.core.states import Role
from smppgw.net.behaviour import ConnectionBehaviour
from smppgw.net.connection import SmppConnection
from smppgw.net.listeners import open_listeners
from smppgw.net.trace import PduTracer

__all__ = ["Handler", "handle_stream", "serve_smsc"]

log = logging.getLogger(__name__)

Handler = Callable[[SmppConnection], Awaitable[None]]


async def handle_stream(
    stream: trio.abc.Stream,
    handler: Handler,
    config: SessionConfig,
    behaviour: Callable[[], ConnectionBehaviour] | None = None,
    tracer: PduTracer | None = None,
) -> None:
    """Run one SMSC-side connection over ``stream`` until it closes; ``behaviour`` makes
    the connection's ``ConnectionBehaviour`` (a simulator's faults), if given; ``tracer``
    traces its PDUs (``net.trace``)."""
    conn = SmppConnection(
        stream,
        Session(Role.SMSC, config, now=trio.current_time()),
        behaviour=behaviour() if behaviour is not None else None,
        tracer=tracer,
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(conn.run)
            try:
                await handler(conn)
            except Exception:
                log.exception("SMSC handler failed; closing this connection only")
            finally:
                conn.close("handler finished")
    except Exception:  # pragma: no cover - belt and braces: never kill the listener
        log.exception("connection task failed")


async def _handle_tls(
    stream: trio.SSLStream[trio.SocketStream],
    handler: Handler,
    config: SessionConfig,
    behaviour: Callable[[], ConnectionBehaviour] | None = None,
    tracer: PduTracer | None = None,
) -> None:
    try:
        with trio.fail_after(config.bind_timeout or 10.0):
            await stream.do_handshake()
    except (trio.BrokenResourceError, trio.TooSlowError):
        await trio.aclose_forcefully(stream)
        return
    await handle_stream(stream, handler, config, behaviour, tracer)


async def serve_smsc(
    handler: Handler,
    port: int,
    *,
    host: str = "127.0.0.1",
    config: SessionConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    behaviour: Callable[[], ConnectionBehaviour] | None = None,
    tracer: PduTracer | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` (0 picks a free port) and serve until cancelled.

    ``task_status.started`` gets the listeners, so ``listeners[0].socket.getsockname()``
    tells the port. ``behaviour``, if given, makes each connection's ``ConnectionBehaviour``;
    ``tracer``, if given, traces every connection's PDUs (``net.trace``).
    """
    config = config if config is not None else SessionConfig(bind_timeout=30.0, inactivity_timeout=300.0)
    listeners = await open_listeners(port, host=host)
    if ssl_context is None:
        serve: Callable[..., Awaitable[None]] = partial(
            handle_stream, handler=handler, config=config, behaviour=behaviour, tracer=tracer
        )
        await trio.serve_listeners(serve, listeners, task_status=task_status)
    else:
        tls = [trio.SSLListener(listener, ssl_context, https_compatible=False) for listener in listeners]
        serve_tls: Callable[..., Awaitable[None]] = partial(
            _handle_tls, handler=handler, config=config, behaviour=behaviour, tracer=tracer
        )
        await trio.serve_listeners(serve_tls, tls, task_status=task_status)  # type: ignore[misc]
