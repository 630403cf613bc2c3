"""The memory store's half of ``ConversationStore`` (``store.conversations``), with the
SQLite store's answers and nothing durable. ``MemoryStore`` takes this class as a base:
staged conversations are kept by its ``add`` (``_write_opened``), as SQLite writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from smppgw.store.conversations import ConversationRecord
from smppgw.store.events import EventRecord

__all__ = ["MemoryConversations"]


def _copy(record: ConversationRecord) -> ConversationRecord:
    """What a store hands out is not the caller's object (as SQLite reads a row)."""
    return attrs.evolve(record, replies=[dict(r) for r in record.replies], expect=dict(record.expect))


class MemoryConversations:
    if TYPE_CHECKING:  # MemoryEvents' (the other base of MemoryStore), for the type checker

        def append_event(self, event: EventRecord) -> None: ...

    def _conversations_init(self) -> None:
        self._conversations: dict[str, ConversationRecord] = {}
        self._by_message: dict[str, str] = {}
        self._opened: list[ConversationRecord] = []

    def open_conversations(self, records: Sequence[ConversationRecord]) -> None:
        self._opened.extend(records)

    def _take_opened(self) -> list[ConversationRecord]:
        opened, self._opened = self._opened, []
        return opened

    def _write_opened(self, opened: list[ConversationRecord]) -> None:
        """In ``add``, once its messages are taken."""
        for r in opened:
            self._conversations.setdefault(r.id, _copy(r))
            self._by_message.setdefault(r.message_id, r.id)

    def save_conversation(self, record: ConversationRecord, event: EventRecord | None = None) -> None:
        if record.id in self._conversations:
            self._conversations[record.id] = _copy(record)
        if event is not None:
            self.append_event(event)

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        found = self._conversations.get(conversation_id)
        return None if found is None else _copy(found)

    def conversation_of(self, message_id: str) -> ConversationRecord | None:
        cid = self._by_message.get(message_id)
        return None if cid is None else self.get_conversation(cid)

    def open_conversation_records(self) -> list[ConversationRecord]:
        found = [r for r in self._conversations.values() if r.is_open]
        return [_copy(r) for r in sorted(found, key=lambda r: r.opened_at)]
