"""A small well-behaved ESME for the ESME conformance suite, on ``smppgw.net.open_esme``.

It binds as a transceiver, submits ``--messages`` messages with a delivery receipt
requested (never more than ``--window`` outstanding), answers every deliver_sm with
deliver_sm_resp ESME_ROK, pauses the whole bind for a second after ESME_RTHROTTLED and
then resubmits the message, gives up on a message refused with generic_nack or any other
error, stays bound ``--stay`` seconds after its last submit, and unbinds (on SIGTERM too).
If the SMSC unbinds it first, it answers (the session does) and exits.

Run by the tests as ``python esme_client.py --host {host} --port {port} ...``.
"""

from __future__ import annotations

import argparse
import signal
import sys

import trio

from smppgw.core.errors import CommandFailed, ConnectionLost, ResponseTimeout, SmppError, Throttled
from smppgw.core.events import RequestReceived
from smppgw.core.pdu import DataSm, DataSmResp, DeliverSmResp, SubmitSm
from smppgw.core.session import SessionConfig
from smppgw.core.states import BindMode
from smppgw.net import EsmeSettings, SmppConnection, open_esme

PAUSE = 1.0


class Gate:
    """One pause for the whole bind after ESME_RTHROTTLED (SMPP-REFERENCE §2)."""

    def __init__(self) -> None:
        self.until = 0.0

    async def wait(self) -> None:
        while (left := self.until - trio.current_time()) > 0:
            await trio.sleep(left)


async def answer_deliveries(conn: SmppConnection) -> None:
    async for event in conn.incoming:
        if isinstance(event, RequestReceived):
            resp = DataSmResp() if isinstance(event.pdu, DataSm) else DeliverSmResp()
            conn.send_response(event.sequence_number, resp)


async def send_one(conn: SmppConnection, gate: Gate, number: int, results: dict[str, int]) -> None:
    pdu = SubmitSm(
        source_addr="447700900100",
        source_addr_ton=1,
        source_addr_npi=1,
        destination_addr=f"4477009{number:05d}",
        registered_delivery=1,
        short_message=f"conformance client message {number}".encode(),
    )
    for _ in range(5):
        while True:
            await gate.wait()
            await conn.wait_for_room()
            if trio.current_time() >= gate.until:  # the gate may have closed while we waited
                break
        try:
            await conn.request(pdu, wait_for_room=False)
            results["ok"] += 1
            return
        except Throttled:
            results["throttled"] += 1
            gate.until = trio.current_time() + PAUSE
        except (CommandFailed, ResponseTimeout):
            results["failed"] += 1
            return
    results["failed"] += 1


async def session(
    args: argparse.Namespace, settings: EsmeSettings, results: dict[str, int], connected: list[bool]
) -> None:
    gate = Gate()
    async with open_esme(
        args.host, args.port, system_id=args.system_id, password=args.password, settings=settings
    ) as conn:
        connected.append(True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_deliveries, conn)
            nursery.start_soon(stop_on_sigterm, nursery.cancel_scope)
            async with trio.open_nursery() as senders:
                for number in range(1, args.messages + 1):
                    senders.start_soon(send_one, conn, gate, number, results)
                    await trio.sleep(args.pace)
            with trio.move_on_after(args.stay):
                await conn.wait_closed()
            nursery.cancel_scope.cancel()


async def stop_on_sigterm(scope: trio.CancelScope) -> None:
    """SIGTERM ends the session the clean way: open_esme unbinds on the way out."""
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            print("esme_client: SIGTERM, unbinding", flush=True)
            scope.cancel()
            return


async def run(args: argparse.Namespace) -> int:
    settings = EsmeSettings(
        system_id=args.system_id,
        password=args.password,
        mode=BindMode.TRX,
        session=SessionConfig(
            window=args.window, response_timeout=30.0, enquire_link_interval=None, bind_timeout=None
        ),
    )
    results = {"ok": 0, "throttled": 0, "failed": 0}
    connected: list[bool] = []
    give_up = trio.current_time() + args.retry_connect
    while True:
        try:
            await session(args, settings, results, connected)
            break
        except ConnectionLost:
            if connected or trio.current_time() >= give_up:
                break  # the SMSC ended the session (or never came): nothing left to do
            await trio.sleep(0.1)
    print(f"esme_client: {results}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--system-id", default="esmeclient")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--messages", type=int, default=16)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--stay", type=float, default=1.0)
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--retry-connect", type=float, default=0.0, help="keep trying to connect this long")
    args = parser.parse_args()
    try:
        return trio.run(run, args)
    except SmppError as exc:
        print(f"esme_client: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
