"""Replying as a handset by hand: the control API's handset views over real HTTP
(``/handsets``, ``/handsets/{number}``) with the reply sent through ``/inject``, and the
console's reply form in a real headless Chromium."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx
import trio

from smppgw.core.constants import EsmClass
from smppgw.core.states import BindMode
from smppgw.core.text import decode_text
from tests.simulator.chromium import Chromium, find_chromium
from tests.simulator.helpers import ACCOUNT, Esme, bound, control, running, sms
from tests.simulator.test_console import _RESULT, TOKEN, _fill, guarded

N = "447700900042"  # the handset
SLOTS = "Pick a slot:\n1) Mon 10:00\n2) Tue 14:30\n3) Wed 09:15"
REMINDER = ("Reminder: Tue 14:30. Reply CONFIRM to keep it ", "or RESCHEDULE to change it.")
NO_RECEIPT = 0


async def _prompts(esme: Esme) -> None:
    """The flow's prompts to N from 12345 (the reminder in two UDH parts), then an MT to
    another number."""
    await esme.ok(sms(N, SLOTS.encode(), source_addr="12345", registered_delivery=NO_RECEIPT))
    for i, part in enumerate(REMINDER, 1):
        udh = bytes([5, 0, 3, 7, 2, i])
        pdu = sms(N, udh + part.encode(), source_addr="12345", esm_class=EsmClass.UDHI, registered_delivery=0)
        await esme.ok(pdu)
    await esme.ok(
        sms("447700900077", b"Your code is 4821", source_addr="555", registered_delivery=NO_RECEIPT)
    )


async def test_a_handsets_view_and_a_reply_through_inject() -> None:
    with trio.fail_after(10):
        async with running(http_port=0) as sim, control(sim) as http, bound(sim) as esme:
            await _prompts(esme)
            numbers = (await http.get("/handsets")).json()
            assert [(h["number"], h["from"], h["account"]) for h in numbers] == [
                ("447700900077", "555", ACCOUNT),
                (N, "12345", ACCOUNT),
            ]
            assert numbers[0]["text"] == "Your code is 4821"
            assert [h["number"] for h in (await http.get("/handsets", params={"limit": 1})).json()] == [
                "447700900077"
            ]

            view = (await http.get(f"/handsets/{N}")).json()
            assert [(m["direction"], m["from"], m["text"]) for m in view["messages"]] == [
                ("mt", "12345", SLOTS),
                ("mt", "12345", "".join(REMINDER)),  # the parts joined, as the handset shows it
            ]
            assert view["reply_to"] == {"account": ACCOUNT, "address": "12345"}
            assert view["prompt"] == {
                "ask": "choice",
                "options": ["CONFIRM", "RESCHEDULE"],
                "labels": ["CONFIRM", "RESCHEDULE"],
                "numbered": False,
            }

            # The reply: from the handset to its last MT's sender, through /inject.
            body = {"account": ACCOUNT, "source_addr": N, "destination_addr": "12345", "text": "CONFIRM"}
            r = await http.post("/inject", json=body)
            assert (r.status_code, r.json()) == (202, {"parts": 1})
            [mo] = await esme.wait_for(1)
            assert (mo.source_addr, mo.destination_addr) == (N, "12345")
            assert decode_text(mo.short_message, mo.data_coding) == "CONFIRM"
            with trio.fail_after(3):
                while True:
                    view = (await http.get(f"/handsets/{N}")).json()
                    if view["messages"][-1].get("result") == "delivered":
                        break
                    await trio.sleep(0.02)
            last = view["messages"][-1]
            assert (last["direction"], last["from"], last["to"], last["text"]) == (
                "mo",
                N,
                "12345",
                "CONFIRM",
            )
            assert view["messages"][-1]["at"] >= view["messages"][-2]["at"]

            # A number no MT reached: nothing to reply to, nothing read.
            view = (await http.get("/handsets/447700900099")).json()
            assert view == {"number": "447700900099", "messages": [], "reply_to": None, "prompt": None}
            # A scale's ends are shown.
            await esme.ok(sms(N, b"How likely are you to recommend us, 0-10?", registered_delivery=0))
            prompt = (await http.get(f"/handsets/{N}")).json()["prompt"]
            assert (prompt["ask"], prompt["low"], prompt["high"]) == ("score", 0, 10)

            for path, params in (("/handsets", {"limit": 0}), ("/handsets/" + "1" * 21, {})):
                r = await http.get(path, params=params)
                assert r.status_code == 422, (path, r.text)
                assert r.json()["detail"][0]["loc"][-1] in ("limit", "number")


async def test_handset_views_need_the_token_when_reads_are_guarded() -> None:
    with trio.fail_after(10):
        async with running() as sim, guarded(sim) as port:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as anonymous:
                for path in ("/handsets", f"/handsets/{N}"):
                    assert (await anonymous.get(path)).status_code == 401, path
                    r = await anonymous.get(path, headers={"X-Token": TOKEN})
                    assert r.status_code == 200, path


# -- the reply form in a browser -------------------------------------------------------------------

_THREAD = "Array.from(document.querySelectorAll('#handset-thread li'), li => [li.className, li.lastChild.textContent])"
_OPTIONS = "Array.from(document.querySelectorAll('#handset-options button'), b => b.textContent)"


async def test_replying_as_a_handset_in_the_console(tmp_path: Path) -> None:
    """The number picked from the MTs' list: its messages shown, its last MT's options as
    buttons; an option clicked and sent arrives at the receiver as the handset's MO to
    the MT's sender, and shows up in the thread. A number typed by hand with no MT needs
    the address typed too."""
    browser = find_chromium()
    run = trio.to_thread.run_sync
    with trio.fail_after(180):
        async with running() as sim, guarded(sim) as port:
            async with bound(sim, BindMode.TRX) as esme:
                await _prompts(esme)
                page = await run(Chromium, browser, tmp_path)
                try:
                    await run(page.navigate, f"http://127.0.0.1:{port}/#token={TOKEN}")
                    listed = "Array.from(document.querySelectorAll('#handset-numbers option'), o => o.value)"
                    numbers = await run(page.wait_for, f"(r => r.length == 2 && r)({listed})")
                    assert numbers == ["447700900077", N]

                    # Picked as a person would: the number typed in (the list offers it).
                    assert await run(page.evaluate, _type("number", N))
                    thread = await run(page.wait_for, f"(r => r.length == 2 && r)({_THREAD})")
                    assert thread == [["mt", SLOTS], ["mt", "".join(REMINDER)]]
                    assert await run(page.wait_for, f"(r => r.length && r)({_OPTIONS})") == [
                        "CONFIRM",
                        "RESCHEDULE",
                    ]
                    shown = await run(page.evaluate, "document.getElementById('handset-prompt').textContent")
                    assert shown == "Its last MT reads as a choice: CONFIRM, RESCHEDULE."
                    assert await run(
                        page.evaluate, "document.querySelector('#handset-form [name=to]').placeholder"
                    ) == ("12345")

                    # An option clicked fills the text; sent, it is the handset's MO.
                    clicked = "(() => { document.querySelectorAll('#handset-options button')[1].click(); return true; })()"
                    assert await run(page.evaluate, clicked)
                    text = await run(
                        page.evaluate, "document.querySelector('#handset-form [name=text]').value"
                    )
                    assert text == "RESCHEDULE"
                    assert await run(page.evaluate, _fill("handset-form"))
                    [mo] = await esme.wait_for(1)
                    assert (mo.source_addr, mo.destination_addr) == (N, "12345")
                    assert decode_text(mo.short_message, mo.data_coding) == "RESCHEDULE"
                    result = await run(page.wait_for, f"{_RESULT}('handset-result')")
                    assert result == f"sent as MO from {N} to 12345 in 1 part(s)"
                    thread = await run(page.wait_for, f"(r => r.length == 3 && r)({_THREAD})")
                    assert thread[2] == ["mo", "RESCHEDULE"]

                    # A number no MT reached: the address must be typed; then it goes there.
                    assert await run(page.evaluate, _type("number", "447700900055"))
                    said = await run(
                        page.wait_for,
                        "(t => t.startsWith('No MT') && t)(document.getElementById('handset-prompt').textContent)",
                    )
                    assert said == "No MT to this number yet: type the ESME address to send to."
                    assert await run(page.evaluate, _fill("handset-form", text="hello?"))
                    refused = await run(page.wait_for, f"{_RESULT}('handset-result')")
                    assert refused == "no MT to 447700900055 yet: type the ESME address (To)"
                    assert await run(page.evaluate, _fill("handset-form", to="7777", text="hello?"))
                    [_, typed] = await esme.wait_for(2)
                    assert (typed.source_addr, typed.destination_addr, typed.short_message) == (
                        "447700900055",
                        "7777",
                        b"hello?",
                    )

                    # Back to the handset with its thread, in view for the screenshot.
                    assert await run(page.evaluate, _type("number", N))
                    await run(page.wait_for, f"(r => r.length == 3 && r)({_THREAD})")
                    to = "(e => [e.value, e.placeholder])(document.querySelector('#handset-form [name=to]'))"
                    assert await run(page.evaluate, to) == ["", "12345"]  # the typed address went with 055
                    await run(page.evaluate, "document.getElementById('handset-section').scrollIntoView()")
                    shot = await run(page.screenshot)
                    width, height = struct.unpack(">II", shot[16:24])
                    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and width > 200 and height > 200
                    (tmp_path / "console-handset.png").write_bytes(shot)
                    log = page.stderr_path.read_text(errors="replace")
                    assert "Uncaught" not in log, log[-2000:]
                finally:
                    await run(page.close)


def _type(name: str, value: str) -> str:
    """JavaScript that types ``value`` into the handset form's field ``name`` (with the
    input event a user's typing makes)."""
    return (
        "(() => { const e = document.querySelector('#handset-form [name=" + name + "]');"
        f" e.value = {value!r}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
    )
