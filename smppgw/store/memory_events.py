"""The memory store's event outbox (``store.events.EventStore``), with the SQLite store's
answers and nothing durable. ``MemoryStore`` takes this class as a base. Pending
deliveries sit in a heap by due time, so the worker's polls stay cheap under a burst.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import attrs

from smppgw.store.events import (
    DEAD,
    DELIVERED,
    PENDING,
    Attempt,
    Delivery,
    EventRecord,
    EventRouter,
    inbound_event,
)

__all__ = ["MemoryEvents"]

_Key = tuple[int, str]  # (event seq, endpoint)


class MemoryEvents:
    def _events_init(self) -> None:
        self._router: EventRouter | None = None
        self._events: dict[int, EventRecord] = {}  # by seq, in seq order
        self._bodies: dict[int, str] = {}
        self._event_ids: dict[str, int] = {}
        self._next_seq = 1
        self._deliveries: dict[_Key, Delivery] = {}
        self._by_subject: dict[str, list[_Key]] = {}
        # Per endpoint, a heap of (due time, seq) of pending ones (stale entries skipped):
        # a busy endpoint's backlog is never walked.
        self._due: dict[str, list[tuple[float, int]]] = {}
        self._taken: set[_Key] = set()  # handed out, not recorded yet: out of the heaps

    def route_events(self, router: EventRouter) -> None:
        self._router = router

    def append_event(self, event: EventRecord) -> None:
        if self._router is None or event.id in self._event_ids:
            return
        seq = self._next_seq
        self._next_seq += 1
        self._event_ids[event.id] = seq
        self._events[seq] = attrs.evolve(event, seq=seq)
        self._bodies[seq] = event.body()
        keys = self._by_subject.setdefault(event.subject, [])
        at = event.occurred_at
        for t in self._router(event.type, event.callback_url):
            key = (seq, t.endpoint)
            self._deliveries[key] = Delivery(
                seq=seq, event_id=event.id, type=event.type, subject=event.subject, endpoint=t.endpoint,
                url=t.url, next_attempt_at=at, updated_at=at,
            )  # fmt: skip
            keys.append(key)
            heapq.heappush(self._due.setdefault(t.endpoint, []), (at, seq))

    def _inbound_event(self, record: object) -> None:
        self.append_event(inbound_event(record))

    def events(self, *, after: int = 0, types: Sequence[str] = (), limit: int = 100) -> list[EventRecord]:
        out: list[EventRecord] = []
        for seq, event in self._events.items():
            if seq > after and (not types or event.type in types):
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    def due_deliveries(self, now: float, *, limit: int, skip: Sequence[str] = ()) -> list[Delivery]:
        found: list[Delivery] = []
        for endpoint, due in self._due.items():
            if endpoint in skip:
                continue
            while due and due[0][0] <= now and len(found) < limit:
                entry = heapq.heappop(due)
                key = (entry[1], endpoint)
                d = self._deliveries.get(key)
                if d is None or d.state != PENDING or d.next_attempt_at != entry[0] or key in self._taken:
                    continue  # stale: recorded or rescheduled since
                self._taken.add(key)  # back in its heap when recorded (or released)
                found.append(attrs.evolve(d, body=self._bodies[d.seq]))
        return found

    def release_deliveries(self) -> None:
        for key in self._taken:
            d = self._deliveries.get(key)
            if d is not None and d.state == PENDING:
                heapq.heappush(self._due.setdefault(key[1], []), (d.next_attempt_at, key[0]))
        self._taken.clear()

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        for a in attempts:
            key = (a.seq, a.endpoint)
            self._taken.discard(key)
            d = self._deliveries.get(key)
            if d is None:
                continue
            self._deliveries[key] = attrs.evolve(
                d, state=a.state, attempts=d.attempts + 1, next_attempt_at=a.next_attempt_at,
                first_attempt_at=d.first_attempt_at if d.first_attempt_at is not None else a.at,
                last_status=a.status, last_error=a.error, updated_at=a.at,
            )  # fmt: skip
            if a.state == PENDING:
                heapq.heappush(self._due.setdefault(a.endpoint, []), (a.next_attempt_at, a.seq))

    def deliveries(
        self, *, subject: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        if subject is not None:
            found = [self._deliveries[k] for k in self._by_subject.get(subject, ()) if k in self._deliveries]
        else:
            found = sorted(self._deliveries.values(), key=lambda d: d.updated_at, reverse=True)
        return [d for d in found if state is None or d.state == state][:limit]

    def retry_dead(self, event_id: str | None, now: float) -> int:
        seq = None if event_id is None else self._event_ids.get(event_id)
        if event_id is not None and seq is None:
            return 0
        n = 0
        for key, d in list(self._deliveries.items()):
            if d.state == DEAD and (seq is None or key[0] == seq):
                self._deliveries[key] = attrs.evolve(
                    d, state=PENDING, next_attempt_at=now, first_attempt_at=None, updated_at=now
                )
                heapq.heappush(self._due.setdefault(key[1], []), (now, key[0]))
                n += 1
        return n

    def backlog(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self._deliveries.values():
            if d.state == PENDING:
                out[d.endpoint] = out.get(d.endpoint, 0) + 1
        return out

    def prune_events(self, before: float, limit: int = 10_000) -> int:
        gone: list[int] = []
        for seq, event in self._events.items():
            if len(gone) >= limit:
                break
            keys = [k for k in self._by_subject.get(event.subject, ()) if k[0] == seq]
            if event.occurred_at < before and all(self._deliveries[k].state == DELIVERED for k in keys):
                gone.append(seq)
        for seq in gone:
            event = self._events.pop(seq)
            del self._bodies[seq], self._event_ids[event.id]
            keys = self._by_subject.get(event.subject, [])
            for k in [k for k in keys if k[0] == seq]:
                keys.remove(k)
                del self._deliveries[k]
            if not keys:
                self._by_subject.pop(event.subject, None)
        return len(gone)
