"""The demo's flow step, through the HTTP API: a few handsets book appointments through
the shipped booking flow and confirm at its reminder; one texts HELP, is triaged by the
shipped HELP flow and lands in a human thread, which the demo answers as an agent.

Both flows are the files in ``examples/flows``, put through ``PUT /v1/flows/{name}``
with short timers (a step's ``timeout`` a few seconds, so no run is left waiting when
the demo ends). The bookings start by ``POST /v1/flows/booking/runs`` with slots two
days and a few seconds ahead: the reminder ("2 days before the slot") fires seconds
after the booking. The handsets are the simulator's people (``stage``): they read each
prompt, pick a slot, and answer the reminder CONFIRM (their preference); the HELP one
picks the first product and the first kind of problem (billing). The flows' triage
flow takes HELP from then on, so this step comes after the campaign's HELP checks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from smppgw.demo.api import Api, wait_until
from smppgw.demo.stage import BOOKERS, HELPER, Stage

__all__ = [
    "AGENT_TEXT",
    "BOOKING_FROM",
    "EXAMPLES",
    "SUPPORT_FROM",
    "FlowStep",
    "examples_missing",
    "run_flow_step",
]

EXAMPLES: Final = Path(__file__).resolve().parents[2] / "examples" / "flows"
BOOKING_FROM: Final = "80808"  # the clinic's booking short code
SUPPORT_FROM: Final = "90909"  # the support number HELP is texted to
SHORT_TIMEOUT: Final = "6s"  # every step's timeout in the demo
REMIND_AFTER: Final = 8.0  # seconds from a booking's start to its reminder
AGENT: Final = "sam"
AGENT_TEXT: Final = "Hi, Sam from billing here: the double charge is refunded and shows within 3 days."
SETTLE: Final = 25.0

Say = Callable[[str], None]


@attrs.define(eq=False)
class FlowStep:
    """What the flow step did and what the product showed at its end."""

    put: dict[str, int] = attrs.field(factory=dict)  # flow -> PUT status
    started: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # number -> POST runs answer
    runs: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # number -> GET run, at the end
    slots: list[str] = attrs.field(factory=list)
    thread: dict[str, Any] | None = None  # the HELP handset's thread, at the end
    reply_status: int | None = None  # POST /v1/threads/{id}/messages
    seconds: float = 0.0


def examples_missing() -> str | None:
    """Why the flow step cannot run from here (its flows are the repository's example
    files, not installed with the package), or None."""
    missing = [n for n in ("booking", "help-triage") if not (EXAMPLES / f"{n}.toml").is_file()]
    if missing:
        return f"{', '.join(missing)} not in {EXAMPLES} (run from a source checkout)"
    return None


def demo_flow(name: str) -> dict[str, Any]:
    """``examples/flows/NAME.toml`` as JSON for ``PUT /v1/flows/{name}``, every step's
    timeout made short."""
    data = tomllib.loads((EXAMPLES / f"{name}.toml").read_text(encoding="utf-8"))
    for step in data.get("steps", {}).values():
        if "timeout" in step:
            step["timeout"] = SHORT_TIMEOUT
    return data


def _slots(now: datetime) -> list[str]:
    """Three slots two days and a few seconds ahead, a second apart (ISO 8601 UTC)."""
    first = now + timedelta(days=2, seconds=REMIND_AFTER)
    return [(first + timedelta(seconds=i)).isoformat(timespec="seconds") for i in range(3)]


async def run_flow_step(api: Api, stage: Stage, say: Say, progress: Say) -> FlowStep:
    step = FlowStep()
    started = trio.current_time()
    for name in ("booking", "help-triage"):
        r = await api.http.put(f"/v1/flows/{name}", json=demo_flow(name))
        step.put[name] = r.status_code
    step.slots = _slots(datetime.now(UTC))
    say(
        f"flows: booking and help-triage put through the API (timeouts {SHORT_TIMEOUT}); "
        f"{len(BOOKERS)} handsets book from {BOOKING_FROM}, reminders in {REMIND_AFTER:g} s; "
        f"{HELPER} texts HELP to {SUPPORT_FROM}"
    )
    for number in BOOKERS:
        body = {"to": number, "from": BOOKING_FROM, "vars": {"slots": step.slots}}
        r = await api.http.post("/v1/flows/booking/runs", json=body)
        step.started[number] = (
            r.json() if r.status_code == 201 else {"status_code": r.status_code, "body": r.text}
        )
    stage.carrier.text(HELPER, SUPPORT_FROM, "HELP")

    async def runs_over() -> str | None:
        active = 0
        for number, run in step.started.items():
            if "id" not in run:
                continue
            r = await api.http.get(f"/v1/flows/booking/runs/{run['id']}")
            step.runs[number] = r.json()
            active += step.runs[number].get("status") == "active"
        step.thread = await _thread(api)
        status = None if step.thread is None else step.thread["status"]
        progress(f"{active} bookings active; the HELP thread: {status or 'not yet'}")
        if active:
            return f"{active} booking runs still active"
        return (
            None if status == "waiting_on_agent" else f"the HELP handset's thread is {status or 'not open'}"
        )

    await wait_until("the bookings to end and the HELP thread to wait on an agent", SETTLE, runs_over)
    assert step.thread is not None
    r = await api.http.post(
        f"/v1/threads/{step.thread['id']}/messages", json={"text": AGENT_TEXT, "agent": AGENT}
    )
    step.reply_status = r.status_code
    say(f"an agent answered the HELP thread through the threads API: {r.status_code}")

    async def answered() -> str | None:
        step.thread = await _thread(api, messages=True)
        if AGENT_TEXT not in stage.carrier.received(HELPER, SUPPORT_FROM):
            return "the agent's reply has not reached the handset"
        return (
            None if step.thread and step.thread["status"] == "waiting_on_customer" else "thread not updated"
        )

    await wait_until("the agent's reply at the handset", 10.0, answered)
    step.seconds = trio.current_time() - started
    return step


async def _thread(api: Api, *, messages: bool = False) -> dict[str, Any] | None:
    """The HELP handset's thread with the support number (with its messages)."""
    r = await api.http.get("/v1/threads", params={"number": HELPER, "sender": SUPPORT_FROM})
    r.raise_for_status()
    threads: list[dict[str, Any]] = r.json()["threads"]
    if not threads:
        return None
    if not messages:
        return threads[0]
    r = await api.http.get(f"/v1/threads/{threads[0]['id']}")
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body
