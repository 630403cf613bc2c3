"""What the demo shows: live progress while it runs (a rich status line on a terminal,
plain lines otherwise) and the summary at the end, then the checks."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.status import Status

from smppgw.demo.api import percentile, seconds_between
from smppgw.demo.campaign import Campaign, failures
from smppgw.demo.checks import Check, score_of
from smppgw.demo.hooks import HookLog
from smppgw.demo.stage import QUIET_ZONE, Carrier, HandsetReply

__all__ = ["Progress", "summary_lines"]


_STYLES = {
    "ok ": "green",
    "FAILED": "bold red",
    "demo FAILED": "bold red",
    "WAITING": "yellow",
    "demo OK": "bold green",
}


class Progress:
    """``say`` prints a line; ``update`` shows the latest counts: in a rich status line on
    a terminal, or as a plain line at most once a second (and only when they change)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None
        self._last = ""
        self._shown_at = 0.0

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._status = self.console.status("starting")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No more progress: the status line goes before the summary."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def say(self, line: str) -> None:
        """One line; on a terminal a check's verdict is coloured."""
        style = next((c for word, c in _STYLES.items() if line.lstrip().startswith(word)), None)
        self.console.print(line, highlight=False, markup=False, soft_wrap=True, style=style)

    def update(self, line: str) -> None:
        if self._status is not None:
            self._status.update(line)
            return
        now = time.monotonic()
        if line != self._last and now - self._shown_at >= 1.0:
            self.say(f"  ... {line}")
            self._last, self._shown_at = line, now


def _latencies(campaign: Campaign) -> list[float]:
    """Seconds from acceptance to each delivered part's receipt."""
    out = []
    for m in campaign.messages.values():
        for part in m["parts"]:
            seconds = seconds_between(m.get("created_at"), part.get("receipt_at"))
            if seconds is not None and m["status"] == "delivered":
                out.append(seconds)
    return out


def _answers(campaign: Campaign, kind: str) -> list[str]:
    return [
        m["answer"] for m in campaign.inbound
        if m.get("answer") is not None and campaign.kind_of(m.get("in_reply_to")) == kind
    ]  # fmt: skip


def _keyword(campaign: Campaign, reply: HandsetReply) -> str:
    """The keyword the product read in a handset's reply (as stored inbound)."""
    for m in campaign.inbound:
        if (m["source"], m["destination"], m["text"]) == (reply.number, reply.sender, reply.text):
            return m.get("keyword") or "none"
    return "not stored"


def summary_lines(campaign: Campaign, carrier: Carrier, hooks: HookLog, checks: list[Check]) -> Iterator[str]:
    waiting = campaign.waiting
    replies = carrier.replies()
    statuses = Counter(m["status"] for m in campaign.messages.values())
    yield "summary"
    sends = campaign.sent
    yield f"  accepted          {sum(s.status_code == 202 for s in sends)} of {len(sends)} sent"
    yield f"  delivered         {statuses['delivered']} (of {len(campaign.messages)} messages, the gateway's replies included)"
    failed = failures(campaign)
    yield f"  failed            {sum(failed.values())}" + "".join(
        f"; {n} {why}" for why, n in sorted(failed.items())
    )
    yield f"  replies in        {len(campaign.inbound)}: " + ", ".join(
        f"{n} {a}" for a, n in Counter(r.action for r in replies).most_common()
    )
    if "conversations" in waiting:
        yield f"  answers by choice WAITING ({waiting['conversations']})"
        yield "  survey            WAITING (conversations)"
    else:
        choices = Counter(_answers(campaign, "appointment"))
        yield "  answers by choice " + (", ".join(f"{c} {n}" for c, n in sorted(choices.items())) or "none")
        scores = [s for s in (score_of(a) for a in _answers(campaign, "survey")) if s is not None]
        if scores:
            spread = Counter(scores)
            yield (
                f"  survey            {len(scores)} scores, mean {statistics.fmean(scores):.1f}; "
                + " ".join(f"{s}:{spread[s]}" for s in range(11) if spread[s])
            )
        else:
            yield "  survey            no scores"
    reprompts = [m for m in campaign.messages.values() if "reprompt" in m.get("tags", [])]
    if "conversations" not in waiting:
        states = Counter(
            m["conversation_state"] for m in campaign.messages.values() if m.get("conversation_state")
        )
        yield (
            "  conversations     " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            + f"; {len(reprompts)} re-prompts sent"
        )  # fmt: skip
    stops = [r for r in replies if r.action == "stop"]
    opt_outs = "; ".join(
        f"{r.number} to {r.sender} {r.text!r} (keyword {_keyword(campaign, r)})" for r in stops
    )
    opt_outs = opt_outs or "none"
    if "consent" in waiting:
        yield f"  opt-outs          {len(stops)} STOP texts sent: {opt_outs}"
        yield f"                    consent WAITING ({waiting['consent']})"
        yield "  blocked sends     WAITING (consent)"
    else:
        yield f"  opt-outs          {len(stops)}: {opt_outs}"
        blocked = [
            s
            for s in campaign.of_kind("resend")
            if campaign.messages.get(s.id or "", {}).get("status") == "blocked"
        ]
        reason = next((campaign.messages[s.id or ""].get("error") for s in blocked), None)
        yield (
            f"  blocked sends     {len(blocked)} of {len(campaign.of_kind('resend'))} sent again to the opted-out"
            + (f", e.g. {reason!r}" if reason else "")
        )
    helps = [r for r in replies if r.action == "help"]
    answered = [m for m in campaign.messages.values() if "help" in m.get("tags", [])]
    yield f"  HELP replies      {len(helps)} asked, {len(answered)} answered" + (
        " (WAITING: consent)" if "consent" in waiting else ""
    )
    for purpose, label in (("help", "HELP text"), ("opt_out_confirmation", "STOP confirmation")):
        sent = next((m for m in campaign.messages.values() if purpose in m.get("tags", [])), None)
        if sent is not None:  # as the handset got it
            got = carrier.received(sent["to"], sent["from"])
            yield f"  {label:<17} {got[-1]!r}" if got else f"  {label:<17} (not at the handset)"
    if "quiet hours" in waiting:
        yield f"  quiet hours       WAITING ({waiting['quiet hours']})"
    elif campaign.quiet_opening is not None:
        local = campaign.quiet_opening.astimezone(ZoneInfo(QUIET_ZONE))
        yield (
            f"  quiet hours       {sum(m['status'] == 'scheduled' for m in campaign.quiet_views)} evening offers held "
            f"scheduled until {local:%H:%M} {QUIET_ZONE} (the recipients' time, from their numbers), then canceled"
        )
    yield from _flow_lines(campaign)
    lat = _latencies(campaign)
    yield f"  accept->receipt   p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms ({len(lat)} parts)"
    events = ", ".join(f"{n} {t}" for t, n in sorted(hooks.by_type().items()))
    yield f"  webhooks          {hooks.verified} verified, {len(hooks.bad)} refused; {events}"
    yield "  took              " + ", ".join(f"{k} {v:.1f} s" for k, v in campaign.phase_seconds.items())
    yield "checks"
    for check in checks:
        yield f"  {'ok    ' if check.ok else 'FAILED'} {check.name}" + (
            f": {check.detail}" if check.detail else ""
        )
    for step, why in waiting.items():
        yield f"  WAITING {step}: {why}"


def _flow_lines(campaign: Campaign) -> Iterator[str]:
    step = campaign.flows
    if "flows" in campaign.waiting or step is None:
        yield f"  flows             WAITING ({campaign.waiting.get('flows', 'not run')})"
        return
    runs = Counter(r.get("status") for r in step.runs.values())
    answers = Counter(r.get("vars", {}).get("answer") for r in step.runs.values())
    yield (
        f"  bookings          {len(step.runs)} runs: "
        + ", ".join(f"{n} {s}" for s, n in sorted(runs.items(), key=lambda i: str(i[0])))
        + "; at the reminder "
        + ", ".join(f"{n} {a}" for a, n in sorted(answers.items(), key=lambda i: str(i[0])))
    )
    thread = step.thread or {}
    handoff = thread.get("handoff") or {}
    yield (
        f"  HELP thread       queue {thread.get('queue')}, note {handoff.get('note')!r}, "
        f"{len(thread.get('messages') or [])} messages, {thread.get('status')} after the agent's reply"
    )
