"""A custom keyword rule end to end: an MO injected at the simulator reaches ``smppgw
serve``, the rule's reply reaches the handset (the simulator received it), and its
``keyword.matched`` event is in ``GET /v1/events``."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from smppgw.core.text import decode_text
from smppgw.twoway.config import twoway_from_dict
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc

HANDSET = "447700900055"


async def test_a_rule_keyword_gets_its_reply_at_the_handset_and_its_event(tmp_path: Path) -> None:
    twoway = twoway_from_dict(
        {"rule": [{"keyword": "JOIN", "reply": "Welcome to the club!", "tag": "club", "event": True,
                   "senders": ["+12345"]}]}
    )  # fmt: skip
    async with simulator() as sim:
        config = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), twoway=twoway)
        async with serving(config) as api:
            await api.wait_ready()
            sim.inject_mo(system_id=None, source_addr=HANDSET, destination_addr="12345", text="Join, please!")
            sim.inject_mo(
                system_id=None, source_addr=HANDSET, destination_addr="54321", text="JOIN"
            )  # not its number
            with trio.fail_after(10):
                while not (received := sim.store.select(destination_addr=HANDSET)):
                    await trio.sleep(0.02)
                while len(inbound := (await api.get("/v1/inbound")).json()["messages"]) < 2:
                    await trio.sleep(0.02)
            [reply] = received
            assert (reply.source_addr, decode_text(reply.payload, reply.data_coding)) == (
                "12345",
                "Welcome to the club!",
            )
            # The two may arrive in either order (the simulator spreads MOs over the binds).
            keywords = {m["destination"]: (m["keyword"], m["seq"]) for m in inbound}
            assert {k: v[0] for k, v in keywords.items()} == {"12345": "JOIN", "54321": None}
            events = (await api.get("/v1/events", params={"type": "keyword.matched"})).json()["events"]
            [event] = events
            assert (event["subject"], event["sequence"]) == (f"inbound:{keywords['12345'][1]}", 2)
            assert event["data"]["rule"] == "JOIN" and event["data"]["tag"] == "club"
            assert event["data"]["source"] == HANDSET and event["data"]["destination"] == "12345"
            sent = (await api.get("/v1/messages", params={"tag": "club"})).json()
            assert [m["to"] for m in sent["messages"]] == [HANDSET], sent
    assert len(sim.store.select(destination_addr=HANDSET)) == 1  # one reply: the other number has no rule
