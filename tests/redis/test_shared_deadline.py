"""The receipt deadline across gateways (issue 19, ``gateway/deadline.py``): a gateway
that sent messages is killed (SIGKILL, by the PID this test started) and never comes
back; another gateway on the same Redis makes its submitted-but-unreceipted messages
``unknown`` after their deadline, each with exactly one final ``message.status`` event;
and it removes the dead gateway's consumer (nothing pending) from the work queue's group
(``[store] consumer_idle``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import coredis
import httpx
import trio

from tests.api.test_crash import _Serve
from tests.gateway.helpers import simulator
from tests.redis.test_work_queue import _config

# The carrier never sends a receipt (nor an EXPIRED one when a validity lapses).
NEVER = {"outcomes": {"DELIVRD": 1.0}, "dlr_delay": 1_000_000.0, "honour_validity": False}
GRACE = 3  # seconds: the receipt deadline after the submit (no validity)


def _at(history: list[dict[str, Any]], status: str) -> float:
    """When the history moved to ``status`` (Unix time)."""
    return next(datetime.fromisoformat(h["at"]).timestamp() for h in history if h["status"] == status)


async def _consumers(url: str, prefix: str) -> list[str]:
    """The consumers of the work queue's group."""
    client: coredis.Redis[bytes] = coredis.Redis.from_url(url)
    async with client:
        found = await client.xinfo_consumers(f"{prefix}:work", "smppgw")
    return [c[b"name"].decode() for c in found]


async def _status_events(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await http.get("/v1/events", params={"type": "message.status", "after": after})).json()
        found += page["events"]
        if not page["events"]:
            return found
        after = page["next"]


async def test_a_dead_gateway_s_messages_become_unknown_on_another(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator() as sim:
        sim.set_behaviour(None, NEVER)
        a = _Serve(_config(tmp_path, "a", sim, redis_url, redis_prefix, receipt_grace=GRACE))
        b = _Serve(_config(tmp_path, "b", sim, redis_url, redis_prefix, receipt_grace=GRACE))
        path = b.config
        path.write_text(path.read_text().replace("claim_idle = 2\n", "claim_idle = 2\nconsumer_idle = 1\n"))
        try:
            first = await a.start()
            ids = []
            for i, text in enumerate(["short", "long enough for two parts " * 8, "third"]):
                r = await first.post(
                    "/v1/messages", json={"to": f"+4477009006{i:02d}", "from": "12345", "text": text}
                )
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            with trio.fail_after(10):  # submitted, and in Redis (the work entries settled)
                for message_id in ids:
                    while (await first.get(f"/v1/messages/{message_id}")).json()["status"] != "submitted":
                        await trio.sleep(0.05)
            await trio.sleep(0.3)  # past a write-behind flush
            assert a.proc is not None
            dead = f"-{a.proc.pid}-"  # its consumer's name: host-pid-tag
            assert any(dead in c for c in await _consumers(redis_url, redis_prefix))
            await a.kill()  # SIGKILL: its in-memory deadline dies with it
            await first.aclose()
            second = await b.start()
            with trio.fail_after(GRACE + 10):
                for message_id in ids:
                    while (view := (await second.get(f"/v1/messages/{message_id}")).json())[
                        "status"
                    ] != "unknown":
                        assert view["status"] == "submitted", view
                        await trio.sleep(0.1)
                    assert all(p["status"] == "unknown" for p in view["parts"]), view
                    last, sent = view["history"][-1], _at(view["history"], "submitted")
                    assert last["detail"] == "no final receipt within validity + receipt_grace"
                    assert _at(view["history"], "unknown") >= sent + GRACE - 0.01  # not before its deadline
            await trio.sleep(1.5)  # another sweep or two: nothing more is written
            events = await _status_events(second)
            for message_id in ids:
                final = [e for e in events if e["subject"] == message_id and e["data"]["final"]]
                assert [e["data"]["status"] for e in final] == ["unknown"], final
            assert len(sim.store) == 4  # each part sent once: nothing taken again
            with trio.fail_after(10):  # idle past consumer_idle, nothing pending: removed by B
                while any(dead in c for c in await _consumers(redis_url, redis_prefix)):
                    await trio.sleep(0.2)
            await second.aclose()
        finally:
            await a.kill()
            await b.kill()
