"""The shipped example flows end to end: ``smppgw serve`` (the real app over HTTP, SQLite)
in front of the real simulator over loopback; the subscriber's replies are MO messages
injected at the simulator, and what it received is read at the simulator. Timers are
real and short: a booking's slots are put 2 days and a few seconds ahead, so its
reminder ("2 days before the slot") falls due seconds later."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.api.flowkit import Handset, config, run_view, runs_of, slots
from tests.api.helpers import serving
from tests.gateway.helpers import simulator

ANN, BOB = "447700900001", "447700900002"
SHORT, LONG = "12345", "447700900100"  # our numbers
TWO_DAYS = 2 * 86400


async def events_of(api: object, run_id: str) -> list[tuple[str, int]]:
    events = (await api.get("/v1/events", params={"limit": 1000})).json()["events"]  # type: ignore[attr-defined]
    return [(e["type"], e["sequence"]) for e in events if e["subject"] == f"flow_run:{run_id}"]


async def test_booking_by_keyword_reprompts_books_and_sets_the_reminder(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        ann = Handset(sim, api, ANN, SHORT)
        item = await ann.texts("Book")
        assert item["keyword"] == "BOOK"
        await ann.hears("Acme Dental: reply with the number of a time to book:\n1) Mon 15 Mar 09:30")
        await ann.texts("9")  # out of range: the step's re-prompt
        await ann.hears("Sorry, please reply with a number from the list:")
        await ann.texts("2")
        heard = await ann.hears("Booked: Acme Dental, Mon 15 Mar 14:00.")
        assert "Reply STOP to opt out." in heard
        [run_id] = await runs_of(api, ANN)
        run = await run_view(api, "booking", run_id)
        # booked: the run waits for its reminder, 2 days before the slot
        assert (run["status"], run["step"], run["source"]) == ("active", "booked", "keyword")
        assert run["vars"]["slot"] == "2027-03-15T14:00:00+00:00"
        assert [t["at"] for t in run["timers"]] == ["2027-03-13T14:00:00.000Z"] == [run["next_due"]]
        assert [(a["text"], a["value"]) for a in run["answers"]] == [
            ("9", None),
            ("2", "2027-03-15T14:00:00+00:00"),
        ]
        assert [(e["direction"], e["text"][:12]) for e in run["transcript"]] == [
            ("in", "Book"), ("out", "Acme Dental:"), ("in", "9"), ("out", "Sorry, pleas"), ("in", "2"),
            ("out", "Booked: Acme"),
        ]  # fmt: skip
        sent = [e["message_id"] for e in run["transcript"] if e["direction"] == "out"]
        for message_id in sent:
            view = await api.wait_status(message_id, {"delivered"})
            assert {"twoway", "flow", "flow:booking"} <= set(view["tags"])
        assert await events_of(api, run_id) == [("flow.step", 1), ("flow.step", 2), ("booking.booked", 3)]


async def test_booking_reminder_asks_and_confirm_completes_it(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        body = {"to": "+" + BOB, "from": LONG, "vars": {"slots": slots(TWO_DAYS + 3, TWO_DAYS + 3600)}}
        r = await api.post("/v1/flows/booking/runs", body)
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        assert (r.json()["status"], r.json()["step"], r.json()["to"], r.json()["source"]) == (
            "active", "pick", BOB, "api",
        )  # fmt: skip
        bob = Handset(sim, api, BOB, LONG)
        await bob.hears("reply with the number of a time")
        await bob.texts("1")
        await bob.hears("We will remind you 2 days before.")
        heard = await bob.hears("Reply CONFIRM to keep it or RESCHEDULE", timeout=15)  # the timer fired
        assert heard.count("Reminder:") == 1
        await bob.texts("yes")  # a word of CONFIRM
        await bob.hears("Thank you, see you")
        run = await run_view(api, "booking", run_id)
        assert (run["status"], run["vars"]["answer"], run["next_due"], run["timers"]) == (
            "completed", "CONFIRM", None, [],
        )  # fmt: skip
        kinds = [k for k, _ in await events_of(api, run_id)]
        assert kinds == ["flow.step", "flow.step", "booking.booked", "flow.step", "flow.step",
                         "booking.confirmed", "flow.completed"]  # fmt: skip
        [done] = (await api.get("/v1/events", params={"type": "flow.completed"})).json()["events"]
        assert done["data"]["vars"]["answer"] == "CONFIRM" and done["data"]["status"] == "completed"
        assert [a["value"] for a in done["data"]["answers"]][-1] == "CONFIRM"


async def test_help_triage_hands_off_instead_of_the_help_text(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        ann = Handset(sim, api, ANN, SHORT)
        assert (await ann.texts("HELP"))["keyword"] == "HELP"
        await ann.hears("Which product is it about? Reply with its number:\n1) Broadband\n2) Mobile\n3) TV")
        await ann.texts("2")
        await ann.hears("What kind of problem with your Mobile?")
        await ann.texts("1")
        heard = await ann.hears("Our billing team will text you back here shortly.")
        [run_id] = await runs_of(api, ANN)
        run = await run_view(api, "help-triage", run_id)
        assert (run["status"], run["vars"]["product"], run["vars"]["problem"]) == ("handoff", "2", "1")
        [event] = (await api.get("/v1/events", params={"type": "flow.handoff"})).json()["events"]
        assert (event["data"]["queue"], event["data"]["note"]) == ("billing", "Mobile: Billing")
        # The handoff opened the number's thread, waiting on an agent, with the transcript.
        thread = (await api.get(f"/v1/threads/{event['data']['thread_id']}")).json()
        assert (thread["status"], thread["queue"], thread["number"]) == ("waiting_on_agent", "billing", ANN)
        assert thread["handoff"]["note"] == "Mobile: Billing" and thread["handoff"]["transcript"]
        # The standard HELP answer was not sent: the triage flow took HELP.
        assert heard.count("Acme support.") == 1 and "Reply STOP" not in heard


async def test_survey_asks_why_below_7_and_not_above(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        ann, bob = Handset(sim, api, ANN, SHORT), Handset(sim, api, BOB, SHORT)
        await ann.texts("survey")
        await ann.hears("How likely are you to recommend Acme")
        await ann.texts("eleven")  # not a number in 0..10: re-prompted once
        await ann.hears("Please reply with a number from 0 to 10.")
        await ann.texts("5")
        await ann.hears("Sorry to hear that. Why did you give us 5?")
        await ann.texts("The queue was far too long")
        await ann.hears("Thank you for your answer!")
        await bob.texts("SURVEY")
        await bob.hears("How likely")
        await bob.texts("9")
        heard = await bob.hears("Thank you for your answer!")
        assert "Why" not in heard
        answered = (await api.get("/v1/events", params={"type": "survey.answered"})).json()["events"]
        assert [(e["data"]["to"], e["data"]["data"]) for e in answered] == [
            (ANN, {"score": "5", "reason": "The queue was far too long"}),
            (BOB, {"score": "9", "reason": ""}),
        ]
        for number in (ANN, BOB):
            [run_id] = await runs_of(api, number)
            assert (await run_view(api, "survey", run_id))["status"] == "completed"


async def test_voucher_keyword_without_a_voucher_desk_says_none_left(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        ann = Handset(sim, api, ANN, SHORT)
        await ann.texts("DEAL")
        heard = await ann.hears("Sorry, all the spring codes have gone.")
        assert "Your Acme code" not in heard
        [run_id] = await runs_of(api, ANN)
        assert (await run_view(api, "voucher", run_id))["status"] == "completed"


async def test_two_flows_for_one_number_from_two_senders(tmp_path: Path) -> None:
    """Each (number, sender) pair has its own run: a reply goes to the run of the
    number it was sent to."""
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        short, long = Handset(sim, api, ANN, SHORT), Handset(sim, api, ANN, LONG)
        await short.texts("SURVEY")
        await short.hears("How likely")
        r = await api.post("/v1/flows/booking/runs", {"to": ANN, "from": LONG})
        assert r.status_code == 201, r.text
        await long.hears("reply with the number of a time")
        again = await api.post("/v1/flows/survey/runs", {"to": ANN, "from": SHORT})
        assert again.status_code == 409 and "already has an active flow run" in again.json()["detail"]
        await long.texts("3")  # the booking's slot 3, not a score
        await long.hears("Booked: Acme Dental, Tue 16 Mar 11:00.")
        await short.texts("8")
        await short.hears("Thank you for your answer!")
        survey_id, booking_id = await runs_of(api, ANN)
        survey, booking = await run_view(api, "survey", survey_id), await run_view(api, "booking", booking_id)
        assert (survey["from"], survey["status"], survey["vars"]["score"]) == (SHORT, "completed", "8")
        assert (booking["from"], booking["status"], booking["step"]) == (LONG, "active", "booked")
        assert "Booked" not in short.heard() and "recommend" not in long.heard()


async def test_a_run_and_its_timer_survive_a_restart(tmp_path: Path) -> None:
    """SQLite reopened: the run goes on where it was; its reminder, due while the
    gateway was down, is sent once it is back; the transcript has both halves."""
    db = tmp_path / "db"
    async with simulator() as sim:
        async with serving(config(sim, db)) as api:
            await api.wait_ready()
            r = await api.post("/v1/flows/booking/runs", {"to": BOB, "from": LONG,
                                                          "vars": {"slots": slots(TWO_DAYS + 2)}})  # fmt: skip
            run_id = r.json()["id"]
            bob = Handset(sim, api, BOB, LONG)
            await bob.hears("reply with the number of a time")
            await bob.texts("1")
            await bob.hears("We will remind you")
            due = (await run_view(api, "booking", run_id))["next_due"]
            assert due is not None
        await trio.sleep(2.5)  # the reminder falls due while the gateway is down
        assert "Reminder:" not in bob.heard()
        async with serving(config(sim, db)) as api:
            await api.wait_ready()
            bob.api = api
            await bob.hears("Reminder: Acme Dental")
            await bob.texts("RESCHEDULE")  # back to the list of times
            await bob.hears("reply with the number of a time", times=2)
            run = await run_view(api, "booking", run_id)
            assert (run["status"], run["step"], run["answers"][-1]["value"]) == (
                "active",
                "pick",
                "RESCHEDULE",
            )
            directions = "".join("o" if e["direction"] == "out" else "i" for e in run["transcript"])
            assert directions == "oiooio", run["transcript"]  # pick, 1, booked | reminder, RESCHEDULE, pick
