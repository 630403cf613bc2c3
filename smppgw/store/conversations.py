"""Conversations in the store: the record and the ``ConversationStore`` protocol.

A conversation is opened with the message that expects a reply (``twoway.conversations``)
and written with it: ``open_conversations`` stages the records, and the next ``add``
writes them in the transaction that stores their messages (so a 202 means both are on
disk, and a message refused is no conversation). Every later change (an answer, a
re-prompt, the end) is written at once with its event (``save_conversation``). Times in
records are on the trio clock, like messages; a store keeps wall-clock seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.support.isotime import iso

__all__ = [
    "CONVERSATION_EVENTS",
    "ConversationRecord",
    "ConversationStore",
    "conversation_event",
]

#: The event of each final state.
CONVERSATION_EVENTS = {
    "answered": "conversation.answered",
    "invalid": "conversation.invalid",
    "expired": "conversation.expired",
}


@attrs.define(eq=False)
class ConversationRecord:
    id: str
    message_id: str
    sender: str  # our number (the message's source, SMPP digits)
    recipient: str  # the subscriber (the message's destination)
    expect: dict[str, Any]  # ``Expect.to_dict()``
    opened_at: float  # trio clock
    deadline: float  # trio clock: expired when no valid answer came by then
    state: str = "open"  # open | answered | invalid | expired
    answer: str | None = None  # the valid answer (a choice's name, a score, the text)
    # Each reply linked to it, in order: {"inbound_seq", "answer" (None: invalid), "at" (trio clock)}
    replies: list[dict[str, Any]] = attrs.field(factory=list)
    reprompts: int = 0  # re-prompts sent
    closed_at: float | None = None  # trio clock
    tenant: str | None = None
    pool: str | None = None  # the sender pool its sender was picked from

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def to_dict(self, wall: Callable[[float | None], float | None]) -> dict[str, Any]:
        """As the API and the events show it: times ISO 8601 UTC."""

        def at(t: float | None) -> str | None:
            w = wall(t)
            return None if w is None else iso(w)

        return {
            "id": self.id, "message_id": self.message_id, "from": self.sender, "to": self.recipient,
            "state": self.state, "answer": self.answer, "expect": self.expect, "reprompts": self.reprompts,
            "replies": [
                {"inbound_seq": r["inbound_seq"], "answer": r["answer"], "at": at(r["at"])} for r in self.replies
            ],
            "opened_at": at(self.opened_at), "expires_at": at(self.deadline), "closed_at": at(self.closed_at),
            "pool": self.pool, "tenant": self.tenant,
        }  # fmt: skip


def conversation_event(
    record: ConversationRecord, wall: Callable[[float | None], float | None]
) -> EventRecord:
    """The event of a conversation that ended (one per conversation: sequence 1)."""
    subject = f"conversation:{record.id}"
    occurred = wall(record.closed_at)
    return EventRecord(
        id=event_id(subject, 1), type=CONVERSATION_EVENTS[record.state], subject=subject, sequence=1,
        occurred_at=occurred if occurred is not None else 0.0, data=record.to_dict(wall),
    )  # fmt: skip


@runtime_checkable
class ConversationStore(Protocol):
    def open_conversations(self, records: Sequence[ConversationRecord]) -> None:
        """Stage new conversations: the next ``add`` writes them in its transaction (the
        messages they belong to are in that ``add``); a failed ``add`` drops them."""

    def save_conversation(self, record: ConversationRecord, event: EventRecord | None = None) -> None:
        """Write a change of a stored conversation now, with ``event`` (its outbox event)
        in the same transaction. Raises StoreError (nothing written)."""

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    def conversation_of(self, message_id: str) -> ConversationRecord | None:
        """The conversation the message opened, or None."""

    def open_conversation_records(self) -> list[ConversationRecord]:
        """Every open conversation, oldest first: what a restart reloads."""
