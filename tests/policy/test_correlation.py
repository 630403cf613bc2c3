"""Receipt correlation (checklist 67-68, SMPP-REFERENCE §6.3 items 1-2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.receipt import IdBase, normalize_message_id
from smppgw.policy.correlation import Correlator, Match

C = Correlator[str, str]


def matched(c: C, smsc: str, receipt_id: str, payload: str = "DELIVRD", now: float = 0.0) -> str | None:
    match = c.receipt(smsc, receipt_id, payload, now)
    return None if match is None else match.ref


def test_exact_ids() -> None:
    c: C = Correlator()
    assert c.submitted("a", "12345", "m1", 0.0) == []
    assert c.receipt("a", "12345", "DELIVRD", 1.0) == Match("m1", "DELIVRD", False)
    assert c.matched == 1 and c.matched_early == 0
    assert c.lookup("a", "12345") == "m1"


@pytest.mark.parametrize(
    ("resp_id", "receipt_id"),
    [("0000012345", "12345"), ("12345", "0012345"), ("ab12cd", "AB12CD"), (" 77 ", "77"), ("000abc", "ABC")],
)
def test_leading_zeros_case_and_spaces(resp_id: str, receipt_id: str) -> None:
    c: C = Correlator()
    c.submitted("a", resp_id, "m1", 0.0)
    assert matched(c, "a", receipt_id) == "m1"


def test_ids_are_per_smsc() -> None:
    c: C = Correlator()
    c.submitted("a", "100", "on-a", 0.0)
    c.submitted("b", "100", "on-b", 0.0)
    assert matched(c, "a", "100") == "on-a"
    assert matched(c, "b", "100") == "on-b"
    assert matched(c, "c", "100") is None


def test_auto_reads_ids_with_hex_letters_in_both_bases() -> None:
    c: C = Correlator()
    c.submitted("a", "1A2B3C4D", "m1", 0.0)
    assert matched(c, "a", "0439041101") == "m1"  # the same number in decimal
    assert matched(c, "a", "1a2b3c4d") == "m1"
    c.submitted("b", "439041102", "m2", 0.0)  # another carrier: decimal resp, hex receipt
    assert matched(c, "b", "1A2B3C4E") == "m2"


def test_auto_never_reinterprets_numeric_ids() -> None:
    c: C = Correlator()
    c.submitted("a", "10", "m10", 0.0)
    c.submitted("a", "16", "m16", 0.0)
    assert matched(c, "a", "10") == "m10"
    assert matched(c, "a", "16") == "m16"
    c.submitted("a", "20", "m20", 0.0)
    assert matched(c, "a", "32") is None  # "20" read as hex would be 32: not in AUTO


def test_hex_base_resp_hex_receipt_decimal() -> None:
    c: C = Correlator(bases={"a": IdBase.HEX})
    c.submitted("a", "10", "m16", 0.0)
    c.submitted("a", "1a", "m26", 0.0)
    assert matched(c, "a", "16") == "m16"
    assert matched(c, "a", "0000000026") == "m26"
    assert matched(c, "a", "10") is None  # the receipt is decimal: "10" is another message


def test_dec_base_resp_decimal_receipt_hex() -> None:
    c: C = Correlator(bases={"a": IdBase.DEC})
    c.submitted("a", "16", "m16", 0.0)
    c.submitted("a", "0000000026", "m26", 0.0)
    assert matched(c, "a", "10") == "m16"
    assert matched(c, "a", "1A") == "m26"
    assert matched(c, "a", "1a") == "m26"


def test_as_is_base_compares_canonical_strings_only() -> None:
    c: C = Correlator(bases={"a": IdBase.AS_IS})
    c.submitted("a", "1A", "m1", 0.0)
    assert matched(c, "a", "26") is None
    assert matched(c, "a", "001a") == "m1"


@given(n=st.integers(min_value=0, max_value=2**63), zeros=st.integers(0, 6), upper=st.booleans())
def test_hex_and_dec_bases_match_every_number(n: int, zeros: int, upper: bool) -> None:
    hex_id = "0" * zeros + (format(n, "X") if upper else format(n, "x"))
    to_dec: C = Correlator(bases={"a": IdBase.HEX})
    to_dec.submitted("a", hex_id, "m", 0.0)
    assert matched(to_dec, "a", "0" * zeros + str(n)) == "m"
    to_hex: C = Correlator(bases={"a": IdBase.DEC})
    to_hex.submitted("a", "0" * zeros + str(n), "m", 0.0)
    assert matched(to_hex, "a", hex_id) == "m"


@given(n=st.integers(min_value=10, max_value=2**63))
def test_auto_matches_hex_ids_with_letters(n: int) -> None:
    hex_id = format(n, "x")
    c: C = Correlator()
    c.submitted("a", hex_id, "m", 0.0)
    if any(ch in "abcdef" for ch in hex_id):
        assert matched(c, "a", str(n)) == "m"
    assert matched(c, "a", hex_id.upper()) == "m"


def test_early_receipt_is_held_and_matched_by_submitted() -> None:
    c: C = Correlator(hold=30.0)
    assert c.receipt("a", "555", "DELIVRD", 0.0) is None
    assert c.held == 1 and c.next_deadline() == 30.0
    assert c.submitted("a", "555", "m1", 0.2) == [Match("m1", "DELIVRD", True)]
    assert c.held == 0 and c.next_deadline() is None
    assert c.matched == 1 and c.matched_early == 1
    assert c.expire(100.0) == [] and c.unmatched_total == 0


def test_early_hex_receipt_held_under_both_keys_matches_once() -> None:
    c: C = Correlator()
    assert c.receipt("a", "1A2B3C4D", "DELIVRD", 0.0) is None
    assert c.held == 1
    [match] = c.submitted("a", "439041101", "m1", 0.1)
    assert match.ref == "m1" and match.early
    assert c.held == 0 and c.expire(1000.0) == []


def test_hold_expiry_counts_unmatched_and_keeps_them_bounded() -> None:
    c: C = Correlator(hold=60.0, max_unmatched=3)
    for i in range(5):
        c.receipt("a", f"{100 + i}", f"stat{i}", float(i))
    assert c.expire(59.0) == []
    expired = c.expire(62.5)
    assert [h.receipt_id for h in expired] == ["100", "101", "102"]
    assert c.held == 2 and c.unmatched_total == 3
    expired = c.expire(100.0)
    assert [h.receipt_id for h in expired] == ["103", "104"]
    assert c.unmatched_total == 5
    assert list(c.unmatched) == [("a", "102"), ("a", "103"), ("a", "104")]  # newest kept
    assert c.submitted("a", "100", "m", 200.0) == []  # too late: not matched any more


def test_a_repeated_early_receipt_does_not_delay_expiry_of_others() -> None:
    c: C = Correlator(hold=60.0)
    c.receipt("a", "1", "first", 0.0)
    c.receipt("a", "2", "second", 10.0)
    c.receipt("a", "1", "first again", 20.0)
    assert [h.payload for h in c.expire(71.0)] == ["first", "second"]
    assert [h.payload for h in c.expire(81.0)] == ["first again"]
    assert c.unmatched_total == 3 and c.held == 0


def test_max_held_evicts_the_oldest_as_unmatched() -> None:
    c: C = Correlator(max_held=2)
    for i in range(3):
        c.receipt("a", str(i + 1), "DELIVRD", float(i))
    assert c.held == 2 and c.unmatched_total == 1
    assert list(c.unmatched) == [("a", "1")]


def test_max_refs_forgets_the_oldest_mapping() -> None:
    c: C = Correlator(max_refs=2)
    for i in range(3):
        c.submitted("a", str(i + 1), f"m{i + 1}", 0.0)
    assert matched(c, "a", "1") is None  # forgotten: held instead
    assert matched(c, "a", "2") == "m2" and matched(c, "a", "3") == "m3"


def test_duplicate_receipts_resolve_to_the_same_ref() -> None:
    c: C = Correlator()
    c.submitted("a", "9", "m9", 0.0)
    assert matched(c, "a", "9") == "m9"
    assert matched(c, "a", "9") == "m9"
    assert c.matched == 2 and c.held == 0


def test_several_early_receipts_for_one_id_all_match_in_order() -> None:
    c: C = Correlator()
    assert c.receipt("a", "42", "ENROUTE", 0.0) is None
    assert c.receipt("a", "42", "DELIVRD", 0.1) is None
    assert c.held == 2
    matches = c.submitted("a", "42", "m", 0.2)
    assert [(m.ref, m.payload, m.early) for m in matches] == [("m", "ENROUTE", True), ("m", "DELIVRD", True)]
    assert c.held == 0 and c.matched_early == 2


@pytest.mark.parametrize("order", [("10", "A"), ("A", "10")])
def test_auto_an_id_open_in_both_readings_is_never_guessed(order: tuple[str, str]) -> None:
    # "A" read as hex is 10, which is also the exact id of another open message: the
    # receipt "10" may be about either (hex-ids: it is about "A"), so it is held, never
    # matched to one of them by guess (issue 13); the receipt "A" is unmistakable.
    c: C = Correlator()
    for resp_id in order:
        c.submitted("a", resp_id, f"m{resp_id}", 0.0)
    assert matched(c, "a", "10") is None and c.held == 1 and c.ambiguous_total == 1
    assert matched(c, "a", "a") == "mA"
    assert c.lookup("a", "10") == "m10" and c.lookup("a", "A") == "mA"
    c.close("a", "A", "mA")  # settled: the only open reading of "10" is now "10"
    assert matched(c, "a", "00010") == "m10"


@given(st.permutations(range(1, 80)))
def test_auto_sequential_hex_ids_in_any_order(order: list[int]) -> None:
    c: C = Correlator()
    for n in order:  # resps arrive in any order (several binds)
        c.submitted("a", format(n, "x"), f"m{n}", 0.0)
    for n in range(1, 80):
        assert matched(c, "a", format(n, "X")) == f"m{n}"


def test_auto_alias_still_matches_when_no_exact_id_exists() -> None:
    c: C = Correlator()
    c.submitted("a", "A", "mA", 0.0)
    assert matched(c, "a", "10") == "mA"  # the receipt in decimal, nothing else is "10"


def test_early_receipts_exact_match_first_then_alias() -> None:
    c: C = Correlator()
    assert c.receipt("a", "10", "for-10", 0.0) is None
    assert c.receipt("a", "A", "for-A", 0.1) is None  # held under "A" and its alias "10"
    assert [m.payload for m in c.submitted("a", "10", "m10", 0.2)] == ["for-10"]
    assert c.held == 1
    assert [m.payload for m in c.submitted("a", "A", "mA", 0.3)] == ["for-A"]
    assert c.held == 0 and c.matched_early == 2 and c.expire(1000.0) == []


def test_early_receipt_matched_by_its_alias_when_no_exact_one_waits() -> None:
    c: C = Correlator()
    assert c.receipt("a", "1A", "DELIVRD", 0.0) is None  # alias "26"
    [match] = c.submitted("a", "26", "m", 0.1)
    assert match.ref == "m" and match.early and c.held == 0


@given(
    resp_id=st.from_regex(r"0*[0-9a-fA-F]{1,40}", fullmatch=True),
    base=st.sampled_from([IdBase.HEX, IdBase.AS_IS, IdBase.AUTO]),  # DEC: see above
)
def test_a_receipt_carrying_the_normalised_resp_id_matches(resp_id: str, base: IdBase) -> None:
    # The Correlator's keys are the core's (id_forms): a receipt id written the way the
    # base says (HEX: hex resps, decimal receipts) finds the resp.
    c: C = Correlator(bases={"a": base})
    c.submitted("a", resp_id, "m", 0.0)
    receipt_id = normalize_message_id(resp_id, base=IdBase.HEX if base is IdBase.HEX else IdBase.AS_IS)
    assert matched(c, "a", receipt_id) == "m"
    assert c.lookup("a", resp_id) == "m"


def test_auto_aliases_long_hex_ids_as_the_core_does() -> None:
    resp_id = "ABCDEF" * 7  # 42 hex digits: above the old private limit of 32
    c: C = Correlator()
    c.submitted("a", resp_id, "m", 0.0)
    assert matched(c, "a", str(int(resp_id, 16))) == "m"


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["resp", "receipt"]), st.sampled_from(["10", "16", "1A", "A", "0010", "26"])
        ),
        max_size=12,
    )
)
def test_match_is_receipt_without_its_match_value(steps: list[tuple[str, str]]) -> None:
    """``match`` (the gateway's, no ``Match`` per receipt) answers and counts as ``receipt``."""
    one: C = Correlator(learn_after=2)
    two: C = Correlator(learn_after=2)
    for n, (kind, smsc_id) in enumerate(steps):
        if kind == "resp":
            assert one.submitted("a", smsc_id, f"m{n}", float(n)) == two.submitted(
                "a", smsc_id, f"m{n}", float(n)
            )
            continue
        found = one.receipt("a", smsc_id, f"r{n}", float(n))
        ref = two.match("a", smsc_id, f"r{n}", float(n))
        assert (None if found is None else found.ref) == ref
        assert found is None or found == Match(ref, f"r{n}", False)
    counts = (one.matched, one.matched_early, one.held, one.ambiguous_total, one.learned)
    assert counts == (two.matched, two.matched_early, two.held, two.ambiguous_total, two.learned)
    left = [(h.receipt_id, h.payload) for h in one.expire(1e9)]
    assert left == [(h.receipt_id, h.payload) for h in two.expire(1e9)]


def test_match_holds_an_early_receipt_for_its_resp() -> None:
    c: C = Correlator()
    assert c.match("a", "77", "DELIVRD", 0.0) is None and c.held == 1
    assert c.submitted("a", "77", "m1", 0.5) == [Match("m1", "DELIVRD", True)]
    assert c.match("a", "77", "DELIVRD", 1.0) == "m1" and c.matched == 2
