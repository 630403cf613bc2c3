"""The voucher API over real HTTP (``api.vouchers``): import, pools, issue, redeem, the
report, every error as a problem; concurrent issue calls never share a code; and a
keyword rule with a pool end to end against the simulator (MO "VOUCHER" -> a reply with
a code; the same number again -> the same code; an empty pool -> the exhausted text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import trio

from smppgw.core.text import decode_text
from smppgw.net.http import HttpLimits
from smppgw.store.base import StoreError
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import twoway_from_dict
from tests.api.helpers import Api, app_config, assert_problem, serving
from tests.api.test_access import as_key, make_key
from tests.gateway.helpers import simulator, smsc

CSV = {"content-type": "text/csv"}
TEXT = {"content-type": "text/plain"}


async def _import(api: Api, pool: str, body: str, headers: dict[str, str], **params: str) -> Any:
    return await api.http.post(
        f"{api.url}/v1/vouchers/pools/{pool}", content=body, headers=headers, params=params
    )


async def test_import_issue_redeem_and_the_report(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        r = await _import(api, "SPRING", "code,campaign\nS-1,spring\nS-2,\nS-3,spring\nS-1,spring\n", CSV)
        assert r.status_code == 200, r.text
        assert r.json() == {"pool": "SPRING", "imported": 3, "duplicates": ["S-1"], "duplicate_count": 1}
        r = await _import(api, "gifts", "G-1\n\nG-2\r\nS-2\n", TEXT, campaign="xmas")
        assert r.json() == {"pool": "gifts", "imported": 2, "duplicates": ["S-2"], "duplicate_count": 1}
        pools = (await api.get("/v1/vouchers/pools")).json()["pools"]
        assert pools == [
            {"pool": "SPRING", "total": 3, "issued": 0, "redeemed": 0, "available": 3},
            {"pool": "gifts", "total": 2, "issued": 0, "redeemed": 0, "available": 2},
        ]
        first = await api.post("/v1/vouchers/pools/SPRING/issue", {"to": "+447700900001"})
        assert first.status_code == 200, first.text
        assert (first.json()["code"], first.json()["issued_to"], first.json()["state"]) == (
            "S-1",
            "447700900001",
            "issued",
        )
        again = await api.post("/v1/vouchers/pools/SPRING/issue", {"to": "447700900001", "campaign": "x"})
        assert again.json()["code"] == "S-1"  # the number's own code, not another
        second = await api.post(
            "/v1/vouchers/pools/SPRING/issue", {"to": "+447700900002", "campaign": "late"}
        )
        assert (second.json()["code"], second.json()["campaign"]) == ("S-2", "late")  # imported without one
        redeemed = await api.http.post(f"{api.url}/v1/vouchers/S-1/redeem")
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json()["state"] == "redeemed" and redeemed.json()["redeemed_at"].endswith("Z")
        view = (await api.get("/v1/vouchers/S-1")).json()
        assert (view["pool"], view["issued_to"], view["campaign"]) == ("SPRING", "447700900001", "spring")
        report = (await api.get("/v1/vouchers/report")).json()
        assert report["totals"] == {"total": 5, "issued": 2, "redeemed": 1, "available": 3}
        assert {c["campaign"]: (c["issued"], c["redeemed"], c["total"]) for c in report["campaigns"]} == {
            "late": (1, 0, 1),
            "spring": (1, 1, 2),
            "xmas": (0, 0, 2),
        }
        spring = next(p for p in report["pools"] if p["pool"] == "SPRING")
        assert (spring["issued"], spring["redeemed"], spring["available"]) == (2, 1, 1)
        assert [c["campaign"] for c in spring["campaigns"]] == ["late", "spring"]
        events = (await api.get("/v1/events", params={"type": "voucher.issued,voucher.redeemed"})).json()
        assert [(e["type"], e["subject"]) for e in events["events"]] == [
            ("voucher.issued", "voucher:S-1"),
            ("voucher.issued", "voucher:S-2"),
            ("voucher.redeemed", "voucher:S-1"),
        ]
        assert events["events"][2]["data"]["issued_to"] == "447700900001"  # who redeemed which


async def test_errors_are_problems_naming_what_is_wrong(tmp_path: Path) -> None:
    async with simulator() as sim:
        config = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), http=HttpLimits(max_body=4096))
        async with serving(config) as api:
            await _import(api, "p", "P-1\nP-2\n", TEXT)
            post = api.http.post
            assert_problem(await post(f"{api.url}/v1/vouchers/NOPE/redeem"), 404, "not-found")
            assert_problem(await post(f"{api.url}/v1/vouchers/P-1/redeem"), 409, "voucher-not-issued")
            await api.post("/v1/vouchers/pools/p/issue", {"to": "+447700900001"})
            assert (await post(f"{api.url}/v1/vouchers/P-1/redeem")).status_code == 200
            twice = assert_problem(await post(f"{api.url}/v1/vouchers/P-1/redeem"), 409, "voucher-redeemed")
            assert "already redeemed at 20" in twice["detail"], twice
            await api.post("/v1/vouchers/pools/p/issue", {"to": "+447700900002"})
            empty = await api.post("/v1/vouchers/pools/p/issue", {"to": "+447700900003"})
            assert_problem(empty, 409, "pool-empty")
            assert_problem(
                await api.post("/v1/vouchers/pools/none/issue", {"to": "+447700900003"}), 404, "not-found"
            )
            assert_problem(
                await api.post("/v1/vouchers/pools/p/issue", {"to": "abc"}), 422, "validation", "to"
            )
            assert_problem(
                await api.post("/v1/vouchers/pools/p/issue", {"too": "1"}), 422, "validation", "too"
            )
            assert_problem(await api.get("/v1/vouchers/NOPE"), 404, "not-found")
            # Imports: every bad line named, nothing written; a bad header, type, pool, campaign.
            bad = await _import(api, "q", "code\nQ-1\nno spaces\nQ-3\n-dash\n", CSV)
            problem = assert_problem(bad, 422, "validation", "codes[1]", "codes[3]")
            assert (
                "line 3:" in problem["errors"][0]["message"] and "line 5:" in problem["errors"][1]["message"]
            )
            assert (await api.get("/v1/vouchers/Q-1")).status_code == 404  # nothing of it written
            assert_problem(await _import(api, "q", "voucher\nQ-1\n", CSV), 422, "validation", "")
            short = await _import(api, "q", "code,campaign\nQ-1,a\nQ-2,b,c\n", CSV)
            assert "line 3 has 3 fields" in assert_problem(short, 422, "validation", "codes[1]")["detail"]
            camp = await _import(api, "q", "code,campaign\nQ-1,bad campaign\n", CSV)
            assert_problem(camp, 422, "validation", "codes[0].campaign")
            assert_problem(await _import(api, "q", "Q-1\n", {"content-type": "application/json"}), 422,
                           "validation", "", where="header")  # fmt: skip
            assert_problem(await _import(api, "q", "\n\n", TEXT), 422, "validation", "")
            assert_problem(
                await _import(api, "bad pool", "Q-1\n", TEXT), 422, "validation", "pool", where="path"
            )
            assert_problem(await _import(api, "q", "Q-1\n", TEXT, campaign="a b"), 422, "validation", "campaign",
                           where="query")  # fmt: skip
            big = "\n".join(f"BIG-{i:06d}" for i in range(1000))  # over max_body: refused unread
            too_big = await _import(api, "q", big, TEXT)  # the HTTP front's problem: type about:blank
            assert (
                too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"
            )
            assert "4096" in too_big.json()["detail"]
            assert (await api.get("/v1/vouchers/pools")).json()["pools"] == [
                {"pool": "p", "total": 2, "issued": 2, "redeemed": 1, "available": 0}
            ]


class _Failing(MemoryStore):
    """A store whose voucher writes fail while ``failing`` (a disk full, a lock held)."""

    failing = False

    def _check(self) -> None:
        if self.failing:
            raise StoreError("store OperationalError: database is locked")

    def import_vouchers(self, *args: Any, **kw: Any) -> Any:
        self._check()
        return super().import_vouchers(*args, **kw)

    def issue_voucher(self, *args: Any, **kw: Any) -> Any:
        self._check()
        return super().issue_voucher(*args, **kw)

    def redeem_voucher(self, *args: Any, **kw: Any) -> Any:
        self._check()
        return super().redeem_voucher(*args, **kw)


async def test_a_store_that_cannot_write_is_503_and_nothing_changes(tmp_path: Path) -> None:
    store = _Failing()
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store=store) as api:
        await _import(api, "p", "P-1\nP-2\n", TEXT)
        await api.post("/v1/vouchers/pools/p/issue", {"to": "+447700900001"})
        store.failing = True
        issued = await api.post("/v1/vouchers/pools/p/issue", {"to": "+447700900002"})
        assert "not issued" in assert_problem(issued, 503, "unavailable")["detail"]
        assert_problem(await _import(api, "p", "P-3\n", TEXT), 503, "unavailable")
        assert_problem(await api.http.post(f"{api.url}/v1/vouchers/P-1/redeem"), 503, "unavailable")
        store.failing = False
        assert (await api.get("/v1/vouchers/pools")).json()["pools"] == [
            {"pool": "p", "total": 2, "issued": 1, "redeemed": 0, "available": 1}
        ]
        assert (await api.http.post(f"{api.url}/v1/vouchers/P-1/redeem")).status_code == 200


async def test_the_routes_need_the_voucher_scopes_and_no_tenant(tmp_path: Path) -> None:
    db = tmp_path / "db"
    reader, sender = make_key(db, "vouchers:read"), make_key(db, "messages:send")
    writer, tenant = make_key(db, "vouchers:write"), make_key(db, "vouchers:write", tenant="acme")
    async with simulator() as sim, serving(app_config([smsc(sim)], db)) as api:
        async with (
            as_key(api, reader) as r,
            as_key(api, sender) as s,
            as_key(api, writer) as w,
            as_key(api, tenant) as t,
        ):
            imported = await w.post("/v1/vouchers/pools/p", content="P-1\n", headers=TEXT)
            assert imported.status_code == 200, imported.text
            assert (await w.get("/v1/vouchers/pools")).status_code == 200  # write includes read
            assert (await r.get("/v1/vouchers/report")).status_code == 200
            for call, scope in [
                (r.post("/v1/vouchers/pools/p", content="P-2\n", headers=TEXT), "vouchers:write"),
                (r.post("/v1/vouchers/P-1/redeem"), "vouchers:write"),
                (r.post("/v1/vouchers/pools/p/issue", json={"to": "+447700900001"}), "vouchers:write"),
                (s.get("/v1/vouchers/pools"), "vouchers:read"),
                (s.get("/v1/vouchers/P-1"), "vouchers:read"),
            ]:
                problem = assert_problem(await call, 403, "forbidden")
                assert problem["detail"].endswith(f"lacks the scope {scope}"), problem
            forbidden = assert_problem(await t.get("/v1/vouchers/pools"), 403, "forbidden")
            assert "has a tenant" in forbidden["detail"]


async def test_concurrent_issue_calls_never_share_a_code(tmp_path: Path) -> None:
    """240 requests at once over 12 connections: 80 numbers, each asked three times, for
    60 codes. Each code goes to one number, each number has one code (asked again, the
    same), and 20 numbers find the pool empty."""
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        await _import(api, "rush", "".join(f"R-{i:03d}\n" for i in range(60)), TEXT)
        numbers = [f"+4477009{i:05d}" for i in range(80)]
        answers: list[tuple[str, int, str | None]] = []
        send = trio.Semaphore(12)

        async def ask(number: str) -> None:
            async with send:
                r = await api.post("/v1/vouchers/pools/rush/issue", {"to": number})
            answers.append((number, r.status_code, r.json().get("code") if r.status_code == 200 else None))

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    for number in numbers:
                        nursery.start_soon(ask, number)
        assert len(answers) == 240
        assert {status for _, status, _ in answers} <= {200, 409}
        codes: dict[str, set[str]] = {}
        for number, _, code in answers:
            if code is not None:
                codes.setdefault(number, set()).add(code)
        assert len(codes) == 60 and all(len(c) == 1 for c in codes.values())  # one code per number
        given = [next(iter(c)) for c in codes.values()]
        assert len(set(given)) == 60  # no code given twice
        unlucky = {n for n, status, _ in answers if status == 409}
        assert len(unlucky) == 20 and not unlucky & set(codes)
        events = (await api.get("/v1/events", params={"type": "voucher.issued", "limit": 1000})).json()[
            "events"
        ]
        assert len(events) == 60  # one per code given


async def test_a_keyword_gives_a_code_and_the_same_one_again(tmp_path: Path) -> None:
    twoway = twoway_from_dict(
        {"rule": [{"keyword": "VOUCHER", "voucher": "SPRING", "reply": "Your spring code: {code}. Show it in store.",
                   "exhausted": "Sorry, all spring codes are gone.", "tag": "spring"}]}
    )  # fmt: skip
    first, second = "447700900061", "447700900062"
    async with simulator() as sim:
        config = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), twoway=twoway)
        async with serving(config) as api:
            await api.wait_ready()
            await _import(api, "SPRING", "code\nSPR-7Q2X\n", CSV)

            async def text_in(handset: str, text: str, replies: int) -> list[str]:
                sim.inject_mo(system_id=None, source_addr=handset, destination_addr="12345", text=text)
                with trio.fail_after(10):
                    while len(got := sim.store.select(destination_addr=handset)) < replies:
                        await trio.sleep(0.02)
                return [decode_text(m.payload, m.data_coding) for m in got]

            assert await text_in(first, "voucher", 1) == ["Your spring code: SPR-7Q2X. Show it in store."]
            assert (await text_in(first, "VOUCHER please", 2))[
                1
            ] == "Your spring code: SPR-7Q2X. Show it in store."
            assert await text_in(second, "VOUCHER", 1) == ["Sorry, all spring codes are gone."]
            pools = (await api.get("/v1/vouchers/pools")).json()["pools"]
            assert pools == [{"pool": "SPRING", "total": 1, "issued": 1, "redeemed": 0, "available": 0}]
            [event] = (await api.get("/v1/events", params={"type": "voucher.issued"})).json()["events"]
            assert (event["data"]["code"], event["data"]["issued_to"]) == ("SPR-7Q2X", first)
            metrics = (await api.get("/metrics")).text
            assert 'smppgw_voucher_pool_empty_total{pool="SPRING"} 1.0' in metrics
            assert 'smppgw_vouchers_issued_total{pool="SPRING"} 1.0' in metrics


async def test_many_handsets_texting_at_once_get_distinct_codes(tmp_path: Path) -> None:
    """20 handsets text VOUCHER at once (the simulator spreads the MOs over two binds)
    for 15 codes: 15 distinct codes, one each, and 5 exhausted texts."""
    twoway = twoway_from_dict(
        {"rule": [{"keyword": "VOUCHER", "voucher": "rush", "exhausted": "None left."}]}
    )
    handsets = [f"4477009002{i:02d}" for i in range(20)]
    async with simulator() as sim:
        config = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), twoway=twoway)
        async with serving(config) as api:
            await api.wait_ready()
            await _import(api, "rush", "".join(f"RUSH-{i:02d}\n" for i in range(15)), TEXT)
            for handset in handsets:
                sim.inject_mo(system_id=None, source_addr=handset, destination_addr="12345", text="VOUCHER")
            with trio.fail_after(20):
                while len(got := [m for h in handsets for m in sim.store.select(destination_addr=h)]) < 20:
                    await trio.sleep(0.05)
            texts = [decode_text(m.payload, m.data_coding) for m in got]
            codes = [t.removeprefix("Your code: ") for t in texts if t.startswith("Your code: ")]
            assert len(codes) == 15 and len(set(codes)) == 15 and texts.count("None left.") == 5, texts
            assert len({m.destination_addr for m in got}) == 20  # one reply each
