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
    """Bounded end-to-end run against the bundled simulator on loopback; exits 0 when
    every part was accepted, every receipt matched and the 2-way reply arrived."""
    from simulator import run_simulator
    from simulator.config import config_from_dict

    # The bundled simulator as the carrier; its virtual handsets answer "Reply YES".
    config = config_from_dict(
        {
            "port": 0,
            "seed": 7,
            "behaviour": {
                "dlr_delay": {"kind": "uniform", "low": 0.05, "high": 0.3},
                "handsets": [{"match": "Reply YES", "replies": ["YES", "NO"], "weights": [3, 1], "delay": 0.2}],
            },
        }
    )

    async def run() -> bool:
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_simulator, config)
            click.echo(f"bundled simulator (smppsim) listening on 127.0.0.1:{sim.port}")
            result = await run_demo("127.0.0.1", sim.port, system_id="smppclient1", password="password", wait=wait)
            nursery.cancel_scope.cancel()
        lat = sorted(result.latencies_ms)
        click.echo(
            f"summary: {result.messages} messages, {result.parts} parts, {result.accepted} accepted, "
            f"{result.matched}/{result.parts} receipts matched, {result.unmatched} unmatched, "
            f"{len(result.replies)} 2-way replies; "
            f"submit->resp median {lat[len(lat) // 2]:.2f} ms, max {lat[-1]:.2f} ms"
        )
        return result.ok

    ok = trio.run(run)
    click.echo("demo OK" if ok else "demo FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
