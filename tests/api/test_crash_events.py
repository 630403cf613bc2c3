"""The event outbox across a SIGKILL and a receiver outage, with ``smppgw serve`` as a
process: the receiver is down while messages are sent and delivered, the gateway is
killed (SIGKILL, by the PID this test started), then both come back: every event
arrives at least once, with the id it was first tried with, and its signature verifies
with ``standardwebhooks``, an implementation of the scheme that is not ours.
"""

from __future__ import annotations

import base64
import socket
from functools import partial
from pathlib import Path
from typing import Any

import standardwebhooks
import trio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from hypercorn.config import Config
from hypercorn.trio import serve

from simulator.smsc import Simulator
from tests.api.test_crash import _receipts_answered, _Serve, _wait
from tests.gateway.helpers import simulator, smsc

SECRET = "whsec_" + base64.b64encode(b"outbox-crash-test-secret").decode()
MESSAGES = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, sim: Simulator, hook_port: int) -> Path:
    table: dict[str, Any] = smsc(sim, binds=1)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in table.items()]
    path = tmp_path / "gw.toml"
    path.write_text(
        "[[smsc]]\n" + "\n".join(lines).replace("True", "true") + "\n\n"
        # No write-behind flush during the test: what survives is what the commits made durable.
        f'[store]\npath = "{tmp_path / "db.sqlite3"}"\nflush_interval = 30\n\n'
        '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n\n'
        "[webhooks]\nbackoff = 0.2\nbackoff_cap = 0.5\n\n"
        f'[[webhooks.endpoint]]\nurl = "http://127.0.0.1:{hook_port}/hook?token=abc"\n'
        'name = "platform"\nsecret_env = "GW_HOOK_SECRET"\n'
    )
    return path


async def test_every_event_arrives_signed_after_an_outage_and_a_sigkill(tmp_path: Path) -> None:
    hook_port = _free_port()
    got: list[tuple[bytes, dict[str, str]]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        got.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    async with simulator() as sim, trio.open_nursery() as nursery:
        gw = _Serve(_config(tmp_path, sim, hook_port), env={"GW_HOOK_SECRET": SECRET})
        try:
            async with await gw.start() as http:  # ready: a bind is up
                ids = []
                for i in range(MESSAGES):
                    body = {"to": f"44770090000{i}", "from": "12345", "text": "hi"}
                    r = await http.post("/v1/messages", json=body)
                    assert r.status_code == 202
                    ids.append(r.json()["id"])
                # Every receipt answered: each status change, and so its event, is on disk.
                await _wait(lambda: _receipts_answered(sim) == MESSAGES)

                async def tried() -> bool:  # the receiver is down: attempts fail and are retried
                    view = (await http.get(f"/v1/messages/{ids[-1]}")).json()
                    return any(d["attempts"] >= 1 and d["state"] == "pending" for d in view["deliveries"])

                with trio.fail_after(15):
                    while not await tried():
                        await trio.sleep(0.05)
            await gw.kill()
            assert got == []

            config = Config()
            config.bind = [f"127.0.0.1:{hook_port}"]
            config.accesslog = config.errorlog = None
            await nursery.start(partial(serve, receiver, config))  # type: ignore[arg-type]
            await gw.start()
            expected = {f"evt_{i}_{n}" for i in ids for n in (1, 2)}
            await _wait(lambda: {h["webhook-id"] for _, h in got} >= expected, 30)
        finally:
            await gw.kill()
            nursery.cancel_scope.cancel()
    verifier = standardwebhooks.Webhook(SECRET)
    seen: dict[str, dict[str, Any]] = {}
    for body, headers in got:
        event = verifier.verify(body, headers)  # raises if the signature is wrong
        assert event["id"] == headers["webhook-id"]
        seen[event["id"]] = event
    assert {i for i, e in seen.items() if e["type"] == "message.status"} == expected
    # Threads are on (the default) but lazy: MTs to numbers that never answered make no
    # thread and so no thread event; the status events are all there is.
    assert {e["type"] for e in seen.values()} == {"message.status"}
    statuses = sorted(
        (e["subject"], e["sequence"], e["data"]["status"])
        for e in seen.values()
        if e["type"] == "message.status"
    )
    assert statuses == sorted((i, n, s) for i in ids for n, s in ((1, "submitted"), (2, "delivered")))
