"""``smppsim --trace``: the simulator traces every connection's PDUs from its side (rx the
ESME's requests, tx its answers), the bind's password masked."""

from __future__ import annotations

import io
import json
from functools import partial

import trio

from simulator import run_simulator
from simulator.config import config_from_dict
from smppgw.core.pdu import SubmitSm
from smppgw.net.esme import open_esme
from smppgw.net.trace import PduTracer

SECRET = "Tr4ceMe"


async def test_the_simulator_traces_its_side_of_each_connection() -> None:
    out = io.StringIO()
    tracer = PduTracer(out)
    config = config_from_dict({"port": 0, "seed": 1, "account": [{"system_id": "acme", "password": SECRET}]})
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(partial(run_simulator, config, tracer=tracer))
            async with open_esme("127.0.0.1", sim.port, system_id="acme", password=SECRET) as conn:
                await conn.request(
                    SubmitSm(source_addr="12345", destination_addr="447700900001", short_message=b"hi")
                )
            nursery.cancel_scope.cancel()
    assert SECRET not in out.getvalue()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["dir"], r["command"]) for r in records] == [
        ("rx", "bind_transceiver"), ("tx", "bind_transceiver_resp"), ("rx", "submit_sm"),
        ("tx", "submit_sm_resp"), ("rx", "unbind"), ("tx", "unbind_resp"),
    ]  # fmt: skip
    assert records[0]["fields"]["password"] == "***" and "system_id" not in records[0]["conn"]
    assert all(r["conn"]["system_id"] == "acme" for r in records[1:])
    assert records[0]["conn"]["local"] == f"127.0.0.1:{sim.port}"
    assert records[2]["fields"]["short_message"] == "hi"
