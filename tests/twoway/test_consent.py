"""The consent rules (``twoway.consent``): scopes, the decision, order, the one
confirmation, the reply texts, and ``[twoway.consent]`` and friends as config."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.consent import ALL, OPTED_IN, OPTED_OUT, Consent, ConsentEvent, NumberConsent, Scope

N = "447700900001"
PROMO = Consent(programmes={"promo": frozenset({"12345", "447700900100"})})


def ev(state: str, scope: Scope, at: float, seq: int = 0, source: str = "keyword", **kw: Any) -> ConsentEvent:
    return ConsentEvent(number=N, scope=scope, state=state, source=source, at=at, seq=seq, **kw)


def index(*events: ConsentEvent) -> NumberConsent:
    return NumberConsent.of(
        e if e.seq else ConsentEvent(**{**_fields(e), "seq": i + 1}) for i, e in enumerate(events)
    )


def _fields(e: ConsentEvent) -> dict[str, Any]:
    return {k: getattr(e, k) for k in ("number", "scope", "state", "source", "at", "reason", "keyword",
                                       "inbound_seq", "text", "seq")}  # fmt: skip


def test_a_stop_to_a_sender_blocks_that_sender_only_by_default() -> None:
    consent = Consent()
    stop = ev(OPTED_OUT, consent.keyword_scope("12345"), 1000.0, keyword="STOP")
    i = index(stop)
    assert consent.decide(i, "12345") == "destination opted out of 12345 (STOP at 1970-01-01T00:16:40.000Z)"
    assert consent.decide(i, "67890") is None
    assert consent.decide(None, "12345") is None  # no history: allowed


def test_a_programme_scope_covers_its_senders_and_messages_tagged_with_it() -> None:
    rules = Consent(scope="programme", programmes=PROMO.programmes)
    scope = rules.keyword_scope("12345")
    assert scope == Scope.of(programme="promo")
    i = index(ev(OPTED_OUT, scope, 1.0, keyword="STOP"))
    assert rules.decide(i, "447700900100") is not None  # the other sender of the programme
    assert rules.decide(i, "999", tags=("promo",)) is not None  # a message tagged with it
    assert rules.decide(i, "999") is None
    assert "programme promo" in (rules.decide(i, "12345") or "")
    assert rules.keyword_scope("555") == Scope.of("555")  # in no programme: that sender


def test_a_stop_to_one_number_of_a_sender_pool_covers_the_whole_pool() -> None:
    """The pool picks another number for the next message: it must not text on."""
    rules = twoway_from_dict(
        {"pool": [{"name": "care", "numbers": ["+447700900100", "+447700900101"]}]}
    ).consent
    i = index(ev(OPTED_OUT, rules.keyword_scope("447700900100"), 1.0, keyword="STOP"))
    assert rules.decide(i, "447700900101") == (
        "destination opted out of 447700900100 (STOP at 1970-01-01T00:00:01.000Z)"
    )
    assert rules.decide(i, "12345") is None  # not in the pool
    assert rules.covering_scope(Scope.of("447700900101"))[-1] == Scope.of(
        "447700900100"
    )  # no 2nd confirmation
    i = index(
        ev(OPTED_OUT, Scope.of("447700900100"), 1.0),
        ev(OPTED_IN, Scope.of("447700900101"), 2.0, keyword="START"),
    )
    assert rules.decide(i, "447700900100") is None  # a START to any of its numbers lifts it


def test_stop_all_blocks_everything_and_start_to_one_sender_reopens_only_it() -> None:
    i = index(ev(OPTED_OUT, ALL, 1.0, keyword="STOP"), ev(OPTED_IN, Scope.of("12345"), 2.0, keyword="START"))
    assert PROMO.decide(i, "12345") is None
    assert PROMO.decide(i, "447700900100") is not None and PROMO.decide(i, "67890") is not None


def test_an_account_wide_opt_in_does_not_undo_a_stop_sent_to_one_sender() -> None:
    i = index(ev(OPTED_OUT, Scope.of("12345"), 1.0), ev(OPTED_IN, ALL, 2.0, source="api"))
    assert Consent().decide(i, "12345") is not None
    i = index(ev(OPTED_OUT, Scope.of("12345"), 1.0), ev(OPTED_IN, Scope.of("12345"), 2.0, source="api"))
    assert Consent().decide(i, "12345") is None


def test_an_older_opt_in_written_after_a_stop_does_not_undo_it() -> None:
    """Order is by time, then by write order: an import of old records cannot lift a STOP."""
    i = index(ev(OPTED_OUT, Scope.of("12345"), 100.0), ev(OPTED_IN, Scope.of("12345"), 50.0, source="import"))
    assert Consent().decide(i, "12345") is not None
    # The same time: the one written later wins (a START right after a STOP, same clock tick).
    i = index(ev(OPTED_OUT, Scope.of("12345"), 100.0), ev(OPTED_IN, Scope.of("12345"), 100.0))
    assert Consent().decide(i, "12345") is None


def test_keyword_arguments_name_a_programme_or_a_sender() -> None:
    assert PROMO.keyword_scope("67890", argument="PROMO") == Scope.of(programme="promo")
    assert PROMO.keyword_scope("67890", argument="promo") == Scope.of(programme="promo")
    assert PROMO.keyword_scope("67890", argument="12345") == Scope.of("12345")
    assert PROMO.keyword_scope("67890", argument="please") == Scope.of("67890")  # not a name: ignored
    assert PROMO.keyword_scope("67890", all_senders=True) == ALL
    assert Consent(scope="account").keyword_scope("67890") == ALL


def test_one_confirmation_after_a_stop_that_changed_something() -> None:
    rules = Consent()
    first = ev(OPTED_OUT, Scope.of("12345"), 1.0, seq=1)
    assert rules.confirms(first, None)
    before = index(first).blocking(rules.covering_scope(Scope.of("12345")))
    assert before == first and not rules.confirms(ev(OPTED_OUT, Scope.of("12345"), 2.0), before)
    # After STOP ALL a STOP to one sender changes nothing either; the reverse does.
    out_all = index(ev(OPTED_OUT, ALL, 1.0))
    assert out_all.blocking(rules.covering_scope(Scope.of("12345"))) is not None
    assert index(first).blocking(rules.covering_scope(ALL)) is None
    assert not rules.confirms(ev(OPTED_OUT, ALL, 3.0, source="api"), None)  # only a keyword's


def test_reply_texts_per_sender_then_programme_then_default() -> None:
    config = twoway_from_dict({
        "consent": {"brand": "Acme", "contact": "help@acme.example", "frequency": "4 msgs/month"},
        "programmes": {"promo": ["+12345", "447700900100"]},
        "texts": {"help": "{brand} help: {contact}", "promo": {"help": "promo {frequency}"},
                  "447700900100": {"opt_out": "bye from {brand}"}},
    }).consent  # fmt: skip
    assert config.reply("help", "999") == "Acme help: help@acme.example"
    assert config.reply("help", "12345") == "promo 4 msgs/month"
    assert config.reply("opt_out", "447700900100") == "bye from Acme"
    assert config.reply("opt_out", "12345").startswith("You are unsubscribed from Acme messages.")
    assert "Msg&data rates may apply" in Consent().reply("opt_in", "1")
    assert "START" in Consent().reply("opt_out", "1") and "STOP" in Consent().reply("help", "1")


@pytest.mark.parametrize(
    ("twoway", "key"),
    [
        ({"consent": {"scope": "everyone"}}, "twoway.consent.scope"),
        ({"consent": {"brnd": "x"}}, "twoway.consent"),
        ({"programmes": {"a": ["1"], "b": ["1"]}}, "twoway.programmes.b[0]"),
        ({"programmes": {"a b": ["1"]}}, "twoway.programmes.a b"),
        ({"texts": {"help": "{name}"}}, "twoway.texts.help"),
        ({"texts": {"nobody": {"help": "x"}}}, "twoway.texts.nobody"),
        ({"texts": {"12345": {"hello": "x"}}}, "twoway.texts.12345"),
        ({"consent": {"brand": ""}}, "twoway.consent.brand"),
    ],
)
def test_bad_consent_config_names_the_key(twoway: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        twoway_from_dict(twoway)


# -- properties -----------------------------------------------------------------------------------

SENDERS = ("12345", "447700900100", "67890")
SCOPES = (ALL, Scope.of(programme="promo"), *(Scope.of(s) for s in SENDERS))
events_st = st.lists(
    st.tuples(st.sampled_from((OPTED_OUT, OPTED_IN)), st.sampled_from(SCOPES), st.integers(0, 50)),
    max_size=12,
)


def _written(raw: list[tuple[str, Scope, int]]) -> list[ConsentEvent]:
    return [ev(state, scope, float(at), seq=i + 1) for i, (state, scope, at) in enumerate(raw)]


def _model(events: list[ConsentEvent], covering: list[Scope]) -> bool:
    """Blocked? Replay in (time, write) order: an opt-out blocks its scope; an opt-in
    lifts its own scope and every broader one."""
    blocked = {s: False for s in covering}
    for e in sorted(events, key=lambda e: e.order):
        if e.scope not in blocked:
            continue
        if e.state == OPTED_OUT:
            blocked[e.scope] = True
        else:
            for s in covering:
                if s.rank >= e.scope.rank:
                    blocked[s] = False
    return any(blocked.values())


@settings(max_examples=300, deadline=None)
@given(raw=events_st, sender=st.sampled_from(SENDERS), tagged=st.booleans())
def test_the_decision_is_the_replayed_history(
    raw: list[tuple[str, Scope, int]], sender: str, tagged: bool
) -> None:
    events = _written(raw)
    tags = ("promo",) if tagged else ()
    expected = _model(events, PROMO.covering(sender, tags))
    assert (PROMO.decide(NumberConsent.of(events), sender, tags) is not None) == expected


@settings(max_examples=300, deadline=None)
@given(raw=events_st, sender=st.sampled_from(SENDERS), seed=st.integers(0, 2**32))
def test_a_stop_is_never_lost_whatever_the_order_of_events(
    raw: list[tuple[str, Scope, int]], sender: str, seed: int
) -> None:
    """A STOP to ``sender`` blocks it whatever came before and whatever comes after but an
    opt-in for that sender itself, in whatever order the events are written."""
    before = [(state, scope, at) for state, scope, at in raw if at < 25]
    after = [
        (state, scope, at) for state, scope, at in raw
        if at > 25 and (state == OPTED_OUT or scope.rank > 0 or scope.name != sender)
    ]  # fmt: skip
    history = [*before, (OPTED_OUT, Scope.of(sender), 25), *after]
    random.Random(seed).shuffle(history)  # written in any order
    assert PROMO.decide(NumberConsent.of(_written(history)), sender) is not None


@settings(max_examples=200, deadline=None)
@given(raw=events_st, sender=st.sampled_from(SENDERS), seed=st.integers(0, 2**32))
def test_with_distinct_times_the_write_order_does_not_matter(
    raw: list[tuple[str, Scope, int]], sender: str, seed: int
) -> None:
    distinct = list({at: (state, scope, at) for state, scope, at in raw}.values())
    shuffled = distinct[:]
    random.Random(seed).shuffle(shuffled)
    first = PROMO.decide(NumberConsent.of(_written(distinct)), sender)
    assert PROMO.decide(NumberConsent.of(_written(shuffled)), sender) == first
