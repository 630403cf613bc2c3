"""The status model (DESIGN §3, issue 13 item 2): the rank rule, ``unknown`` -> the real
outcome as the one move out of a final status, the history of every change, and a
message's status the same whatever the order of its events."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from smppgw.core.constants import MessageState
from smppgw.core.receipt import Receipt
from smppgw.gateway.changes import Changes
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.store.base import (
    FINAL,
    OUTCOMES,
    RANK,
    HistoryEntry,
    MessageRecord,
    PartRecord,
    Status,
    advance,
    may_move,
    rollup,
)
from smppgw.store.memory import MemoryStore

_ORDER = [
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.QUEUED,
    Status.SUBMITTING,
    Status.SUBMITTED,
    Status.EN_ROUTE,
]
_STATE = {
    "DELIVRD": MessageState.DELIVERED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "EXPIRED": MessageState.EXPIRED,
    "REJECTD": MessageState.REJECTED,
}
_OUTCOME = {
    "DELIVRD": Status.DELIVERED,
    "UNDELIV": Status.UNDELIVERABLE,
    "EXPIRED": Status.EXPIRED,
    "REJECTD": Status.REJECTED,
}


def message(parts: int = 1) -> MessageRecord:
    record = MessageRecord(id="m", source="12345", destination="447700900001", text="x")
    record.parts = [PartRecord(index=i + 1, total=parts) for i in range(parts)]
    return record


def legal(old: Status, new: Status) -> bool:
    """The rule, written out the long way: what ``may_move`` must agree with."""
    if old in FINAL:
        return old is Status.UNKNOWN and new in OUTCOMES
    if old is Status.SUBMITTING and new is Status.QUEUED:
        return True  # a retry before the SMSC took it (same message id)
    return RANK[new] >= RANK[old]


# -- the rule ----------------------------------------------------------------------------------


def test_the_lifecycle_order_goes_forward_only() -> None:
    for earlier, later in itertools.combinations(_ORDER, 2):
        assert may_move(earlier, later)
        assert not may_move(later, earlier) or (later, earlier) == (Status.SUBMITTING, Status.QUEUED)
    for status in _ORDER:
        assert all(may_move(status, final) for final in FINAL)
        assert not any(may_move(final, status) for final in FINAL)


def test_nothing_leaves_a_final_status_but_unknown_for_a_receipts_outcome() -> None:
    for old, new in itertools.product(FINAL, Status):
        assert may_move(old, new) == (old is Status.UNKNOWN and new in OUTCOMES), (old, new)
    assert not may_move(Status.UNKNOWN, Status.FAILED)
    assert not may_move(Status.UNKNOWN, Status.CANCELED)
    assert not may_move(Status.DELIVERED, Status.UNDELIVERABLE)


def test_may_move_is_the_rule_for_every_pair() -> None:
    for old, new in itertools.product(Status, Status):
        assert may_move(old, new) == legal(old, new), (old, new)


def test_advance_records_every_change_and_applies_only_legal_ones() -> None:
    m = message()
    assert advance(m, Status.QUEUED, "gateway", 1.0, "accepted")
    assert advance(m, Status.SUBMITTED, "smpp", 2.0, "ESME_ROK")
    assert advance(m, Status.DELIVERED, "receipt", 3.0, "DELIVRD err:000")
    assert not advance(m, Status.SUBMITTED, "smpp", 4.0, "ESME_ROK")  # late: history only
    assert (m.status, m.updated_at) == (Status.DELIVERED, 3.0)
    assert m.history == [
        (Status.QUEUED, 1.0, "gateway", "accepted", True),
        (Status.SUBMITTED, 2.0, "smpp", "ESME_ROK", True),
        (Status.DELIVERED, 3.0, "receipt", "DELIVRD err:000", True),
        (Status.SUBMITTED, 4.0, "smpp", "ESME_ROK", False),
    ]


def test_unknown_is_replaced_by_a_late_outcome_once() -> None:
    m = message()
    advance(m, Status.SUBMITTED, "smpp", 1.0)
    assert advance(m, Status.UNKNOWN, "gateway", 2.0, "no receipt")
    assert advance(m, Status.DELIVERED, "receipt", 3.0, "DELIVRD")
    assert not advance(m, Status.UNDELIVERABLE, "receipt", 4.0, "UNDELIV")
    assert m.status is Status.DELIVERED and m.is_final


def test_rollup_counts_an_unknown_part_as_final_and_the_worst() -> None:
    parts = [PartRecord(1, 2, status=Status.DELIVERED, receipt_final=True), PartRecord(2, 2)]
    assert rollup(parts) is None
    parts[1].status = Status.UNKNOWN
    assert rollup(parts) == (Status.UNKNOWN, None)
    parts[0].status, parts[0].receipt_stat = Status.REJECTED, "REJECTD"
    assert rollup(parts) == (Status.UNKNOWN, None)  # not known until every part is
    parts[1].status, parts[1].receipt_stat, parts[1].receipt_final = Status.EXPIRED, "EXPIRED", True
    assert rollup(parts) == (Status.REJECTED, "REJECTD")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Status)), max_size=12))
def test_any_sequence_of_moves_shows_a_monotone_status(moves: list[Status]) -> None:
    m = message()
    shown = [m.status]
    for n, status in enumerate(moves):
        if advance(m, status, "gateway", float(n)):
            shown.append(status)
    assert all(may_move(a, b) for a, b in itertools.pairwise(shown))
    assert [h[0] for h in m.history] == moves
    applied = [h[0] for h in m.history if h[4]]
    assert applied == shown[1:] and m.status is shown[-1]
    # Past submitted (the SMSC has the message) nothing goes back to an earlier rank,
    # and a final status is only ever left once, for a receipt's outcome.
    for a, b in itertools.pairwise(shown):
        assert RANK[b] >= RANK[a] or (a, b) == (Status.SUBMITTING, Status.QUEUED)
    assert sum(a is Status.UNKNOWN for a in shown[:-1]) <= 1


# -- receipts in any order -----------------------------------------------------------------------


def _book(per_message: bool) -> tuple[ReceiptBook, Changes, list[Status]]:
    changes = Changes(MemoryStore(), GatewayMetrics())
    told: list[Status] = []
    changes.listeners.append(lambda r: told.append(r.status))
    book = ReceiptBook(
        metrics=GatewayMetrics(),
        hold=1e9,
        bases={},
        on_change=changes.publish,
        per_message=frozenset({"a"}) if per_message else frozenset(),
    )
    return book, changes, told


def _deadline(changes: Changes, m: MessageRecord, now: float) -> None:
    """What the receipt deadline does: parts still waiting become unknown, so does the
    message (``Changes.fail`` without its trio clock)."""
    for part in m.parts:
        if not part.receipt_final:
            part.status = Status.UNKNOWN
    advance(m, Status.UNKNOWN, "gateway", now, "no receipt within validity + receipt_grace")
    changes.publish(m)


_EVENTS = ("resp", "interim", "final", "duplicate")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[bool, list[str], list[tuple[str, int]]]:
    per_message = draw(st.booleans())
    n = draw(st.integers(1, 3))
    stats = list(_STATE)
    if per_message:  # one receipt for the whole message: one outcome
        outcomes = [draw(st.sampled_from(stats))] * n
        events = [("resp", i) for i in range(n)]
        events += [(kind, n - 1) for kind in ("interim", "final", "duplicate")]
    else:
        outcomes = [draw(st.sampled_from(stats)) for _ in range(n)]
        events = [(kind, i) for i in range(n) for kind in _EVENTS]
    if draw(st.booleans()):
        events.append(("deadline", 0))
    return per_message, outcomes, draw(st.permutations(events))


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_the_final_status_is_the_same_whatever_the_order_of_events(
    scenario: tuple[bool, list[str], list[tuple[str, int]]],
) -> None:
    per_message, outcomes, events = scenario
    book, changes, told = _book(per_message)
    m = message(len(outcomes))
    advance(m, Status.QUEUED, "gateway", 0.0, "accepted")
    for now, (kind, i) in enumerate(events, 1):
        if kind == "resp":
            if m.status is Status.QUEUED:
                advance(m, Status.SUBMITTING, "gateway", float(now))
            book.submitted("a", m, m.parts[i], f"id{i}", float(now))
        elif kind == "deadline":
            _deadline(changes, m, float(now))
        else:
            stat = "ENROUTE" if kind == "interim" else outcomes[i]
            state = MessageState.ENROUTE if kind == "interim" else _STATE[stat]
            book.receipt("a", Receipt(message_id=f"id{i}", state=state, stat=stat, error="000"), float(now))
    worst = rollup([PartRecord(1, 1, status=_OUTCOME[o], receipt_final=True) for o in outcomes])
    assert worst is not None
    assert m.status is worst[0], events
    assert [p.status for p in m.parts] == [_OUTCOME[o] for o in outcomes]
    applied = [h[0] for h in m.history if h[4]]
    assert applied[-1] is m.status
    for a, b in itertools.pairwise(applied):
        assert may_move(a, b), (a, b, events)
    for a, b in itertools.pairwise(told):  # what the listeners (webhooks) were told
        assert may_move(a, b) or a is b, (a, b, events)
    assert all(h[4] or not may_move(*pair) for h, pair in _refused(m))


def _refused(m: MessageRecord) -> list[tuple[HistoryEntry, tuple[Status, Status]]]:
    """Each refused history entry with (the status then, the status it asked for)."""
    out: list[tuple[HistoryEntry, tuple[Status, Status]]] = []
    status = Status.ACCEPTED
    for entry in m.history:
        if entry[4]:
            status = entry[0]
        else:
            out.append((entry, (status, entry[0])))
    return out
