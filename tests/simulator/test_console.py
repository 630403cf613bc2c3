"""The console at ``/`` of the control port: its files, the JSON it polls, and the page
itself in a real headless Chromium (``tests.simulator.chromium``) next to real SMPP binds."""

from __future__ import annotations

import fnmatch
import re
import struct
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import trio

from simulator.control import serve_control
from simulator.message_log import text_of
from simulator.smsc import Simulator
from smppgw.core.constants import CommandStatus, DataCoding, EsmClass
from smppgw.core.states import BindMode
from smppgw.core.text import decode_text
from tests.simulator.chromium import Chromium, find_chromium
from tests.simulator.helpers import ACCOUNT, DEST, SOURCE, bound, control, running, sms

S = CommandStatus
TOKEN = "console-token-0123456789"
ASSETS = {
    "/": "text/html; charset=utf-8",
    "/console.js": "text/javascript; charset=utf-8",
    "/console.css": "text/css; charset=utf-8",
}


@asynccontextmanager
async def guarded(sim: Simulator) -> AsyncIterator[int]:
    """The control API with reads guarded too (what ``run_simulator`` serves beyond
    loopback), here on loopback; yields its port."""
    async with trio.open_nursery() as nursery:
        serve = partial(serve_control, sim, "127.0.0.1", 0, token=TOKEN, guard_reads=True)
        yield await nursery.start(serve)
        nursery.cancel_scope.cancel()


# -- the files -----------------------------------------------------------------------------------


async def test_the_files_are_served_with_a_strict_policy() -> None:
    with trio.fail_after(10):
        async with running(http_port=0) as sim, control(sim) as http:
            bodies = {}
            for path, media_type in ASSETS.items():
                r = await http.get(path)
                assert r.status_code == 200, path
                assert r.headers["content-type"] == media_type
                assert r.headers["x-content-type-options"] == "nosniff"
                assert "default-src 'none'" in r.headers["content-security-policy"]
                assert "script-src 'self'" in r.headers["content-security-policy"]
                bodies[path] = r.text
            page = bodies["/"]
            assert re.findall(r'<script src="([^"]+)"', page) == ["console.js"]
            assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == ["console.css"]
            for path, body in bodies.items():  # bundled: nothing fetched from elsewhere
                assert not re.search(r"https?:|=\"//", body, re.I), path
                assert "@import" not in body and "url(" not in body, path
            # Data goes into the page as text, never as markup.
            assert (
                "innerHTML" not in bodies["/console.js"] and "insertAdjacentHTML" not in bodies["/console.js"]
            )
            assert (await http.get("/console.js", params={"name": "../cli.py"})).text == bodies["/console.js"]
            assert (await http.get("/index.html")).status_code == 404


async def test_the_files_need_no_token_but_the_data_does_when_reads_are_guarded() -> None:
    with trio.fail_after(10):
        async with running() as sim, guarded(sim) as port:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as anonymous:
                for path in ASSETS:
                    assert (await anonymous.get(path)).status_code == 200, path
                for path in ("/binds", "/accounts", "/messages", "/mo"):
                    assert (await anonymous.get(path)).status_code == 401, path
                assert (await anonymous.post("/", json={})).status_code == 401
                r = await anonymous.get("/mo", headers={"Authorization": f"Bearer {TOKEN}"})
                assert (r.status_code, r.json()) == (200, [])


# -- what the page polls ---------------------------------------------------------------------------


def test_text_of() -> None:
    assert text_of(b"hello", 0) == "hello"
    assert text_of("héllo €".encode("utf-16-be"), DataCoding.UCS2) == "héllo €"
    udh = bytes([5, 0, 3, 7, 2, 1])
    assert text_of(udh + b"part one", 0, EsmClass.UDHI) == "part one"
    assert text_of(bytes([9, 0, 3]), 0, EsmClass.UDHI) is None  # UDHL past the data
    assert text_of(b"\x00\xff", 0x04) is None  # 8-bit binary
    assert text_of(b"\x00\xff", 0xF6) is None  # message class, 8-bit data


async def test_messages_carry_their_text_state_and_receipt() -> None:
    with trio.fail_after(10):
        async with running(http_port=0) as sim, control(sim) as http, bound(sim) as esme:
            gsm = await esme.ok(sms(text=b"plain text"))
            ucs2 = await esme.ok(sms(text="привет €".encode("utf-16-be"), data_coding=DataCoding.UCS2))
            part = await esme.ok(sms(text=bytes([5, 0, 3, 9, 2, 1]) + b"first half", esm_class=EsmClass.UDHI))
            binary = await esme.ok(sms(text=b"\x01\x02", data_coding=0x04, registered_delivery=0))
            await esme.wait_for(3)  # the receipts of the three that asked for one
            found = {m["message_id"]: m for m in (await http.get("/messages")).json()}
            assert found[gsm.message_id]["text"] == "plain text"
            assert found[ucs2.message_id]["text"] == "привет €"
            assert found[part.message_id]["text"] == "first half"
            assert found[binary.message_id]["text"] is None
            assert found[binary.message_id]["payload_hex"] == "0102"
            first = found[gsm.message_id]
            assert (first["state"], first["receipts_sent"], first["error"]) == ("DELIVRD", 1, "000")
            assert first["receipt_id"] == gsm.message_id
            assert first["done_at"] >= first["submitted_at"]
            assert found[binary.message_id]["receipts_sent"] == 0


async def test_mo_lists_what_was_sent_to_the_esme_with_its_result() -> None:
    with trio.fail_after(10):
        async with running(http_port=0) as sim, control(sim) as http:
            r = await http.post(
                "/inject", json={"source_addr": "447700900009", "destination_addr": "555", "text": "early"}
            )
            assert r.status_code == 202
            [waiting] = (await http.get("/mo")).json()
            assert (waiting["text"], waiting["result"], waiting["attempts"]) == ("early", "queued", 0)
            async with bound(sim, BindMode.RX) as rx:
                await rx.wait_for(1)
                long_text = "ж" * 80  # not in GSM 03.38: UCS-2, two parts
                r = await http.post(
                    "/inject",
                    json={
                        "account": ACCOUNT,
                        "source_addr": "447700900009",
                        "destination_addr": "555",
                        "text": long_text,
                    },
                )
                assert r.json() == {"parts": 2}
                await rx.wait_for(3)
                await rx.wait_until(lambda: all(d["result"] == "delivered" for d in sim.recent_mo()))
            mo = (await http.get("/mo", params={"account": ACCOUNT})).json()
            assert [m["text"] for m in mo] == ["ж" * 13, "ж" * 67, "early"]  # newest first, per part
            assert {m["result"] for m in mo} == {"delivered"}
            assert mo[2]["source_addr"] == "447700900009" and mo[2]["destination_addr"] == "555"
            assert len((await http.get("/mo", params={"limit": 1})).json()) == 1
            r = await http.get("/mo", params={"account": "nobody"})
            assert r.status_code == 422 and "nobody" in r.json()["detail"]
            assert (await http.post("/reset")).status_code == 200
            assert (await http.get("/mo")).json() == []


async def test_binds_show_their_windows_and_rates() -> None:
    with trio.fail_after(10):
        async with running(http_port=0, behaviour={"bind_tps": 5}) as sim, control(sim) as http:
            async with bound(sim, BindMode.TX) as tx:
                await tx.ok(sms())
                [info] = (await http.get("/binds")).json()
                assert (info["mode"], info["window"], info["owed"], info["bind_tps"]) == ("tx", 64, 0, 5.0)


# -- the page in a browser -------------------------------------------------------------------------

_RESULT = "(id => (o => o.className && o.textContent)(document.getElementById(id)))"
ROWS = "Array.from(document.querySelectorAll('#{} tbody tr'), r => Array.from(r.cells, c => c.textContent))"


def _js_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fill(form: str, **values: str) -> str:
    """JavaScript that types ``values`` into the form's fields (as a user would: with an
    input event) and submits it."""
    steps = [f"const f = document.getElementById({_js_string(form)});"]
    for name, value in values.items():
        steps.append(f"f.elements[{_js_string(name)}].value = {_js_string(value)};")
        steps.append(f"f.elements[{_js_string(name)}].dispatchEvent(new Event('input', {{bubbles: true}}));")
    steps.append("f.requestSubmit(); return true;")
    return "(() => {" + "".join(steps) + "})()"


async def test_the_console_in_a_browser(tmp_path: Path) -> None:
    """Reads guarded, the token from the address: the page lists the bound clients and the
    messages in clear text, its MO form reaches the receiver bind, and a behaviour toggle
    answers the next submit_sm."""
    browser = find_chromium()
    run = trio.to_thread.run_sync
    with trio.fail_after(180):
        async with running() as sim, guarded(sim) as port:
            async with bound(sim, BindMode.TX) as tx, bound(sim, BindMode.RX) as rx:
                await tx.ok(sms(text="Grüße from the ESME".encode("utf-16-be"), data_coding=DataCoding.UCS2))
                await rx.wait_for(1)  # its receipt
                page = await run(Chromium, browser, tmp_path)
                try:
                    await run(page.navigate, f"http://127.0.0.1:{port}/#token={TOKEN}")
                    binds = await run(page.wait_for, f"(r => r.length == 2 && r)({ROWS.format('binds')})")
                    assert sorted((row[1], row[2]) for row in binds) == [(ACCOUNT, "rx"), (ACCOUNT, "tx")]
                    assert await run(page.evaluate, "location.hash") == ""  # the token left the address
                    messages = await run(page.wait_for, ROWS.format("messages"))
                    assert messages[0][3:7] == [SOURCE, DEST, "Grüße from the ESME", "DELIVRD"]
                    accounts = await run(page.evaluate, ROWS.format("accounts"))
                    assert accounts[0][:3] == [ACCOUNT, "2 / 4", "1"]

                    # Without the token nothing is sent, and the page says why; typed in, it is kept.
                    await run(page.evaluate, "document.getElementById('token-forget').click()")
                    assert await run(page.evaluate, _fill("inject-form", text="refused"))
                    refused = await run(page.wait_for, f"{_RESULT}('inject-result')")
                    assert refused.startswith("401: missing or wrong token"), refused
                    assert await run(page.evaluate, "document.getElementById('token-state').textContent") == (
                        "token needed"
                    )
                    assert await run(page.evaluate, _fill("token-form", token=TOKEN))
                    assert await run(page.evaluate, "sessionStorage.getItem('smppsim-token')") == TOKEN
                    assert len(rx.arrivals) == 1  # only the receipt so far

                    # The MO form: a handset's message to the receiver bind.
                    form = _fill(
                        "inject-form", source_addr="447700900042", destination_addr="7777", text="STOP ☺"
                    )
                    assert await run(page.evaluate, form)
                    [mo] = (await rx.wait_for(2))[1:]
                    assert (mo.source_addr, mo.destination_addr) == ("447700900042", "7777")
                    assert decode_text(mo.short_message, mo.data_coding) == "STOP ☺"
                    result = await run(
                        page.wait_for,
                        f"{_RESULT}('inject-result')",
                    )
                    assert result == "queued in 1 part(s)"
                    shown = await run(
                        page.wait_for, f"(r => r.length && r[0][5] == 'delivered' && r)({ROWS.format('mo')})"
                    )
                    assert shown[0][2:5] == ["447700900042", "7777", "STOP ☺"]

                    # A toggle: every submit_sm now fails with the chosen status.
                    form = _fill("behaviour-form", error_probability="1", error_status="ESME_RTHROTTLED")
                    assert await run(page.evaluate, form)
                    result = await run(
                        page.wait_for,
                        f"{_RESULT}('behaviour-result')",
                    )
                    assert result == f"applied to {ACCOUNT}"
                    assert sim.accounts[ACCOUNT].behaviour.error_probability == 1.0
                    assert await tx.status(sms()) == S.ESME_RTHROTTLED
                    faults = await run(
                        page.wait_for, f"(r => r[0][11] != 'none' && r[0][11])({ROWS.format('accounts')})"
                    )
                    assert faults == "errors 1 (0x58)"

                    shot = await run(page.screenshot)
                    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
                    width, height = struct.unpack(">II", shot[16:24])
                    assert width > 200 and height > 200
                    assert len(shot) > 20_000, f"screenshot is {len(shot)} bytes: probably blank"
                    log = page.stderr_path.read_text(errors="replace")
                    assert "Uncaught" not in log, log[-2000:]
                finally:
                    await run(page.close)


def test_every_console_file_ships() -> None:
    """``pip install .`` (not editable) takes only the package data pyproject names."""
    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    static = root / "simulator" / "static"
    files = sorted(p.name for p in static.iterdir())
    assert files == ["console.css", "console.html", "console.js"]
    for name in files:
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns["simulator"]), name
