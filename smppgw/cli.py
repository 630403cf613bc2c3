"""The ``smppgw`` command line (DESIGN.md §4.1). Exit codes: 0 ok, 1 failed, 2 bad usage."""

from __future__ import annotations

import logging
import sys

import click
import trio

from smppgw.demo import run_demo

__all__ = ["main"]


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """smppgw: an asynchronous SMPP 3.4 gateway toolkit."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--wait", default=5.0, show_default=True, help="Seconds to wait for receipts.")
def demo(wait: float) -> None:
    """Bounded end-to-end run against the bundled SMSC on loopback; exits 0 when every
    part was accepted and every receipt matched."""
    from simulator.minimal import MinimalSmsc
    from smppgw.net.server import serve_smsc

    async def run() -> bool:
        smsc = MinimalSmsc(accounts={"smppclient1": "password"})
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(serve_smsc, smsc.handle, 0)
            port = listeners[0].socket.getsockname()[1]
            click.echo(f"bundled SMSC listening on 127.0.0.1:{port}")
            result = await run_demo(
                "127.0.0.1", port, system_id="smppclient1", password="password", wait=wait
            )
            nursery.cancel_scope.cancel()
        lat = sorted(result.latencies_ms)
        click.echo(
            f"summary: {result.messages} messages, {result.parts} parts, {result.accepted} accepted, "
            f"{result.matched}/{result.parts} receipts matched, {result.unmatched} unmatched; "
            f"submit->resp median {lat[len(lat) // 2]:.2f} ms, max {lat[-1]:.2f} ms"
        )
        return result.ok

    ok = trio.run(run)
    click.echo("demo OK" if ok else "demo FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
