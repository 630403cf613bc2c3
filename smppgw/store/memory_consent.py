"""The memory store's half of ``ConsentStore`` (``store.consent``): a base class of
``MemoryStore``, with the SQLite store's answers and nothing durable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from smppgw.store.consent import OptOutView, consent_changed
from smppgw.store.events import EventRecord
from smppgw.twoway.consent import ConsentEvent, NumberConsent

__all__ = ["MemoryConsent"]


class MemoryConsent(OptOutView):
    def _consent_init(self) -> None:
        self._history: list[ConsentEvent] = []  # seq - 1 is the index
        self._consent: dict[str, NumberConsent] = {}
        self._by_number: dict[str, list[ConsentEvent]] = {}

    if TYPE_CHECKING:

        def append_event(self, event: EventRecord) -> None: ...  # MemoryEvents'

    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        written = []
        for e in events:
            e = attrs.evolve(e, seq=len(self._history) + 1)
            self._history.append(e)
            self._by_number.setdefault(e.number, []).append(e)
            index = self._consent.setdefault(e.number, NumberConsent())
            index.add(e)
            self.append_event(consent_changed(e, index.count))
            written.append(e)
        return written

    def consent(self, number: str) -> NumberConsent | None:
        return self._consent.get(number)

    def consent_history(self, number: str, *, limit: int = 1000) -> list[ConsentEvent]:
        return self._by_number.get(number, [])[-limit:]

    def consent_events(self, *, after: int = 0, limit: int = 1000) -> list[ConsentEvent]:
        return self._history[after : after + limit]
