"""The in-memory store: for tests and for one-shot tools (``smppgw send``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from smppgw.store.base import MessageRecord

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self) -> None:
        self._messages: dict[str, MessageRecord] = {}

    def add(self, messages: Sequence[MessageRecord]) -> None:
        for message in messages:
            self._messages[message.id] = message

    def save(self, message: MessageRecord) -> None:
        self._messages[message.id] = message

    def get(self, message_id: str) -> MessageRecord | None:
        return self._messages.get(message_id)

    def all(self) -> list[MessageRecord]:
        return list(self._messages.values())

    def counts(self) -> dict[str, int]:
        return dict(Counter(m.status.value for m in self._messages.values()))
