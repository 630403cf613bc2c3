"""``smppgw demo`` runs the gateway engine against a simulator: every part accepted, every
receipt matched by the engine's receipt book, the 2-way reply through the inbound path."""

from __future__ import annotations

from typing import Any

import trio

from smppgw.demo import CAMPAIGN, DemoResult, run_demo
from tests.gateway.helpers import ACCOUNT, HOST, PASSWORD, simulator

# The bundled simulator's virtual handset, as ``smppgw demo`` configures it.
HANDSETS = [{"match": "Reply YES", "replies": ["YES"], "delay": 0.05}]


async def demo(password: str = PASSWORD, **sim: Any) -> tuple[DemoResult, list[str]]:
    said: list[str] = []
    behaviour = {"dlr_delay": 0.05, "handsets": HANDSETS, **sim.pop("behaviour", {})}
    with trio.fail_after(20):
        async with simulator(behaviour=behaviour, **sim) as s:
            result = await run_demo(
                HOST, s.port, system_id=ACCOUNT, password=password, wait=5, say=said.append
            )
    return result, said


async def test_demo_settles_the_campaign_through_the_gateway() -> None:
    result, said = await demo()
    assert result.ok
    assert (result.messages, result.parts, result.accepted, result.matched) == (len(CAMPAIGN), 6, 6, 6)
    assert result.unmatched == 0 and result.receipts == 6
    assert len(result.latencies_ms) == 6 and all(ms > 0 for ms in result.latencies_ms)
    assert result.replies == [("447700900004", "YES")]
    assert said[0].startswith("bound as transceiver") and said[-1] == "unbound cleanly"
    assert sum(line.startswith("  receipt DELIVRD for message 4 part ") for line in said) == 3


async def test_demo_matches_receipts_that_overtake_their_resp() -> None:
    result, _ = await demo(profile="dlr-before-resp", behaviour={"dlr_before_resp": 1.0})
    assert result.ok
    assert result.matched == result.parts == 6


async def test_demo_reports_a_refused_bind() -> None:
    result, said = await demo(password="wrong")
    assert not result.ok
    assert result.messages == 0
    assert "ESME_RINVPASWD" in said[0]
