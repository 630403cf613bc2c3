"""Webhooks over real HTTP: a receiver app on a loopback port gets each status a message
reaches and each inbound message; failures are retried with backoff, then given up."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypercorn.config import Config
from hypercorn.trio import serve

from smppgw.app import app_config_from_dict
from smppgw.gateway.config import ConfigError
from smppgw.gateway.notify import WebhookSettings
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import metric, simulator, smsc, wait_until


def calls(gw: Any, result: str) -> float:
    try:
        return metric(gw, "smppgw_webhooks_total", kind="status", result=result)
    except KeyError:  # no such call yet
        return 0.0


FAST = WebhookSettings(attempts=3, backoff=0.05, timeout=2.0)


class Receiver:
    """Records every call; answers 500 to the first ``fail_first`` calls of each path."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_first = fail_first
        self.url = ""
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(name: str, request: Request) -> JSONResponse:
            self.calls.append((name, await request.json()))
            if sum(1 for n, _ in self.calls if n == name) <= self.fail_first:
                return JSONResponse({"detail": "try later"}, status_code=500)
            return JSONResponse({}, status_code=204 if name == "status" else 200)

        self.app = app

    async def start(self, nursery: trio.Nursery) -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = config.errorlog = None
        urls = await nursery.start(partial(serve, self.app, config))  # type: ignore[arg-type]
        self.url = str(urls[0])

    def bodies(self, name: str) -> list[dict[str, Any]]:
        return [b for n, b in self.calls if n == name]


async def test_each_status_a_message_reaches_is_posted_once(tmp_path: Path) -> None:
    receiver = Receiver()
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator(behaviour={"dlr_delay": 0.2}) as sim:
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=FAST)
            async with serving(cfg) as api:
                hooked = await api.post(
                    "/v1/messages",
                    {
                        "to": "447700900001",
                        "from": "12345",
                        "text": "x" * 200,
                        "callback_url": receiver.url + "/hook/status",
                    },
                )
                plain = await api.post(
                    "/v1/messages", {"to": "447700900002", "from": "12345", "text": "no hook"}
                )
                await api.wait_status(hooked.json()["id"], {"delivered"})
                await api.wait_status(plain.json()["id"], {"delivered"})
                assert await wait_until(lambda: len(receiver.calls) == 2, 5), receiver.calls
        nursery.cancel_scope.cancel()
    statuses = receiver.bodies("status")
    assert {b["status"] for b in statuses} == {"submitted", "delivered"}
    assert all(b["id"] == hooked.json()["id"] and b["type"] == "message.status" for b in statuses)
    delivered = next(b for b in statuses if b["status"] == "delivered")
    assert [p["receipt_stat"] for p in delivered["parts"]] == ["DELIVRD", "DELIVRD"]


async def test_failed_calls_are_retried_then_given_up_and_counted(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=2)  # succeeds on the 3rd try
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator() as sim:
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=FAST)
            async with serving(cfg) as api:
                r = await api.post(
                    "/v1/messages",
                    {
                        "to": "447700900001",
                        "from": "12345",
                        "text": "hi",
                        "dlr": False,
                        "callback_url": receiver.url + "/hook/status",
                    },
                )
                await api.wait_status(r.json()["id"], {"submitted"})
                assert await wait_until(lambda: len(receiver.calls) == 3, 5), receiver.calls
                # Nowhere to deliver: every attempt fails, then it is given up.
                r2 = await api.post(
                    "/v1/messages",
                    {
                        "to": "447700900002",
                        "from": "12345",
                        "text": "hi",
                        "dlr": False,
                        "callback_url": "http://127.0.0.1:1/x",
                    },
                )
                await api.wait_status(r2.json()["id"], {"submitted"})
                gw = api.gateway
                assert await wait_until(lambda: calls(gw, "failed") == 1, 5)
                assert calls(gw, "ok") == 1
                assert calls(gw, "retry") == 4
        nursery.cancel_scope.cancel()
    assert [b["status"] for b in receiver.bodies("status")] == ["submitted"] * 3


async def test_inbound_messages_are_posted_to_the_inbound_url(tmp_path: Path) -> None:
    receiver = Receiver()
    handsets = [{"match": "Reply YES", "replies": ["YES"], "delay": 0.05}]
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        async with simulator(behaviour={"handsets": handsets}) as sim:
            settings = attrs.evolve(FAST, inbound_url=receiver.url + "/hook/inbound")
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=settings)
            async with serving(cfg) as api:
                await api.post(
                    "/v1/messages", {"to": "447700900003", "from": "12345", "text": "Reply YES now"}
                )
                assert await wait_until(lambda: len(receiver.bodies("inbound")) == 1, 5)
        nursery.cancel_scope.cancel()
    [body] = receiver.bodies("inbound")
    assert body["type"] == "inbound" and body["text"] == "YES" and body["source"] == "447700900003"
    assert body["seq"] == 1 and body["destination"] == "12345"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"inbound_url": "ftp://x"}, "webhooks.inbound_url: an http(s) URL"),
        ({"attempts": 0}, "webhooks.attempts: an integer in 1..100"),
        ({"backoff": -1}, "webhooks.backoff: must be a number > 0"),
        ({"secret": "x"}, "webhooks.secret: unknown key"),
    ],
)
def test_bad_webhooks_config_names_the_key(table: dict[str, Any], message: str) -> None:
    smsc_table = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "s", "password": "p"}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        app_config_from_dict(
            {"smsc": [smsc_table], "api": {"keys": ["k" * 8]}, "webhooks": table}, environ={}
        )
