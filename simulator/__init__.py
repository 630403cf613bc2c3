"""smppsim: a carrier-realistic fake SMSC (see ``simulator.smsc`` for the theory).

In-process use (tests, ``smppgw demo``, the load tester)::

    async with trio.open_nursery() as nursery:
        sim = await nursery.start(run_simulator, SimConfig(port=0))
        ...  # bind to 127.0.0.1:sim.port
"""

from __future__ import annotations

import logging
import secrets
import ssl
from functools import partial

import trio

from simulator.config import SimConfig, check_control, is_loopback
from smppgw.core.constants import CommandStatus
from smppgw.core.session import SessionConfig
from smppgw.net.server import serve_smsc
from smppgw.net.tls import server_context
from smppgw.net.trace import PduTracer
from smppgw.support.logsafe import kv

__all__ = ["SimConfig", "run_simulator"]

log = logging.getLogger(__name__)


def session_config(config: SimConfig) -> SessionConfig:
    """The simulator's sessions: enquire_link is answered by the simulator, not the session,
    so that the black hole fault can leave it unanswered (``simulator.binds``)."""
    s = config.session
    return SessionConfig(
        window=s.window,
        response_timeout=s.response_timeout,
        enquire_link_interval=s.enquire_link_interval,
        bind_timeout=s.bind_timeout,
        inactivity_timeout=s.inactivity_timeout,
        max_command_length=s.max_command_length,
        answer_enquire_link=False,
        max_owed=s.receive_window,
        over_window_status=CommandStatus.ESME_RTHROTTLED,
    )


def tls_context(config: SimConfig) -> ssl.SSLContext | None:
    """The server context for ``tls_cert``/``tls_key`` (None: plain TCP)."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    return server_context(config.tls_cert, config.tls_key, client_ca=config.tls_client_ca)


async def run_simulator(
    config: SimConfig,
    *,
    tracer: PduTracer | None = None,
    task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the simulator until cancelled; ``task_status.started`` gets the ``Simulator``
    (with ``.port`` and ``.http_port`` filled in). ``tracer`` traces every connection's
    PDUs (``--trace``)."""
    from simulator.smsc import Simulator

    check_control(config)
    sim = Simulator(config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sim.scheduler.run)
        listeners = await nursery.start(
            partial(
                serve_smsc,
                sim.handle,
                config.port,
                host=config.host,
                config=session_config(config),
                behaviour=sim.new_bind,
                ssl_context=tls_context(config),
                tracer=tracer,
            )
        )
        listener = getattr(listeners[0], "transport_listener", listeners[0])  # SSLListener wraps one
        sim.port = listener.socket.getsockname()[1]
        if config.http_port is not None:
            from simulator.control import serve_control

            sim.http_token = config.http_token or secrets.token_urlsafe(24)
            sim.http_port = await nursery.start(
                partial(
                    serve_control,
                    sim,
                    config.http_host,
                    config.http_port,
                    token=sim.http_token,
                    guard_reads=not is_loopback(config.http_host),
                )
            )
        log.info("smppsim listening %s", kv(host=config.host, port=sim.port, tls=config.tls_cert is not None))
        task_status.started(sim)
