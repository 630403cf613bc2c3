"""``smppgw send`` against an in-process simulator (DESIGN §4.1: JSON lines, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import trio

from smppgw.core.states import BindMode
from smppgw.sendcmd import SMSC_NAME, SendOptions, one_smsc_config, run_send
from tests.gateway.helpers import ACCOUNT, HOST, PASSWORD, simulator

SMSC = {"host": HOST, "port": 2775, "system_id": ACCOUNT, "password": PASSWORD}
LONG_TEXT = "".join(f"part of a long message number {i:03d}. " for i in range(12))[:400]


async def smppgw(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "smppgw.cli", "send", *args],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


def lines(output: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.decode().splitlines() if line.strip()]


async def test_send_prints_a_line_per_part_and_per_receipt() -> None:
    with trio.fail_after(30):
        async with simulator(behaviour={"dlr_delay": 0.05}) as sim:
            result = await smppgw(
                "--smsc", f"{HOST}:{sim.port}", "--system-id", ACCOUNT, "--password", PASSWORD,
                "--from", "12345", "--to", "+447700900001", "--text", LONG_TEXT, "--dlr", "--wait-dlr", "5",
            )  # fmt: skip
            received = sim.store.select()
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    resps = [x for x in out if x["type"] == "submit_sm_resp"]
    receipts = [x for x in out if x["type"] == "receipt"]
    assert [(x["part"], x["parts"], x["status"]) for x in resps] == [(n, 3, "ESME_ROK") for n in (1, 2, 3)]
    assert {x["message_id"] for x in resps} == {m.message_id for m in received}
    assert sorted(x["part"] for x in receipts) == [1, 2, 3]
    assert all(x["stat"] == "DELIVRD" and x["final"] for x in receipts)
    for receipt in receipts:  # each receipt names the part whose id it carries
        [resp] = [x for x in resps if x["part"] == receipt["part"]]
        assert receipt["message_id"] == resp["message_id"]
    assert len(received) == 3


async def test_send_with_a_wrong_password_exits_1_naming_the_status() -> None:
    with trio.fail_after(30):
        async with simulator() as sim:
            result = await smppgw(
                "--smsc", f"{HOST}:{sim.port}", "--system-id", ACCOUNT, "--password", "wrong",
                "--from", "12345", "--to", "447700900001", "--text", "hi",
            )  # fmt: skip
    assert result.returncode == 1
    [line] = lines(result.stdout)
    assert line["type"] == "error" and line["status"] == "ESME_RINVPASWD"
    assert b"Traceback" not in result.stderr


async def test_send_with_a_bad_smsc_exits_2_with_one_line() -> None:
    with trio.fail_after(30):
        result = await smppgw(
            "--smsc", "no-port-here", "--system-id", ACCOUNT, "--password", PASSWORD,
            "--from", "12345", "--to", "447700900001", "--text", "hi",
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == b""
    [line] = result.stderr.decode().splitlines()
    assert "--smsc" in line


async def test_send_to_a_closed_port_exits_1() -> None:
    with trio.fail_after(30):
        async with simulator() as sim:
            port = sim.port
        result = await smppgw(
            "--smsc", f"{HOST}:{port}", "--system-id", ACCOUNT, "--password", PASSWORD,
            "--from", "12345", "--to", "447700900001", "--text", "hi",
        )  # fmt: skip
    assert result.returncode == 1
    [line] = lines(result.stdout)
    assert line["type"] == "error"
    assert b"Traceback" not in result.stderr


async def test_run_send_reports_a_rejected_part() -> None:
    force = [{"destination": "447700900099", "submit_status": "ESME_RINVDSTADR"}]
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(behaviour={"force": force}) as sim:
            opts = SendOptions(
                host=HOST, port=sim.port, system_id=ACCOUNT, password=PASSWORD,
                source="12345", destination="447700900099", text="hi", dlr=True, wait_dlr=2,
            )  # fmt: skip
            status = await run_send(opts, out.append)
    assert status == 1
    assert out == [
        {"type": "submit_sm_resp", "part": 1, "parts": 1, "status": "ESME_RINVDSTADR", "message_id": None}
    ]


async def test_run_send_waits_for_receipts_that_overtake_the_resp() -> None:
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(
            profile="dlr-before-resp", behaviour={"dlr_before_resp": 1.0, "outcomes": {"DELIVRD": 1}}
        ) as sim:
            opts = SendOptions(
                host=HOST, port=sim.port, system_id=ACCOUNT, password=PASSWORD,
                source="12345", destination="447700900001", text=LONG_TEXT, dlr=True, wait_dlr=5,
            )  # fmt: skip
            status = await run_send(opts, out.append)
    assert status == 0
    receipts = [x for x in out if x["type"] == "receipt"]
    assert sorted(x["part"] for x in receipts) == [1, 2, 3]


async def test_run_send_prefers_the_exact_id_over_the_other_base() -> None:
    """Parts with ids "10".."16": "10" read as hex is 16, yet its receipt is part 1's."""
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(behaviour={"dlr_delay": 0.02}) as sim:

            def opts(text: str) -> SendOptions:
                return SendOptions(
                    host=HOST, port=sim.port, system_id=ACCOUNT, password=PASSWORD,
                    source="12345", destination="447700900001", text=text, dlr=True, wait_dlr=5,
                )  # fmt: skip

            assert await run_send(opts("x" * 1300), lambda line: None) == 0  # ids 1..9
            assert await run_send(opts("y" * 930), out.append) == 0  # ids 10..16
    resps = {x["part"]: x["message_id"] for x in out if x["type"] == "submit_sm_resp"}
    receipts = {x["part"]: x["message_id"] for x in out if x["type"] == "receipt"}
    assert resps == {n: str(9 + n) for n in range(1, 8)}
    assert receipts == resps


def opts_for(port: int, **overrides: Any) -> SendOptions:
    fields: dict[str, Any] = {
        "host": HOST, "port": port, "system_id": ACCOUNT, "password": PASSWORD,
        "source": "12345", "destination": "447700900001", "text": "hi",
    }  # fmt: skip
    return SendOptions(**{**fields, **overrides})


async def test_run_send_reports_a_refused_bind_with_its_status() -> None:
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(behaviour={"refuse_binds": True}) as sim:
            status = await run_send(opts_for(sim.port), out.append)
    assert status == 1
    assert out == [{"type": "error", "error": "bind failed", "status": "ESME_RBINDFAIL"}]


async def test_run_send_names_the_option_of_a_bad_value_before_connecting() -> None:
    with trio.fail_after(5):
        with pytest.raises(ValueError, match=r"^--system-id: at most 15 characters"):
            await run_send(opts_for(1, system_id="x" * 16), lambda line: None)
        with pytest.raises(ValueError, match=r"^--timeout: must be a number > 0"):
            await run_send(opts_for(1, timeout=0.0), lambda line: None)
        with pytest.raises(ValueError, match=r"E\.164"):
            await run_send(opts_for(1, destination="1" * 20), lambda line: None)


async def test_run_send_over_a_transmitter_bind() -> None:
    assert one_smsc_config({**SMSC, "bind": "tx"}).smsc(SMSC_NAME).modes == (BindMode.TX,)
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator() as sim:
            status = await run_send(opts_for(sim.port, bind="tx"), out.append)
    assert status == 0
    assert [(x["type"], x["status"]) for x in out] == [("submit_sm_resp", "ESME_ROK")]


async def test_run_send_tells_a_timeout_from_a_lost_bind() -> None:
    timed_out: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(behaviour={"resp_latency": 1.0}) as sim:
            assert await run_send(opts_for(sim.port, timeout=0.3), timed_out.append) == 1
        async with simulator(behaviour={"drop_after_pdus": 2}) as sim:  # the bind, then the submit
            assert await run_send(opts_for(sim.port, timeout=5.0), lost.append) == 1
    assert [(x["part"], x["status"]) for x in timed_out] == [(1, "timeout")]
    assert [(x["part"], x["status"]) for x in lost] == [(1, "connection_lost")]


async def test_run_send_gets_the_receipt_after_the_smsc_unbinds() -> None:
    """The engine's bind pool binds again; the SMSC delivers the receipt on the new bind."""
    out: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with simulator(behaviour={"dlr_delay": 1.0, "unbind_after": 0.2}) as sim:
            status = await run_send(opts_for(sim.port, dlr=True, wait_dlr=5), out.append)
    assert status == 0
    assert [(x["type"], x.get("stat")) for x in out] == [("submit_sm_resp", None), ("receipt", "DELIVRD")]


async def test_send_reads_a_national_number_with_region() -> None:
    with trio.fail_after(30):
        async with simulator() as sim:
            result = await smppgw(
                "--smsc", f"{HOST}:{sim.port}", "--system-id", ACCOUNT, "--password", PASSWORD,
                "--from", "ACME", "--to", "07700 900001", "--region", "GB", "--text", "hi",
            )  # fmt: skip
            [m] = sim.store.select(limit=10)
    assert result.returncode == 0, result.stderr
    assert (m.destination_addr, m.dest_addr_ton, m.source_addr) == ("447700900001", 1, "ACME")


async def test_run_send_refuses_a_national_number_without_region_before_connecting() -> None:
    with trio.fail_after(5):
        with pytest.raises(ValueError, match=r"^--to: '07700900001': a national number"):
            await run_send(opts_for(1, destination="07700900001"), lambda line: None)
        with pytest.raises(ValueError, match=r"^--from: '\+44 1': "):
            await run_send(opts_for(1, source="+44 1"), lambda line: None)
        with pytest.raises(ValueError, match=r"^--region: "):
            await run_send(opts_for(1, destination="07700900001", region="UK"), lambda line: None)
