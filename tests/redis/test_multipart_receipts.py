"""The receipts of one multi-part message read by different gateways (issue 19, item 5:
"a receipt received by any node settles the message sent by any other").

The simulator deals deliver_sm to the account's binds in turn, so with two gateways of
one bind each, a two-part message's two receipts reach both gateways: the sender and
the other. With a carrier's usual receipt delay (1 s here) both come after the sender's
commit, at about the same moment: the sender applies its one to the copy it holds in
memory, the other gateway applies its one to a copy read from Redis, and each writes
its whole copy. Each must settle its part: the message is ``delivered`` in Redis, with
both parts' receipts.

Gateways are killed by the PIDs this test started, never by name."""

from __future__ import annotations

from pathlib import Path

import trio

from smppgw.store.redis import RedisStore
from tests.api.test_crash import _Serve
from tests.gateway.helpers import simulator
from tests.redis.test_work_queue import _config, _metric

N = 20
TEXT = "two parts of one message, each with its own receipt, read by either gateway " * 3  # > 160


async def test_the_receipts_of_one_message_read_by_two_gateways_both_settle_it(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async with simulator(behaviour={"dlr_delay": 1.0}) as sim:
        serves = [
            _Serve(_config(tmp_path, f"gw{i}", sim, redis_url, redis_prefix, binds=2)) for i in range(2)
        ]
        store = RedisStore(redis_url, prefix=redis_prefix)
        try:
            clients = [await s.start() for s in serves]
            ids = []
            for i in range(N):
                r = await clients[i % 2].post(
                    "/v1/messages", json={"to": f"+4477009{i:05d}", "from": "12345", "text": TEXT}
                )
                assert r.status_code == 202 and r.json()["segments"] == 2, r.text
                ids.append(r.json()["id"])
            with trio.move_on_after(20):  # ~1 s each, all at once; room for a busy machine
                while sum([await _metric(c, "smppgw_receipts_total") for c in clients]) < 2 * N:
                    await trio.sleep(0.1)
            read = [await _metric(c, "smppgw_receipts_total") for c in clients]
            assert sum(read) == 2 * N and min(read) > 0, read  # every receipt read, by both gateways
            await trio.sleep(1.0)  # past the last group commit
            records = {m: store.get(m) for m in ids}
            wrong = {
                m: (r.status.value, [p.receipt_stat for p in r.parts]) if r else None
                for m, r in records.items()
                if r is None
                or r.status.value != "delivered"
                or any(p.receipt_stat != "DELIVRD" for p in r.parts)
            }
            assert not wrong, (f"{len(wrong)} of {N} not delivered in Redis", wrong)
            for c in clients:
                await c.aclose()
        finally:
            store.close()
            for s in serves:
                await s.kill()
