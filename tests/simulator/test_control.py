"""The control HTTP API and /metrics, over real HTTP (httpx on trio) next to real SMPP binds."""

from __future__ import annotations

from typing import Any

import trio

from smppgw.core.constants import CommandStatus
from smppgw.core.states import BindMode
from smppgw.net.esme import BindFailed
from tests.simulator.helpers import (
    ACCOUNT,
    DEST,
    PASSWORD,
    SOURCE,
    bound,
    control,
    metric,
    receipt_of,
    running,
    sms,
    status_of,
)

S = CommandStatus
TWO_ACCOUNTS: dict[str, Any] = {
    "http_port": 0,
    "account": [
        {"system_id": ACCOUNT, "password": PASSWORD},
        {"system_id": "second", "password": "pw", "max_binds": 1},
    ],
}


async def test_healthz() -> None:
    with trio.fail_after(5):
        async with running(http_port=0) as sim, control(sim) as http:
            r = await http.get("/healthz")
            assert (r.status_code, r.json()) == (200, {"status": "ok"})


async def test_binds_lists_sessions_and_their_counters() -> None:
    with trio.fail_after(5):
        async with running(http_port=0) as sim, control(sim) as http:
            assert (await http.get("/binds")).json() == []
            async with bound(sim, BindMode.TRX) as esme, bound(sim, BindMode.RX):
                for _ in range(2):
                    await esme.ok(sms())
                await esme.wait_until(lambda: sim.accounts_info()[0]["deliveries_delivered"] == 2)
                binds = (await http.get("/binds")).json()
                assert [(b["account"], b["mode"], b["state"]) for b in binds] == [
                    (ACCOUNT, "trx", "bound_trx"),
                    (ACCOUNT, "rx", "bound_rx"),
                ]
                trx = binds[0]
                assert trx["peer"].startswith("127.0.0.1:")
                assert (trx["submits"], trx["throttled"], trx["deliver_sm_in_flight"]) == (2, 0, 0)
                assert trx["pdus_received"] >= 3  # bind, two submits (+ deliver_sm_resps)
                assert trx["pdus_sent"] >= 3
                assert binds[0]["id"] < binds[1]["id"]
                assert isinstance(trx["bound_at"], float)


async def test_accounts_and_stats() -> None:
    with trio.fail_after(5):
        async with running(**TWO_ACCOUNTS, behaviour={"tps": 2}) as sim, control(sim) as http:
            async with bound(sim) as esme:
                outcomes = esme.send_all(sms() for _ in range(3))
                await esme.wait_until(lambda: len(outcomes) == 3)
                accounts = (await http.get("/accounts")).json()
                assert [a["system_id"] for a in accounts] == [ACCOUNT, "second"]
                first = accounts[0]
                assert (first["binds"], first["max_binds"], first["submitted"], first["throttled"]) == (
                    1,
                    4,
                    2,
                    1,
                )
                assert first["behaviour"]["tps"] == 2.0
                assert first["behaviour"]["outcomes"] == [["DELIVRD", 1.0]]
                assert accounts[1]["binds"] == 0 and accounts[1]["max_binds"] == 1
                stats = (await http.get("/stats")).json()
                assert (stats["connections"], stats["binds"], stats["messages"]) == (1, 1, 2)
                assert stats["accounts"] == {
                    ACCOUNT: {"submitted": 2, "throttled": 1},
                    "second": {"submitted": 0, "throttled": 0},
                }


async def test_messages_with_filters() -> None:
    with trio.fail_after(5):
        force = [{"destination_suffix": "13", "outcome": "UNDELIV"}]
        async with running(**TWO_ACCOUNTS, behaviour={"force": force}) as sim, control(sim) as http:
            async with bound(sim) as esme:
                a = await esme.ok(sms(text=b"one"))
                b = await esme.ok(sms("447700900013", text=b"two"))
                await esme.wait_for(2)
            async with bound(sim, system_id="second", password="pw") as other:
                c = await other.ok(sms(source_addr="1234", text=b"three"))
                await other.wait_for(1)
            everything = (await http.get("/messages")).json()
            assert [m["message_id"] for m in everything] == [c.message_id, b.message_id, a.message_id]
            record = everything[2]
            assert (record["account"], record["source_addr"], record["destination_addr"]) == (
                ACCOUNT,
                SOURCE,
                DEST,
            )
            assert (record["payload_hex"], record["state"], record["receipts_sent"]) == (
                b"one".hex(),
                "DELIVRD",
                1,
            )

            async def ids(**params: Any) -> list[str]:
                r = await http.get("/messages", params=params)
                assert r.status_code == 200, r.text
                return [m["message_id"] for m in r.json()]

            assert await ids(account="second") == [c.message_id]
            assert await ids(source_addr=SOURCE) == [b.message_id, a.message_id]
            assert await ids(destination_addr="447700900013") == [b.message_id]
            assert await ids(state="undeliv") == [b.message_id]
            assert await ids(state="DELIVRD", account=ACCOUNT) == [a.message_id]
            assert await ids(limit=2) == [c.message_id, b.message_id]
            r = await http.get("/messages", params={"limit": 0})
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_inject_delivers_an_inbound_message() -> None:
    with trio.fail_after(5):
        async with running(**TWO_ACCOUNTS) as sim, control(sim) as http:
            async with (
                bound(sim, BindMode.RX) as mine,
                bound(sim, BindMode.RX, system_id="second", password="pw") as other,
            ):
                body = {
                    "source_addr": "447700900500",
                    "destination_addr": "12345",
                    "text": "hello from a phone",
                }
                r = await http.post("/inject", json=body)
                assert (r.status_code, r.json()) == (202, {"parts": 1})
                [mo] = await mine.wait_for(1)
                assert (mo.source_addr, mo.destination_addr, mo.short_message) == (
                    "447700900500",
                    "12345",
                    b"hello from a phone",
                )
                r = await http.post("/inject", json={**body, "account": "second", "text": "x" * 200})
                assert (r.status_code, r.json()) == (202, {"parts": 2})
                assert len(await other.wait_for(2)) == 2
                assert len(mine.received) == 1


async def test_inject_validation_errors_name_the_field() -> None:
    good = {"source_addr": "447700900500", "destination_addr": "12345", "text": "hi"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in good.items() if k != "text"}, "text"),
        ({**good, "text": ""}, "text"),
        ({**good, "source_addr": "1" * 21}, "source_addr"),
        ({**good, "destination_addr": ""}, "destination_addr"),
        ({**good, "bogus": 1}, "bogus"),
    ]
    with trio.fail_after(5):
        async with running(http_port=0) as sim, control(sim) as http:
            for body, field in cases:
                r = await http.post("/inject", json=body)
                assert r.status_code == 422, (body, r.text)
                assert r.json()["detail"][0]["loc"][-1] == field, r.text
            r = await http.post("/inject", json={**good, "account": "nobody"})
            assert r.status_code == 422
            assert "account" in r.json()["detail"] and "nobody" in r.json()["detail"]
            assert sum(len(a.queue) for a in sim.accounts.values()) == 0


async def test_patch_behaviour_takes_effect_on_the_next_submit() -> None:
    with trio.fail_after(5):
        async with running(**TWO_ACCOUNTS) as sim, control(sim) as http, bound(sim) as esme:
            assert (await esme.ok(sms())).message_id == "1"
            r = await http.patch("/behaviour", json={"message_id": "hex", "error_probability": 0.0})
            assert r.status_code == 200
            assert {k: v["message_id"] for k, v in r.json().items()} == {ACCOUNT: "hex", "second": "hex"}
            for _ in range(9):
                await esme.ok(sms())
            assert (await esme.ok(sms())).message_id == "b"
            r = await http.patch(
                "/behaviour", json={"error_probability": 1.0, "error_status": "ESME_RSUBMITFAIL"}
            )
            assert r.status_code == 200
            assert await esme.status(sms()) == S.ESME_RSUBMITFAIL
            r = await http.patch(f"/accounts/{ACCOUNT}/behaviour", json={"error_probability": 0.0})
            assert list(r.json()) == [ACCOUNT]
            assert await esme.status(sms()) == S.ESME_ROK
            # Earlier changes are kept: ids are still hex.
            accounts = (await http.get("/accounts")).json()
            assert [a["behaviour"]["message_id"] for a in accounts] == ["hex", "hex"]
            assert [a["behaviour"]["error_probability"] for a in accounts] == [0.0, 1.0]


async def test_patch_receipt_behaviour_at_run_time() -> None:
    with trio.fail_after(5):
        async with running(http_port=0) as sim, control(sim) as http, bound(sim) as esme:
            r = await http.patch(
                f"/accounts/{ACCOUNT}/behaviour",
                json={"outcomes": {"REJECTD": 1}, "receipt_upper_case": True, "dlr_delay": 0.05},
            )
            assert r.status_code == 200
            assert r.json()[ACCOUNT]["outcomes"] == [["REJECTD", 1.0]]
            start = trio.current_time()
            await esme.ok(sms())
            [pdu] = await esme.wait_for(1)
            assert trio.current_time() - start >= 0.045
            assert pdu.short_message.startswith(b"ID:")
            assert receipt_of(pdu).stat == "REJECTD"


async def test_global_patches_accumulate_for_binds() -> None:
    # A connection not yet bound follows the global behaviour: two PATCHes must both hold.
    with trio.fail_after(5):
        async with running(http_port=0) as sim, control(sim) as http:
            assert (await http.patch("/behaviour", json={"nack_probability": 1.0})).status_code == 200
            assert (await http.patch("/behaviour", json={"tps": 50})).status_code == 200
            try:
                async with bound(sim):
                    raise AssertionError("the bind should have been nacked")
            except BindFailed as exc:
                assert exc.status == S.ESME_RSYSERR
            assert (await http.patch("/behaviour", json={"nack_probability": 0.0})).status_code == 200
            async with bound(sim) as esme:
                assert await esme.status(sms()) == S.ESME_ROK


async def test_patch_validation_errors_name_the_key_and_change_nothing() -> None:
    cases: list[tuple[str, Any, str]] = [
        ("/behaviour", {"tps": -1}, "behaviour.tps"),
        ("/behaviour", {"bogus": 1}, "behaviour.bogus"),
        ("/behaviour", {"message_id": "octal"}, "behaviour.message_id"),
        (f"/accounts/{ACCOUNT}/behaviour", {"dlr_delay": {"kind": "nope"}}, "behaviour.dlr_delay.kind"),
        (f"/accounts/{ACCOUNT}/behaviour", {"outcomes": {"LOST": 1}}, "behaviour.outcomes"),
        (f"/accounts/{ACCOUNT}/behaviour", {"tps": 5, "error_status": "NOPE"}, "behaviour.error_status"),
    ]
    with trio.fail_after(5):
        async with running(**TWO_ACCOUNTS) as sim, control(sim) as http:
            before = (await http.get("/accounts")).json()
            for path, body, key in cases:
                r = await http.patch(path, json=body)
                assert r.status_code == 422, (path, body, r.text)
                assert key in r.json()["detail"], r.text
            r = await http.patch("/behaviour", json=[1, 2])
            assert r.status_code == 422
            r = await http.patch("/accounts/nobody/behaviour", json={"tps": 1})
            assert r.status_code == 404 and "nobody" in r.json()["detail"]
            assert (await http.get("/accounts")).json() == before
            assert sim.global_patch == {}


async def test_reset_forgets_messages_and_queued_deliveries_but_keeps_binds() -> None:
    with trio.fail_after(5):
        async with running(http_port=0, behaviour={"dlr_delay": 0.2}) as sim, control(sim) as http:
            async with bound(sim, BindMode.TX) as tx:
                for _ in range(3):
                    await tx.ok(sms())
                await tx.wait_until(lambda: sim.accounts_info()[0]["submitted"] == 3)
                r = await http.post("/reset")
                assert (r.status_code, r.json()) == (200, {"status": "reset"})
                assert (await http.get("/messages")).json() == []
                stats = (await http.get("/stats")).json()
                assert (stats["messages"], stats["scheduled"], stats["binds"]) == (0, 0, 1)
                assert stats["accounts"][ACCOUNT] == {"submitted": 0, "throttled": 0}
                async with bound(sim, BindMode.RX) as rx:
                    await trio.sleep(0.35)
                    assert rx.received == []  # the pending receipts went with the reset
                assert await tx.status(sms()) == S.ESME_ROK  # the bind is still there


async def test_reset_keeps_the_responses_the_esme_is_owed() -> None:
    behaviour = {"resp_latency": 0.15, "response_delay": 0.05}
    with trio.fail_after(5):
        async with running(http_port=0, behaviour=behaviour) as sim, control(sim) as http, bound(sim) as esme:
            outcomes = esme.send_all([sms(), sms(destination_addr="")])  # accepted, refused
            await trio.sleep(0.02)
            assert (await http.post("/reset")).status_code == 200
            await esme.wait_until(lambda: len(outcomes) == 2)
            assert sorted(status_of(o) for o in outcomes) == [S.ESME_ROK, S.ESME_RINVDSTADR]
            assert sim.accounts[ACCOUNT].pending_responses == 0
            assert (await http.get("/messages")).json() == []


async def test_metrics_count_pdus_receipts_throttling_and_binds() -> None:
    force = [{"destination_suffix": "13", "outcome": "UNDELIV"}]
    with trio.fail_after(5):
        async with running(http_port=0, behaviour={"tps": 3, "force": force}) as sim, control(sim) as http:
            async with bound(sim) as esme, bound(sim, BindMode.RX):
                outcomes = esme.send_all([sms(), sms("447700900013"), sms(), sms(), sms()])
                await esme.wait_until(lambda: len(outcomes) == 5)
                assert sorted(status_of(o) for o in outcomes) == [
                    0,
                    0,
                    0,
                    S.ESME_RTHROTTLED,
                    S.ESME_RTHROTTLED,
                ]
                await esme.wait_until(lambda: sim.accounts_info()[0]["deliveries_delivered"] == 3)
                r = await http.get("/metrics")
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/plain")
                text = r.text
                assert (
                    metric(text, "smppsim_pdus_total", direction="in", command="submit_sm", status="ESME_ROK")
                    == 5
                )
                assert (
                    metric(
                        text,
                        "smppsim_pdus_total",
                        direction="out",
                        command="submit_sm_resp",
                        status="ESME_ROK",
                    )
                    == 3
                )
                assert (
                    metric(
                        text,
                        "smppsim_pdus_total",
                        direction="out",
                        command="submit_sm_resp",
                        status="ESME_RTHROTTLED",
                    )
                    == 2
                )
                assert (
                    metric(
                        text,
                        "smppsim_pdus_total",
                        direction="in",
                        command="bind_transceiver",
                        status="ESME_ROK",
                    )
                    == 1
                )
                assert metric(text, "smppsim_receipts_total", stat="DELIVRD") == 2
                assert metric(text, "smppsim_receipts_total", stat="UNDELIV") == 1
                assert metric(text, "smppsim_throttled_total", account=ACCOUNT) == 2
                assert metric(text, "smppsim_messages_total", account=ACCOUNT) == 3
                assert metric(text, "smppsim_deliveries_total", kind="receipt", result="delivered") == 3
                assert metric(text, "smppsim_binds", account=ACCOUNT, mode="trx") == 1
                assert metric(text, "smppsim_binds", account=ACCOUNT, mode="rx") == 1
                assert metric(text, "smppsim_connections_total") == 2
                assert all(
                    line.startswith(("# HELP smppsim_", "# TYPE smppsim_", "smppsim_"))
                    for line in text.splitlines()
                    if line
                )
            with trio.fail_after(2):
                while sim.binds_info():
                    await trio.sleep(0.005)
            text = (await http.get("/metrics")).text
            assert metric(text, "smppsim_binds", account=ACCOUNT, mode="trx") == 0
