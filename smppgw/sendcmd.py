"""``smppgw send``: a one-shot tool to test a carrier bind (DESIGN §4.1), on the gateway engine.

It runs the real ``Gateway`` (memory store, one SMSC built from the options, one bind,
window 1, one attempt per part) and reports what the engine records: one JSON line per
part when its submit_sm_resp arrives (the SMSC message_id and the round trip) and, with
``--dlr``, one per final receipt, correlated by the engine's receipt book (a receipt that
overtakes its submit_sm_resp is held and matched). Exit 0 when every part was accepted
(and, with ``--dlr``, delivered); 1 on a failure, with the SMPP status name in the JSON
(``ESME_RINVPASWD`` for a refused bind); bad input raises ``ValueError`` before the
bind (the CLI's exit 2): the message is submitted first and waits in the queue for it.
``--to`` and ``--from`` are read as the HTTP API reads them (``support.phone``): a
national number needs ``--region``.

``running_gateway`` and ``wait_bound`` are shared with ``smppgw demo``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs
import trio

from smppgw.core.constants import CommandStatus, status_name
from smppgw.core.errors import CommandFailed
from smppgw.gateway.config import ConfigError, GatewayConfig, config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.gateway.inbound import InboundHandler
from smppgw.gateway.messages import SubmitError
from smppgw.net.trace import PduTracer
from smppgw.store.base import MessageRecord, PartRecord, Status
from smppgw.store.memory import MemoryStore
from smppgw.support.phone import NumberError, check_region, normalise

__all__ = [
    "SMSC_NAME",
    "SendOptions",
    "bind_error_line",
    "run_send",
    "one_smsc_config",
    "running_gateway",
    "wait_bound",
]

SMSC_NAME = "smsc"  # the one SMSC of a one-shot run
_POLL = 0.01  # seconds between looks at the bind while waiting for it
_OPTIONS = {"host": "smsc", "port": "smsc", "response_timeout": "timeout"}  # config key -> option


@attrs.frozen(kw_only=True)
class SendOptions:
    host: str
    port: int
    system_id: str
    password: str = attrs.field(repr=False)
    source: str
    destination: str
    text: str
    dlr: bool = False
    wait_dlr: float = 30.0
    bind: str = "trx"
    encoding: str = "auto"
    tls: bool = False
    tls_ca: str | None = None  # a PEM CA bundle (--tls-ca); None: the system CAs
    timeout: float = 10.0
    region: str | None = None  # the default region of national numbers (GB); None: international only


def one_smsc_config(smsc: Mapping[str, Any], **tables: Any) -> GatewayConfig:
    """A gateway config with one SMSC (``smsc``: its ``[[smsc]]`` keys but the name, which is
    ``SMSC_NAME``), the default route to it and the other ``tables`` (``retry=...``).

    Raises:
        ValueError: a bad value, naming the command-line option (``--system-id: at most
            15 characters``), not the config key.
    """
    try:
        return config_from_dict({"smsc": [{"name": SMSC_NAME, **smsc}], **tables})
    except ConfigError as exc:
        where, _, what = str(exc).partition(": ")
        key = where.rpartition(".")[2]
        raise ValueError(f"--{_OPTIONS.get(key, key.replace('_', '-'))}: {what}") from None


async def wait_bound(gateway: Gateway) -> Exception | None:
    """Wait until the SMSC is bound (None) or its first bind attempt failed: the error
    (``BindFailed`` with the SMSC's status, ``ConnectionLost``, ...). Each attempt is
    bounded by the SMSC's connect timeout, so this returns."""
    pool = gateway.smscs[SMSC_NAME].pool
    while not pool.up:
        if pool.last_error is not None:
            return pool.last_error
        await trio.sleep(_POLL)
    return None


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig, *, inbound_handler: InboundHandler | None = None, tracer: PduTracer | None = None
) -> AsyncIterator[Gateway]:
    """A running ``Gateway`` over a ``MemoryStore``; on exit it unbinds (bounded by the
    config's shutdown_timeout) and stops, even when the body was cancelled. Nothing may
    raise out of the body: the nursery would wrap it in an exception group. TLS comes
    from the config's ``tls`` keys, as in ``smppgw serve``; ``tracer`` traces the PDUs."""
    gateway = Gateway(
        config,
        store=MemoryStore(),
        inbound_handler=inbound_handler,
        tracer=tracer,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run)
        try:
            yield gateway
        finally:
            with trio.CancelScope(shield=True):
                await gateway.aclose()


def _print_line(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def bind_error_line(error: Exception) -> dict[str, Any]:
    """The JSON line for a failed bind: the SMSC's status when it answered."""
    if isinstance(error, CommandFailed):
        return {"type": "error", "error": "bind failed", "status": status_name(error.status)}
    return {"type": "error", "error": str(error)}


class _Lines:
    """A gateway listener: prints each part's submit_sm_resp and final receipt once, as the
    engine records them. ``answered`` is set once every part has its answer (or the
    message is final)."""

    def __init__(self, out: Callable[[dict[str, Any]], None], response_timeout: float) -> None:
        self._out = out
        self._timeout = response_timeout
        self._answered: set[int] = set()
        self._receipted: set[int] = set()
        self.failed = False
        self.answered = trio.Event()
        # When the part in flight was sent, or a little earlier: window 1 sends the first
        # part once the bind is up (the message is submitted just before), each other one
        # when the part before it is answered.
        self._sent_by = trio.current_time()

    def __call__(self, record: MessageRecord) -> None:
        for part in record.parts:
            if part.index not in self._answered:
                if part.smsc_message_id is not None:
                    self._answered.add(part.index)
                    self._sent_by = trio.current_time()
                    self._out(_resp_line(part))
                elif part.status is Status.REJECTED or part.status is Status.FAILED:
                    self._answered.add(part.index)
                    self.failed = True
                    self._out(self._failed_line(part))
            if part.receipt_final and part.index not in self._receipted:
                self._receipted.add(part.index)
                self.failed |= part.status is not Status.DELIVERED
                self._out(_receipt_line(part))
        if record.is_final or len(self._answered) == len(record.parts):
            self.answered.set()

    def _failed_line(self, part: PartRecord) -> dict[str, Any]:
        """A part the engine gave up on: the status the SMSC answered (the retry policy's
        reason, ``ESME_RINVDSTADR`` or ``ESME_RSYSERR: 1 attempts``), or no answer."""
        head = {"type": "submit_sm_resp", "part": part.index, "parts": part.total}
        reason = part.error or "failed"
        status = reason.partition(":")[0]
        if status.startswith(("ESME_", "0x")):
            return {**head, "status": status, "message_id": None}
        if status == "no response":
            # RequestExpired comes response_timeout after the send; sooner, the bind was lost.
            expired = trio.current_time() - self._sent_by >= self._timeout * 0.99
            return {**head, "status": "timeout" if expired else "connection_lost", "error": reason}
        return {**head, "status": "failed", "error": reason}


def _resp_line(part: PartRecord) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "submit_sm_resp",
        "part": part.index,
        "parts": part.total,
        "status": CommandStatus.ESME_ROK.name,
        "message_id": part.smsc_message_id,
    }
    if part.resp_latency is not None:
        line["latency_ms"] = round(part.resp_latency * 1000, 3)
    return line


def _receipt_line(part: PartRecord) -> dict[str, Any]:
    return {
        "type": "receipt",
        "message_id": part.smsc_message_id,
        "stat": part.receipt_stat,
        "final": part.receipt_final,
        "err": part.receipt_error,
        "part": part.index,
    }


async def run_send(
    opts: SendOptions, emit: Callable[[dict[str, Any]], None] | None = None, tracer: PduTracer | None = None
) -> int:
    """Returns the exit status (0 ok, 1 failed). Raises ValueError for bad input (an
    option out of range, before it connects; an address or a text the encoding cannot
    carry, as the gateway refuses the message, before the bind). ``tracer``: --trace."""
    out = emit or _print_line
    opts = _numbers(opts)
    smsc = {
        "host": opts.host, "port": opts.port, "system_id": opts.system_id, "password": opts.password,
        "bind": opts.bind, "window": 1, "tls": opts.tls, "response_timeout": opts.timeout,
    }  # fmt: skip
    if opts.tls_ca is not None:
        smsc["tls_ca"] = opts.tls_ca
    # One attempt per part: a one-shot test reports what the SMSC answered, it does not retry.
    config = one_smsc_config(smsc, retry={"max_attempts": 1})
    result: int | SubmitError = 1
    async with running_gateway(config, tracer=tracer) as gateway:
        result = await _send(gateway, opts, out)
    if isinstance(result, SubmitError):
        raise result
    return result


def _numbers(opts: SendOptions) -> SendOptions:
    """``opts`` with --to and --from normalised (E.164 digits; a short code or an
    alphanumeric sender as given). Raises ValueError naming the option."""
    try:
        region = None if opts.region is None else check_region(opts.region)
    except ValueError as exc:
        raise ValueError(f"--region: {exc}") from None
    try:
        destination = normalise(opts.destination, region)
    except NumberError as exc:
        raise ValueError(f"--to: {exc}") from None
    try:
        source = normalise(opts.source, region)
    except NumberError as exc:
        raise ValueError(f"--from: {exc}") from None
    return attrs.evolve(opts, destination=destination, source=source)


async def _send(
    gateway: Gateway, opts: SendOptions, out: Callable[[dict[str, Any]], None]
) -> int | SubmitError:
    lines = _Lines(out, opts.timeout)
    gateway.add_listener(lines)
    try:  # accepted before the bind is up: queued until it is
        record = gateway.submit(
            source=opts.source, destination=opts.destination, text=opts.text,
            encoding=opts.encoding, dlr=opts.dlr,
        )  # fmt: skip
    except SubmitError as exc:
        return exc
    error = await wait_bound(gateway)
    if error is not None:
        out(bind_error_line(error))
        return 1
    # Each part is bounded by the response timeout; throttled parts are resent, so bound it all.
    bound = len(record.parts) * (opts.timeout + 2.0)
    with trio.move_on_after(bound) as scope:
        await lines.answered.wait()
    if scope.cancelled_caught:
        why = f"not every part was answered within {bound:g}s"
        throttled = gateway.smscs[SMSC_NAME].dispatcher.throttled
        if throttled:  # the engine resends a part the SMSC throttled (SMPP-REFERENCE §7.1)
            why += f" ({throttled} submits answered ESME_RTHROTTLED or ESME_RMSGQFUL, resent)"
        out({"type": "error", "error": why})
        return 1
    if lines.failed:
        return 1
    if opts.dlr:
        try:
            await gateway.wait_final(record.id, timeout=opts.wait_dlr)
        except trio.TooSlowError:
            out({"type": "error", "error": f"not every receipt arrived within {opts.wait_dlr}s"})
            return 1
    return 1 if lines.failed else 0
