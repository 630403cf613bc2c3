"""Conversations in the store (``ConversationStore``), on every backend: written with the
message's ``add`` (and dropped with a refused one), a change written with its event,
read back across a reopen on the trio clock of the new process."""

from __future__ import annotations

import pytest

from smppgw.store.base import ConversationRecord, StoreError, Target, conversation_event
from tests.store.helpers import Backend, record


def talk(i: int, message_id: str, **kw: object) -> ConversationRecord:
    fields: dict[str, object] = {
        "id": f"c{i}", "message_id": message_id, "sender": "12345", "recipient": "447700900001",
        "expect": {"type": "text", "timeout": 60.0}, "opened_at": 100.0 + i, "deadline": 160.0 + i,
    }  # fmt: skip
    fields.update(kw)
    return ConversationRecord(**fields)  # type: ignore[arg-type]


def test_a_conversation_is_written_with_its_message(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    m = record(1)
    store.open_conversations([talk(1, m.id, tenant="acme", pool="care")])
    assert store.get_conversation("c1") is None  # staged: nothing is there before the add
    store.add([m])
    assert store.conversation_of(m.id) is not None
    store.close()
    again = backend.reopen()
    [found] = again.open_conversation_records()
    assert (found.id, found.message_id, found.tenant, found.pool, found.state) == (
        "c1",
        m.id,
        "acme",
        "care",
        "open",
    )
    assert (found.opened_at, found.deadline, found.expect) == (
        101.0,
        161.0,
        {"type": "text", "timeout": 60.0},
    )
    assert again.conversation_of(m.id) is not None and again.conversation_of("nope") is None


def test_a_refused_add_drops_its_conversations(backend: Backend) -> None:
    store = backend.open()
    first = record(1)
    store.add([first])
    store.open_conversations([talk(2, first.id)])
    with pytest.raises(StoreError):
        store.add([record(1)])  # the same id again: refused
    assert store.get_conversation("c2") is None
    store.add([record(3)])  # the next add does not write what the refused one staged
    assert store.get_conversation("c2") is None and store.open_conversation_records() == []


def test_a_change_is_saved_with_its_event(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    m, other = record(1), record(2)
    store.open_conversations([talk(1, m.id), talk(2, other.id, opened_at=90.0)])
    store.add([m, other])
    changed = store.get_conversation("c1")
    assert changed is not None
    changed.replies.append({"inbound_seq": 7, "answer": None, "at": 120.0})
    changed.reprompts = 1
    store.save_conversation(changed)  # still open: no event
    changed.replies.append({"inbound_seq": 8, "answer": "fine", "at": 130.0})
    changed.state, changed.answer, changed.closed_at = "answered", "fine", 130.0
    store.save_conversation(changed, conversation_event(changed, store.wall))
    store.close()
    again = backend.reopen()
    found = again.get_conversation("c1")
    assert found is not None and found.state == "answered" and found.answer == "fine" and found.reprompts == 1
    assert found.replies == [
        {"inbound_seq": 7, "answer": None, "at": 120.0},
        {"inbound_seq": 8, "answer": "fine", "at": 130.0},
    ]
    assert [r.id for r in again.open_conversation_records()] == ["c2"]
    [event] = again.events(types=["conversation.answered"])
    assert event.subject == "conversation:c1" and event.id == "evt_conversation_c1_1"
    assert event.data["state"] == "answered" and event.data["message_id"] == m.id
    assert event.data["replies"][1]["at"].startswith("1970-01-01T00:18:50.000")  # 1,130 s: wall time
    assert [d.endpoint for d in again.deliveries(subject="conversation:c1")] == ["hook"]
    assert found.to_dict(again.wall)["closed_at"] == event.data["closed_at"]
