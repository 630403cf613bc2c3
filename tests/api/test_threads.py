"""Threads end to end: the real app over HTTP in front of the real simulator over loopback;
the customer's texts injected at the simulator as a handset's MO messages, the agent's
replies read back at the simulator as what the handset received."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from simulator.smsc import Simulator
from smppgw.api.bodies import MAX_TEXT
from smppgw.app import AppConfig
from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict
from tests.api.helpers import Api, app_config, assert_problem, serving, wall
from tests.api.test_access import as_key, make_key
from tests.gateway.helpers import ACCOUNT, simulator, smsc

X, Y, SENDER = "447700900001", "447700900002", "12345"


def config(sim: Simulator, db: Path, **kw: Any) -> AppConfig:
    return attrs.evolve(app_config([smsc(sim)], db), **kw)


async def send(api: Api, text: str, to: str = X, sender: str = SENDER) -> str:
    r = await api.post("/v1/messages", {"to": "+" + to, "from": sender, "text": text})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def text_in(api: Api, sim: Simulator, text: str, source: str = X, sender: str = SENDER) -> int:
    """The handset ``source`` texts ``text`` to our ``sender``; returns its inbound seq once stored."""
    before = (await api.get("/v1/inbound", params={"limit": 1000})).json()["next"]
    sim.inject_mo(system_id=ACCOUNT, source_addr=source, destination_addr=sender, text=text)
    with trio.fail_after(10):
        while not (items := (await api.get("/v1/inbound", params={"after": before})).json()["messages"]):
            await trio.sleep(0.02)
    return int(items[0]["seq"])


async def thread_id(api: Api, number: str = X) -> str:
    r = await api.get("/v1/threads", params={"number": "+" + number})
    assert r.status_code == 200, r.text
    [found] = r.json()["threads"]
    return str(found["id"])


async def received(sim: Simulator, text: str, timeout: float = 10.0) -> list[Any]:
    """What handsets received starting with ``text``, once there is some."""
    with trio.fail_after(timeout):
        while not (found := [m for m in sim.store.select(limit=1000) if m.payload.startswith(text.encode())]):
            await trio.sleep(0.02)
    return found


async def test_a_thread_holds_mt_and_mo_in_order(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        first = await send(api, "Your parcel is on its way")
        a = await text_in(api, sim, "Can I change the address?")
        second = await send(api, "Which address?")
        b = await text_in(api, sim, "12 High St")
        await send(api, "Someone else's", to=Y)
        tid = await thread_id(api)
        r = await api.get(f"/v1/threads/{tid}")
        assert r.status_code == 200, r.text
        thread = r.json()
        assert (thread["number"], thread["sender"], thread["status"], thread["message_count"]) == (
            X, SENDER, "waiting_on_agent", 4,
        )  # fmt: skip
        got = [
            (m["n"], m["direction"], m.get("id"), m.get("inbound_seq"), m["text"]) for m in thread["messages"]
        ]
        assert got == [
            (1, "mt", first, None, "Your parcel is on its way"), (2, "mo", None, a, "Can I change the address?"),
            (3, "mt", second, None, "Which address?"), (4, "mo", None, b, "12 High St"),
        ]  # fmt: skip
        times = [wall(m["at"]) for m in thread["messages"]]
        assert times == sorted(times) and wall(thread["last_message_at"]) == times[-1]
        assert {m["status"] for m in thread["messages"] if m["direction"] == "mo"} == {"received"}
        assert all(m["status"] and m["from"] and m["to"] for m in thread["messages"])
        # The rest of the messages after a position: the page's ``next``
        rest = (await api.get(f"/v1/threads/{tid}", params={"after": 2, "limit": 1})).json()
        assert [m["n"] for m in rest["messages"]] == [3] and rest["next"] == 3
        events = (await api.get("/v1/events", params={"type": "thread.message", "limit": 100})).json()[
            "events"
        ]
        mine = [e for e in events if e["subject"] == f"thread:{tid}"]
        assert [e["data"]["n"] for e in mine] == [1, 2, 3, 4]
        assert [e["data"]["direction"] for e in mine] == ["mt", "mo", "mt", "mo"]
        # The first MT was sent before the thread was: attached when the reply made it
        assert [e["data"].get("backfill", False) for e in mine] == [True, False, False, False]
        assert all(e["data"]["thread_id"] == tid for e in mine)
        assert (await api.get("/v1/threads", params={"number": "+" + Y})).json()["threads"] == []


async def test_an_inbound_text_reopens_a_closed_thread(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await send(api, "Your order has shipped")
        await text_in(api, sim, "thanks!")
        tid = await thread_id(api)
        r = await api.http.patch(f"{api.url}/v1/threads/{tid}", json={"status": "closed"})
        assert r.status_code == 200 and r.json()["status"] == "closed", r.text
        await send(api, "Rate us 0-10")  # automated: it stays closed
        assert (await api.get(f"/v1/threads/{tid}")).json()["status"] == "closed"
        await text_in(api, sim, "where is it though?")
        thread = (await api.get(f"/v1/threads/{tid}")).json()
        assert (thread["status"], thread["message_count"]) == ("waiting_on_agent", 4)
        assert await thread_id(api) == tid  # the same thread, reopened
        updates = (await api.get("/v1/events", params={"type": "thread.updated", "limit": 100})).json()[
            "events"
        ]
        changes = [e["data"]["changes"]["status"] for e in updates if e["subject"] == f"thread:{tid}"]
        assert changes[-2:] == [
            {"from": "waiting_on_agent", "to": "closed"},
            {"from": "closed", "to": "waiting_on_agent"},
        ]


async def test_an_agent_reply_reaches_the_handset_from_the_threads_sender(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await text_in(api, sim, "Is the shop open on Sunday?")  # the thread starts with the customer
        tid = await thread_id(api)
        r = await api.post(f"/v1/threads/{tid}/messages", {"text": "Yes, 10:00-16:00.", "agent": "alice"})
        assert r.status_code == 202, r.text
        body = r.json()
        assert (body["message"]["from"], body["message"]["to"]) == (SENDER, X)
        assert body["thread"]["status"] == "waiting_on_customer"
        [got] = await received(sim, "Yes, 10:00-16:00.")
        assert (got.source_addr, got.destination_addr) == (SENDER, X)
        await api.wait_status(body["message"]["id"], {"delivered"})
        thread = (await api.get(f"/v1/threads/{tid}")).json()
        last = thread["messages"][-1]
        assert (last["direction"], last["id"], last["author"], last["status"]) == (
            "mt", body["message"]["id"], "alice", "delivered",
        )  # fmt: skip
        assert "thread" in (await api.get(f"/v1/messages/{last['id']}")).json()["tags"]
        # Without "agent": the API key's name
        r = await api.post(f"/v1/threads/{tid}/messages", {"text": "Anything else?"})
        assert r.status_code == 202, r.text
        last = (await api.get(f"/v1/threads/{tid}", params={"after": 2})).json()["messages"][-1]
        assert last["author"] == "config"
        assert_problem(await api.post("/v1/threads/thr_nope/messages", {"text": "hi"}), 404, "not-found")
        for body in ({"text": "x" * (MAX_TEXT + 1)}, {"text": ""}, {"agent": "alice"}):
            assert_problem(await api.post(f"/v1/threads/{tid}/messages", body), 422, "validation", "text")
        bad = await api.post(f"/v1/threads/{tid}/messages", {"text": "hi", "tags": ["ok", "not ok"]})
        assert_problem(bad, 422, "validation", "tags[1]")


async def test_a_reply_to_an_opted_out_number_is_blocked_with_the_reason(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await text_in(api, sim, "I have a question")
        tid = await thread_id(api)
        await text_in(api, sim, "STOP")
        await received(sim, "You are unsubscribed")  # the STOP's one confirmation, sent first
        with trio.fail_after(10):  # and in the thread
            while (await api.get(f"/v1/threads/{tid}")).json()["message_count"] < 3:
                await trio.sleep(0.02)
        before = sum(api.store.counts().values())
        sent_before = len(sim.store.select(limit=1000))
        r = await api.post(f"/v1/threads/{tid}/messages", {"text": "Here is the answer", "agent": "bob"})
        problem = assert_problem(r, 409, "reply-blocked")
        assert "opted out" in problem["detail"], problem
        await trio.sleep(0.3)  # nothing stored, nothing on its way
        assert sum(api.store.counts().values()) == before
        assert len(sim.store.select(limit=1000)) == sent_before
        assert not [m for m in sim.store.select(limit=1000) if m.payload == b"Here is the answer"]
        thread = (await api.get(f"/v1/threads/{tid}")).json()
        assert all(m.get("author") != "bob" for m in thread["messages"])


async def test_quiet_hours_hold_an_agents_reply_like_any_message(tmp_path: Path) -> None:
    hour = datetime.now(UTC).hour  # a window that opens 6 hours from now: now is quiet
    window = f"{(hour + 6) % 24:02d}:00-{(hour + 7) % 24:02d}:00"
    quiet = twoway_from_dict({"quiet_hours": [{"window": window, "tags": ["billing"], "timezone": "UTC"}]})
    async with simulator() as sim, serving(config(sim, tmp_path / "db", twoway=quiet)) as api:
        await text_in(api, sim, "When is my bill due?")
        tid = await thread_id(api)
        held = await api.post(f"/v1/threads/{tid}/messages", {"text": "On the 5th.", "tags": ["billing"]})
        assert held.status_code == 202, held.text
        message = held.json()["message"]
        assert message["status"] == "scheduled" and message["tags"] == ["thread", "billing"]
        opens = wall(message["send_at"]) - datetime.now(UTC).timestamp()
        assert 4 * 3600 < opens <= 6 * 3600 + 60, message["send_at"]
        plain = await api.post(f"/v1/threads/{tid}/messages", {"text": "Anything else?"})  # no rule's tag
        assert plain.json()["message"]["status"] in {"queued", "submitted", "delivered"}, plain.text
        await received(sim, "Anything else?")
        assert not [m for m in sim.store.select(limit=100) if m.payload == b"On the 5th."]


async def test_patch_assigns_tags_closes_and_names_each_bad_field(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await text_in(api, sim, "hello")
        tid = await thread_id(api)
        url = f"{api.url}/v1/threads/{tid}"
        r = await api.http.patch(url, json={"assignee": "carol", "tags": ["vip", "billing", "vip"]})
        assert r.status_code == 200, r.text
        assert (r.json()["assignee"], r.json()["tags"], r.json()["status"]) == (
            "carol",
            ["vip", "billing"],
            "waiting_on_agent",
        )
        r = await api.http.patch(url, json={"assignee": None, "status": "open"})
        assert (r.json()["assignee"], r.json()["status"]) == (None, "open")
        for body, field in [
            ({"status": "done"}, "status"),
            ({"assignee": 7}, "assignee"),
            ({"assignee": ""}, "assignee"),
            ({"assignee": "x" * 65}, "assignee"),
            ({"tags": "vip"}, "tags"),
            ({"tags": ["ok", "no spaces"]}, "tags[1]"),
            ({"tags": [f"t{i}" for i in range(17)]}, "tags"),
            ({"colour": "red"}, "colour"),
            ({}, ""),
        ]:
            assert_problem(await api.http.patch(url, json=body), 422, "validation", field)
        not_json = await api.http.patch(url, content=b"{nope", headers={"content-type": "application/json"})
        assert_problem(not_json, 422, "validation", "")
        assert_problem(
            await api.http.patch(f"{api.url}/v1/threads/thr_nope", json={"status": "closed"}),
            404,
            "not-found",
        )
        thread = (await api.get(f"/v1/threads/{tid}")).json()
        assert (thread["assignee"], thread["tags"], thread["status"]) == (None, ["vip", "billing"], "open")
        updates = (await api.get("/v1/events", params={"type": "thread.updated", "limit": 100})).json()[
            "events"
        ]
        last = [e for e in updates if e["subject"] == f"thread:{tid}"][-1]["data"]
        assert last["changes"] == {
            "assignee": {"from": "carol", "to": None},
            "status": {"from": "waiting_on_agent", "to": "open"},
        }
        assert (last["by"], last["reason"]) == ("config", "api")


async def test_the_listing_pages_with_cursors_and_filters(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        numbers = [f"4477009001{i:02d}" for i in range(6)]
        for n in numbers:  # a campaign: no thread, no thread event, until a number answers
            await send(api, "Hello", to=n)
        assert (await api.get("/v1/threads")).json()["threads"] == []
        assert (await api.get("/v1/events", params={"type": "thread.message"})).json()["events"] == []
        for i in (0, 2, 3, 4, 1):  # numbers[5] never answers
            await text_in(api, sim, "hi", source=numbers[i])
        await send(
            api, "Thanks!", to=numbers[4]
        )  # the pair has a thread: filed, and it waits on the customer
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/v1/threads", params=params)).json()
            seen += [t["number"] for t in page["threads"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [numbers[4], numbers[1], numbers[3], numbers[2], numbers[0]]
        waiting = (await api.get("/v1/threads", params={"status": "waiting_on_customer"})).json()["threads"]
        assert [(t["number"], t["message_count"]) for t in waiting] == [(numbers[4], 3)]
        by_sender = (await api.get("/v1/threads", params={"sender": SENDER, "limit": 1000})).json()["threads"]
        assert len(by_sender) == 5
        assert_problem(
            await api.get("/v1/threads", params={"status": "pending"}),
            422,
            "validation",
            "status",
            where="query",
        )
        assert_problem(
            await api.get("/v1/threads", params={"cursor": "bm9wZQ"}),
            422,
            "validation",
            "cursor",
            where="query",
        )
        assert_problem(
            await api.get("/v1/threads", params={"limit": 0}), 422, "validation", "limit", where="query"
        )
        assert_problem(
            await api.get("/v1/threads", params={"number": "12"}), 422, "validation", "number", where="query"
        )


async def test_scopes_and_tenants(tmp_path: Path) -> None:
    db = tmp_path / "db"
    reader = make_key(db, "threads:read")
    writer = make_key(db, "threads:write")
    messages = make_key(db, "messages:read", "messages:send", "inbound:read")
    acme = make_key(db, "threads:write", tenant="acme")
    async with simulator() as sim, serving(config(sim, db, tenants={SENDER: "acme"})) as api:
        await text_in(api, sim, "hi")  # to acme's number: acme's thread
        await send(api, "no tenant, from a number of none", to=Y, sender="54321")
        await text_in(api, sim, "and who are you?", source=Y, sender="54321")  # its thread: no tenant
        tid = await thread_id(api)
        async with (
            as_key(api, reader) as r,
            as_key(api, writer) as w,
            as_key(api, messages) as m,
            as_key(api, acme) as a,
        ):
            assert (await r.get(f"/v1/threads/{tid}")).status_code == 200
            problem = assert_problem(
                await r.post(f"/v1/threads/{tid}/messages", json={"text": "hi"}), 403, "forbidden"
            )
            assert problem["detail"].endswith("lacks the scope threads:write")
            assert_problem(await r.patch(f"/v1/threads/{tid}", json={"status": "closed"}), 403, "forbidden")
            problem = assert_problem(await m.get("/v1/threads"), 403, "forbidden")
            assert problem["detail"].endswith("lacks the scope threads:read")
            assert (await w.get("/v1/threads")).status_code == 200  # write includes read
            # acme sees its thread (the one of its number), not the other
            mine = (await a.get("/v1/threads")).json()["threads"]
            assert [t["id"] for t in mine] == [tid] and mine[0]["tenant"] == "acme"
            assert (await a.patch(f"/v1/threads/{tid}", json={"assignee": "dora"})).status_code == 200
        all_threads = (await api.get("/v1/threads")).json()["threads"]
        assert len(all_threads) == 2  # a key without a tenant sees every thread
        other_thread = next(t for t in all_threads if t["number"] == Y)
        async with as_key(api, acme) as a:
            assert_problem(await a.get(f"/v1/threads/{other_thread['id']}"), 404, "not-found")
            assert_problem(
                await a.post(f"/v1/threads/{other_thread['id']}/messages", json={"text": "x"}),
                404,
                "not-found",
            )


async def test_threads_off_keeps_none_and_serves_no_threads_api(tmp_path: Path) -> None:
    async with (
        simulator() as sim,
        serving(config(sim, tmp_path / "db", twoway=twoway_from_dict({"threads": False}))) as api,
    ):
        await send(api, "Hello")
        await text_in(api, sim, "hi")
        assert_problem(await api.get("/v1/threads"), 404, "not-found")
        assert api.store.find_thread(None, X, SENDER) is None  # type: ignore[attr-defined]
        assert (await api.get("/v1/events", params={"type": "thread.message"})).json()["events"] == []


def test_a_bad_threads_setting_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^twoway\.threads: expected true or false"):
        twoway_from_dict({"threads": "yes"})
    with pytest.raises(ConfigError, match=r"^twoway\.thread_backfill: an integer in 0\.\.10000, got -1"):
        twoway_from_dict({"thread_backfill": -1})
    with pytest.raises(ConfigError, match=r"^twoway\.thread_backfill_days: "):
        twoway_from_dict({"thread_backfill_days": 0})
    got = twoway_from_dict({"thread_backfill": 5, "thread_backfill_days": 1.5})
    assert (got.thread_backfill, got.thread_backfill_days) == (5, 1.5)


async def test_the_backfill_setting_bounds_what_a_new_thread_takes(tmp_path: Path) -> None:
    twoway = twoway_from_dict({"thread_backfill": 1})
    async with simulator() as sim, serving(config(sim, tmp_path / "db", twoway=twoway)) as api:
        await send(api, "First reminder")
        last = await send(api, "Second reminder")
        await text_in(api, sim, "ok ok")
        thread = (await api.get(f"/v1/threads/{await thread_id(api)}")).json()
        assert [(m["direction"], m.get("id"), m["text"]) for m in thread["messages"]] == [
            ("mt", last, "Second reminder"), ("mo", None, "ok ok"),
        ]  # fmt: skip
