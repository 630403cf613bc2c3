"""Consent as the store keeps it (``ConsentStore``): an append-only history of
``twoway.consent.ConsentEvent``, never changed, never erased, and an index in memory.

Every send asks ``consent(number)`` (the gateway's consent gate), so the index of each
number's history (``NumberConsent``: per scope the latest event and the latest opt-in)
lives in memory and answers without a query; the process is the file's only writer,
so it stays exact. ``add_consent`` writes durably before it returns (a STOP is on disk
before its deliver_sm_resp, DESIGN §3), each event with its ``consent.changed`` event in
the outbox, in the same transaction::

    {"type": "consent.changed", "subject": "consent:447700900001", "sequence": 3,
     "data": {"seq": 17, "number": "447700900001", "scope": "sender", "sender": "12345",
              "programme": null, "state": "opted_out", "source": "keyword", "keyword": "STOP",
              "inbound_seq": 42, "text": "Stop please", "reason": "", "at": "2026-..."}}

``sequence`` counts the number's consent events from 1, so the event's id is stable.

The opt-out registry of before (``OptOutStore``: ``/v1/optouts``) is a view of the same
history (``OptOutView``): a number is opted out there while its latest event of scope
``all`` is an opt-out; ``opt_out`` records an API opt-out of scope ``all`` (nothing when
it is opted out there already: the first time and reason stay), ``opt_in`` an API
opt-in. The SQLite half is ``store.sqlite_consent``, the memory half
``store.memory_consent``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.twoway.consent import ALL, OPTED_IN, OPTED_OUT, ConsentEvent, NumberConsent

__all__ = ["ConsentStore", "OptOutRecord", "OptOutView", "consent_changed"]


@attrs.frozen(kw_only=True)
class OptOutRecord:
    number: str
    created_at: float  # wall clock
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@runtime_checkable
class ConsentStore(Protocol):
    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        """Append ``events`` durably, all or none, each with its ``consent.changed`` event
        (same transaction); returns them as written (with ``seq``).

        Raises:
            StoreError: nothing of it was written.
        """

    def consent(self, number: str) -> NumberConsent | None:
        """The index of ``number``'s history, or None (no event): asked before every send."""

    def consent_history(self, number: str, *, limit: int = 1000) -> list[ConsentEvent]:
        """``number``'s events in write order (up to ``limit``, the newest kept)."""

    def consent_events(self, *, after: int = 0, limit: int = 1000) -> list[ConsentEvent]:
        """Every number's events with ``seq > after``, in ``seq`` order (the export)."""


def consent_changed(event: ConsentEvent, sequence: int) -> EventRecord:
    """The ``consent.changed`` event of a written ``event``, the ``sequence``-th of its number."""
    subject = f"consent:{event.number}"
    return EventRecord(
        id=event_id(subject, sequence), type="consent.changed", subject=subject, sequence=sequence,
        occurred_at=event.at, data=event.to_dict(),
    )  # fmt: skip


class OptOutView:
    """``OptOutStore`` on top of ``add_consent`` and ``consent`` (a base class of both stores)."""

    clock_offset: float

    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        raise NotImplementedError

    def consent(self, number: str) -> NumberConsent | None:
        raise NotImplementedError

    def _opted_out_all(self, number: str) -> ConsentEvent | None:
        index = self.consent(number)
        latest = None if index is None else index.latest.get(ALL)
        return latest if latest is not None and latest.state == OPTED_OUT else None

    def opt_out(self, number: str, *, now: float, reason: str = "api") -> None:
        if self._opted_out_all(number) is None:
            at = now + self.clock_offset
            self.add_consent([ConsentEvent(number=number, scope=ALL, state=OPTED_OUT, source="api", at=at,
                                           reason=reason)])  # fmt: skip

    def opt_in(self, number: str, *, now: float | None = None, reason: str = "api") -> bool:
        found = self._opted_out_all(number)
        if found is None:
            return False
        at = max(found.at, (now if now is not None else found.at) + self.clock_offset)
        self.add_consent([ConsentEvent(number=number, scope=ALL, state=OPTED_IN, source="api", at=at,
                                       reason=reason)])  # fmt: skip
        return True

    def get_opt_out(self, number: str) -> OptOutRecord | None:
        found = self._opted_out_all(number)
        return (
            None if found is None else OptOutRecord(number=number, created_at=found.at, reason=found.reason)
        )

    def is_opted_out(self, number: str) -> bool:
        return self._opted_out_all(number) is not None
