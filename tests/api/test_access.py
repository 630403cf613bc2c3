"""Access control over real HTTP: scopes, tenants, per-key rate limits and quotas,
failed-auth limiting per address, and the key checked before any body is read."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

import smppgw.api.keys
from smppgw.api.keys import Quota
from smppgw.api.limits import KeyLimits
from smppgw.store.base import ApiKeyRecord, key_hash
from smppgw.store.sqlite import SqliteStore
from tests.api.helpers import KEY, Api, app_config, assert_problem, serving
from tests.gateway.helpers import simulator, smsc
from tests.net.http_wire import Reader

MSG = {"to": "+447700900001", "from": "12345", "text": "access test"}
DOWN = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y",
        "connect_timeout": 0.2}  # fmt: skip


def make_key(db: Path, *scopes: str, tenant: str | None = None, **limits: Any) -> str:
    """A key in the store at ``db`` (as ``smppgw keys create`` makes one); returns it."""
    key = "smppgw_" + secrets.token_urlsafe(32)
    store = SqliteStore(db)
    store.add_key(
        ApiKeyRecord(id="key_" + secrets.token_hex(6), name="test", hash=key_hash(key),
                     scopes=scopes, tenant=tenant, **limits)
    )  # fmt: skip
    store.close()
    return key


def as_key(api: Api, key: str, **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kw)


async def test_each_route_needs_its_scope(tmp_path: Path) -> None:
    db = tmp_path / "db"
    sender = make_key(db, "messages:send")
    reader = make_key(db, "messages:read", "inbound:read")
    admin = make_key(db, "admin")
    async with simulator() as sim, serving(app_config([smsc(sim)], db)) as api:
        async with as_key(api, sender) as s, as_key(api, reader) as r, as_key(api, admin) as a:
            sent = await s.post("/v1/messages", json=MSG)
            assert sent.status_code == 202, sent.text
            mid = sent.json()["id"]
            for call, scope in [
                (s.get(f"/v1/messages/{mid}"), "messages:read"),
                (s.get("/v1/messages"), "messages:read"),
                (s.get("/v1/inbound"), "inbound:read"),
                (s.put("/v1/optouts/447700900009"), "consent:write"),
                (s.get("/v1/events"), "admin"),
                (r.post("/v1/messages", json=MSG), "messages:send"),
                (r.post("/v1/messages/batch", json={"messages": [MSG]}), "messages:send"),
                (r.post(f"/v1/messages/{mid}/cancel"), "messages:send"),
                (r.get("/v1/webhooks/dead"), "admin"),
            ]:
                problem = assert_problem(await call, 403, "forbidden")
                assert problem["detail"].endswith(f"lacks the scope {scope}"), problem
            assert (await r.get(f"/v1/messages/{mid}")).status_code == 200
            assert (await r.get("/v1/inbound")).status_code == 200
            # admin: every scope, the event log included
            for call in (
                a.get("/v1/events"),
                a.get(f"/v1/messages/{mid}"),
                a.put("/v1/optouts/447700900009"),
            ):
                assert (await call).status_code == 200
            assert (await a.post("/v1/messages", json=MSG)).status_code == 202
        assert sum(api.store.counts().values()) == 2  # the refused posts stored nothing


async def test_a_tenant_key_sees_only_its_tenant(tmp_path: Path) -> None:
    db = tmp_path / "db"
    scopes = ("messages:send", "messages:read", "inbound:read")
    acme, beta = make_key(db, *scopes, tenant="acme"), make_key(db, *scopes, tenant="beta")
    admin = make_key(db, "admin", tenant="acme")
    config = attrs.evolve(app_config([DOWN], db), tenants={"12345": "acme"})
    async with serving(config) as api, as_key(api, acme) as a, as_key(api, beta) as b:
        first = await a.post("/v1/messages", json={**MSG, "idempotency_key": "k1"})
        assert first.status_code == 202
        mid = first.json()["id"]
        # The same idempotency key is another tenant's own: a new message, not a 409.
        other = await b.post("/v1/messages", json={**MSG, "text": "beta's", "idempotency_key": "k1"})
        assert other.status_code == 202 and other.json()["id"] != mid
        again = await a.post("/v1/messages", json={**MSG, "idempotency_key": "k1"})
        assert again.status_code == 200 and again.json()["id"] == mid
        assert_problem(await a.post("/v1/messages", json={**MSG, "text": "x", "idempotency_key": "k1"}),
                       409, "idempotency-conflict")  # fmt: skip
        # Another tenant's message is not found: not read, not canceled.
        assert_problem(await b.get(f"/v1/messages/{mid}"), 404, "not-found")
        assert_problem(await b.post(f"/v1/messages/{mid}/cancel"), 404, "not-found")
        assert (await a.get(f"/v1/messages/{mid}")).json()["status"] in ("queued", "accepted")
        listed_a = [m["id"] for m in (await a.get("/v1/messages")).json()["messages"]]
        listed_b = [m["id"] for m in (await b.get("/v1/messages")).json()["messages"]]
        listed_all = [m["id"] for m in (await api.get("/v1/messages")).json()["messages"]]
        assert listed_a == [mid] and listed_b == [other.json()["id"]] and len(listed_all) == 2
        # Inbound: the tenant that owns the number it was sent to (the app's [api] tenants).
        for number, text in (("12345", "to acme"), ("54321", "to nobody")):
            api.store.add_inbound(smsc="down", source="447700900001", destination=number, text=text,
                                  data_coding=0, parts=1, complete=True, received_at=0.0,
                                  tenant=config.tenants.get(number))  # fmt: skip
        assert [m["text"] for m in (await a.get("/v1/inbound")).json()["messages"]] == ["to acme"]
        assert (await b.get("/v1/inbound")).json()["messages"] == []
        assert len((await api.get("/v1/inbound")).json()["messages"]) == 2
        assert (await b.post(f"/v1/messages/{other.json()['id']}/cancel")).json()["status"] == "canceled"
        # A tenant key has no use of the event log, even as admin (it is not per tenant).
        async with as_key(api, admin) as t:
            assert_problem(await t.get("/v1/events"), 403, "forbidden")


async def test_inbound_gets_the_tenant_of_its_number(tmp_path: Path) -> None:
    handsets = [{"match": "Reply", "replies": ["YES"], "delay": 0.05}]
    db = tmp_path / "db"
    acme = make_key(db, "messages:send", "inbound:read", tenant="acme")
    async with simulator(behaviour={"handsets": handsets}) as sim:
        config = attrs.evolve(app_config([smsc(sim)], db), tenants={"12345": "acme"})
        async with serving(config) as api, as_key(api, acme) as a:
            await api.wait_ready()
            for sender in ("12345", "54321"):  # the handset replies to the sender
                assert (
                    await api.post("/v1/messages", {**MSG, "from": sender, "text": "Reply"})
                ).status_code == 202
            with trio.fail_after(10):
                while len((await api.get("/v1/inbound")).json()["messages"]) < 2:
                    await trio.sleep(0.05)
            mine = (await a.get("/v1/inbound")).json()["messages"]
            assert [m["destination"] for m in mine] == ["12345"]


async def test_a_key_over_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    db = tmp_path / "db"
    slow = make_key(db, "messages:read", rate=0.01)  # a bucket of 1: the second call waits 100 s
    other = make_key(db, "messages:read", rate=0.01)
    async with serving(app_config([DOWN], db)) as api, as_key(api, slow) as s, as_key(api, other) as o:
        assert (await s.get("/v1/messages")).status_code == 200
        r = await s.get("/v1/messages")
        assert "over its rate" in assert_problem(r, 429, "rate-limited")["detail"]
        assert r.headers["retry-after"] == "100"
        assert (await o.get("/v1/messages")).status_code == 200  # each key has its own bucket
        # Over its rate, a known key's connection stays open: its next request is answered.
        stream = await trio.open_tcp_stream("127.0.0.1", int(api.url.rsplit(":", 1)[1]))
        async with stream:
            post = (
                f"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {slow}\r\n"
                f"content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
            ).encode()
            reader = Reader(stream)
            for _ in range(2):
                await stream.send_all(post)
                answer = await reader.answer()
                assert answer.status == 429 and b"connection" not in answer.headers
        # Config keys are not rate limited (the operator's, as before keys had limits).
        for _ in range(20):
            assert (await api.get("/v1/messages")).status_code == 200


async def test_a_key_at_its_quota_of_queued_parts_gets_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Quota, "RECOUNT", 0.0)  # recount at every check at the quota
    db = tmp_path / "db"
    small = make_key(db, "messages:send", max_queued=2)
    async with serving(app_config([DOWN], db)) as api, as_key(api, small) as s:  # nothing leaves the queue
        for _ in range(2):
            assert (await s.post("/v1/messages", json=MSG)).status_code == 202
        for r in (
            await s.post("/v1/messages", json=MSG),
            await s.post("/v1/messages/batch", json={"messages": [MSG]}),
        ):
            assert "quota is 2" in assert_problem(r, 429, "quota-exceeded")["detail"]
            assert r.headers["retry-after"] == "1"
        assert (await api.post("/v1/messages", MSG)).status_code == 202  # another key's room
        # Canceled messages leave the queue: the key has room again.
        for m in (await api.get("/v1/messages")).json()["messages"]:
            await api.post(f"/v1/messages/{m['id']}/cancel", None)
        assert (await s.post("/v1/messages", json=MSG)).status_code == 202


async def test_failed_attempts_block_the_address_for_a_while(tmp_path: Path) -> None:
    config = attrs.evolve(
        app_config([DOWN], tmp_path / "db"), key_limits=KeyLimits(auth_failures=3, auth_block=30)
    )
    async with serving(config) as api, as_key(api, "wrong-key-0000") as bad, as_key(api, KEY) as good:
        for _ in range(3):
            assert_problem(await bad.get("/v1/messages"), 401, "unauthorized")
        for client in (bad, good):  # now even the right key, from that address
            r = await client.get("/v1/messages")
            assert "failed API key attempts" in assert_problem(r, 429, "rate-limited")["detail"]
            assert 1 <= int(r.headers["retry-after"]) <= 30
        # Another source address is not blocked.
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with as_key(api, KEY, transport=transport) as elsewhere:
            assert (await elsewhere.get("/v1/messages")).status_code == 200


@pytest.mark.parametrize("auth", [b"", b"authorization: Bearer wrong-key-123\r\n"])
async def test_the_key_is_checked_before_any_body_is_read(tmp_path: Path, auth: bytes) -> None:
    """A 300 MB POST without a known key: 401 on its head alone (no body is ever sent)."""
    async with serving(app_config([DOWN], tmp_path / "db")) as api:
        port = int(api.url.rsplit(":", 1)[1])
        for head in (
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 300000000\r\n",
            b"POST /v1/messages/batch HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n",
            b"PUT /v1/optouts/447700900001 HTTP/1.1\r\nhost: x\r\ncontent-length: 300000000\r\n",
        ):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(head + auth + b"content-type: application/json\r\n\r\n")
                reader = Reader(stream)
                answer = await reader.answer()
                assert answer.status == 401 and answer.json()["type"] == "urn:smppgw:problem:unauthorized"
                assert answer.headers[b"www-authenticate"] == b"Bearer"
                assert answer.headers[b"connection"] == b"close"
                await reader.eof()  # closed: the body it announced is never waited for
        assert sum(api.store.counts().values()) == 0


async def test_keys_are_compared_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = secrets.compare_digest

    def counted(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(smppgw.api.keys.secrets, "compare_digest", counted)
    db = tmp_path / "db"
    stored = make_key(db, "messages:read")
    config = attrs.evolve(app_config([DOWN], db), api_keys=(KEY, "second-config-key"))
    async with serving(config) as api, as_key(api, stored) as s:
        assert (await s.get("/v1/messages")).status_code == 200
        # every config key compared, then the stored hash
        assert [b for _, b in calls] == [KEY.encode(), b"second-config-key", key_hash(stored)]
        calls.clear()
        assert (await api.get("/v1/messages")).status_code == 200
        assert len(calls) == 2  # the first matched, the second compared all the same
