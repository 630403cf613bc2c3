"""``message.status`` events: ``Changes`` numbers on from the count it kept (no walk of
the history per change) and makes the same events, ids and bodies as a count from the
start of the history does."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from smppgw.gateway.changes import Changes
from smppgw.gateway.events import EMIT, status_events
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.store.base import EventRecord, MessageRecord, PartRecord, Status, advance, owes_work
from smppgw.store.memory import MemoryStore

S = Status


class Recorded:
    """An event store that keeps what it is given (``wall`` as MemoryStore's)."""

    def __init__(self, offset: float = 1_700_000_000.0) -> None:
        self.offset = offset
        self.appended: list[EventRecord] = []

    def wall(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else monotonic + self.offset

    def append_event(self, event: EventRecord) -> None:
        self.appended.append(event)


def record(parts: int = 1) -> MessageRecord:
    r = MessageRecord(
        id="m1", source="12345", destination="447700900001", text="x", callback_url="http://h/cb"
    )
    r.parts = [PartRecord(index=i + 1, total=parts) for i in range(parts)]
    return r


def shape(events: list[EventRecord]) -> list[tuple[str, int, float, str]]:
    return [(e.id, e.sequence, e.occurred_at, e.body()) for e in events]


# Moves of a message (each applied or refused by the rank rule), with non-emitting ones.
MOVES = [S.QUEUED, S.SUBMITTING, S.QUEUED, S.SUBMITTING, S.SUBMITTED, S.EN_ROUTE, S.SUBMITTED, S.UNKNOWN]
MOVES += [S.DELIVERED, S.EXPIRED, S.DELIVERED]


@pytest.mark.parametrize("start", range(len(MOVES) + 1))
def test_a_kept_count_makes_the_same_events_as_a_count_from_the_start(start: int) -> None:
    r = record()
    for n, status in enumerate(MOVES):
        advance(r, status, "test", float(n), f"move {n}")
    store = Recorded()
    before = sum(1 for status, _at, _src, _d, applied in r.history[:start] if applied and status in EMIT)
    kept = status_events(r, start, store.wall, before)
    assert shape(kept) == shape(status_events(r, start, store.wall))
    assert shape(kept) == shape(status_events(r, 0, store.wall))[before:]


class OldChanges:
    """The numbering as it was: each change counts the history from its start."""

    def __init__(self, events: Recorded) -> None:
        self.events = events
        self.told: dict[str, int] = {}

    def publish(self, r: MessageRecord) -> None:
        history = r.history
        if history and not history[-1][4]:
            return
        start = self.told.get(r.id, 0)
        if start < len(history):
            for event in status_events(r, start, self.events.wall):
                self.events.append_event(event)
        if owes_work(r):
            self.told[r.id] = len(history)
        else:
            self.told.pop(r.id, None)


@pytest.mark.parametrize("publish_every", [1, 2, 3])
async def test_changes_number_on_as_a_count_from_the_start_would(publish_every: int) -> None:
    new, old = Recorded(), Recorded()
    changes = Changes(MemoryStore(), GatewayMetrics(), new)  # type: ignore[arg-type]
    reference = OldChanges(old)
    twins = (record(parts=2), record(parts=2))
    for n, status in enumerate(MOVES):
        for r in twins:
            advance(r, status, "test", float(n), f"move {n}")
        if (n + 1) % publish_every == 0:
            changes.publish(twins[0])
            reference.publish(twins[1])
    assert new.appended and shape(new.appended) == shape(old.appended)
    # (after a final status the count is dropped: a late change makes them all again,
    # the same ids, which the store keeps once)
    numbered = {e.id: e.sequence for e in new.appended}
    assert sorted(numbered.values()) == list(range(1, len(numbered) + 1))


async def test_changes_number_events_of_a_message_through_the_gateway(autojump_clock: MockClock) -> None:
    """Through ``Changes.fail`` too: a refused move is saved, not told, and the count
    carries on past it."""
    events = Recorded()
    changes = Changes(MemoryStore(), GatewayMetrics(), events)  # type: ignore[arg-type]
    r = record()
    for status in (S.QUEUED, S.SUBMITTING, S.SUBMITTED):
        advance(r, status, "test", trio.current_time())
        changes.publish(r)
        await trio.sleep(1)
    changes.fail(r, S.FAILED, "rejected")
    changes.fail(r, S.EXPIRED, "late")  # refused: FAILED is final (history only)
    assert [(e.id, e.sequence) for e in events.appended] == [("evt_m1_1", 1), ("evt_m1_2", 2)]
    # (the bodies tell each event's moment: compare what does not change afterwards)
    assert [(e.id, e.occurred_at) for e in events.appended] == [
        (e.id, e.occurred_at) for e in status_events(r, 0, events.wall)
    ]


def test_the_moves_cover_refused_and_non_emitting_entries() -> None:
    r = record()
    for n, status in enumerate(MOVES):
        advance(r, status, "test", float(n))
    applied = [entry[4] for entry in r.history]
    assert not all(applied) and any(applied)
    assert any(s in {S.QUEUED, S.SUBMITTING} for s, *_ in r.history)
    assert len(status_events(r, 0, Recorded().wall)) >= 4


async def test_a_history_read_anew_is_counted_again() -> None:
    """The kept count is for the history it was made from: the same message read again
    (another gateway's copy through the store, with a move this one never saw) numbers
    its events by that history, as a count from its start does."""
    events = Recorded()
    changes = Changes(MemoryStore(), GatewayMetrics(), events)  # type: ignore[arg-type]
    mine = record()
    for n, status in enumerate((S.QUEUED, S.SUBMITTING, S.SUBMITTED)):
        advance(mine, status, "test", float(n))
    changes.publish(mine)
    theirs = record()  # its history: submitted and en_route where mine has submitting
    theirs.history = [mine.history[0], (S.SUBMITTED, 1.0, "smpp", "ESME_ROK", True)]
    theirs.history.append((S.EN_ROUTE, 1.5, "receipt", "ENROUTE", True))
    theirs.status = S.EN_ROUTE
    advance(theirs, S.DELIVERED, "receipt", 3.0, "DELIVRD")
    changes.publish(theirs)
    assert [(e.id, e.sequence) for e in events.appended] == [("evt_m1_1", 1), ("evt_m1_3", 3)]
    assert shape(events.appended[1:]) == shape(status_events(theirs, 3, events.wall))
