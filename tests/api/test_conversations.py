"""2-way conversations end to end: the real app over HTTP in front of the real simulator
over loopback; replies injected at the simulator as a handset's MO messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import trio

from simulator.smsc import Simulator
from smppgw.app import AppConfig
from smppgw.twoway.config import twoway_from_dict
from tests.api.helpers import Api, app_config, assert_problem, serving
from tests.gateway.helpers import ACCOUNT, simulator, smsc

X = "447700900001"  # the subscriber
YES_NO = {
    "type": "choice",
    "choices": {"YES": ["yes", "y", "ok"], "NO": ["no", "n"]},
    "reprompt": "YES or NO?",
}
SCORE = {"type": "score", "min": 0, "max": 10}
POOL = ["447700900100", "447700900101"]


def config(sim: Simulator, db: Path, **tables: Any) -> AppConfig:
    twoway = twoway_from_dict({"pool": [{"name": "care", "numbers": POOL}]})
    return attrs.evolve(app_config([smsc(sim)], db, **tables), twoway=twoway)


async def send(api: Api, body: dict[str, Any]) -> str:
    r = await api.post("/v1/messages", {"to": X, "text": "Hello", **body})
    assert r.status_code == 202, r.text
    message_id: str = r.json()["id"]
    return message_id


async def reply(api: Api, sim: Simulator, source: str, to: str, text: str) -> dict[str, Any]:
    """Inject an MO message from ``source`` to ``to``; the inbound item it became."""
    before = (await api.get("/v1/inbound", params={"limit": 1000})).json()["next"]
    sim.inject_mo(system_id=ACCOUNT, source_addr=source, destination_addr=to, text=text)
    with trio.fail_after(10):
        while True:
            items = (await api.get("/v1/inbound", params={"after": before})).json()["messages"]
            if items:
                [item] = items
                return dict(item)
            await trio.sleep(0.02)


async def conversation(api: Api, message_id: str) -> dict[str, Any]:
    view = (await api.get(f"/v1/messages/{message_id}")).json()
    r = await api.get(f"/v1/conversations/{view['conversation_id']}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["state"] == view["conversation_state"] and body["message_id"] == message_id
    return body


def notes(item: dict[str, Any]) -> tuple[Any, ...]:
    return item["in_reply_to"], item["answer"], item["linked_by"]


async def test_replies_to_a_short_code_link_to_the_latest_of_several(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        first = await send(api, {"from": "12345", "expect": YES_NO})
        second = await send(api, {"from": "12345", "expect": SCORE})
        plain = await send(api, {"from": "12345"})
        assert "conversation_id" not in (await api.get(f"/v1/messages/{plain}")).json()
        # Two open with (12345, X): the reply goes to the latest, the score.
        item = await reply(api, sim, X, "12345", " 8/10!")
        assert notes(item) == (second, "8", "latest")
        assert item["conversation_id"] == (await conversation(api, second))["id"]
        # Now one is open: exact.
        item = await reply(api, sim, X, "12345", "Yes please")
        assert notes(item) == (first, "YES", "exact")
        talk = await conversation(api, first)
        assert (talk["state"], talk["answer"], talk["from"], talk["to"]) == ("answered", "YES", "12345", X)
        assert talk["expect"]["choices"] == YES_NO["choices"] and talk["closed_at"] and talk["opened_at"]
        assert [r["answer"] for r in talk["replies"]] == ["YES"]
        # None open: a plain inbound message, not an error.
        item = await reply(api, sim, X, "12345", "thanks!")
        assert notes(item) == (None, None, None) and item["conversation_id"] is None
        # Someone else's reply never links to X's conversation.
        other = await send(api, {"from": "12345", "expect": YES_NO})
        assert notes(await reply(api, sim, "447700900002", "12345", "yes")) == (None, None, None)
        assert (await conversation(api, other))["state"] == "open"
        events = (await api.get("/v1/events", params={"type": "conversation.answered"})).json()["events"]
        assert sorted(e["data"]["message_id"] for e in events) == sorted([first, second])
        inbound = (await api.get("/v1/events", params={"type": "message.inbound"})).json()["events"]
        assert [e["data"]["linked_by"] for e in inbound] == ["latest", "exact", None, None]


async def test_a_pool_gives_each_conversation_its_own_sender(tmp_path: Path) -> None:
    route = [
        {"name": "care", "smscs": ["a"], "pool": "care", "tags": ["care"]},
        {"name": "any", "smscs": ["a"]},
    ]
    async with simulator() as sim, serving(config(sim, tmp_path / "db", route=route)) as api:
        a = await send(api, {"from": "pool:care", "expect": YES_NO})
        b = await send(api, {"from": "pool", "tags": ["care"], "expect": SCORE})  # its route's pool
        senders = [(await api.get(f"/v1/messages/{m}")).json()["from"] for m in (a, b)]
        assert sorted(senders) == POOL  # one sender each: both links are exact
        plain = await send(api, {"from": "pool:care"})  # no conversation: sticks to the latest open one
        assert (await api.get(f"/v1/messages/{plain}")).json()["from"] == senders[1]
        assert notes(await reply(api, sim, X, senders[1], "seven")) == (b, "7", "exact")
        assert notes(await reply(api, sim, X, senders[0], "no")) == (a, "NO", "exact")
        # Every sender busy: the one whose open conversation is oldest, and linking by latest.
        c1 = await send(api, {"from": "pool:care", "expect": YES_NO})
        c2 = await send(api, {"from": "pool:care", "expect": YES_NO})
        c3 = await send(api, {"from": "pool:care", "expect": SCORE})
        busy = [(await api.get(f"/v1/messages/{m}")).json()["from"] for m in (c1, c2, c3)]
        assert sorted(busy[:2]) == POOL and busy[2] == busy[0]
        assert notes(await reply(api, sim, X, busy[0], "9")) == (c3, "9", "latest")
        assert notes(await reply(api, sim, X, busy[0], "y")) == (c1, "YES", "exact")
        assert (await conversation(api, c3))["pool"] == "care"


async def test_an_invalid_answer_gets_the_reprompt_then_ends_invalid(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        asked = await send(api, {"from": "12345", "expect": {**YES_NO, "max_reprompts": 1}})
        item = await reply(api, sim, X, "12345", "maybe")
        assert notes(item) == (asked, None, "exact")
        talk = await conversation(api, asked)
        assert (talk["state"], talk["reprompts"]) == ("open", 1)
        with trio.fail_after(10):  # the re-prompt reached the handset, from the same sender
            while not [m for m in sim.store.select(limit=100) if m.payload == b"YES or NO?"]:
                await trio.sleep(0.02)
        [m] = [m for m in sim.store.select(limit=100) if m.payload == b"YES or NO?"]
        assert (m.source_addr, m.destination_addr) == ("12345", X)
        await reply(api, sim, X, "12345", "dunno")
        talk = await conversation(api, asked)
        assert (talk["state"], talk["reprompts"], talk["answer"]) == ("invalid", 1, None)
        assert [r["answer"] for r in talk["replies"]] == [None, None]
        [event] = (await api.get("/v1/events", params={"type": "conversation.invalid"})).json()["events"]
        assert event["subject"] == f"conversation:{talk['id']}" and event["data"]["state"] == "invalid"
        assert len([m for m in sim.store.select(limit=100) if m.payload == b"YES or NO?"]) == 1


async def test_bad_expects_and_pools_are_422s_naming_the_field(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        msg = {"to": X, "from": "12345", "text": "Hi"}
        cases = [
            ({"type": "choice", "choices": {}}, "expect.choices"),
            ({"type": "choice", "choices": {"YES": ["y", "ok"], "NO": ["no", "OK"]}}, "expect.choices.NO[1]"),
            ({"type": "score", "min": 10, "max": 0}, "expect.min"),
            ({"type": "text", "timeout": "tomorrow"}, "expect.timeout"),
            ({"type": "text", "timeout": 0}, "expect.timeout"),
            ({"type": "poll"}, "expect.type"),
            ({"type": "text", "extra": 1}, "expect.extra"),
            ({"type": "choice", "choices": {"YES": ["y"] * 21}}, "expect.choices.YES"),
        ]
        for expect, field in cases:
            r = await api.post("/v1/messages", {**msg, "expect": expect})
            assert_problem(r, 422, "validation", field)
        assert_problem(
            await api.post("/v1/messages", {**msg, "from": "pool:nope"}), 422, "validation", "from"
        )
        assert_problem(await api.post("/v1/messages", {**msg, "from": "pool"}), 422, "validation", "from")
        assert_problem(await api.post("/v1/messages", {**msg, "from": "pool:a b"}), 422, "validation", "from")
        r = await api.post("/v1/messages", {**msg, "from": "ACME", "expect": {"type": "text"}})
        assert_problem(r, 422, "validation", "expect")
        batch = {"messages": [{**msg, "expect": {"type": "score", "min": 3, "max": 1}}, msg]}
        result = (await api.post("/v1/messages/batch", batch)).json()
        assert (
            result["accepted"] == 1 and result["results"][0]["errors"][0]["field"] == "messages[0].expect.min"
        )
        assert_problem(await api.get("/v1/conversations/nope"), 404, "not-found")
        assert (await api.get("/v1/inbound")).json()["messages"] == []


async def test_open_conversations_survive_a_restart(tmp_path: Path) -> None:
    """SQLite reopened: a reply after the restart is linked; a deadline that fell due
    while the gateway was down expires as it starts."""
    db = tmp_path / "db"
    async with simulator() as sim:
        async with serving(config(sim, db)) as api:
            long = await send(api, {"from": "12345", "expect": {**SCORE, "timeout": "1h"}})
            short = await send(api, {"from": "447700900100", "expect": {**YES_NO, "timeout": "1s"}})
            accepted = trio.current_time()
            short_id = (await conversation(api, short))["id"]
        await trio.sleep_until(accepted + 1.2)  # its deadline passes while the gateway is down
        async with serving(config(sim, db)) as api:
            with trio.fail_after(10):
                while (await conversation(api, short))["state"] != "expired":
                    await trio.sleep(0.02)
            [event] = (await api.get("/v1/events", params={"type": "conversation.expired"})).json()["events"]
            assert event["subject"] == f"conversation:{short_id}"
            assert notes(await reply(api, sim, X, "12345", "ten")) == (long, "10", "exact")
            talk = await conversation(api, long)
            assert (talk["state"], talk["answer"]) == ("answered", "10")
            assert notes(await reply(api, sim, X, "447700900100", "yes")) == (None, None, None)


async def test_a_stop_to_one_number_of_a_pool_blocks_the_others(tmp_path: Path) -> None:
    """The pool would otherwise pick another of its numbers and text on after the STOP."""
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        first = await send(api, {"from": "pool:care", "expect": YES_NO})
        sender = (await api.get(f"/v1/messages/{first}")).json()["from"]
        item = await reply(api, sim, X, sender, "Stop please")
        assert item["keyword"] == "STOP"
        for body in ({"from": "pool:care", "expect": YES_NO}, {"from": "pool:care"}):
            view = (await api.get(f"/v1/messages/{await send(api, body)}")).json()
            assert view["status"] == "blocked", view
            assert view["error"].startswith(f"destination opted out of {sender} (STOP at "), view
        other = next(n for n in POOL if n != sender)
        r = await api.get(f"/v1/consent/+{X}", params={"sender": other})
        assert r.json()["allowed"] is False
        with trio.fail_after(10):  # the one confirmation reaches the handset, and nothing else
            while not [m for m in sim.store.select(limit=100) if b"unsubscribed" in m.payload]:
                await trio.sleep(0.02)
        sent = [(m.source_addr, m.payload) for m in sim.store.select(limit=100)]
        assert len(sent) == 2 and all(source == sender for source, _ in sent), sent


async def test_a_number_sent_with_a_plus_is_the_same_number(tmp_path: Path) -> None:
    """Carriers send source_addr as "+447700900001" or "447700900001": both are the X a
    message went to, for linking and for consent."""
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        asked = await send(api, {"from": "12345", "expect": YES_NO})
        item = await reply(api, sim, f"+{X}", "+12345", "yes")
        assert (item["source"], item["destination"]) == (X, "12345")
        assert notes(item) == (asked, "YES", "exact")
        assert (await reply(api, sim, f"+{X}", "12345", "STOP"))["keyword"] == "STOP"
        r = await api.get(f"/v1/consent/+{X}", params={"sender": "12345"})
        assert r.json()["allowed"] is False, r.text
        view = (await api.get(f"/v1/messages/{await send(api, {'from': '12345'})}")).json()
        assert view["status"] == "blocked", view
