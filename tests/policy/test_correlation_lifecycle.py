"""Correlation across id reuse, AUTO readings and bounded memory (issue 13;
SMPP-REFERENCE §6.3 items 1-2): open parts match at once, closed parts only after the
hold, never a guess between two open parts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.receipt import IdBase
from smppgw.policy.correlation import Correlator, Match

C = Correlator[str, str]


def test_a_receipt_for_a_closed_part_waits_for_a_newer_part_with_the_same_id() -> None:
    c: C = Correlator(hold=60.0)
    c.submitted("a", "1", "old", 0.0)
    assert c.receipt("a", "1", "DELIVRD", 1.0) == Match("old", "DELIVRD", False)
    c.close("a", "1", "old")
    assert c.open == 0
    # The SMSC restarted and numbers from 1 again: the new part's receipt overtakes its resp.
    assert c.receipt("a", "1", "UNDELIV", 100.0) is None
    assert c.submitted("a", "1", "new", 100.1) == [Match("new", "UNDELIV", True)]
    assert c.held == 0


def test_a_duplicate_for_a_closed_part_is_matched_after_the_hold() -> None:
    c: C = Correlator(hold=60.0)
    c.submitted("a", "7", "m", 0.0)
    c.close("a", "7", "m")
    assert c.receipt("a", "7", "DELIVRD", 10.0) is None
    late: list[Match[str, str]] = []
    assert c.expire(69.0, late) == [] and late == []
    assert c.expire(70.0, late) == [] and late == [Match("m", "DELIVRD", True)]
    assert c.unmatched_total == 0


def test_closed_parts_are_bounded_in_memory_and_recalled_from_the_store() -> None:
    rows: dict[tuple[str, str], str] = {}
    c: C = Correlator(
        max_recent=10,
        recall=lambda smsc, key: rows.get((smsc, key)),
        remember=lambda s, k, r: rows.update({(s, k): r}),
    )
    for i in range(1000):
        c.submitted("a", str(i), f"m{i}", float(i))
        c.close("a", str(i), f"m{i}")
    assert c.open == 0 and len(c._recent) == 10 and len(rows) == 1000
    assert c.lookup("a", "3") == "m3"  # from the store
    late: list[Match[str, str]] = []
    c.receipt("a", "3", "DELIVRD", 2000.0)
    c.expire(3000.0, late)
    assert late == [Match("m3", "DELIVRD", True)]


def test_an_id_reused_while_the_old_part_is_open_hands_the_old_one_back() -> None:
    c: C = Correlator()
    c.submitted("a", "5", "old", 0.0)
    c.submitted("a", "5", "new", 1.0)
    assert c.evicted == [("a", "old")]
    assert c.receipt("a", "5", "DELIVRD", 2.0) == Match("new", "DELIVRD", False)


def test_max_refs_hands_the_oldest_open_part_back() -> None:
    c: C = Correlator(max_refs=2)
    for i in range(3):
        c.submitted("a", str(i + 1), f"m{i + 1}", 0.0)
    assert c.open == 2 and c.evicted == [("a", "m1")]


def test_auto_learns_hex_then_reads_ambiguous_receipts() -> None:
    c: C = Correlator(learn_after=3)
    for n in range(1, 0x60):
        c.submitted("a", format(n, "x"), f"m{n}", 0.0)
    # "16": the decimal receipt of 0x10, or the as-is receipt of 0x16: both open.
    assert c.receipt("a", "16", "for-0x10", 1.0) is None and c.ambiguous_total == 1
    for n in (0x5F, 0x5E, 0x5D):  # "95".."93" read as hex (0x95..) are not open: only one reading
        assert c.receipt("a", str(n), "x", 1.0) == Match(f"m{n}", "x", False)
    assert c.learned["a"] is IdBase.HEX
    assert c.rematch() == [Match("m16", "for-0x10", True)]
    assert c.receipt("a", "22", "y", 2.0) == Match("m22", "y", False)  # 0x16, no guess any more


def test_auto_learns_as_is_from_a_receipt_with_hex_letters() -> None:
    c: C = Correlator()
    for n in range(1, 40):
        c.submitted("a", format(n, "x"), f"m{n}", 0.0)
    assert c.receipt("a", "10", "?", 0.0) is None  # 0x10 or 0x0a: held
    assert c.receipt("a", "1A", "z", 0.0) == Match("m26", "z", False)
    assert c.learned["a"] is IdBase.AS_IS
    assert c.rematch() == [Match("m16", "?", True)]


@given(order=st.permutations(range(1, 90)), base=st.sampled_from(["hex-decimal", "hex-hex"]))
def test_auto_never_attributes_a_receipt_to_another_part(order: list[int], base: str) -> None:
    c: C = Correlator()
    for n in range(1, 90):
        c.submitted("a", format(n, "x"), n, 0.0)  # type: ignore[arg-type]
    got: dict[int, object] = {}
    for n in order:  # receipts in any order, each in the SMSC's receipt base
        rid = str(n) if base == "hex-decimal" else format(n, "X")
        match = c.receipt("a", rid, n, 1.0)  # type: ignore[arg-type]
        if match is not None:
            got[n] = match.ref
            c.close("a", format(n, "x"), n)  # type: ignore[arg-type]
        for m in c.rematch():
            got[m.payload] = m.ref  # type: ignore[index]
    assert all(ref == n for n, ref in got.items())


def test_the_same_part_under_the_same_id_again_is_not_evicted() -> None:
    c: Correlator[tuple[object, object], str] = Correlator()
    message, part = object(), object()
    c.submitted("a", "5", (message, part), 0.0)
    c.submitted("a", "5", (message, part), 1.0)  # resent, and the SMSC answered the same id
    assert c.evicted == [] and c.open == 1


def test_close_key_drops_an_old_id_of_a_part_sent_again() -> None:
    c: C = Correlator()
    c.submitted("a", "5", "m", 0.0)
    c.submitted("a", "6", "m", 1.0)  # sent again after a lost resp: a new id
    assert [key for key, _ in c.open_refs()] == [("a", "5"), ("a", "6")]
    c.close_key("a", "5", "m")
    assert c.open == 1 and c.is_open("a", "6", "m") and not c.is_open("a", "5", "m")
