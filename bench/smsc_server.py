"""A MinimalSmsc in its own process, for the client benchmarks.

    python bench/smsc_server.py --port 0 --receipts --max-seconds 60

Listens on 127.0.0.1 only. The first line on stdout is the port it listens on (useful
with ``--port 0``); nothing else goes to stdout. Exits on SIGTERM or SIGINT, or after
``--max-seconds`` whatever happens, and then writes one summary line to stderr.

``--window`` is the SMSC's own window for the deliver_sm receipts it sends: MinimalSmsc
drops a receipt when that window is full, so the default leaves plenty of room for a
client that keeps 64 submit_sm in flight.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from functools import partial

import trio

from simulator.minimal import MinimalSmsc
from smppgw.core.session import SessionConfig
from smppgw.net.server import serve_smsc

HOST = "127.0.0.1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--receipts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send one deliver_sm receipt per submit_sm that asks for one",
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="exit after this long at most")
    parser.add_argument("--window", type=int, default=1024, help="SMSC-side window (receipts in flight)")
    args = parser.parse_args(argv)
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds must be in (0, 3600]")
    return args


async def serve(args: argparse.Namespace) -> MinimalSmsc:
    smsc = MinimalSmsc(receipts=args.receipts)
    config = SessionConfig(
        window=args.window, bind_timeout=30.0, inactivity_timeout=300.0, enquire_link_interval=60.0
    )
    with (
        trio.move_on_after(args.max_seconds),
        trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as sigs,
    ):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                partial(serve_smsc, smsc.handle, args.port, host=HOST, config=config)
            )
            port = listeners[0].socket.getsockname()[1]
            print(port, flush=True)
            async for _sig in sigs:
                break
            nursery.cancel_scope.cancel()
    return smsc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    smsc = trio.run(serve, args)
    print(
        f"smsc_server: {smsc.submitted} submit_sm answered in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
