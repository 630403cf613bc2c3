"""store.base.rollup: a message's status from its parts' final receipts (DESIGN §3)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smppgw.store.base import PartRecord, Status, rollup

_OUTCOMES = [Status.DELIVERED, Status.EXPIRED, Status.UNDELIVERABLE, Status.REJECTED]
_WORST_FIRST = [Status.REJECTED, Status.UNDELIVERABLE, Status.EXPIRED]


def _part(index: int, status: Status, final: bool = True) -> PartRecord:
    part = PartRecord(index=index, total=0, status=status, receipt_final=final)
    part.receipt_stat = f"{status.value}-{index}"
    return part


def test_one_part_gives_its_status_and_its_stat_unless_delivered() -> None:
    assert rollup([_part(1, Status.DELIVERED)]) == (Status.DELIVERED, None)
    assert rollup([_part(1, Status.EXPIRED)]) == (Status.EXPIRED, "expired-1")


def test_not_final_while_a_part_waits_for_its_final_receipt() -> None:
    assert rollup([_part(1, Status.DELIVERED), _part(2, Status.SUBMITTED, final=False)]) is None
    assert rollup([_part(1, Status.SUBMITTED, final=False)]) is None


def test_the_worst_part_wins_and_the_first_such_part_gives_the_error() -> None:
    parts = [_part(1, Status.EXPIRED), _part(2, Status.UNDELIVERABLE), _part(3, Status.UNDELIVERABLE)]
    assert rollup(parts) == (Status.UNDELIVERABLE, "undeliverable-2")
    parts.append(_part(4, Status.REJECTED))
    assert rollup(parts) == (Status.REJECTED, "rejected-4")


@given(st.lists(st.tuples(st.sampled_from(_OUTCOMES), st.booleans()), min_size=1, max_size=8))
def test_rollup_is_the_rule_as_written(outcomes: list[tuple[Status, bool]]) -> None:
    parts = [_part(i + 1, status, final) for i, (status, final) in enumerate(outcomes)]
    result = rollup(parts)
    if not all(final for _, final in outcomes):
        assert result is None
        return
    statuses = {status for status, _ in outcomes}
    if statuses == {Status.DELIVERED}:
        assert result == (Status.DELIVERED, None)
        return
    worst = next(s for s in _WORST_FIRST if s in statuses)
    first = next(p for p in parts if p.status is worst)
    assert result == (worst, first.receipt_stat)
    backwards = rollup(list(reversed(parts)))  # the order of the parts never changes the status
    assert backwards is not None
    assert backwards[0] is worst
