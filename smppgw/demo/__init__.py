"""``smppgw demo``: the product end to end, through its HTTP API.

It starts what ``smppgw serve`` starts with no config (the bundled simulator as the
carrier, here with handsets that behave like people: ``stage``), a webhook receiver
that checks every signature (``hooks``), and sends a small 2-way campaign through the
API (``campaign``): appointment confirmations expecting YES or NO from a pool of long
numbers, a 0-10 survey, an offer some people answer STOP to, then the offer again to
whoever opted out; then the flow step (``flowstep``): a few handsets book appointments
through the shipped booking flow and confirm at its reminder, one texts HELP and lands
in a human thread that the demo answers through the threads API. It shows progress while it runs and a summary at the end
(``report``), and returns 0 only if every check holds (``checks``). Every wait is
bounded and says what it waited for; the whole run takes well under a minute.
"""

from __future__ import annotations

import httpx
import trio
from rich.console import Console

from smppgw.demo.api import Api, DemoTimeout, detect_waiting
from smppgw.demo.campaign import run_campaign
from smppgw.demo.checks import Check, run_checks
from smppgw.demo.hooks import HookLog, serve_hooks
from smppgw.demo.report import Progress, summary_lines
from smppgw.demo.stage import staged

__all__ = ["LIMIT", "run_demo"]

LIMIT = 55.0  # seconds for the whole demo: it must finish within a minute


async def run_demo(console: Console | None = None) -> int:
    """Run the demo; 0 if every check held, 1 otherwise (or when a wait ran out)."""
    console = console or Console()
    with Progress(console) as progress:
        with trio.move_on_after(LIMIT) as limit:
            return await _run(progress)
    progress.say(f"demo FAILED: not done within {LIMIT:g} s")
    assert limit.cancelled_caught
    return 1


async def _run(progress: Progress) -> int:
    say = progress.say
    timed_out = ""
    async with trio.open_nursery() as nursery:
        hooks = HookLog(secret="")
        hooks_port = await nursery.start(serve_hooks, hooks)
        url = f"http://127.0.0.1:{hooks_port}/events"
        async with staged(url) as stage:
            hooks.secret = stage.secret
            say(f"bundled simulator (smppsim) on 127.0.0.1:{stage.sim_port}, handsets with personas")
            say(f"smppgw serving {stage.url} (SQLite in a temporary directory); webhooks to {url}, signed")
            headers = {"authorization": f"Bearer {stage.api_key}"}
            async with httpx.AsyncClient(base_url=stage.url, headers=headers, timeout=10.0) as http:
                api = Api(http)
                waiting = await detect_waiting(api, stage.twoway_missing)
                for step, why in waiting.items():
                    say(f"not in this build, its steps WAITING: {step} ({why})")
                try:
                    campaign = await run_campaign(api, stage, hooks, waiting, say, progress.update)
                except DemoTimeout as exc:
                    timed_out = str(exc)
                carrier = stage.carrier
        nursery.cancel_scope.cancel()  # the webhook receiver
    progress.stop()
    if timed_out:
        say(f"demo FAILED: {timed_out}")
        return 1
    checks: list[Check] = run_checks(campaign, carrier, hooks)
    for line in summary_lines(campaign, carrier, hooks, checks):
        say(line)
    ok = all(c.ok for c in checks)
    say("demo OK" if ok else "demo FAILED")
    return 0 if ok else 1
