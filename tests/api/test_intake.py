"""The intake routes (``POST /v1/messages`` and ``/batch``) through the HTTP front, over
real HTTP, in front of the real gateway and simulator; and the same routes of the FastAPI
app, which must answer the same.

Single POSTs that arrive together are stored in one transaction (``single_grouped``):
``burst`` makes them arrive together deterministically by writing every request with a
plain non-blocking ``os.write`` on connections whose server tasks are already waiting,
so all of them become readable in one scheduler round.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from smppgw.api.app import build_app
from smppgw.store.base import MessageRecord, StoreError
from smppgw.store.memory import MemoryStore
from tests.api.helpers import KEY, Api, app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.net.http_wire import WAIT, Answer, Reader

MSG = {"to": "+447700900001", "from": "12345", "text": "Hello from the intake"}
DOWN = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y",
        "connect_timeout": 0.2}  # fmt: skip


class FlakyStore(MemoryStore):
    """The memory store, made to refuse writes (or idempotency lookups) on demand; it
    records the size of every ``add`` (one per transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_add = False
        self.refuse_find = False
        self.fail_add: Exception | None = None  # a bug, not a refusal
        self.adds: list[int] = []

    def add(self, messages: Sequence[MessageRecord]) -> None:
        if self.refuse_add:
            raise StoreError("disk full (test)")
        if self.fail_add is not None:
            raise self.fail_add
        self.adds.append(len(messages))
        super().add(messages)

    def find_key(self, idempotency_key: str, tenant: str | None = None) -> MessageRecord | None:
        if self.refuse_find:
            raise StoreError("database is locked (test)")
        return super().find_key(idempotency_key, tenant)


def post_bytes(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


@contextlib.asynccontextmanager
async def connections(api: Api, n: int) -> AsyncIterator[list[tuple[trio.SocketStream, Reader]]]:
    """``n`` keep-alive connections, each answered once (so its server task is waiting)."""
    port = int(api.url.rsplit(":", 1)[1])
    conns = []
    try:
        for _ in range(n):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            conns.append((stream, Reader(stream)))
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert (await conns[-1][1].answer()).status == 200
        yield conns
    finally:
        for stream, _ in conns:
            await stream.aclose()


async def burst(api: Api, bodies: Sequence[Any], path: str = "/v1/messages") -> list[Answer]:
    """POST each body on its own connection, all written before the server runs again."""
    async with connections(api, len(bodies)) as conns:
        for (stream, _), body in zip(conns, bodies, strict=True):
            data = post_bytes(path, body if isinstance(body, bytes) else json.dumps(body).encode())
            assert os.write(stream.socket.fileno(), data) == len(data)  # no checkpoint between
        answers: list[Answer | None] = [None] * len(bodies)

        async def read(i: int, reader: Reader) -> None:
            answers[i] = await reader.answer()

        async with trio.open_nursery() as nursery:
            for i, (_, reader) in enumerate(conns):
                nursery.start_soon(read, i, reader)
    return [a for a in answers if a is not None]


def problem(answer: Answer | httpx.Response, status: int) -> dict[str, Any]:
    if isinstance(answer, Answer):
        code, media = answer.status, answer.headers[b"content-type"].decode()
    else:
        code, media = answer.status_code, answer.headers["content-type"]
    assert code == status, (code, answer)
    assert media == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["type"].startswith("urn:smppgw:problem:")
    assert body["title"] and body["detail"]
    return body


async def wait_counts(api: Api, expected: dict[str, int]) -> None:
    with trio.fail_after(20):
        while api.store.counts() != expected:
            await trio.sleep(0.05)


# -- many at once ---------------------------------------------------------------------------------


async def test_many_concurrent_single_posts_are_all_accepted_stored_and_delivered(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, limits=limits) as http:
            answers: dict[int, httpx.Response] = {}

            async def one(i: int) -> None:
                body = {**MSG, "to": f"4477009{i:05d}", "text": f"message {i}"}
                answers[i] = await http.post(api.url + "/v1/messages", json=body, timeout=20)

            async with trio.open_nursery() as nursery:
                for i in range(200):
                    nursery.start_soon(one, i)
        assert sorted(answers) == list(range(200))
        assert {r.status_code for r in answers.values()} == {202}
        ids = {r.json()["id"] for r in answers.values()}
        assert len(ids) == 200
        await wait_counts(api, {"delivered": 200})
        # Each reached the SMSC once, with its own text.
        sent = {(m.destination_addr, m.payload.decode()) for m in sim.store.select(limit=1000)}
        assert sent == {(f"4477009{i:05d}", f"message {i}") for i in range(200)}
        for i in (0, 199):
            view = (await api.get(f"/v1/messages/{answers[i].json()['id']}")).json()
            assert view["to"] == f"4477009{i:05d}" and view["status"] == "delivered"


async def test_posts_arriving_together_share_one_transaction(tmp_path: Path) -> None:
    store = FlakyStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        bodies = [{**MSG, "to": f"44770091{i:04d}"} for i in range(20)]
        answers = await burst(api, bodies)
        assert [a.status for a in answers] == [202] * 20
        assert store.adds == [20]  # one add, so one commit, for the twenty
        await wait_counts(api, {"delivered": 20})


# -- idempotency keys within a group --------------------------------------------------------------


async def test_the_same_key_and_message_at_once_is_stored_once(tmp_path: Path) -> None:
    store = FlakyStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        body = {**MSG, "idempotency_key": "order-1"}
        # The same message, once with the number in another form: still the same message.
        answers = await burst(api, [body] * 9 + [{**body, "to": "447700900001"}])
        assert sorted(a.status for a in answers) == [200] * 9 + [202]
        assert len({a.json()["id"] for a in answers}) == 1
        assert store.adds == [1]
        await wait_counts(api, {"delivered": 1})
        assert len(sim.store.select(limit=10)) == 1  # sent once


async def test_the_same_key_with_another_message_at_once_is_409(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        one = {**MSG, "idempotency_key": "order-2"}
        other = {**one, "text": "another message"}
        bodies = [one, other, one, other, other, one]
        answers = await burst(api, bodies)
        [winner] = [i for i, a in enumerate(answers) if a.status == 202]
        for body, answer in zip(bodies, answers, strict=True):
            if body == bodies[winner]:
                assert answer.status in (200, 202) and answer.json()["id"] == answers[winner].json()["id"]
            else:
                assert "order-2" in problem(answer, 409)["detail"]
        await wait_counts(api, {"delivered": 1})
        [sent] = sim.store.select(limit=10)
        assert sent.payload.decode() == bodies[winner]["text"]


# -- the store refusing ---------------------------------------------------------------------------


async def test_a_store_refusing_the_group_makes_every_request_503_and_nothing_is_sent(tmp_path: Path) -> None:
    store = FlakyStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        store.refuse_add = True
        answers = await burst(api, [{**MSG, "to": f"44770092{i:04d}"} for i in range(10)])
        for answer in answers:
            assert "disk full" in problem(answer, 503)["detail"]
        assert api.gateway.queued() == 0 and store.counts() == {}
        # Batch and the FastAPI route: the same refusal.
        r = await api.post("/v1/messages/batch", {"messages": [MSG, {**MSG, "to": "447700900002"}]})
        problem(r, 503)
        fastapi = build_app(api.gateway, store, [KEY], now=trio.current_time)
        async with asgi_client(fastapi) as local:
            problem(await local.post("/v1/messages", json=MSG), 503)
        # Once the store takes writes again, the next message goes through, and it is the
        # only one the SMSC ever saw (nothing refused was queued behind it).
        store.refuse_add = False
        ok = await api.post("/v1/messages", {**MSG, "to": "447700900099"})
        assert ok.status_code == 202
        await api.wait_status(ok.json()["id"], {"delivered"})
        assert [m.destination_addr for m in sim.store.select(limit=100)] == ["447700900099"]


async def test_a_store_failing_an_idempotency_lookup_is_503_and_the_api_carries_on(tmp_path: Path) -> None:
    store = FlakyStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        store.refuse_find = True
        answers = await burst(api, [{**MSG, "idempotency_key": f"k{i}"} for i in range(3)] + [MSG])
        for answer in answers[:3]:
            assert "locked" in problem(answer, 503)["detail"]
        assert answers[3].status == 202  # no key: not looked up, stored
        store.refuse_find = False
        again = await api.post("/v1/messages", {**MSG, "idempotency_key": "k0"})
        assert again.status_code == 202
        await wait_counts(api, {"delivered": 2})
        assert len(sim.store.select(limit=10)) == 2


async def test_a_bug_while_storing_a_group_is_500_and_the_intake_carries_on(tmp_path: Path) -> None:
    store = FlakyStore()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        store.fail_add = RuntimeError("secret-detail of a bug")
        answers = await burst(api, [{**MSG, "to": f"44770094{i:04d}"} for i in range(4)])
        for answer in answers:
            problem(answer, 500)
            assert b"secret-detail" not in answer.body
        store.fail_add = None
        ok = await api.post("/v1/messages", MSG)
        assert ok.status_code == 202
        await wait_counts(api, {"delivered": 1})


# -- backpressure ---------------------------------------------------------------------------------


async def test_a_burst_takes_only_the_room_left_in_the_queue(tmp_path: Path) -> None:
    config = attrs.evolve(app_config([DOWN], tmp_path / "db"), max_queued=5)
    async with serving(config) as api:
        answers = await burst(api, [{**MSG, "to": f"44770093{i:04d}"} for i in range(12)])
        assert sorted(a.status for a in answers) == [202] * 5 + [429] * 7
        for answer in answers:
            if answer.status == 429:
                assert answer.headers[b"retry-after"] == b"1"
                problem(answer, 429)
        assert api.gateway.queued() == 5 and api.store.counts() == {"queued": 5}


async def test_a_repeat_is_answered_even_when_the_queue_is_full(tmp_path: Path) -> None:
    """The key is looked at before the queue's room, through the front as through FastAPI."""
    config = attrs.evolve(app_config([DOWN], tmp_path / "db"), max_queued=1)
    async with serving(config) as api:
        body = {**MSG, "idempotency_key": "full-1"}
        first = await api.post("/v1/messages", body)
        assert first.status_code == 202
        problem(await api.post("/v1/messages", {**MSG, "to": "447700900002"}), 429)
        again = await api.post("/v1/messages", body)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        fastapi = build_app(api.gateway, api.store, [KEY], now=trio.current_time, max_queued=1)
        async with asgi_client(fastapi) as local:
            via_app = await local.post("/v1/messages", json=body)
        assert (via_app.status_code, via_app.json()) == (200, again.json())


# -- bad bodies -----------------------------------------------------------------------------------

BAD_BODIES: list[tuple[Any, str]] = [
    ({**MSG, "bogus": 1}, "bogus"),
    ({"from": "12345", "text": "x"}, "to"),
    ({"to": "447700900001", "text": "x"}, "from"),
    ({**MSG, "to": 447700900001}, "to"),
    ({**MSG, "priority": "high"}, "priority"),
    ({**MSG, "priority": 9}, "priority"),
    ({**MSG, "dlr": "yes"}, "dlr"),
    ({**MSG, "tags": "not-a-list"}, "tags"),
    ({**MSG, "send_at": "2030-01-01T00:00:00"}, "send_at"),  # no offset
    ({"to": "447700900001", "from": "12345"}, "text"),  # neither text nor hex
    ({**MSG, "hex": "00"}, "text"),  # both
    ({"to": "447700900001", "from": "12345", "hex": "00", "encoding": "gsm7"}, "encoding"),
    ({**MSG, "callback_url": "ftp://example.com/x"}, "callback_url"),
    ({**MSG, "callback_url": "http://"}, "callback_url"),
    ([MSG], ""),
]


async def test_bad_bodies_are_problems_naming_the_field(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        for body, field in BAD_BODIES:
            out = problem(await api.post("/v1/messages", body), 422)
            assert [e["field"] for e in out["errors"]] == [field], (body, out)
            assert all(e["message"] for e in out["errors"])
            # In a batch, the same error names the item: a refusal of the whole batch when
            # the item's shape is wrong, the item's own result when a check after it fails.
            r = await api.post("/v1/messages/batch", {"messages": [body]})
            at = "messages[0]" if field == "" else f"messages[0].{field}"
            if r.status_code == 202:
                assert (r.json()["accepted"], r.json()["rejected"]) == (0, 1)
                item = r.json()["results"][0]
                assert item["status"] == 422 and [e["field"] for e in item["errors"]] == [at], (body, item)
            else:
                assert [e["field"] for e in problem(r, 422)["errors"]] == [at], (body, r.text)
        for raw in (b"{not json", b"", b'{"to": "4477"'):
            r = await api.http.post(api.url + "/v1/messages", content=raw)
            assert "not JSON" in problem(r, 400)["detail"]
            assert "errors" not in r.json()
        assert api.store.counts() == {}


async def test_batch_items_carry_their_own_problem(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        items = [
            {**MSG, "to": "447700900021"},
            {"to": "447700900022", "from": "12345"},  # neither text nor hex
            {**MSG, "to": "HELLO"},  # the gateway refuses it
            {**MSG, "to": "447700900024", "callback_url": "mailto:x@example.com"},
            {**MSG, "to": "447700900025", "idempotency_key": "b-1"},
            {**MSG, "to": "447700900026", "idempotency_key": "b-1"},
        ]
        r = await api.post("/v1/messages/batch", {"messages": items})
        assert r.status_code == 202 and r.headers["content-type"] == "application/json"
        out = r.json()
        assert (out["accepted"], out["rejected"]) == (2, 4)
        results = out["results"]
        assert set(results[0]) == {"id", "status", "segments"} and "id" in results[4]
        expected = {
            1: (422, "messages[1].text"),
            2: (422, None),
            3: (422, "messages[3].callback_url"),
            5: (409, None),
        }
        for i, (status, field) in expected.items():
            item = results[i]
            assert item["status"] == status and item["detail"] and item["title"]
            assert item["type"].startswith("urn:smppgw:problem:")
            if field is not None:
                assert [e["field"] for e in item["errors"]] == [field]
        assert "not a phone number" in results[2]["detail"] and "b-1" in results[5]["detail"]
        for i in (0, 4):
            await api.wait_status(results[i]["id"], {"delivered"})
        assert len(sim.store.select(limit=10)) == 2


async def test_batch_counts_a_stored_key_repeat_as_accepted(tmp_path: Path) -> None:
    """A batch item whose idempotency key was stored before is answered with its first
    message and counted accepted (the count is kept as the items are answered)."""
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        first = await api.post("/v1/messages", {**MSG, "idempotency_key": "k-1"})
        assert first.status_code == 202
        items = [{**MSG, "idempotency_key": "k-1"}, {**MSG, "to": "+447700900002"}, {"to": "1", "from": "2"}]
        r = await api.post("/v1/messages/batch", {"messages": items})
        out = r.json()
        assert r.status_code == 202 and (out["accepted"], out["rejected"]) == (2, 1), out
        assert out["results"][0]["id"] == first.json()["id"]
        assert out["results"][1]["status"] == "queued" and out["results"][2]["status"] == 422


# -- the FastAPI routes answer as the front does --------------------------------------------------


@contextlib.asynccontextmanager
async def asgi_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://app", headers=headers) as client:
        yield client


async def test_the_fastapi_routes_answer_as_the_front_does(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        fastapi = build_app(api.gateway, api.store, [KEY], now=trio.current_time)
        async with asgi_client(fastapi) as local:
            for path, body in [
                ("/v1/messages", {**MSG, "to": "447700900031"}),
                ("/v1/messages/batch", {"messages": [{**MSG, "to": "447700900032"}]}),
            ]:
                front, app = await api.post(path, body), await local.post(path, json=body)
                assert front.status_code == app.status_code == 202
                assert front.headers["content-type"] == app.headers["content-type"] == "application/json"
                assert _without_ids(front.json()) == _without_ids(app.json())
            bad: list[tuple[str, Any]] = [
                (p, b) for b, _ in BAD_BODIES for p in ("/v1/messages", "/v1/messages/batch")
            ]
            bad += [
                ("/v1/messages/batch", {"messages": []}),
                ("/v1/messages/batch", {"messages": [{**MSG, "to": "x"}]}),
            ]
            for path, body in bad:
                front, app = await api.post(path, body), await local.post(path, json=body)
                assert (front.status_code, front.json()) == (app.status_code, app.json()), (path, body)
                assert front.headers["content-type"] == app.headers["content-type"]
            for raw in (b"{not json", b""):
                front = await api.http.post(api.url + "/v1/messages", content=raw)
                app = await local.post("/v1/messages", content=raw)
                assert (front.status_code, front.json()) == (
                    app.status_code,
                    app.json(),
                ) and front.status_code == 400
            # A key first used through one is a repeat through the other.
            keyed = {**MSG, "to": "447700900033", "idempotency_key": "both-ways"}
            first = await api.post("/v1/messages", keyed)
            again = await local.post("/v1/messages", json=keyed)
            assert (first.status_code, again.status_code) == (202, 200)
            assert first.json()["id"] == again.json()["id"]
            clash = await local.post("/v1/messages", json={**keyed, "text": "other"})
            front_clash = await api.post("/v1/messages", {**keyed, "text": "other"})
            assert (clash.status_code, clash.json()) == (front_clash.status_code, front_clash.json())
            assert clash.status_code == 409
            # Without a key: the same 401, with its challenge.
            for path in ("/v1/messages", "/v1/messages/batch"):
                front = await httpx.AsyncClient().post(api.url + path, json=MSG)
                app = await local.post(path, json=MSG, headers={"Authorization": "Bearer nope"})
                assert (
                    (front.status_code, front.json()) == (app.status_code, app.json()) == (401, front.json())
                )
                assert front.headers["www-authenticate"] == app.headers["www-authenticate"] == "Bearer"
        await wait_counts(api, {"delivered": 5})  # 2 + 2 + the keyed one


def _without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    if "results" in answer:
        return {**answer, "results": [_without_ids(r) for r in answer["results"]]}
    return {k: v for k, v in answer.items() if k != "id"}


async def test_a_message_posted_over_a_slow_connection_is_still_grouped_correctly(tmp_path: Path) -> None:
    """A body trickling in does not hold up the others' group, nor lose its own."""
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        async with connections(api, 1) as [(slow, reader)]:
            data = post_bytes("/v1/messages", json.dumps({**MSG, "to": "447700900041"}).encode())
            await slow.send_all(data[:-10])
            fast = await api.post("/v1/messages", {**MSG, "to": "447700900042"})
            assert fast.status_code == 202
            await slow.send_all(data[-10:])
            with trio.fail_after(WAIT):
                answer = await reader.answer()
            assert answer.status == 202
        await wait_counts(api, {"delivered": 2})
