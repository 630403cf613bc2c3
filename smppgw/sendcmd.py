"""``smppgw send``: a one-shot tool to test a carrier bind (DESIGN §4.1).

Binds, sends one message (split as needed), waits for each submit_sm_resp and,
with ``--dlr``, for each part's receipt; prints one JSON line per part and per receipt;
unbinds. Exit 0 when every part was accepted (and, with ``--dlr``, delivered), 1 on a
failure with the SMPP status name in the JSON, 2 for bad usage.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
import trio

from smppgw.core.constants import CommandStatus, MessageState, RegisteredDelivery, status_name
from smppgw.core.errors import CommandFailed, ConnectionLost, ResponseTimeout
from smppgw.core.events import Event, RequestReceived
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSm, DeliverSmResp, SubmitSm, SubmitSmResp
from smppgw.core.receipt import IdBase, id_keys, normalize_message_id, parse_receipt
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode
from smppgw.core.text import split_message
from smppgw.net.esme import open_esme
from smppgw.policy.addressing import to_smpp

__all__ = ["SendOptions", "run_send"]

T = TypeVar("T")


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
    timeout: float = 10.0


class _ById(Generic[T]):
    """Values by message id. The same id in the other base matches too (hex resp ids,
    decimal receipt ids: ``core.receipt.id_keys``), but an exact match always wins:
    "10" and "16" are two messages even though "10" read as hex is 16."""

    def __init__(self) -> None:
        self._exact: dict[str, T] = {}
        self._other_base: dict[str, T] = {}

    @staticmethod
    def _keys(message_id: str) -> tuple[str, str | None]:
        exact = normalize_message_id(message_id, base=IdBase.AS_IS)
        return exact, next(iter(id_keys(message_id) - {exact}), None)

    def add(self, message_id: str, value: T) -> None:
        exact, other = self._keys(message_id)
        self._exact[exact] = value
        if other is not None:
            self._other_base[other] = value

    def find(self, message_id: str) -> T | None:
        exact, other = self._keys(message_id)
        for found in (
            self._exact.get(exact),
            self._other_base.get(exact),
            None if other is None else self._exact.get(other),
        ):
            if found is not None:
                return found
        return None


async def run_send(opts: SendOptions, emit: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Returns the exit status (0 ok, 1 failed). Raises AddressError/ValueError for bad input."""
    out = emit or (lambda obj: print(json.dumps(obj), flush=True))
    src, dst = to_smpp(opts.source), to_smpp(opts.destination)
    parts = split_message(opts.text, encoding=opts.encoding, reference=int(time.time()) % 256)
    ok = True
    pending: _ById[int] = _ById()  # submit_sm_resp id -> part number
    early: _ById[dict[str, Any]] = _ById()  # receipts that overtook their resp
    done = trio.Event()
    finals = 0

    def receipt_event(event: Event) -> None:
        nonlocal finals
        if not (isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm | DataSm)):
            return
        pdu = event.pdu
        short = pdu.short_message if isinstance(pdu, DeliverSm) else b""
        receipt = parse_receipt(short_message=short, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
        response = DeliverSmResp() if isinstance(pdu, DeliverSm) else DataSmResp()
        conn.send_response(event.sequence_number, response, CommandStatus.ESME_ROK)
        if receipt is None or receipt.message_id is None:
            return
        line = {
            "type": "receipt",
            "message_id": receipt.message_id,
            "stat": receipt.stat or (receipt.state.stat if receipt.state else None),
            "final": receipt.is_final,
            "err": receipt.error,
        }
        part = pending.find(receipt.message_id)
        if part is None:
            early.add(receipt.message_id, line)
            return
        settle(part, line)

    def settle(part: int, line: dict[str, Any]) -> None:
        nonlocal ok, finals
        line["part"] = part
        out(line)
        if line["final"]:
            finals += 1
            if line["stat"] != MessageState.DELIVERED.stat:
                ok = False
            if finals == len(parts):
                done.set()

    ssl_context = ssl.create_default_context() if opts.tls else None
    mode = BindMode.TRX if opts.bind == "trx" else BindMode.TX
    async with open_esme(
        opts.host,
        opts.port,
        system_id=opts.system_id,
        password=opts.password,
        mode=mode,
        ssl_context=ssl_context,
        session=SessionConfig(response_timeout=opts.timeout),
    ) as conn:
        conn.on_event = receipt_event
        for part in parts:
            pdu = SubmitSm(
                source_addr_ton=src.ton,
                source_addr_npi=src.npi,
                source_addr=src.addr,
                dest_addr_ton=dst.ton,
                dest_addr_npi=dst.npi,
                destination_addr=dst.addr,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                registered_delivery=RegisteredDelivery.RECEIPT_ALWAYS if opts.dlr else 0,
                short_message=part.short_message,
                tlvs=part.tlvs,
            )
            started = time.perf_counter()
            line: dict[str, Any] = {"type": "submit_sm_resp", "part": part.part_number, "parts": part.total}
            try:
                response = await conn.request(pdu)
            except CommandFailed as exc:
                ok = False
                line.update(status=status_name(exc.status), message_id=None)
                out(line)
                continue
            except (ResponseTimeout, ConnectionLost) as exc:
                ok = False
                line.update(
                    status="timeout" if isinstance(exc, ResponseTimeout) else "connection_lost",
                    error=str(exc),
                )
                out(line)
                break
            assert isinstance(response, SubmitSmResp)
            line.update(
                status="ESME_ROK",
                message_id=response.message_id,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            out(line)
            held = early.find(response.message_id)
            if held is not None:
                settle(part.part_number, held)
            else:
                pending.add(response.message_id, part.part_number)
        if opts.dlr and ok:
            with trio.move_on_after(opts.wait_dlr) as scope:
                await done.wait()
            if scope.cancelled_caught:
                ok = False
                out({"type": "error", "error": f"not every receipt arrived within {opts.wait_dlr}s"})
    return 0 if ok else 1
