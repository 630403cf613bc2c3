"""Listing, cancel and send_at over real HTTP, in front of the real gateway (SQLite) and a
real simulator (issue 13, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio

from tests.api.helpers import Api, app_config, assert_problem, serving, wall
from tests.gateway.helpers import simulator, smsc


def msg(i: int, **extra: Any) -> dict[str, Any]:
    return {"to": f"+4477009{i:05d}", "from": "12345", "text": f"hello {i}", **extra}


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def listing(api: Api, **params: Any) -> dict[str, Any]:
    r = await api.get("/v1/messages", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def all_pages(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        body = await listing(api, **params, **({"cursor": cursor} if cursor else {}))
        pages += 1
        items += body["messages"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


async def test_listing_filters_and_pages_newest_first(tmp_path: Path) -> None:
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        ids = []
        for i in range(7):
            extra: dict[str, Any] = {"tags": ["vip"]} if i % 3 == 0 else {}
            if i == 5:
                extra = {"from": "ACME", "send_at": later}
            r = await api.post("/v1/messages", msg(i, **extra))
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
            await trio.sleep(0.01)  # distinct created_at
        for i in range(7):
            if i != 5:
                await api.wait_status(ids[i], {"delivered"})

        items, pages = await all_pages(api, limit=3)
        assert pages == 3  # 3 + 3 + 1: next_cursor null only at the end
        assert [m["id"] for m in items] == ids[::-1]  # newest first, each once
        assert "history" not in items[0] and items[0]["to"] == "447700900006"
        view = (await api.get(f"/v1/messages/{ids[6]}")).json()
        view.pop("history", None)
        assert view.pop("deliveries") == []  # no webhooks configured
        assert items[0] == view  # the single-message view, without its history and deliveries

        assert [m["id"] for m in (await listing(api, tag="vip"))["messages"]] == [ids[6], ids[3], ids[0]]
        assert [m["id"] for m in (await listing(api, to="+447700900004"))["messages"]] == [ids[4]]
        only = (await listing(api, **{"from": "ACME"}))["messages"]
        assert [(m["id"], m["status"]) for m in only] == [(ids[5], "scheduled")]
        assert "send_at" in only[0]
        assert len((await listing(api, status="delivered"))["messages"]) == 6
        tagged, pages = await all_pages(api, tag="vip", limit=2)
        assert [m["id"] for m in tagged] == [ids[6], ids[3], ids[0]] and pages == 2

        created = sorted(wall(m["created_at"]) for m in items)
        at = datetime.fromtimestamp(created[3], UTC)
        newer = (await listing(api, since=iso(at - timedelta(milliseconds=1))))["messages"]
        assert [m["id"] for m in newer] == ids[:2:-1]  # the 4 newest
        older = (await listing(api, until=iso(at - timedelta(milliseconds=1))))["messages"]
        assert [m["id"] for m in older] == ids[2::-1]
        future = iso(datetime.fromtimestamp(created[-1], UTC) + timedelta(seconds=5))
        assert (await listing(api, since=future)) == {"messages": [], "next_cursor": None}


async def test_bad_listing_parameters_are_422_naming_them(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        cases = [
            ({"status": "lost"}, "status"),
            ({"to": "hello!"}, "to"),
            ({"from": ""}, "from"),
            ({"since": "yesterday"}, "since"),
            ({"until": "2026-12-06T15:00:00"}, "until"),  # no offset
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"limit": 0}, "limit"),
        ]
        for params, name in cases:
            r = await api.get("/v1/messages", params=params)
            # Pydantic's (limit) and the API's own checks: one problem shape naming the parameter.
            assert_problem(r, 422, "validation", name, where="query")


async def test_cancel_answers_200_409_404(tmp_path: Path) -> None:
    later = iso(datetime.now(UTC) + timedelta(minutes=10))
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        scheduled = (await api.post("/v1/messages", msg(1, send_at=later))).json()
        assert scheduled["status"] == "scheduled"
        r = await api.post(f"/v1/messages/{scheduled['id']}/cancel", None)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "canceled" and r.json()["id"] == scheduled["id"]
        again = await api.post(f"/v1/messages/{scheduled['id']}/cancel", None)
        assert "canceled" in assert_problem(again, 409, "not-cancelable")["detail"]

        sent = (await api.post("/v1/messages", msg(2))).json()
        await api.wait_status(sent["id"], {"delivered"})
        late = await api.post(f"/v1/messages/{sent['id']}/cancel", None)
        assert "delivered" in assert_problem(late, 409, "not-cancelable")["detail"]

        missing = await api.post("/v1/messages/nope/cancel", None)
        assert_problem(missing, 404, "not-found")
        assert (await api.get(f"/v1/messages/{scheduled['id']}")).json()["status"] == "canceled"
    assert len(sim.store) == 1


async def test_send_at_schedules_and_is_checked(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        soon = iso(datetime.now(UTC) + timedelta(seconds=1.5))
        r = await api.post("/v1/messages", msg(1, send_at=soon))
        assert r.status_code == 202 and r.json()["status"] == "scheduled", r.text
        assert len(sim.store) == 0
        view = await api.wait_status(r.json()["id"], {"delivered"})
        assert wall(view["parts"][0]["submitted_at"]) >= datetime.fromisoformat(soon).timestamp() - 0.05

        past = (await api.post("/v1/messages", msg(2, send_at="2020-01-01T00:00:00+02:00"))).json()
        assert past["status"] == "queued"
        far = await api.post("/v1/messages", msg(3, send_at=iso(datetime.now(UTC) + timedelta(days=31))))
        assert_problem(far, 422, "validation", "send_at")  # the gateway's reason
        naive = await api.post("/v1/messages", msg(4, send_at="2026-12-06T15:00:00"))
        assert_problem(naive, 422, "validation", "send_at")  # pydantic's
        batch = await api.post("/v1/messages/batch", {"messages": [msg(5, send_at=soon), msg(6)]})
        assert batch.status_code == 202 and batch.json()["accepted"] == 2
        await api.wait_status(past["id"], {"delivered"})
