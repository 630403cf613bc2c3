"""A handset as the console shows it: the numbers that got MTs lately, and one number's
conversation (the MTs it received and the MOs it sent, oldest first) with the reading of
its latest MT (``simulator.prompts``) and where a reply goes (that MT's sender and
account). Replies themselves go through ``inject_mo`` (``POST /inject``), as any MO.

Read-only views over the message log and the accounts' recent MO deliveries: both are
bounded (the log's ``limit``, ``RECENT_MO`` per account), and so are the scans here.
"""

from __future__ import annotations

from typing import Any, Final

from simulator.message_log import Message, text_of
from simulator.prompts import read_prompt
from simulator.state import SimState
from smppgw.core.reassembly import MalformedUdh, concat_info

__all__ = ["SCAN", "handset", "handsets"]

SCAN: Final = 20_000  # MTs looked at, newest first, for the list of numbers


def handsets(state: SimState, *, limit: int = 20) -> list[dict[str, Any]]:
    """The numbers that got MTs lately, newest first, each once: its latest MT's sender,
    account, time and text (of that part)."""
    out: dict[str, dict[str, Any]] = {}
    for scanned, m in enumerate(state.store.newest_first()):
        if scanned >= SCAN or len(out) >= limit:
            break
        if m.destination_addr not in out:
            out[m.destination_addr] = {
                "number": m.destination_addr,
                "from": m.source_addr,
                "account": m.account,
                "at": m.submitted_wall,
                "text": text_of(m.payload, m.data_coding, m.esm_class),
            }
    return list(out.values())


def _mt_texts(parts: list[Message]) -> list[dict[str, Any]]:
    """MT parts (oldest first) as the handset shows them: a concatenated message's parts
    joined (UDH; one that never completed is shown as far as it got)."""
    out: list[dict[str, Any]] = []
    pending: dict[tuple[str, int], tuple[dict[str, Any], list[str | None]]] = {}
    for m in parts:
        try:
            info, data = concat_info(m.payload, m.esm_class, ())
        except MalformedUdh:
            info, data = None, m.payload
        text = text_of(data, m.data_coding)
        item = {"direction": "mt", "at": m.submitted_wall, "from": m.source_addr, "to": m.destination_addr}
        item.update(account=m.account, message_id=m.message_id, state=m.state.stat)
        if info is None or info.total <= 1:
            out.append({**item, "text": text})
            continue
        key = (m.source_addr, info.reference)
        first, texts = pending.setdefault(key, (item, [None] * info.total))
        if 1 <= info.seqnum <= len(texts):
            texts[info.seqnum - 1] = text
        if all(t is not None for t in texts):
            del pending[key]
            out.append({**first, "at": item["at"], "text": "".join(t or "" for t in texts)})
    for first, texts in pending.values():
        out.append({**first, "text": "".join(t for t in texts if t is not None), "partial": True})
    return out


def handset(state: SimState, number: str, *, limit: int = 50) -> dict[str, Any]:
    """``number``'s conversation, oldest first (at most ``limit`` MT parts and ``limit``
    MO parts, the latest), where a reply goes and what its latest MT asks."""
    mts = _mt_texts(list(reversed(state.store.select(destination_addr=number, limit=limit))))
    mos = [
        {
            "direction": "mo",
            "at": d.queued_at,
            "from": d.pdu.source_addr,
            "to": d.pdu.destination_addr,
            "account": a.account.system_id,
            "text": text_of(d.pdu.short_message, d.pdu.data_coding, d.pdu.esm_class),
            "result": d.result,
        }
        for a in state.accounts.values()
        for d in a.queue.recent_mo
        if d.pdu.source_addr == number
    ][-limit:]
    messages = sorted(mts + mos, key=lambda item: item["at"])
    last = mts[-1] if mts else None
    out: dict[str, Any] = {"number": number, "messages": messages, "reply_to": None, "prompt": None}
    if last is not None:
        out["reply_to"] = {"account": last["account"], "address": last["from"]}
        prompt = read_prompt(last["text"] or "")
        out["prompt"] = {
            "ask": prompt.ask.value,
            "options": list(prompt.options),
            "labels": list(prompt.labels),
            "numbered": prompt.numbered,
            **({"low": prompt.low, "high": prompt.high} if prompt.ask.value == "score" else {}),
        }
    return out
