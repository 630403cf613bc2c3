"""``smppgw serve`` on the Redis store (issue 19), as a process against the real simulator.

- A Redis that can't be reached at start: exit 1, one line naming the URL.
- Messages sent through the API reach ``delivered`` by their receipts; the listing, the
  counts and the event log answer from Redis.
- A restart on Redis resumes unfinished messages: a part caught in the submit window by
  a SIGKILL is sent again (counted in ``resent_unknown``); a receipt answered before the
  kill is settled in Redis (nothing sent twice). The write-behind flush is widened to 30 s,
  so what survives the kill is exactly what the group commits wrote. The gateway started
  again binds once its dead incarnation's bind leases expire (``bind_lease_ttl = 5``).

The gateway is killed by the PID this test started, never by name.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from simulator.smsc import Simulator
from smppgw.store.redis import RedisStore
from tests.api.test_crash import _count, _receipts_answered, _Serve, _wait
from tests.gateway.helpers import simulator, smsc

BIN = Path(sys.executable).parent


def _config(tmp_path: Path, sim: Simulator | None, url: str, prefix: str, **smsc_keys: Any) -> Path:
    table: dict[str, Any] = (
        smsc(sim, binds=1, **smsc_keys)
        if sim is not None
        else {"name": "a", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}
    )
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in table.items()]
    path = tmp_path / "gw.toml"
    path.write_text(
        "[[smsc]]\n" + "\n".join(lines).replace("True", "true") + "\n\n"
        f'[store]\nbackend = "redis"\nurl = "{url}"\nprefix = "{prefix}"\nflush_interval = 30\nclaim_idle = 2\nbind_lease_ttl = 5\n\n'
        '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n'
    )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_exits_1_naming_the_url_when_redis_cant_be_reached(tmp_path: Path, redis_prefix: str) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    config = _config(tmp_path, None, url, redis_prefix)
    done = subprocess.run(
        [str(BIN / "smppgw"), "serve", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60, env={"GW_KEYS": "redis-test-key", "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip()
    assert err.startswith("smppgw: error: store: ") and url in err and "\n" not in err, err


async def test_serve_on_redis_delivers_messages_with_receipts(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        serve = _Serve(_config(tmp_path, sim, redis_url, redis_prefix))
        try:
            async with await serve.start() as http:
                ids = []
                for i in range(20):
                    r = await http.post(
                        "/v1/messages", json={"to": f"4477009001{i:02d}", "from": "12345", "text": f"hi {i}"}
                    )
                    assert r.status_code == 202, r.text
                    ids.append(r.json()["id"])
                with trio.fail_after(20):
                    for message_id in ids:
                        while (await http.get(f"/v1/messages/{message_id}")).json()["status"] != "delivered":
                            await trio.sleep(0.05)
                listed = (await http.get("/v1/messages", params={"status": "delivered", "limit": 50})).json()
                assert {m["id"] for m in listed["messages"]} == set(ids)
            assert _count(sim, "in", "submit_sm") == 20  # each once
        finally:
            await serve.kill()
    # What the gateway wrote is in Redis under its prefix: a new client reads it back.
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        assert store.counts() == {"delivered": 20}
        assert store.unfinished() == []
        back = store.get(ids[0])
        assert back is not None and [h[0].value for h in back.history][-1] == "delivered"
    finally:
        store.close()


async def test_a_restart_on_redis_resumes_a_part_caught_in_flight(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        serve = _Serve(_config(tmp_path, sim, redis_url, redis_prefix, response_timeout=60.0))
        try:
            async with await serve.start() as http:
                sim.set_behaviour(None, {"black_hole": True})  # bound; now nothing is answered
                r = await http.post(
                    "/v1/messages", json={"to": "447700900001", "from": "12345", "text": "hi"}
                )
                assert r.status_code == 202
                message_id = r.json()["id"]
                await _wait(lambda: _count(sim, "in", "submit_sm") == 1)  # in the window
            await serve.kill()
            sim.set_behaviour(None, {"black_hole": False})
            async with await serve.start() as http:
                with trio.fail_after(15):
                    while (view := (await http.get(f"/v1/messages/{message_id}")).json())[
                        "status"
                    ] != "delivered":
                        await trio.sleep(0.05)
                assert view["parts"][0]["resent_unknown"] == 1  # sent again after the restart, counted
                assert _count(sim, "in", "submit_sm") == 2
        finally:
            await serve.kill()


async def test_a_receipt_answered_before_a_sigkill_is_in_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        serve = _Serve(_config(tmp_path, sim, redis_url, redis_prefix, response_timeout=60.0))
        try:
            async with await serve.start() as http:
                r = await http.post(
                    "/v1/messages", json={"to": "447700900002", "from": "12345", "text": "hi"}
                )
                message_id = r.json()["id"]
                await _wait(lambda: _receipts_answered(sim) == 1)  # the SMSC has our deliver_sm_resp
            await serve.kill()
            async with await serve.start() as http:
                view = (await http.get(f"/v1/messages/{message_id}")).json()
                assert view["status"] == "delivered", view
                assert _count(sim, "in", "submit_sm") == 1 and view["parts"][0]["resent_unknown"] == 0
        finally:
            await serve.kill()
