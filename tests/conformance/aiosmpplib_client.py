"""An ESME built on aiosmpplib's ESME + broker API, as a client under test.

Start the ESME (it binds as a transceiver), enqueue ``--messages`` SubmitSm on its broker,
let it run ``--stay`` seconds (it answers enquire_link and deliver_sm by itself), then
``stop()`` it (which unbinds). What the suite finds is what aiosmpplib does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from aiosmpplib import ESME, NPI, TON, BindMode, PhoneNumber, SubmitSm


async def run(args: argparse.Namespace) -> None:
    esme = ESME(
        smsc_host=args.host,
        smsc_port=args.port,
        system_id="aiosmpplib",
        password="secret",
        bind_mode=BindMode.TRANSCEIVER,
        log_level=logging.ERROR,
        socket_timeout=5.0,
        enquire_link_interval=30.0,
    )
    starter = asyncio.create_task(esme.start())
    for n in range(1, args.messages + 1):
        await esme.broker.enqueue(
            SubmitSm(
                short_message=f"aiosmpplib message {n}",
                source=PhoneNumber("447700900100", TON.INTERNATIONAL, NPI.ISDN),
                destination=PhoneNumber(f"4477009{n:05d}", TON.INTERNATIONAL, NPI.ISDN),
                log_id=f"m{n}",
            )
        )
    await asyncio.sleep(args.stay)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(esme.stop(), 5.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(starter, 5.0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, default=16)
    parser.add_argument("--stay", type=float, default=4.0)
    asyncio.run(run(parser.parse_args()))
    print("aiosmpplib_client: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
