"""Events and webhooks over real HTTP, through the whole app (SQLite): a receiver app on a
loopback port gets each message's status events and inbound events, signed; the API
refuses callback URLs to private targets, replays the log and retries dead letters;
a bad ``[webhooks]`` table is refused naming its key."""

from __future__ import annotations

import base64
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import standardwebhooks
import trio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from hypercorn.config import Config
from hypercorn.trio import serve

from smppgw.app import app_config_from_dict
from smppgw.gateway.config import ConfigError
from smppgw.gateway.webhook_config import WebhookSettings
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc, wait_until

SECRET = b"api-webhook-test-secret"
# Loopback receivers need allow_private_targets (the SSRF rule refuses them otherwise).
FAST = WebhookSettings(backoff=0.05, backoff_cap=0.2, allow_private_targets=True, callback_secrets=(SECRET,))


class Receiver:
    """Records every call; answers ``codes[name]`` (default 204)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.codes: dict[str, int] = {}
        self.url = ""
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(name: str, request: Request) -> Response:
            self.calls.append((name, await request.body(), dict(request.headers)))
            return Response(status_code=self.codes.get(name, 204))

        self.app = app

    async def start(self, nursery: trio.Nursery) -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = config.errorlog = None
        urls = await nursery.start(partial(serve, self.app, config))  # type: ignore[arg-type]
        self.url = str(urls[0])

    def events(self, name: str) -> list[dict[str, Any]]:
        verifier = standardwebhooks.Webhook(base64.b64encode(SECRET).decode())
        return [verifier.verify(body, headers) for n, body, headers in self.calls if n == name]


async def test_status_events_reach_the_callback_url_signed_and_replay(tmp_path: Path) -> None:
    receiver = Receiver()
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator(behaviour={"dlr_delay": 0.2}) as sim:
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=FAST)
            async with serving(cfg) as api:
                body = {"to": "447700900001", "from": "12345", "text": "x" * 200}
                hooked = await api.post(
                    "/v1/messages", {**body, "callback_url": receiver.url + "/hook/status"}
                )
                plain = await api.post("/v1/messages", {**body, "to": "447700900002"})
                await api.wait_status(hooked.json()["id"], {"delivered"})
                await api.wait_status(plain.json()["id"], {"delivered"})
                assert await wait_until(lambda: len(receiver.calls) == 2, 5), receiver.calls
                path = f"/v1/messages/{hooked.json()['id']}"
                with trio.fail_after(5):  # the outcomes are recorded in batches
                    while True:
                        view = (await api.get(path)).json()
                        if {d["state"] for d in view["deliveries"]} == {"delivered"}:
                            break
                        await trio.sleep(0.02)
                replay = (await api.get("/v1/events", params={"type": "message.status", "limit": 3})).json()
                rest = (await api.get("/v1/events", params={"after": replay["next"]})).json()
                inbound_only = (await api.get("/v1/events", params={"type": "message.inbound"})).json()
        nursery.cancel_scope.cancel()
    events = receiver.events("status")
    assert [(e["type"], e["sequence"], e["data"]["status"]) for e in events] == [
        ("message.status", 1, "submitted"), ("message.status", 2, "delivered"),
    ]  # fmt: skip
    assert all(e["subject"] == hooked.json()["id"] and e["occurred_at"].endswith("Z") for e in events)
    assert [p["receipt_stat"] for p in events[1]["data"]["parts"]] == ["DELIVRD", "DELIVRD"]
    [d1, d2] = view["deliveries"]
    assert {d1["state"], d2["state"]} == {"delivered"} and d1["endpoint"].startswith("callback:127.0.0.1:")
    assert "url" not in d1 and d1["attempts"] == 1
    # The log: both messages' events, in order; the cursor reads on; the type filters.
    log = replay["events"] + rest["events"]
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log) and len(log) == 4
    assert len(replay["events"]) == 3 and rest["next"] == log[-1]["seq"]
    assert {e["id"] for e in log} >= {e["id"] for e in events}
    assert inbound_only["events"] == []


async def test_inbound_events_go_to_the_inbound_url(tmp_path: Path) -> None:
    receiver = Receiver()
    handsets = [{"match": "Reply YES", "replies": ["YES"], "delay": 0.05}]
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator(behaviour={"handsets": handsets}) as sim:
            table = {"inbound_url": receiver.url + "/hook/inbound", "allow_private_targets": True}
            settings = app_config_from_dict(
                {"smsc": [smsc(sim)], "api": {"keys": ["k" * 8]}, "webhooks": table}, environ={}
            ).webhooks
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=settings)
            async with serving(cfg) as api:
                await api.post(
                    "/v1/messages", {"to": "447700900003", "from": "12345", "text": "Reply YES now"}
                )
                assert await wait_until(lambda: len(receiver.calls) == 1, 5)
                replay = (await api.get("/v1/events", params={"type": "message.inbound"})).json()
        nursery.cancel_scope.cancel()
    [(_, body, headers)] = receiver.calls
    assert "webhook-signature" not in headers  # no secret_env: unsigned
    import json

    event = json.loads(body)
    assert event["type"] == "message.inbound" and event["subject"] == "inbound:1" and event["sequence"] == 1
    assert event["data"]["text"] == "YES" and event["data"]["source"] == "447700900003"
    assert [e["id"] for e in replay["events"]] == [event["id"]]


async def test_dead_letters_are_listed_and_retried_through_the_api(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.codes["status"] = 410  # refused for good: dead at once
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator() as sim:
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=FAST)
            async with serving(cfg) as api:
                body = {"to": "447700900001", "from": "12345", "text": "hi", "dlr": False}
                r = await api.post("/v1/messages", {**body, "callback_url": receiver.url + "/hook/status"})
                await api.wait_status(r.json()["id"], {"submitted"})

                async def dead() -> list[dict[str, Any]]:
                    return list((await api.get("/v1/webhooks/dead")).json()["deliveries"])

                with trio.fail_after(5):
                    while not (letters := await dead()):
                        await trio.sleep(0.05)
                [letter] = letters
                assert (letter["state"], letter["attempts"], letter["last_status"]) == ("dead", 1, 410)
                assert (await api.post("/v1/webhooks/dead/evt_nope_1/retry", None)).status_code == 404
                receiver.codes["status"] = 200
                retried = await api.post(f"/v1/webhooks/dead/{letter['event_id']}/retry", None)
                assert retried.json() == {"retried": 1}
                assert await wait_until(lambda: len(receiver.calls) == 2, 5)
                with trio.fail_after(5):
                    while await dead():
                        await trio.sleep(0.05)
                assert (await api.post("/v1/webhooks/dead/retry", None)).json() == {"retried": 0}
        nursery.cancel_scope.cancel()
    assert [h["webhook-id"] for _, _, h in receiver.calls] == [letter["event_id"]] * 2


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/x", "http://localhost/x", "http://10.0.0.7/x", "http://[::1]/x",
     "http://169.254.169.254/latest", "http://0.0.0.0/", "http://224.0.0.1/", "http://192.168.1.1/"],
)  # fmt: skip
async def test_callback_urls_to_private_targets_are_refused(tmp_path: Path, url: str) -> None:
    async with simulator() as sim:
        async with serving(app_config([smsc(sim)], tmp_path / "db")) as api:
            body = {"to": "447700900001", "from": "12345", "text": "hi", "callback_url": url}
            r = await api.post("/v1/messages", body)
            batch = await api.post("/v1/messages/batch", {"messages": [body]})
    assert r.status_code == 422 and "callback_url" in str(r.json()), r.json()
    assert "callback_url" in batch.json()["results"][0]["detail"]


def _config(table: dict[str, Any], environ: dict[str, str] | None = None) -> WebhookSettings:
    smsc_table = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "s", "password": "p"}
    return app_config_from_dict(
        {"smsc": [smsc_table], "api": {"keys": ["k" * 8]}, "webhooks": table}, environ=environ or {}
    ).webhooks


def test_endpoints_and_rotated_secrets_are_read_from_config() -> None:
    one, two = base64.b64encode(b"first").decode(), base64.b64encode(b"second").decode()
    settings = _config(
        {"secret_env": "CB", "retry_for": 60, "max_concurrency": 2,
         "endpoint": [{"url": "https://a.example/h?t=1", "events": ["message.inbound"], "secret_env": "EP"}]},
        {"CB": f"whsec_{one}", "EP": f"whsec_{one} whsec_{two}"},
    )  # fmt: skip
    [endpoint] = settings.endpoints
    assert (endpoint.name, endpoint.events, endpoint.secrets) == (
        "a.example",
        {"message.inbound"},
        (b"first", b"second"),
    )
    assert (
        settings.callback_secrets == (b"first",)
        and settings.retry_for == 60
        and settings.max_concurrency == 2
    )
    assert "t=1" not in repr(endpoint)  # the URL may carry a token


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"inbound_url": "ftp://x"}, r"webhooks.inbound_url: an http\(s\) URL"),
        ({"attempts": 3}, "webhooks.attempts: unknown key"),
        ({"backoff": -1}, "webhooks.backoff: must be a number > 0"),
        ({"secret_env": "NOPE"}, "webhooks.secret_env: environment variable NOPE is not set"),
        ({"secret_env": "BAD"}, "webhooks.secret_env: BAD: a secret is whsec_ followed by base64"),
        ({"allow_private_targets": "yes"}, "webhooks.allow_private_targets: expected true or false"),
        ({"endpoint": [{"url": "https://a/", "secret": "x"}]}, r"webhooks.endpoint\[0\].secret: unknown key"),
        ({"endpoint": [{"events": []}]}, r"webhooks.endpoint\[0\].url: missing"),
        (
            {"endpoint": [{"url": "https://a/", "secret_env": "NOPE"}]},
            r"webhooks.endpoint\[0\].secret_env: environment",
        ),
        (
            {"endpoint": [{"url": "https://a/x"}, {"url": "https://a/y"}]},
            r"webhooks.endpoint\[1\].name: 'a' is taken",
        ),
    ],
)
def test_bad_webhooks_config_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(table, {"BAD": "whsec_!!!"})
