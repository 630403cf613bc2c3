"""The flows API over real HTTP (the app in front of the real simulator): flows put,
read, listed and deleted; every refusal a problem naming the field or step; STOP in the
middle of a run ends it, records the consent, and nothing but the confirmation follows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from tests.api.flowkit import Handset, config, run_view, runs_of, slots
from tests.api.helpers import assert_problem, serving
from tests.gateway.helpers import simulator

ANN = "447700900001"
SHORT = "12345"
ROOT = Path(__file__).resolve().parents[2]

PIZZA: dict[str, Any] = {
    "description": "Order a pizza",
    "keywords": ["PIZZA"],
    "start": "size",
    "steps": {
        "size": {"prompt": "Size? {options}", "expect": "choice", "options": ["Small", "Large"], "var": "size",
                 "next": "done"},
        "done": {"prompt": "A {size_label} pizza is on its way."},
    },
}  # fmt: skip


def broken(**steps: Any) -> dict[str, Any]:
    """PIZZA with its steps changed (a step given None is removed)."""
    merged = {**PIZZA["steps"], **steps}
    return {**PIZZA, "steps": {k: v for k, v in merged.items() if v is not None}}


async def test_stop_in_the_middle_ends_the_run_and_only_the_confirmation_follows(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        ann = Handset(sim, api, ANN, SHORT)
        r = await api.post("/v1/flows/booking/runs", {"to": ANN, "from": SHORT,
                                                      "vars": {"slots": slots(2 * 86400 + 2)}})  # fmt: skip
        run_id = r.json()["id"]
        await ann.hears("reply with the number of a time")
        await ann.texts("1")
        await ann.hears("We will remind you")  # the reminder is 2 s away
        before = len(sim.store.select(destination_addr=ANN))
        assert (await ann.texts("STOP"))["keyword"] == "STOP"
        run = await run_view(api, "booking", run_id)
        assert (run["status"], run["reason"], run["timers"], run["next_due"]) == ("stopped", "stop", [], None)
        assert run["transcript"][-1]["text"] == "STOP" and run["transcript"][-1]["direction"] == "in"
        consent = (await api.get(f"/v1/consent/{ANN}", params={"sender": SHORT})).json()
        assert consent["allowed"] is False and consent["history"][-1]["keyword"] == "STOP"
        await trio.sleep(3.0)  # past the reminder's time
        after = sim.store.select(destination_addr=ANN)
        assert len(after) == before + 1  # the STOP's one confirmation, nothing of the run
        assert "Reminder" not in ann.heard()
        [ended] = (await api.get("/v1/events", params={"type": "flow.ended"})).json()["events"]
        assert (ended["data"]["run_id"], ended["data"]["status"]) == (run_id, "stopped")
        # A run started for a number that opted out: blocked at its first text, it ends at once.
        r = await api.post("/v1/flows/survey/runs", {"to": ANN, "from": SHORT})
        assert r.status_code == 201, r.text
        assert (r.json()["status"], r.json()["reason"]) == ("stopped", "opt_out")
        assert r.json()["transcript"][0]["status"] == "blocked"
        assert len(sim.store.select(destination_addr=ANN)) == before + 1


async def test_flows_put_read_listed_started_by_keyword_and_deleted(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        await api.wait_ready()
        r = await api.http.put(api.url + "/v1/flows/pizza", json=PIZZA)
        assert r.status_code == 201, r.text
        assert (r.json()["source"], r.json()["steps"], r.json()["definition"]) == (
            "api",
            ["size", "done"],
            PIZZA,
        )
        assert (await api.http.put(api.url + "/v1/flows/pizza", json=PIZZA)).status_code == 200  # replaced
        names = {f["name"]: f["source"] for f in (await api.get("/v1/flows")).json()["flows"]}
        assert names == {"booking": "config", "help-triage": "config", "survey": "config", "voucher": "config",
                         "pizza": "api"}  # fmt: skip
        assert (await api.get("/v1/flows/booking")).json()["keywords"] == ["BOOK"]
        ann = Handset(sim, api, ANN, SHORT)
        await ann.texts("pizza please")
        await ann.hears("Size? 1) Small\n2) Large")
        await ann.texts("large")
        await ann.hears("A Large pizza is on its way.")
        [run_id] = await runs_of(api, ANN)
        assert (await run_view(api, "pizza", run_id))["status"] == "completed"
        assert (await api.http.delete(api.url + "/v1/flows/pizza")).status_code == 204
        assert_problem(await api.http.delete(api.url + "/v1/flows/pizza"), 404, "not-found")
        assert_problem(await api.get("/v1/flows/pizza"), 404, "not-found")
        assert (await run_view(api, "pizza", run_id))["status"] == "completed"  # its runs stay
        await ann.texts("PIZZA")  # no flow by that keyword any more: an ordinary text
        assert await runs_of(api, ANN) == [run_id]
        schema = await api.get("/v1/flows/schema")
        assert schema.headers["content-type"] == "application/schema+json"
        assert schema.json() == json.loads((ROOT / "docs" / "flow.schema.json").read_text())


async def test_a_flow_the_checks_refuse_is_a_422_naming_the_step(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:
        put = api.http.put

        async def refused(body: Any, field: str, name: str = "pizza", where: str = "body") -> str:
            r = await put(f"{api.url}/v1/flows/{name}", json=body)
            problem = assert_problem(r, 422, "validation", field, where=where)
            return str(problem["detail"])

        assert "no step 'nowhere'" in await refused(
            broken(size={**PIZZA["steps"]["size"], "next": "nowhere"}), "steps.size.next"
        )
        orphan = {"prompt": "never reached"}
        assert "unreachable" in await refused(broken(lost=orphan), "steps.lost")
        loop = {"prompt": "Why?", "expect": "text", "next": "b"}
        assert "cycle with no way out" in await refused(
            broken(size={**PIZZA["steps"]["size"], "next": "a"}, a=loop, b={**loop, "next": "a"}, done=None),
            "steps.size",
        )  # fmt: skip
        timer = {**PIZZA["steps"]["size"], "on_timeout": "done"}  # a timer with no time
        assert "needs a timeout" in await refused(broken(size=timer), "steps.size.on_timeout")
        later = {
            **PIZZA["steps"]["done"],
            "actions": [{"goto": "later", "at": "+1h"}],
        }  # a timer with no step
        assert "no step 'later'" in await refused(broken(done=later), "steps.done.actions[0].goto")
        await refused({**PIZZA, "keywords": ["STOP"]}, "keywords[0]")  # consent wins over a flow
        await refused({**PIZZA, "keywords": ["BOOK"]}, "keywords[0]")  # the booking flow's
        await refused({**PIZZA, "name": "other"}, "name")  # not the path's
        await refused({**PIZZA, "colour": "red"}, "colour")
        await refused(PIZZA, "name", name="bad name!", where="path")
        await refused(PIZZA, "name", name="schema", where="path")
        assert_problem(await put(f"{api.url}/v1/flows/pizza", json=[1]), 422, "validation", "")
        r = await put(
            f"{api.url}/v1/flows/pizza", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_problem(r, 400, "bad-request")
        assert_problem(await put(f"{api.url}/v1/flows/booking", json=PIZZA), 409, "conflict")
        assert_problem(await api.http.delete(f"{api.url}/v1/flows/booking"), 409, "conflict")
        assert (await api.get("/v1/flows/pizza")).status_code == 404  # nothing was stored


async def test_a_bad_run_request_is_a_422_naming_the_field(tmp_path: Path) -> None:
    async with simulator() as sim, serving(config(sim, tmp_path / "db")) as api:

        async def refused(body: Any, *fields: str, flow: str = "survey", status: int = 422) -> None:
            r = await api.post(f"/v1/flows/{flow}/runs", body)
            assert_problem(r, status, "validation" if status == 422 else "not-found", *fields)

        await refused({"from": SHORT}, "to")
        await refused({"to": ANN}, "from")
        await refused({"to": "+44 12", "from": SHORT}, "to")
        await refused({"to": ANN, "from": "ACME"}, "from")  # alphanumeric: cannot take replies
        await refused({"to": ANN, "from": SHORT, "vars": [1]}, "vars")
        await refused({"to": ANN, "from": SHORT, "vars": {"Bad-Name": "x"}}, "vars.Bad-Name")
        await refused({"to": ANN, "from": SHORT, "vars": {"x": {"nested": 1}}}, "vars.x")
        await refused({"to": ANN, "from": SHORT, "vars": {"x": "y" * 3000}}, "vars.x")
        await refused({"to": ANN, "from": SHORT, "colour": "red"}, "colour")
        await refused({"to": ANN, "from": SHORT}, flow="nope", status=404)
        # the booking's own times: date-times with a zone, at least one (else an empty list)
        for slots in (["tomorrow"], [], "", ["2027-03-15T09:30:00+00:00", "10:30"], [3]):
            await refused({"to": ANN, "from": SHORT, "vars": {"slots": slots}}, "vars.slots", flow="booking")
        assert_problem(await api.get("/v1/flows/survey/runs/nope"), 404, "not-found")
        assert sim.store.select(destination_addr=ANN) == []  # nothing was sent


async def test_quiet_hours_hold_a_runs_texts_that_a_rule_tags(tmp_path: Path) -> None:
    hour = datetime.now(UTC).hour
    window = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"  # now is outside it
    rule = {"window": window, "tags": ["flow:survey"], "timezone": "UTC"}
    async with simulator() as sim, serving(config(sim, tmp_path / "db", quiet_hours=[rule])) as api:
        await api.wait_ready()
        r = await api.post("/v1/flows/survey/runs", {"to": ANN, "from": SHORT})
        assert r.status_code == 201, r.text
        [prompt] = r.json()["transcript"]
        held = (await api.get(f"/v1/messages/{prompt['message_id']}")).json()
        assert held["status"] == "scheduled" and held["send_at"][11:16] == window[:5], held
        r = await api.post("/v1/flows/booking/runs", {"to": ANN, "from": "54321"})  # another flow: not held
        sent = r.json()["transcript"][0]["message_id"]
        assert (await api.wait_status(sent, {"delivered"}))["status"] == "delivered"
        assert len(sim.store.select(destination_addr=ANN)) >= 1
        assert sim.store.select(destination_addr=ANN, source_addr=SHORT) == []
