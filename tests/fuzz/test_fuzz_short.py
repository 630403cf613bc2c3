"""The short, seeded fuzz run of ``make test`` (seconds): a few hundred hostile frames at
the simulator while a clean client keeps working, and a few hundred at the gateway's
receiving side from a fake SMSC while its other SMSC keeps delivering. ``make fuzz``
(bench/fuzz.py) is the long run of the same code (tests/fuzz/live.py)."""

from __future__ import annotations

import functools
import logging

import pytest
import trio

from smppgw.store.base import Status
from tests.fuzz.frames import MUTATIONS, FrameMaker
from tests.fuzz.live import CleanResult, FakeSmsc, clean_client, hammer
from tests.gateway.helpers import dest, gateway, simulator, smsc, wait_all, wait_until
from tests.simulator.helpers import ACCOUNT, PASSWORD

SEED = 16
# The fuzzers bind with an account of their own: the clean client's binds are its own.
ACCOUNTS = [
    {"system_id": ACCOUNT, "password": PASSWORD},
    {"system_id": "fuzz", "password": "fuzz", "max_binds": 1000},
]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records at ERROR or above: a handler that raised, a task that died."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_frames_are_seeded_and_varied() -> None:
    one, two = FrameMaker(SEED).frames(300), FrameMaker(SEED).frames(300)
    assert one == two  # a run is reproduced by its seed
    assert FrameMaker(SEED + 1).frames(300) != one
    lengths = {int.from_bytes(f[:4], "big") == len(f) for f in one if len(f) >= 4}
    assert lengths == {True, False}  # some lengths lie, some do not
    assert len(MUTATIONS) >= 10


async def test_simulator_survives_hostile_frames_and_a_clean_client_keeps_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    clean = CleanResult()
    async with simulator(account=ACCOUNTS) as sim:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    functools.partial(
                        clean_client, "127.0.0.1", sim.port, (ACCOUNT, PASSWORD), count=60, result=clean
                    )
                )
                stats = await hammer(
                    "127.0.0.1",
                    sim.port,
                    seed=SEED,
                    connections=40,
                    frames_per_connection=10,
                    account=("fuzz", "fuzz"),
                    concurrency=4,
                )
        assert stats.frames >= 300
        assert stats.connections == 40
        # Still serving: a new client binds and submits after the storm.
        after = CleanResult()
        with trio.fail_after(10):
            await clean_client("127.0.0.1", sim.port, (ACCOUNT, PASSWORD), count=3, result=after)
        assert after.ok == 3
    assert (clean.ok, clean.failed) == (60, 0), clean.errors[:5]
    assert _errors(caplog) == []


async def test_gateway_receiving_side_survives_a_hostile_smsc(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    fake = FakeSmsc(seed=SEED, frames_per_connection=100, max_connections=30)
    async with simulator() as sim, trio.open_nursery() as nursery:
        [listener] = await nursery.start(functools.partial(trio.serve_tcp, fake.handle, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        hostile = smsc(sim, "fuzz", port=port, binds=1, connect_timeout=1.0)
        hostile["system_id"] = "fuzz"
        async with gateway(
            smsc(sim, "sim"), hostile, route=[{"name": "default", "smscs": ["sim"]}], up=False
        ) as gw:
            assert await wait_until(lambda: fake.frames >= 300, 20), (fake.frames, fake.connections)
            # The other SMSC's binds were never disturbed: messages go and are delivered.
            records = [gw.submit(source="447700900000", destination=dest(i), text="x") for i in range(20)]
            await wait_all(gw, records, 30)
            assert {gw.store.get(r.id).status for r in records} == {Status.DELIVERED}  # type: ignore[union-attr]
        nursery.cancel_scope.cancel()
    assert fake.connections >= 1
    assert _errors(caplog) == []
