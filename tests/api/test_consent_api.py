"""The consent API over real HTTP (``api.consent``), a STOP from a handset through the
whole app, and a restart with consent changes in flight (the SQLite file reopened)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import attrs
import trio

from smppgw.app import AppConfig
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.consent import OPTED_OUT, ConsentEvent, Scope
from tests.api.helpers import Api, app_config, assert_problem, serving, wall
from tests.api.test_access import as_key, make_key
from tests.gateway.helpers import simulator, smsc

N = "447700900001"
TWOWAY = {"consent": {"brand": "Acme"}, "programmes": {"promo": ["12345", "447700900100"]}}
DOWN = {
    "name": "a",
    "host": "127.0.0.1",
    "port": 1,
    "system_id": "x",
    "password": "y",
    "connect_timeout": 0.2,
}


def config(smscs: list[dict[str, Any]], db: Path) -> AppConfig:
    return attrs.evolve(app_config(smscs, db), twoway=twoway_from_dict(TWOWAY))


async def send(api: Api, sender: str, to: str = N, text: str = "Offer") -> dict[str, Any]:
    r = await api.post("/v1/messages", {"to": to, "from": sender, "text": text})
    assert r.status_code == 202, r.text
    return dict(r.json())


async def test_withdraw_give_and_read_consent(tmp_path: Path) -> None:
    async with serving(config([DOWN], tmp_path / "db")) as api:
        assert (await api.get(f"/v1/consent/{N}")).json() == {"number": N, "scopes": [], "history": []}
        r = await api.http.request("DELETE", api.url + "/v1/consent/+447700900001",
                                   json={"sender": "12345", "reason": "asked by phone"})  # fmt: skip
        assert r.status_code == 200, r.text
        recorded = r.json()["recorded"]
        assert (recorded["state"], recorded["scope"], recorded["sender"], recorded["source"]) == (
            OPTED_OUT, "sender", "12345", "api",
        )  # fmt: skip
        assert recorded["reason"] == "asked by phone" and abs(wall(recorded["at"]) - time.time()) < 30
        blocked = await send(api, "12345")
        assert blocked["status"] == "blocked"
        error = (await api.get(f"/v1/messages/{blocked['id']}")).json()["error"]
        assert error.startswith("destination opted out of 12345 (api at ")
        assert (await send(api, "67890"))["status"] == "queued"
        narrowed = (await api.get(f"/v1/consent/{N}", params={"sender": "12345"})).json()
        assert narrowed["allowed"] is False and narrowed["reason"] == error
        assert (await api.get(f"/v1/consent/{N}", params={"sender": "67890"})).json()["allowed"] is True
        # A programme withdrawn through the query parameters; then consent given back.
        r = await api.http.delete(api.url + f"/v1/consent/{N}", params={"programme": "promo"})
        assert r.status_code == 200 and r.json()["recorded"]["programme"] == "promo"
        assert (await send(api, "447700900100"))["status"] == "blocked"
        for fields in ({"sender": "12345"}, {"programme": "promo"}):
            assert (await api.http.put(api.url + f"/v1/consent/{N}", json=fields)).status_code == 200
        assert (await send(api, "12345"))["status"] == "queued"
        view = (await api.get(f"/v1/consent/{N}")).json()
        assert [e["state"] for e in view["history"]] == ["opted_out", "opted_out", "opted_in", "opted_in"]
        assert {(s["scope"], s["state"]) for s in view["scopes"]} == {
            ("sender", "opted_in"),
            ("programme", "opted_in"),
        }
        events = (await api.get("/v1/events", params={"type": "consent.changed"})).json()["events"]
        assert [(e["subject"], e["sequence"]) for e in events] == [(f"consent:{N}", i) for i in range(1, 5)]


async def test_a_withdrawal_blocks_what_is_queued_within_its_scope(tmp_path: Path) -> None:
    async with serving(config([DOWN], tmp_path / "db")) as api:
        queued, other = await send(api, "12345"), await send(api, "67890")
        r = await api.http.request("DELETE", api.url + f"/v1/consent/{N}", json={"sender": "12345"})
        assert r.json()["blocked_queued_parts"] == 1
        assert (await api.get(f"/v1/messages/{queued['id']}")).json()["status"] == "blocked"
        assert (await api.get(f"/v1/messages/{other['id']}")).json()["status"] == "queued"


async def test_bad_input_is_a_422_naming_the_field(tmp_path: Path) -> None:
    async with serving(config([DOWN], tmp_path / "db")) as api:
        assert_problem(await api.get("/v1/consent/not-a-number"), 422, "validation", "number", where="path")
        assert_problem(await api.get(f"/v1/consent/{N}", params={"sender": "+44 12"}), 422, "validation",
                       "sender", where="query")  # fmt: skip
        bad = [
            ({"sender": "12345", "programme": "promo"}, "programme"),
            ({"programme": "nope"}, "programme"),
            ({"sendr": "12345"}, "sendr"),
            ({"reason": "x" * 201}, "reason"),
        ]
        for body, field in bad:
            r = await api.http.put(api.url + f"/v1/consent/{N}", json=body)
            assert_problem(r, 422, "validation", field)
        assert_problem(await api.http.put(api.url + f"/v1/consent/{N}", content=b"[1"), 422, "validation", "")
        assert (await api.get(f"/v1/consent/{N}")).json()["history"] == []  # nothing recorded


async def test_import_and_export_round_trip(tmp_path: Path) -> None:
    rows = "number,state,sender,programme,reason,at\n" \
           f"{N},opted_out,12345,,paper form,2026-01-02T03:04:05Z\n" \
           "+447700900002,opted_out,,promo,,\n" \
           "447700900003,opted_in,,,web,\n"  # fmt: skip
    async with serving(config([DOWN], tmp_path / "db")) as api:
        r = await api.http.post(
            api.url + "/v1/consent/import", content=rows, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 200 and r.json()["imported"] == 3, r.text
        lines = "\n".join(json.dumps(x) for x in [{"number": "447700900004", "state": "opted_out"}]) + "\n"
        r = await api.http.post(api.url + "/v1/consent/import", content=lines,
                                headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert r.json() == {"imported": 1, "blocked_queued_parts": 0}
        assert (await send(api, "12345"))["status"] == "blocked"
        assert (await send(api, "447700900100", to="447700900002"))["status"] == "blocked"
        assert (await send(api, "12345", to="447700900004"))["status"] == "blocked"
        exported = await api.get("/v1/consent/export", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(t["number"], t["state"], t["source"]) for t in table][:2] == [
            (N, "opted_out", "import"), ("447700900002", "opted_out", "import"),
        ]  # fmt: skip
        assert table[0]["at"] == "2026-01-02T03:04:05.000Z" and table[0]["reason"] == "paper form"
        jsonl = (await api.get("/v1/consent/export")).text.splitlines()
        assert len(jsonl) == 4 and json.loads(jsonl[3])["number"] == "447700900004"
    # The export imports back as it was into another gateway: the same decisions.
    async with serving(config([DOWN], tmp_path / "db2")) as api:
        r = await api.http.post(api.url + "/v1/consent/import", content=exported.text,
                                headers={"content-type": "text/csv"})  # fmt: skip
        assert r.json()["imported"] == 4, r.text
        assert (await send(api, "12345"))["status"] == "blocked"
        assert (await send(api, "67890"))["status"] == "queued"


async def test_a_bad_import_row_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    async with serving(config([DOWN], tmp_path / "db")) as api:
        post = api.http.post
        rows = f"number,state\n{N},opted_out\n{N},maybe\nnot-a-number,opted_in\n"
        r = await post(api.url + "/v1/consent/import", content=rows, headers={"content-type": "text/csv"})
        assert_problem(r, 422, "validation", "rows[1].state", "rows[2].number")
        future = '{"number": "447700900001", "state": "opted_in", "at": "2999-01-01T00:00:00Z"}\n'
        r = await post(
            api.url + "/v1/consent/import", content=future, headers={"content-type": "application/x-ndjson"}
        )
        assert_problem(r, 422, "validation", "rows[0].at")
        r = await post(
            api.url + "/v1/consent/import", content="a,b\n1,2\n", headers={"content-type": "text/csv"}
        )
        assert_problem(r, 422, "validation", "")
        r = await post(api.url + "/v1/consent/import", content=rows, headers={"content-type": "text/plain"})
        assert_problem(r, 422, "validation", "", where="header")
        extra = f"number,state,reason\n{N},opted_out,ok\n{N},opted_out,paper, signed\n"  # an unquoted comma
        r = await post(api.url + "/v1/consent/import", content=extra, headers={"content-type": "text/csv"})
        assert_problem(r, 422, "validation", "rows[1]")
        assert r.json()["detail"] == "rows[1]: line 3 has 4 fields, the header 3", r.text
        r = await post(
            api.url + "/v1/consent/import",
            content=f'number,state\n"{N},opted_out\n',
            headers={"content-type": "text/csv"},
        )  # a quote never closed: the number runs to the end, the row has no state
        assert_problem(r, 422, "validation", "rows[0].state")
        assert (await api.get("/v1/consent/export")).text == ""


async def test_reading_consent_needs_consent_read_and_changing_it_consent_write(tmp_path: Path) -> None:
    db = tmp_path / "db"
    reader, writer = make_key(db, "consent:read"), make_key(db, "consent:write")
    async with serving(config([DOWN], db)) as api, as_key(api, reader) as r, as_key(api, writer) as w:
        assert (await r.get(f"/v1/consent/{N}")).status_code == 200
        assert (await r.get("/v1/consent/export")).status_code == 200
        assert_problem(await r.put(f"/v1/consent/{N}"), 403, "forbidden")
        assert (await w.put(f"/v1/consent/{N}")).status_code == 200
        assert (await w.get(f"/v1/consent/{N}")).status_code == 200  # write includes read


async def test_a_stop_from_a_handset_through_the_whole_app(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config([smsc(sim)], tmp_path / "db")) as api:
        await api.wait_ready()
        sim.inject_mo(system_id=None, source_addr=N, destination_addr="12345", text="STOP")
        history: list[dict[str, Any]] = []
        with trio.fail_after(10):
            while not history:
                history = (await api.get(f"/v1/consent/{N}")).json()["history"]
                await trio.sleep(0.02)
        (stop,) = history
        assert (stop["keyword"], stop["text"], stop["scope"], stop["sender"]) == (
            "STOP",
            "STOP",
            "sender",
            "12345",
        )
        inbound = (await api.get("/v1/inbound")).json()["messages"]
        assert inbound[0]["keyword"] == "STOP" and stop["inbound_seq"] == inbound[0]["seq"]
        blocked = await send(api, "12345")
        assert blocked["status"] == "blocked"
        with trio.fail_after(10):
            while not [m for m in sim.store.select(limit=10) if m.destination_addr == N]:
                await trio.sleep(0.02)
        await trio.sleep(0.2)
        got = [m for m in sim.store.select(limit=10) if m.destination_addr == N]
        assert len(got) == 1 and b"You are unsubscribed from Acme messages" in got[0].payload


async def test_a_restart_with_consent_changes_in_flight(tmp_path: Path) -> None:
    """A STOP written just before the process stopped, before it blocked the queue: after
    the restart the queued and the scheduled message are blocked at dispatch, not sent."""
    db = tmp_path / "gw.sqlite3"
    async with serving(config([DOWN], db)) as api:
        queued = await send(api, "12345")
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        r = await api.post("/v1/messages", {"to": N, "from": "12345", "text": "Later", "send_at": soon})
        scheduled = r.json()
        stop = ConsentEvent(number=N, scope=Scope.of("12345"), state=OPTED_OUT, source="keyword",
                            at=time.time(), keyword="STOP", text="stop please", inbound_seq=1)  # fmt: skip
        api.store.add_consent([stop])  # durable; the process stops before the queue hears of it
    async with simulator() as sim, serving(config([smsc(sim)], db)) as api:
        for message in (queued, scheduled):
            view = await api.wait_status(message["id"], {"blocked", "delivered"}, timeout=10)
            assert view["status"] == "blocked" and view["error"].startswith(
                "destination opted out of 12345 (STOP at "
            )
        assert [m for m in sim.store.select(limit=10) if m.destination_addr == N] == []
        (kept,) = (await api.get(f"/v1/consent/{N}")).json()["history"]
        assert kept["text"] == "stop please"
        assert (await send(api, "67890"))["status"] == "queued"  # another sender
