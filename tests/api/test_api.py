"""The queue API over real HTTP, in front of the real gateway and a real simulator."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from smppgw.store.memory import MemoryStore
from tests.api.helpers import KEY, app_config, assert_problem, serving, wall
from tests.gateway.helpers import simulator, smsc

MSG = {"to": "+447700900001", "from": "12345", "text": "Hello from the API"}


async def test_a_message_is_accepted_sent_and_its_receipt_shown(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        r = await api.post("/v1/messages", MSG)
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["segments"] == 1 and len(accepted["id"]) == 32
        view = await api.wait_status(accepted["id"], {"delivered"})
        assert view["to"] == "447700900001" and view["from"] == "12345"
        [part] = view["parts"]
        assert part["receipt_stat"] == "DELIVRD" and part["smsc_message_id"]
        submitted, receipt, created = (
            wall(part["submitted_at"]),
            wall(part["receipt_at"]),
            wall(view["created_at"]),
        )
        assert created <= submitted <= receipt <= wall(view["updated_at"])
        assert abs(time.time() - created) < 30  # wall-clock UTC, not the trio clock
        # The simulator really got it, with the text the API was given.
        [m] = [m for m in sim.store.select(limit=10) if m.destination_addr == "447700900001"]
        assert m.payload.decode() == MSG["text"]


async def test_every_v1_call_needs_a_known_key(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-key-123"}):
            async with httpx.AsyncClient(headers=headers) as anon:
                r = await anon.post(api.url + "/v1/messages", json=MSG)
                assert_problem(r, 401, "unauthorized")
                assert r.headers["www-authenticate"] == "Bearer"
                assert_problem(await anon.get(api.url + "/v1/inbound"), 401, "unauthorized")
        async with httpx.AsyncClient(headers={"X-API-Key": KEY}) as other:
            assert (await other.post(api.url + "/v1/messages", json=MSG)).status_code == 202
        assert (await httpx.AsyncClient().get(api.url + "/healthz")).json() == {"status": "ok"}
        assert sum(api.store.counts().values()) == 1  # only the keyed call was stored


async def test_bad_bodies_get_a_reason_naming_the_field(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        cases = [
            ({**MSG, "bogus": 1}, "bogus", "unknown field"),
            ({"to": "447700900001", "from": "12345"}, "text", "exactly one of text and hex"),
            ({**MSG, "hex": "00"}, "text", "exactly one of text and hex"),
            ({**MSG, "priority": 9}, "priority", "<= 3"),
            ({**MSG, "validity": -1}, "validity", "> 0"),
            ({**MSG, "callback_url": "not a url"}, "callback_url", "URL"),
            ({**MSG, "encoding": "ebcdic"}, "encoding", "ebcdic"),
            ({"to": "447700900001", "from": "12345", "hex": "00" * 141}, "hex", "280"),  # > 140 octets
            ({"to": "447700900001", "from": "12345", "hex": "zz"}, "hex", "regex"),
            ({**MSG, "tags": ["a", 5]}, "tags[1]", "Expected `str`"),
        ]
        for body, field, needle in cases:
            problem = assert_problem(await api.post("/v1/messages", body), 422, "validation", field)
            assert needle in problem["errors"][0]["message"], (needle, problem)
        r = await api.http.post(
            api.url + "/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert "not JSON" in assert_problem(r, 400, "bad-request")["detail"]
        missing = assert_problem(
            await api.post("/v1/messages", {"from": "12345", "text": "x"}), 422, "validation", "to"
        )
        assert missing["detail"] == "to: Object missing required field `to`"
        # Shape is fine but the gateway cannot send it: the same shape, naming the field.
        for body, field, needle in [
            ({**MSG, "to": "HELLO"}, "to", "not a phone number"),
            ({**MSG, "text": "x" * 40_000}, "text", "parts"),
            ({**MSG, "text": "Ω≈ç", "encoding": "gsm7"}, "text", "GSM 03.38"),
            ({"to": "447700900001", "from": "12345", "hex": "0"}, "hex", "even"),
            ({**MSG, "from": "A-VERY-LONG-SENDER"}, "from", "11 characters"),
        ]:
            problem = assert_problem(await api.post("/v1/messages", body), 422, "validation", field)
            assert needle in problem["errors"][0]["message"] and needle in problem["detail"], problem
        assert api.store.counts() == {}  # nothing half-accepted


async def test_idempotency_key_returns_the_first_message_and_refuses_another(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        body = {**MSG, "idempotency_key": "order-17"}
        first = await api.post("/v1/messages", body)
        again = await api.post("/v1/messages", {**body, "to": "447700900001"})  # same number, other form
        assert first.status_code == 202 and again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        other = await api.post("/v1/messages", {**body, "text": "a different message"})
        assert "order-17" in assert_problem(other, 409, "idempotency-conflict")["detail"]
        await api.wait_status(first.json()["id"], {"delivered"})
        assert len([m for m in sim.store.select(limit=10)]) == 1  # sent once


async def test_batch_answers_each_item_in_order(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        items = [
            {"to": "447700900011", "from": "12345", "text": "one"},
            {"to": "nope", "from": "12345", "text": "two"},
            {"to": "447700900013", "from": "12345", "hex": "0a0b0c"},
            {"to": "447700900014", "from": "12345", "text": "dup", "idempotency_key": "b1"},
            {"to": "447700900015", "from": "12345", "text": "dup", "idempotency_key": "b1"},
        ]
        r = await api.post("/v1/messages/batch", {"messages": items})
        assert r.status_code == 202, r.text
        out = r.json()
        assert out["accepted"] == 3 and out["rejected"] == 2
        results = out["results"]
        assert "id" in results[0] and "id" in results[2] and "id" in results[3]
        # A refused item: the problem the single POST would answer, naming the item's field.
        assert results[1]["status"] == 422 and results[1]["type"].endswith(":validation")
        assert results[1]["errors"] == [
            {"field": "messages[1].to", "in": "body", "message": "'nope' is not a phone number"}
        ]
        assert results[4]["status"] == 409 and "repeats" in results[4]["detail"]
        assert results[4]["type"] == "urn:smppgw:problem:idempotency-conflict"
        for i in (0, 2, 3):
            await api.wait_status(results[i]["id"], {"delivered"})
        binary = [m for m in sim.store.select(limit=10) if m.destination_addr == "447700900013"]
        assert binary[0].data_coding == 4 and binary[0].payload == b"\x0a\x0b\x0c"
        assert (await api.post("/v1/messages/batch", {"messages": []})).status_code == 422
        too_many = {"messages": [items[0]] * 1001}
        assert (await api.post("/v1/messages/batch", too_many)).status_code == 422


async def test_opt_outs_block_sends_and_can_be_lifted(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        number = "+447700900077"
        assert (await api.get(f"/v1/optouts/{number}")).status_code == 404
        r = await api.http.put(api.url + f"/v1/optouts/{number}", json={"reason": "STOP"})
        assert r.status_code == 200 and r.json()["number"] == "447700900077" and r.json()["reason"] == "STOP"
        assert abs(wall(r.json()["created_at"]) - time.time()) < 30
        assert (await api.get("/v1/optouts/447700900077")).status_code == 200  # same number, other form
        blocked = await api.post("/v1/messages", {**MSG, "to": number})
        assert blocked.status_code == 202 and blocked.json()["status"] == "blocked"
        view = (await api.get(f"/v1/messages/{blocked.json()['id']}")).json()
        assert view["status"] == "blocked" and view["error"].startswith("destination opted out")
        assert (await api.http.delete(api.url + f"/v1/optouts/{number}")).status_code == 204
        assert (await api.http.delete(api.url + f"/v1/optouts/{number}")).status_code == 404
        assert_problem(await api.get("/v1/optouts/not-a-number"), 422, "validation", "number", where="path")
        assert_problem(await api.get(f"/v1/optouts/{number}"), 404, "not-found")
        sent = await api.post("/v1/messages", {**MSG, "to": number})
        await api.wait_status(sent.json()["id"], {"delivered"})
        assert [m.destination_addr for m in sim.store.select(limit=10)] == ["447700900077"]


async def test_inbound_messages_are_stored_and_listed(tmp_path: Path) -> None:
    handsets = [{"match": "Reply YES", "replies": ["YES"], "delay": 0.05}]
    async with (
        simulator(behaviour={"handsets": handsets}) as sim,
        serving(app_config([smsc(sim)], tmp_path / "db")) as api,
    ):
        for i in range(3):
            await api.post("/v1/messages", {**MSG, "to": f"44770090010{i}", "text": "Reply YES to confirm"})
        listed: list[dict[str, object]] = []
        for _ in range(250):
            listed = (await api.get("/v1/inbound")).json()["messages"]
            if len(listed) == 3:
                break
            await api.http.get(api.url + "/healthz")
        assert {(m["source"], m["text"]) for m in listed} == {(f"44770090010{i}", "YES") for i in range(3)}
        assert all(abs(wall(m["received_at"]) - time.time()) < 30 for m in listed)
        first = (await api.get("/v1/inbound", params={"limit": 1})).json()
        assert len(first["messages"]) == 1
        rest = (await api.get("/v1/inbound", params={"after": first["next"]})).json()
        assert len(rest["messages"]) == 2
        assert_problem(
            await api.get("/v1/inbound", params={"limit": 0}), 422, "validation", "limit", where="query"
        )


async def test_readyz_metrics_and_unknown_ids(tmp_path: Path) -> None:
    down = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y",
            "connect_timeout": 0.2}  # fmt: skip
    async with serving(app_config([down], tmp_path / "db")) as api:
        r = await api.get("/readyz")
        assert r.status_code == 503 and r.json() == {"ready": False, "smscs": {"down": False}}
        # Accepted while the carrier is down: stored and queued, not refused.
        accepted = await api.post("/v1/messages", MSG)
        assert accepted.status_code == 202
        assert (await api.get(f"/v1/messages/{accepted.json()['id']}")).json()["status"] == "queued"
        assert_problem(await api.get("/v1/messages/0123"), 404, "not-found")
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db2")) as api:
        await api.wait_ready()  # fails unless /readyz turns 200 once the bind is up
        done = await api.post("/v1/messages", MSG)
        await api.wait_status(done.json()["id"], {"delivered"})
        text = (await api.get("/metrics")).text
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        assert samples[("smppgw_messages_total", (("status", "delivered"),))] == 1


async def test_an_opt_out_stops_what_is_already_queued_for_the_number(tmp_path: Path) -> None:
    down = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y",
            "connect_timeout": 0.2}  # fmt: skip
    async with serving(app_config([down], tmp_path / "db")) as api:
        queued = await api.post("/v1/messages", {**MSG, "text": "y" * 200})  # 2 parts, carrier down
        other = await api.post("/v1/messages", {**MSG, "to": "447700900002"})
        r = await api.http.put(api.url + "/v1/optouts/+447700900001", json={"reason": "STOP"})
        assert r.status_code == 200 and r.json()["blocked_queued_parts"] == 2
        view = (await api.get(f"/v1/messages/{queued.json()['id']}")).json()
        assert view["status"] == "blocked" and view["error"].startswith("destination opted out")
        assert {p["status"] for p in view["parts"]} == {"blocked"}
        assert (await api.get(f"/v1/messages/{other.json()['id']}")).json()["status"] == "queued"
        assert api.gateway.queued() == 1


async def test_the_api_runs_on_the_memory_store_too(tmp_path: Path) -> None:
    """The API and the app use the store protocols only: the in-memory backend serves
    the same calls, and nothing is written where SQLite would be."""
    store = MemoryStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        assert api.store is store
        body = {**MSG, "idempotency_key": "mem-1"}
        first = await api.post("/v1/messages", body)
        assert first.status_code == 202
        assert (await api.post("/v1/messages", body)).json()["id"] == first.json()["id"]
        view = await api.wait_status(first.json()["id"], {"delivered"})
        assert view["parts"][0]["receipt_stat"] == "DELIVRD" and view["idempotency_key"] == "mem-1"
        r = await api.http.put(api.url + "/v1/optouts/447700900002", json={"reason": "STOP"})
        assert r.status_code == 200 and r.json()["reason"] == "STOP" and r.json()["blocked_queued_parts"] == 0
        blocked = await api.post("/v1/messages", {**MSG, "to": "447700900002"})
        assert blocked.json()["status"] == "blocked"
        assert (await api.get("/v1/inbound")).json() == {"messages": [], "next": 0}
    assert store.counts() == {"delivered": 1, "blocked": 1}
    assert not (tmp_path / "db").exists()
