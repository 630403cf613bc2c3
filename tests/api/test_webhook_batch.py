"""Batched webhook bodies end to end, over real HTTP and SQLite: messages through the API,
the simulator's receipts, and a ``[[webhooks.endpoint]]`` with ``batch`` that gets JSON
arrays of events, each call's signature checked by the independent ``standardwebhooks``
library. The logic alone (retries, dead letters, a burst): tests/gateway/test_webhook_batch.py."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from smppgw.gateway.webhook_config import Endpoint, webhooks_from_dict
from tests.api.helpers import app_config, serving
from tests.api.test_webhooks import FAST, SECRET, Receiver
from tests.gateway.helpers import simulator, smsc, wait_until


async def test_a_batched_endpoint_gets_every_event_of_every_message_signed(tmp_path: Path) -> None:
    receiver = Receiver()
    async with trio.open_nursery() as nursery:
        await receiver.start(nursery)
        endpoint = Endpoint(name="platform", url=receiver.url + "/hook/batch", secrets=(SECRET,), batch=8,
                            batch_wait=0.2, events=frozenset({"message.status"}))  # fmt: skip
        settings = attrs.evolve(FAST, endpoints=(endpoint,))
        async with simulator(behaviour={"dlr_delay": 0.05}) as sim:
            cfg = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=settings)
            async with serving(cfg) as api:
                items = [{"to": f"4477009{i:05d}", "from": "12345", "text": "hi"} for i in range(20)]
                answer = (await api.post("/v1/messages/batch", {"messages": items})).json()
                ids = [r["id"] for r in answer["results"]]
                for message_id in ids:
                    await api.wait_status(message_id, {"delivered"})
                assert await wait_until(lambda: sum(len(e) for e in receiver.events("batch")) >= 40, 10)
                with trio.fail_after(5):  # the outcomes are recorded in batches
                    while True:
                        views = [(await api.get(f"/v1/messages/{m}")).json() for m in ids]
                        if all({d["state"] for d in v["deliveries"]} == {"delivered"} for v in views):
                            break
                        await trio.sleep(0.05)
                replay = (await api.get("/v1/events", params={"type": "message.status", "limit": 100})).json()
        nursery.cancel_scope.cancel()
    calls = receiver.events("batch")  # each verified by standardwebhooks (raises if not)
    assert all(isinstance(body, list) and 1 <= len(body) <= 8 for body in calls)
    events = [e for body in calls for e in body]
    assert len(events) == 40 and len({e["id"] for e in events}) == 40  # submitted + delivered, once each
    assert {(e["subject"], e["sequence"], e["data"]["status"]) for e in events} == {
        (m, n, status) for m in ids for n, status in ((1, "submitted"), (2, "delivered"))
    }
    assert len(calls) < 40  # batched
    headers = [h for name, _, h in receiver.calls if name == "batch"]
    assert all(h["webhook-id"].startswith("batch_") for h in headers)
    assert {e["id"] for e in replay["events"]} == {e["id"] for e in events}  # the same events as the log
    assert all(len(v["deliveries"]) == 2 and v["deliveries"][0]["endpoint"] == "platform" for v in views)


def test_batch_and_batch_wait_are_read_from_config_and_bounded() -> None:
    import pytest

    from smppgw.support.config import ConfigError

    [endpoint] = webhooks_from_dict({"endpoint": [{"url": "https://a.example/h", "batch": 50, "batch_wait": 0.5}]},
                                    environ={}).endpoints  # fmt: skip
    assert (endpoint.batch, endpoint.batch_wait) == (50, 0.5)
    [plain] = webhooks_from_dict({"endpoint": [{"url": "https://a.example/h"}]}, environ={}).endpoints
    assert plain.batch == 1
    for table, message in (
        ({"batch": 0}, r"webhooks.endpoint\[0\].batch"),
        ({"batch": 1001}, r"webhooks.endpoint\[0\].batch"),
        ({"batch_wait": -1}, r"webhooks.endpoint\[0\].batch_wait"),
        ({"batch_wait": "soon"}, r"webhooks.endpoint\[0\].batch_wait"),
    ):
        with pytest.raises(ConfigError, match=message):
            webhooks_from_dict({"endpoint": [{"url": "https://a.example/h", **table}]}, environ={})
