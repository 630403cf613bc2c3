"""The queue interface on Redis Streams (issue 19, item 3), end to end: the real app on
SQLite, a real simulator over loopback TCP, a real Redis (``redis_url``, a key prefix
per test). Requests are XADDed to ``{prefix}:in``; what became of them is read from
``{prefix}:events`` and ``{prefix}:errors`` as a platform would, with a consumer group."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import coredis
import pytest
import trio

from simulator.smsc import Simulator
from smppgw.api.accept import Acceptor
from smppgw.api.keys import Keyring
from smppgw.api.stream_intake import StreamIntake
from smppgw.app import AppConfig
from smppgw.cluster.stream_config import StreamSettings
from smppgw.cluster.stream_events import ENDPOINT, StreamEvents
from smppgw.cluster.streams import Entry, Outcome, StreamInput, redis_client
from smppgw.store.base import PENDING
from tests.api.helpers import Api, app_config, serving
from tests.api.test_conversations import YES_NO
from tests.cluster.helpers import SharedRedis
from tests.gateway.helpers import ACCOUNT, simulator, smsc

Fields = dict[str, str]


@contextlib.asynccontextmanager
async def platform(url: str, *, cluster: bool = False) -> AsyncIterator[coredis.Redis[str]]:
    """The platform's own client (str in and out); ``cluster``: of a Redis Cluster."""
    kind: Any = coredis.RedisCluster if cluster else coredis.Redis
    client: coredis.Redis[str] = kind.from_url(url, decode_responses=True)
    async with client:
        yield client


def configured(config: AppConfig, url: str, prefix: str, **streams: Any) -> AppConfig:
    settings = StreamSettings(url=url, prefix=prefix, consumer="gw", claim_idle=0.3, block=0.1, **streams)
    # Threads off: their events would be on the stream too (every type is); these tests
    # count the messages' own (the STOP test below reads the 2-way types).
    return attrs.evolve(config, streams=settings, twoway=attrs.evolve(config.twoway, threads=False))


@contextlib.asynccontextmanager
async def streaming(
    tmp_path: Path, url: str, prefix: str, group_on: str
) -> AsyncIterator[tuple[Simulator, coredis.Redis[str], Api]]:
    """A simulator, the platform's client with its group "platform" on ``{prefix}:{group_on}``
    (made before the gateway starts, so it reads from the first entry), and the gateway
    serving on the streams (``configured``)."""
    async with simulator() as sim, platform(url) as r:
        await r.xgroup_create(f"{prefix}:{group_on}", "platform", identifier="0", mkstream=True)
        config = configured(app_config([smsc(sim)], tmp_path / "gw.sqlite3"), url, prefix)
        async with serving(config) as api:
            yield sim, r, api


def request(i: int, **extra: Any) -> Fields:
    return {"body": json.dumps({"to": f"4477009001{i:02d}", "from": "12345", "text": f"hello {i}", **extra})}


async def read_group(
    r: coredis.Redis[str], stream: str, group: str, want: int, timeout: float = 20.0
) -> list[tuple[str, Fields]]:
    """At least ``want`` entries read (and XACKed) by a consumer of ``group``."""
    out: list[tuple[str, Fields]] = []
    with trio.fail_after(timeout):
        while len(out) < want:
            got = await r.xreadgroup(group, "reader", {stream: ">"}, count=100, block=200)
            for entry in (got or {}).get(stream, ()):
                out.append((entry.identifier, dict(entry.field_values)))
                await r.xack(stream, group, [entry.identifier])
    return out


async def pending(r: coredis.Redis[str], stream: str, group: str = "smppgw") -> int:
    summary: Any = await r.xpending(stream, group)
    return int(summary.pending)


async def test_requests_on_the_input_stream_are_sent_and_their_events_read_from_the_events_stream(
    tmp_path: Path, shared: SharedRedis
) -> None:
    """On one server and on a Redis Cluster (``[streams] cluster``)."""
    redis_url, redis_prefix = shared.url, shared.prefix
    events = f"{redis_prefix}:events"
    async with simulator() as sim, platform(redis_url, cluster=shared.cluster) as r:
        await r.xgroup_create(events, "platform", identifier="0", mkstream=True)
        ids = [await r.xadd(f"{redis_prefix}:in", request(i)) for i in range(5)]
        config = configured(
            app_config([smsc(sim)], tmp_path / "gw.sqlite3"), redis_url, redis_prefix, cluster=shared.cluster
        )
        async with serving(config) as api:
            delivered: dict[str, dict[str, Any]] = {}
            last: dict[str, int] = {}
            with trio.fail_after(20):
                while len(delivered) < 5:
                    for _, f in await read_group(r, events, "platform", 1):
                        assert set(f) == {"id", "type", "subject", "sequence", "occurred_at", "data"}, f
                        assert f["type"] == "message.status", f
                        sequence = int(f["sequence"])
                        assert sequence > last.get(f["subject"], 0), f  # in order per subject
                        last[f["subject"]] = sequence
                        assert f["id"] == f"evt_{f['subject']}_{sequence}"
                        data = json.loads(f["data"])
                        assert data["id"] == f["subject"]
                        if data["status"] == "delivered":
                            delivered[f["subject"]] = data
            views = [(await api.get(f"/v1/messages/{m}")).json() for m in delivered]
            # Each request is one message, keyed by its entry (none had a key of its own).
            assert sorted(v["idempotency_key"] for v in views) == sorted(f"stream:{i}" for i in ids)
            assert sorted(v["to"] for v in views) == [f"4477009001{i:02d}" for i in range(5)]
            assert len(sim.store.select(limit=100)) == 5  # each sent once
            assert await pending(r, f"{redis_prefix}:in") == 0  # every entry XACKed
            assert await r.xlen(f"{redis_prefix}:errors") == 0
            # Each entry's answer names its message, as the 202 would.
            answers = {
                e.field_values["entry"]: dict(e.field_values)
                for e in await r.xrange(f"{redis_prefix}:accepted")
            }
            assert sorted(answers) == sorted(ids)
            assert {a["id"] for a in answers.values()} == set(delivered)
            assert {(a["code"], a["status"], a["segments"]) for a in answers.values()} == {
                ("202", "queued", "1")
            }


BAD: Sequence[tuple[Fields, int, str]] = [
    ({"body": json.dumps({"to": "447700900100", "from": "12345"})}, 422, "text"),
    ({"body": json.dumps({"to": "not a number", "from": "12345", "text": "x"})}, 422, "to"),
    (
        {"body": json.dumps({"to": "447700900100", "from": "12345", "text": "x", "colour": "red"})},
        422,
        "colour",
    ),
    (
        {"body": json.dumps({"to": "447700900100", "from": "12345", "hex": "00", "encoding": "ucs2"})},
        422,
        "encoding",
    ),
    (
        {"body": json.dumps({"to": "447700900100", "from": "12345", "text": "x", "priority": 9})},
        422,
        "priority",
    ),
    ({"body": "{not json"}, 400, ""),
    ({"idempotency_key": "k-9"}, 422, "body"),
    ({**request(1), "idempotency_key": "has space"}, 422, "idempotency_key"),
    ({**request(1, idempotency_key="k-1"), "idempotency_key": "k-2"}, 422, "idempotency_key"),
    ({**request(1), "tenant": "acme"}, 422, "tenant"),
]


async def test_a_rejected_request_is_answered_on_the_errors_stream_naming_its_field(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    errors = f"{redis_prefix}:errors"
    async with streaming(tmp_path, redis_url, redis_prefix, "errors") as (_, r, api):
        sent = [await r.xadd(f"{redis_prefix}:in", fields) for fields, _, _ in BAD]
        good = await r.xadd(f"{redis_prefix}:in", request(2))
        got = {f["entry"]: f for _, f in await read_group(r, errors, "platform", len(BAD))}
        assert sorted(got) == sorted(sent)  # one line per rejected entry, the good one not there
        for entry, (fields, status, field) in zip(sent, BAD, strict=True):
            line = got[entry]
            assert set(line) == {"entry", "status", "type", "title", "detail", "field", "errors"}, line
            assert (int(line["status"]), line["field"]) == (status, field), (fields, line)
            assert line["type"].startswith("urn:smppgw:problem:") and line["title"] and line["detail"]
            if field:
                assert [e["field"] for e in json.loads(line["errors"])] == [field], line
                assert field in line["detail"], line  # the API's words: "to: ..." names it
        # The same words as the HTTP route's problem+json.
        http = await api.post("/v1/messages", json.loads(BAD[1][0]["body"]))
        assert http.status_code == 422 and http.json()["detail"] == got[sent[1]]["detail"]
        with trio.fail_after(10):
            while await pending(r, f"{redis_prefix}:in"):
                await trio.sleep(0.05)
        listed = (await api.get("/v1/messages")).json()
        assert [m["idempotency_key"] for m in listed["messages"] if m["to"] != "447700900100"] == [
            f"stream:{good}"
        ]


async def test_an_idempotency_key_makes_one_message_of_repeated_requests(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    errors = f"{redis_prefix}:errors"
    async with streaming(tmp_path, redis_url, redis_prefix, "errors") as (sim, r, api):
        stream = f"{redis_prefix}:in"
        first = await r.xadd(stream, request(1, idempotency_key="order-17"))  # the key in the body
        second = await r.xadd(stream, {**request(1), "idempotency_key": "order-17"})  # beside it
        third = await r.xadd(
            stream, {**request(1, idempotency_key="order-17"), "idempotency_key": "order-17"}
        )
        other = await r.xadd(stream, request(3, idempotency_key="order-17"))  # another message
        lines = await read_group(r, errors, "platform", 1)
        assert [(f["entry"], f["status"], f["type"]) for _, f in lines] == [
            (other, "409", "urn:smppgw:problem:idempotency-conflict")
        ]
        with trio.fail_after(10):
            while await pending(r, stream):
                await trio.sleep(0.05)
        listed = (await api.get("/v1/messages")).json()["messages"]
        assert [m["idempotency_key"] for m in listed] == ["order-17"]
        # The HTTP route shares the keys of the stream's tenant (none here, as config keys).
        http = await api.post("/v1/messages", json.loads(request(1, idempotency_key="order-17")["body"]))
        assert http.status_code == 200, http.text  # a repeat of the stream's message
        assert http.json()["id"] == listed[0]["id"]
        answers = [dict(e.field_values) for e in await r.xrange(f"{redis_prefix}:accepted")]
        assert [(a["entry"], a["code"], a["id"]) for a in answers] == [
            (first, "202", listed[0]["id"]), (second, "200", listed[0]["id"]), (third, "200", listed[0]["id"])
        ]  # fmt: skip
        await api.wait_status(listed[0]["id"], {"delivered"})
        assert len(sim.store.select(limit=100)) == 1
        assert await r.xlen(errors) == 1


class _Died(Exception):
    pass


class _DiesBeforeXack(StreamInput):
    """A gateway killed between its store commit and its XACK."""

    async def _settle(self, entries: list[Entry]) -> None:
        outcomes: list[Outcome] = await self.intake.take(entries)
        assert all(o.ack and o.error is None for o in outcomes)  # stored, durable
        raise _Died


@pytest.mark.parametrize("stored", [False, True], ids=["read-only", "stored-not-acked"])
async def test_the_entries_of_a_dead_consumer_are_claimed_and_taken_exactly_once(
    tmp_path: Path, redis_url: str, redis_prefix: str, stored: bool
) -> None:
    """A consumer dies mid-batch, before or after storing its messages; another claims
    its entries once they are idle (XAUTOCLAIM) and each becomes one message, sent once;
    then the dead consumer (nothing pending) leaves the group, not before."""
    n = 12
    async with simulator() as sim, platform(redis_url) as r:
        config = configured(
            app_config([smsc(sim)], tmp_path / "gw.sqlite3"), redis_url, redis_prefix, input=False
        )
        async with serving(config) as api, redis_client(redis_url) as client, trio.open_nursery() as nursery:
            settings = config.streams
            assert settings is not None
            acceptor = Acceptor(
                api.gateway, api.store, Keyring((), api.store), now=trio.current_time, max_queued=1000
            )
            nursery.start_soon(acceptor.run)
            for i in range(n):
                await r.xadd(f"{redis_prefix}:in", request(i))
            dying = _DiesBeforeXack(
                client, attrs.evolve(settings, consumer="a", batch=5), StreamIntake(acceptor)
            )
            await dying.ensure_group()
            if stored:
                with pytest.raises(_Died):
                    await dying.step()  # 5 read and stored, none XACKed
                assert len((await api.get("/v1/messages")).json()["messages"]) == 5
            else:
                await r.xreadgroup(settings.group, "a", {f"{redis_prefix}:in": ">"}, count=5)  # read, no more
            assert await pending(r, f"{redis_prefix}:in") == 5
            other = StreamInput(
                client, attrs.evolve(settings, consumer="b", consumer_idle=0.5), StreamIntake(acceptor)
            )
            with trio.fail_after(15):
                while other.taken < n:
                    await other.step()
            assert await pending(r, f"{redis_prefix}:in") == 0
            messages = (await api.get("/v1/messages", params={"limit": 100})).json()["messages"]
            assert sorted(m["to"] for m in messages) == [f"4477009001{i:02d}" for i in range(n)]  # once each
            for m in messages:
                await api.wait_status(m["id"], {"delivered"})
            assert len(sim.store.select(limit=100)) == n
            with trio.fail_after(10):  # idle past consumer_idle with nothing pending: removed
                while "a" in {
                    c["name"] for c in await r.xinfo_consumers(f"{redis_prefix}:in", settings.group)
                }:
                    await other.step()
            nursery.cancel_scope.cancel()


class _Away(StreamEvents):
    """Redis away for the events stream: every send fails."""

    async def send(self, deliveries: Sequence[Any]) -> None:
        raise ConnectionError("Redis is away")


async def test_the_events_stream_resumes_from_the_durable_outbox_after_an_outage_and_a_restart(
    tmp_path: Path, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "gw.sqlite3"
    events = f"{redis_prefix}:events"
    async with simulator() as sim, platform(redis_url) as r:
        config = configured(app_config([smsc(sim)], db), redis_url, redis_prefix)
        with monkeypatch.context() as patched:
            # (run_app imports it from there when [streams] is set)
            patched.setattr("smppgw.cluster.stream_events.StreamEvents", _Away)
            async with serving(config) as api:
                for i in range(3):
                    await r.xadd(f"{redis_prefix}:in", request(i))
                with trio.fail_after(15):
                    while len(messages := (await api.get("/v1/messages")).json()["messages"]) < 3:
                        await trio.sleep(0.05)
                for m in messages:
                    await api.wait_status(m["id"], {"delivered"})
                backlog = api.store.backlog()
                assert backlog.get(ENDPOINT, 0) >= 6, backlog  # submitted + delivered, each kept
                assert [d.state for d in api.store.deliveries(subject=messages[0]["id"])] == [
                    PENDING,
                    PENDING,
                ]
        assert await r.exists([events]) == 0  # nothing reached the stream
        await r.xgroup_create(events, "platform", identifier="0", mkstream=True)
        async with serving(config) as api:  # restarted on the same file, Redis back
            got = await read_group(r, events, "platform", 6)
            by_subject: dict[str, list[tuple[int, str]]] = {}
            for _, f in got:
                by_subject.setdefault(f["subject"], []).append(
                    (int(f["sequence"]), json.loads(f["data"])["status"])
                )
            assert {m["id"] for m in messages} == set(by_subject)
            for seen in by_subject.values():
                assert seen == [(1, "submitted"), (2, "delivered")], seen  # in order, each once
            with trio.fail_after(10):
                while api.store.backlog().get(ENDPOINT, 0):
                    await trio.sleep(0.05)
            assert await r.xlen(events) == 6


DOWN = {
    "name": "a",
    "host": "127.0.0.1",
    "port": 1,
    "system_id": "x",
    "password": "y",
    "connect_timeout": 0.2,
}


async def test_a_full_queue_stops_the_reading_and_the_requests_wait_in_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Backpressure: with the queue full (the carrier down, ``max_queued`` 3) the gateway
    takes no more, refuses none; room made (cancels), it takes the rest."""
    stream = f"{redis_prefix}:in"
    config = attrs.evolve(
        configured(app_config([DOWN], tmp_path / "gw.sqlite3"), redis_url, redis_prefix), max_queued=3
    )
    async with platform(redis_url) as r, serving(config) as api:
        for i in range(8):
            await r.xadd(stream, request(i))
        with trio.fail_after(10):
            while await r.xlen(f"{redis_prefix}:accepted") < 3:
                await trio.sleep(0.05)
        await trio.sleep(1.0)  # a while with the queue full: nothing more is taken
        assert await r.xlen(f"{redis_prefix}:accepted") == 3
        assert await r.xlen(f"{redis_prefix}:errors") == 0
        assert api.gateway.queued() == 3
        taken = [e.field_values["id"] for e in await r.xrange(f"{redis_prefix}:accepted")]
        for message_id in taken:
            assert (await api.post(f"/v1/messages/{message_id}/cancel", None)).status_code == 200
        with trio.fail_after(10):
            while await r.xlen(f"{redis_prefix}:accepted") < 6:
                await trio.sleep(0.05)
        await trio.sleep(0.5)
        assert await r.xlen(f"{redis_prefix}:accepted") == 6  # room for 3 again: 3 more
        assert await r.xlen(f"{redis_prefix}:errors") == 0


async def test_a_deleted_input_stream_is_made_again_with_its_group(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    stream = f"{redis_prefix}:in"
    async with simulator() as sim, platform(redis_url) as r:
        config = configured(app_config([smsc(sim)], tmp_path / "gw.sqlite3"), redis_url, redis_prefix)
        async with serving(config):
            await r.xadd(stream, request(1))
            with trio.fail_after(10):
                while await r.xlen(f"{redis_prefix}:accepted") < 1:
                    await trio.sleep(0.05)
            await r.delete([stream])  # an operator's mistake, or a flush
            with trio.fail_after(15):
                while not await r.exists([stream]):  # the gateway made it again, with its group
                    await trio.sleep(0.05)
            await r.xadd(stream, request(2))
            with trio.fail_after(15):
                while await r.xlen(f"{redis_prefix}:accepted") < 2:
                    await trio.sleep(0.05)


async def test_inbound_and_consent_events_come_on_the_events_stream_too(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Every type of the outbox, not only message.status: a STOP from a handset is a
    message.inbound and a consent.changed (and its confirmation's message.status)."""
    events = f"{redis_prefix}:events"
    async with streaming(tmp_path, redis_url, redis_prefix, "events") as (sim, r, api):
        await api.wait_ready()
        sim.inject_mo(system_id=None, source_addr="447700900555", destination_addr="12345", text="STOP")
        types: dict[str, Fields] = {}
        with trio.fail_after(20):
            while not {"message.inbound", "consent.changed", "message.status"} <= set(types):
                for _, f in await read_group(r, events, "platform", 1):
                    types.setdefault(f["type"], f)
        inbound = json.loads(types["message.inbound"]["data"])
        assert (inbound["source"], inbound["text"]) == ("447700900555", "STOP"), inbound
        consent = json.loads(types["consent.changed"]["data"])
        assert "447700900555" in json.dumps(consent), consent
        assert all(f["id"].startswith("evt_") and int(f["sequence"]) >= 1 for f in types.values())


async def test_conversation_events_come_on_the_events_stream(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """conversation.*: a message sent expecting YES or NO, the handset answers "yes": the
    stream carries conversation.answered, naming the message and the answer."""
    events = f"{redis_prefix}:events"
    async with streaming(tmp_path, redis_url, redis_prefix, "events") as (sim, r, api):
        await api.wait_ready()
        body = {"to": "447700900001", "from": "12345", "text": "Still coming?", "expect": YES_NO}
        sent = await api.post("/v1/messages", body)
        assert sent.status_code == 202, sent.text
        message_id = sent.json()["id"]
        with trio.fail_after(20):  # submitted first: the reply links to a sent message
            while (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "queued":
                await trio.sleep(0.05)
        sim.inject_mo(system_id=ACCOUNT, source_addr="447700900001", destination_addr="12345", text="yes")
        found: Fields | None = None
        with trio.fail_after(20):
            while found is None:
                for _, f in await read_group(r, events, "platform", 1):
                    if f["type"] == "conversation.answered":
                        found = f
        data = json.loads(found["data"])
        assert data["message_id"] == message_id and data["answer"] == "YES", data
