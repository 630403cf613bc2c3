"""The consent desk and gate (``gateway.consent``) on their own: what STOP, START and HELP
record and answer, the one pass of a confirmation, and a STOP that cannot be written
making the SMSC redeliver (it is never lost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from smppgw.gateway.consent import ConsentDesk, ConsentGate
from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.twoway import Reply, TwoWay
from smppgw.store.base import MessageRecord, StoreError
from smppgw.store.memory import MemoryStore
from smppgw.twoway.consent import ALL, OPTED_IN, OPTED_OUT, Consent, ConsentEvent, Scope

N = "447700900001"


def mo(text: str, sender: str = "12345") -> InboundMessage:
    return InboundMessage(smsc="a", source=N, destination=sender, text=text, data_coding=0, parts=1,
                          received_at=10.0)  # fmt: skip


class Desk:
    def __init__(self, store: MemoryStore | None = None, rules: Consent | None = None) -> None:
        self.store = store or MemoryStore()
        self.rules = rules or Consent(brand="Acme")
        self.blocked: list[tuple[Any, ...]] = []
        self.sent: list[Reply] = []
        self.desk = ConsentDesk(self.store, self.rules, self._block)
        self.twoway = TwoWay(store=self.store, send=self.sent.append, consent=self.desk)

    def _block(self, number: str, reason: str, **kw: Any) -> int:
        self.blocked.append((number, reason, kw["source"]))
        return 0

    def __call__(self, text: str, sender: str = "12345") -> list[Reply]:
        before = len(self.sent)
        self.twoway(mo(text, sender))
        return self.sent[before:]


def test_a_stop_is_recorded_with_its_message_and_confirmed_once() -> None:
    desk = Desk()
    (reply,) = desk("STOP")
    assert reply.purpose == "opt_out_confirmation" and reply.bypass_consent
    assert (reply.source, reply.destination) == ("12345", N)
    assert reply.text.startswith("You are unsubscribed from Acme messages.") and "START" in reply.text
    (event,) = desk.store.consent_history(N)
    assert (event.scope, event.state, event.source, event.keyword, event.text) == (
        Scope.of("12345"), OPTED_OUT, "keyword", "STOP", "STOP",
    )  # fmt: skip
    assert event.inbound_seq == desk.store.inbound()[0].seq
    assert desk.blocked == [
        (N, "destination opted out of 12345 (STOP at 1970-01-01T00:00:10.000Z)", "keyword")
    ]
    assert desk("STOP") == []  # recorded again, not confirmed again
    assert len(desk.store.consent_history(N)) == 2
    assert [r.purpose for r in desk("STOP", sender="67890")] == ["opt_out_confirmation"]  # another sender


def test_help_is_always_answered_and_start_is_confirmed() -> None:
    desk = Desk()
    desk("STOPALL")
    (help_,) = desk("HELP")
    assert help_.purpose == "help" and help_.bypass_consent and "Msg&data rates may apply" in help_.text
    (start,) = desk("START")
    assert start.purpose == "opt_in_confirmation" and not start.bypass_consent
    index = desk.store.consent(N)
    assert desk.rules.decide(index, "12345") is None and desk.rules.decide(index, "67890") is not None


def test_start_to_a_sender_reopens_it_even_after_a_narrower_stop() -> None:
    """A STOP recorded per pair, then the scope setting changed to the account: START to
    12345 records the account opt-in and, as that cannot lift the pair's STOP, 12345's too."""
    store = MemoryStore()
    Desk(store)("STOP")
    desk = Desk(store, Consent(scope="account"))
    desk("START")
    assert [(e.scope, e.state) for e in store.consent_history(N)] == [
        (Scope.of("12345"), OPTED_OUT), (ALL, OPTED_IN), (Scope.of("12345"), OPTED_IN),
    ]  # fmt: skip
    assert desk.rules.decide(store.consent(N), "12345") is None


class _Refusing(MemoryStore):
    def add_consent(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        raise StoreError("disk full")


def test_a_stop_that_cannot_be_written_makes_the_smsc_redeliver() -> None:
    desk = Desk(_Refusing())
    with pytest.raises(StoreError):  # gateway.inbound answers the deliver_sm with an error
        desk("STOP")
    assert desk.sent == []


def _record(i: int, text: str = "Offer", source: str = "12345") -> MessageRecord:
    return MessageRecord(id=f"m{i}", source=source, destination=N, text=text)


def test_the_pass_lets_exactly_one_reply_through_and_only_inside_its_send() -> None:
    store = MemoryStore()
    store.add_consent([ConsentEvent(number=N, scope=ALL, state=OPTED_OUT, source="api", at=1.0)])
    gate = ConsentGate(store, Consent())
    reply = Reply(
        source="12345", destination=N, text="bye", purpose="opt_out_confirmation", bypass_consent=True
    )
    assert gate.at_accept(_record(1, "bye")) is not None  # no pass open: blocked like any message
    with gate.passing(reply):
        assert gate.at_accept(_record(2, "Offer")) is not None  # another text: not this pass
        assert gate.at_accept(_record(3, "bye", source="67890")) is not None  # another sender
        assert gate.at_accept(_record(4, "bye")) is None  # the reply itself
        assert gate.at_accept(_record(5, "bye")) is not None  # once
    assert gate.at_dispatch(_record(4, "bye")) is None  # what the pass let in goes out
    assert gate.at_dispatch(_record(6, "bye")) is not None
    plain = Reply(source="12345", destination=N, text="bye", purpose="rule")
    with gate.passing(plain):
        assert gate.at_accept(_record(7, "bye")) is not None  # no bypass asked for: no pass
