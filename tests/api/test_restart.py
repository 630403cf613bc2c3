"""Durability across restarts (DESIGN §3): what the API accepted is sent after a restart,
and receipts for parts sent before it still settle their messages. Real app, real HTTP,
real simulator; two app runs on one SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from smppgw.store.base import MessageRecord, PartRecord, Status
from smppgw.store.sqlite import SqliteStore
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc

DOWN = {
    "name": "a",
    "host": "127.0.0.1",
    "port": 1,
    "system_id": "x",
    "password": "y",
    "connect_timeout": 0.2,
}


async def test_messages_accepted_while_the_carrier_is_down_are_sent_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite3"
    async with serving(app_config([DOWN], db)) as api:
        ids = []
        for i in range(3):
            r = await api.post("/v1/messages", {"to": f"44770090020{i}", "from": "12345", "text": "x" * 200})
            assert r.status_code == 202
            ids.append(r.json()["id"])
    async with simulator() as sim, serving(app_config([smsc(sim)], db)) as api:
        for message_id in ids:
            view = await api.wait_status(message_id, {"delivered"})
            assert [p["status"] for p in view["parts"]] == ["delivered", "delivered"]
        got = [m for m in sim.store.select(limit=100)]
        assert len(got) == 6  # 3 messages x 2 parts, each once
        # The parts of one message keep one concatenation reference across the restart.
        refs = {m.destination_addr: set() for m in got}
        for m in got:
            refs[m.destination_addr].add(m.payload[3])  # UDH8: 05 00 03 REF TOTAL SEQ
        assert all(len(r) == 1 for r in refs.values()), refs


async def test_receipts_after_a_restart_settle_messages_sent_before_it(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite3"
    async with simulator(behaviour={"dlr_delay": 1.5}) as sim:
        async with serving(app_config([smsc(sim)], db)) as api:
            ids = [
                (
                    await api.post("/v1/messages", {"to": f"44770090030{i}", "from": "12345", "text": "hi"})
                ).json()["id"]
                for i in range(4)
            ]
            for message_id in ids:
                await api.wait_status(message_id, {"submitted"})
        # Stopped before any receipt; the simulator keeps them for the account's next bind.
        async with serving(app_config([smsc(sim)], db)) as api:
            for message_id in ids:
                view = await api.wait_status(message_id, {"delivered"}, timeout=8)
                assert view["parts"][0]["resent_unknown"] == 0
            assert len(sim.store.select(limit=100)) == 4  # nothing sent twice
            assert api.gateway.receipts.correlator.held == 0


async def test_a_part_caught_in_flight_is_sent_again_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite3"
    store = SqliteStore(db, clock_offset=time.time() - trio.current_time())
    now = trio.current_time()
    record = MessageRecord(
        id="f" * 32, source="12345", destination="447700900401", text="in flight", route="default",
        smsc="a", status=Status.SUBMITTING, created_at=now, updated_at=now, reference=9,
        parts=[PartRecord(index=1, total=1, status=Status.SUBMITTING, attempts=1)],
    )  # fmt: skip
    store.add([record])
    store.close()
    async with simulator() as sim, serving(app_config([smsc(sim)], db)) as api:
        view = await api.wait_status(record.id, {"delivered"})
        assert view["parts"][0]["resent_unknown"] == 1
        assert [m.destination_addr for m in sim.store.select(limit=10)] == ["447700900401"]


async def test_a_message_whose_smsc_left_the_config_fails_with_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite3"
    store = SqliteStore(db)
    record = MessageRecord(
        id="e" * 32, source="12345", destination="447700900402", text="orphan", route="default",
        smsc="gone", status=Status.QUEUED, parts=[PartRecord(index=1, total=1)],
    )  # fmt: skip
    store.add([record])
    store.close()
    async with simulator() as sim, serving(app_config([smsc(sim)], db)) as api:
        view = await api.wait_status(record.id, {"failed"})
        assert "no longer configured" in view["error"]
