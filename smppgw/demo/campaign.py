"""The demo's campaign, through the HTTP API: appointment confirmations from a pool of
long numbers expecting YES or NO, a 0-10 survey from a short code, an offer from another
to which some people answer STOP; then the offer again to whoever opted out.

Each phase ends with a bounded wait (``api.wait_until``) for the product to settle:
every message final, every reply the carrier's handsets sent stored as inbound, every
event at the webhook receiver. A step whose feature this build lacks
(``api.detect_waiting``) is left out of the bodies and named as waiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import trio

from smppgw.demo.api import Api, wait_until
from smppgw.demo.flowstep import FlowStep, examples_missing, run_flow_step
from smppgw.demo.hooks import HookLog
from smppgw.demo.stage import FAILS_AT_SUBMIT, FAILS_UNDELIVERABLE, HANDSETS, POOL, QUIET_TAG, Stage

__all__ = ["OFFER_FROM", "SURVEY_FROM", "Campaign", "Sent", "run_campaign"]

SURVEY_FROM: Final = "60606"
OFFER_FROM: Final = "70707"
APPOINTMENT: Final = (
    "Acme Dental: your appointment is on Tue 14 Jan at 10:00. Reply YES to confirm or NO to cancel."
)
SURVEY: Final = "Acme Dental: how likely are you to recommend us to a friend, 0 to 10? Reply with a number."
EVENING: Final = "Acme Dental: tonight only, 2-for-1 check-ups. Reply STOP to opt out."
OFFER: Final = "Acme Dental: 20% off whitening this month with voucher SMILE20. Reply STOP to opt out."
EXPECT_YES_NO: Final = {
    "type": "choice",
    "choices": {"YES": ["yes", "y", "yeah", "ok", "confirm"], "NO": ["no", "n"]},
    "timeout": "24h",
    "reprompt": "Please reply YES or NO",
    "max_reprompts": 1,
}
EXPECT_SCORE: Final = {"type": "score", "min": 0, "max": 10}
SETTLE: Final = 40.0  # seconds the product has to settle after each phase

Say = Callable[[str], None]


@attrs.frozen(kw_only=True)
class Sent:
    kind: str  # "appointment" | "survey" | "offer" | "quiet" | "resend"
    to: str
    sender: str  # asked for ("from"), or the pool's name
    status_code: int
    id: str | None
    status: str | None  # as the 202 had it
    error: str | None = None  # a refusal's detail


@attrs.define(eq=False)
class Campaign:
    """What the demo sent and what the product showed at the end."""

    waiting: dict[str, str]
    sent: list[Sent] = attrs.field(factory=list)
    messages: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # id -> its view, at the end
    inbound: list[dict[str, Any]] = attrs.field(factory=list)
    consent: dict[tuple[str, str], dict[str, Any] | None] = attrs.field(factory=dict)
    phase_seconds: dict[str, float] = attrs.field(factory=dict)
    quiet_views: list[dict[str, Any]] = attrs.field(factory=list)  # as held, before canceled
    quiet_opening: datetime | None = None  # when the quiet-hours window opens
    flows: FlowStep | None = None  # the flow step (flowstep), when it ran

    def first(self) -> list[Sent]:
        """The campaign's own messages (not the quiet-hours ones, nor the send again)."""
        return [s for s in self.sent if s.kind in ("appointment", "survey", "offer")]

    def of_kind(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    def kind_of(self, message_id: str | None) -> str | None:
        return next((s.kind for s in self.sent if s.id == message_id), None)


def _bodies(waiting: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """The first phase's messages: 12 appointments, 12 surveys, 12 offers."""
    out: list[tuple[str, dict[str, Any]]] = []
    for to in HANDSETS[:12]:
        body: dict[str, Any] = {"to": to, "from": POOL[0], "text": APPOINTMENT, "tags": ["appointment"]}
        if "pools" not in waiting:
            body["from"] = "pool:appointments"  # the gateway picks a long number of the pool
        if "conversations" not in waiting:
            body["expect"] = EXPECT_YES_NO
        out.append(("appointment", body))
    for to in HANDSETS[6:18]:
        body = {"to": to, "from": SURVEY_FROM, "text": SURVEY, "tags": ["survey"]}
        if "conversations" not in waiting:
            body["expect"] = EXPECT_SCORE
        out.append(("survey", body))
    for to in HANDSETS[12:24]:
        out.append(("offer", {"to": to, "from": OFFER_FROM, "text": OFFER, "tags": ["marketing", "offer"]}))
    return out


async def _send(api: Api, campaign: Campaign, kind: str, body: dict[str, Any]) -> None:
    r = await api.post_message(body)
    data = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    sender = body["from"]
    campaign.sent.append(
        Sent(
            kind=kind, to=body["to"], sender=sender, status_code=r.status_code, id=data.get("id"),
            status=data.get("status"), error=None if r.status_code == 202 else data.get("detail", r.text),
        )
    )  # fmt: skip


async def _quiet_hours(api: Api, campaign: Campaign, say: Say) -> None:
    """Two evening offers outside the recipients' window (in their local time, from their
    numbers): held ``scheduled`` for its opening; canceled then, so the demo ends."""
    for to in HANDSETS[:2]:
        await _send(
            api, campaign, "quiet", {"to": to, "from": OFFER_FROM, "text": EVENING, "tags": [QUIET_TAG]}
        )
    for sent in campaign.of_kind("quiet"):
        if sent.id is not None:
            campaign.quiet_views.append(await api.message(sent.id))
            await api.cancel(sent.id)
    say(f"quiet hours: {len(campaign.quiet_views)} evening offers held, then canceled")


async def _settle(api: Api, stage: Stage, hooks: HookLog, campaign: Campaign, progress: Say) -> None:
    """Until every message is final, every handset reply is stored inbound, and every
    final status and inbound message has reached the webhook receiver."""

    async def missing() -> str | None:
        messages = await api.messages()
        inbound = await api.inbound()
        replies = stage.carrier.replies()
        campaign.messages = {m["id"]: m for m in messages}
        campaign.inbound = inbound
        finals = {m["id"] for m in messages if m["final"]}
        # (a message blocked at acceptance has no status event: its 202 said so)
        notified = {m["id"] for m in messages if m["final"] and m["status"] != "blocked"}
        hooked = {e["subject"] for e in hooks.of_type("message.status") if e["data"].get("final")}
        inbound_hooks = len(hooks.of_type("message.inbound"))
        progress(
            f"{len(finals)}/{len(messages)} messages final, {len(inbound)}/{len(replies)} replies in, "
            f"{hooks.verified} webhooks verified"
        )
        if len(finals) < len(messages):
            return f"{len(messages) - len(finals)} of {len(messages)} messages not final"
        if len(inbound) < len(replies):
            return f"{len(replies) - len(inbound)} of the handsets' {len(replies)} replies not stored inbound"
        if notified - hooked:
            return f"{len(notified - hooked)} final statuses not at the webhook receiver"
        if inbound_hooks < len(inbound):
            return f"{len(inbound) - inbound_hooks} inbound messages not at the webhook receiver"
        return None

    await wait_until("the campaign to settle", SETTLE, missing)


async def run_campaign(
    api: Api, stage: Stage, hooks: HookLog, waiting: dict[str, str], say: Say, progress: Say
) -> Campaign:
    """Send, settle, resend to the opted-out, settle; returns what was shown."""
    campaign = Campaign(waiting=waiting)
    started = trio.current_time()
    await wait_until("a bind to the carrier (GET /readyz)", 10.0, api.ready)
    say(
        f"sending: {len(HANDSETS[:12])} appointment confirmations (from "
        f"{'the pool ' + ', '.join(POOL) if 'pools' not in waiting else POOL[0]}), "
        f"12 surveys (from {SURVEY_FROM}), 12 offers (from {OFFER_FROM})"
    )
    for kind, body in _bodies(waiting):
        await _send(api, campaign, kind, body)
    if "quiet hours" not in waiting:
        start = stage.started.replace(second=0, microsecond=0) + timedelta(hours=2)  # (the window is HH:MM)
        campaign.quiet_opening = start
        await _quiet_hours(api, campaign, say)
    say(
        f"accepted {sum(s.status_code == 202 for s in campaign.sent)} of {len(campaign.sent)}; waiting for receipts and replies"
    )
    await _settle(api, stage, hooks, campaign, progress)
    campaign.phase_seconds["campaign"] = (settled := trio.current_time()) - started
    if "consent" in waiting:
        say(f"resend to the opted-out: WAITING ({waiting['consent']})")
        return await _whole_views(api, campaign)
    stops = sorted({(r.number, r.sender) for r in stage.carrier.replies() if r.action == "stop"})
    for number, sender in stops:
        campaign.consent[number, sender] = await api.consent(number, sender)
    say(f"sending again to the {len(stops)} (number, sender) pairs that opted out")
    for number, sender in stops:
        text = {OFFER_FROM: OFFER, SURVEY_FROM: SURVEY}.get(sender, APPOINTMENT)
        await _send(api, campaign, "resend", {"to": number, "from": sender, "text": text, "tags": ["resend"]})
    await _settle(api, stage, hooks, campaign, progress)
    campaign.phase_seconds["resend"] = (resent := trio.current_time()) - settled
    if "flows" not in waiting and (why := examples_missing()) is not None:
        waiting["flows"] = why
    if "flows" in waiting:
        say(f"flows and threads: WAITING ({waiting['flows']})")
    else:  # after the campaign: the triage flow takes HELP from now on
        campaign.flows = await run_flow_step(api, stage, say, progress)
        await _settle(api, stage, hooks, campaign, progress)
        campaign.phase_seconds["flows"] = trio.current_time() - resent
    return await _whole_views(api, campaign)


async def _whole_views(api: Api, campaign: Campaign) -> Campaign:
    """The whole view of each message that expects a reply (with its conversation's
    state, which the listing leaves out)."""
    for sent in campaign.sent:
        if sent.kind in ("appointment", "survey") and sent.id is not None:
            campaign.messages[sent.id] = await api.message(sent.id)
    return campaign


FORCED_FAILURES: Final = {FAILS_UNDELIVERABLE: "undeliverable", FAILS_AT_SUBMIT: "rejected"}


def failures(campaign: Campaign) -> Counter[str]:
    """Final messages that were not delivered (nor blocked, nor canceled), by status and reason."""
    out: Counter[str] = Counter()
    for m in campaign.messages.values():
        if m["status"] not in ("delivered", "blocked", "canceled"):
            reason = m.get("error") or next(
                (p["receipt_stat"] for p in m["parts"] if p.get("receipt_stat")), None
            )
            out[f"{m['status']} ({reason})" if reason else m["status"]] += 1
    return out
