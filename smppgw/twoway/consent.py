"""Consent: which sender may text which number, derived from an append-only history.

Pure: events in, decisions out; no I/O, no clock (every time is given, wall-clock
seconds). The store keeps the history (``store.consent``); the gateway asks ``Consent``
before every send (``gateway.consent``).

Scopes. A consent event applies to one ``Scope`` of a number:

- ``sender``: one of our numbers (a short code, a long number); what a STOP records by
  default (``[twoway.consent] scope = "pair"``);
- ``programme``: a named group of senders (``[twoway.programmes] promo = ["12345"]``);
  a STOP to any of them records it when ``scope = "programme"``, and so does "STOP
  PROMO" whatever the scope. A message also belongs to a programme named by one of its
  tags;
- ``all``: every sender (``scope = "account"``, STOP ALL / STOPALL, the API's default).

The decision for a message (number, sender, tags) looks at the scopes that cover it
(all, its programmes, its sender and the other numbers of its sender pool): it is
blocked by an opt-out in one of them unless a *later* opt-in in the same or a narrower
covering scope lifts it. So a START sent to 12345 after a STOP ALL re-subscribes the
number to 12345 only, and an account-wide opt-in (the API's) does not undo a STOP sent to 12345: that takes an opt-in for 12345.

Order. Events are ordered by their time, then by the order the store wrote them
(``ConsentEvent.order``), never by arrival alone: an import of old records written after
a STOP cannot undo it, and the state is the same whatever order the events were
written in (a STOP is never lost).

Replies. After a keyword opt-out that changed the decision for its sender, exactly one
confirmation goes to the number (``Consent.texts``: no marketing, how to opt back in);
a STOP to a number already opted out is recorded, not confirmed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from smppgw.support.isotime import iso

__all__ = [
    "ALL",
    "OPTED_IN",
    "OPTED_OUT",
    "SOURCES",
    "STATES",
    "blocked_reason",
    "Consent",
    "ConsentEvent",
    "NumberConsent",
    "ReplyTexts",
    "Scope",
]

OPTED_OUT: Final = "opted_out"
OPTED_IN: Final = "opted_in"
STATES: Final = (OPTED_OUT, OPTED_IN)
#: Where a consent event came from: an inbound keyword, the API, a bulk import, a carrier status.
SOURCES: Final = ("keyword", "api", "import", "carrier")
_RANK: Final = {"sender": 0, "programme": 1, "all": 2}  # narrower first


@attrs.frozen(kw_only=True)
class Scope:
    kind: str = attrs.field(validator=attrs.validators.in_(_RANK))  # "all" | "programme" | "sender"
    name: str = ""  # the sender address or the programme name; "" for all

    @property
    def rank(self) -> int:
        return _RANK[self.kind]

    @property
    def key(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{self.name}"

    def label(self) -> str:
        """For reasons: ``12345``, ``programme promo``, ``every sender``."""
        return {"all": "every sender", "programme": f"programme {self.name}"}.get(self.kind, self.name)

    @classmethod
    def of(cls, sender: str | None = None, programme: str | None = None) -> Scope:
        if programme is not None:
            return cls(kind="programme", name=programme)
        return ALL if sender is None else cls(kind="sender", name=sender)


ALL: Final = Scope(kind="all")


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One change of a number's consent, as recorded (never changed, never erased)."""

    number: str
    scope: Scope
    state: str = attrs.field(validator=attrs.validators.in_(STATES))
    source: str = attrs.field(validator=attrs.validators.in_(SOURCES))
    at: float  # wall clock
    reason: str = ""
    keyword: str | None = None  # the keyword matched ("STOP")
    inbound_seq: int | None = None  # the inbound message it came from (InboundRecord.seq)
    text: str | None = None  # that message's exact text
    seq: int = 0  # the store's write order (0 until written)

    @property
    def order(self) -> tuple[float, int]:
        return (self.at, self.seq)

    def why(self) -> str:
        """``STOP at 2026-12-06T14:03:22.123Z`` / ``api at ...``."""
        return f"{self.keyword or self.source} at {iso(self.at)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "number": self.number, "scope": self.scope.kind,
            "sender": self.scope.name if self.scope.kind == "sender" else None,
            "programme": self.scope.name if self.scope.kind == "programme" else None,
            "state": self.state, "source": self.source, "at": iso(self.at), "reason": self.reason,
            "keyword": self.keyword, "inbound_seq": self.inbound_seq, "text": self.text,
        }  # fmt: skip


@attrs.define
class NumberConsent:
    """The index of one number's history: per scope its latest event and latest opt-in
    (what every decision needs), and how many events it has (the ``consent.changed``
    events' sequence)."""

    latest: dict[Scope, ConsentEvent] = attrs.field(factory=dict)
    latest_in: dict[Scope, ConsentEvent] = attrs.field(factory=dict)
    count: int = 0

    def add(self, event: ConsentEvent) -> None:
        self.count += 1
        scope = event.scope
        old = self.latest.get(scope)
        if old is None or event.order > old.order:
            self.latest[scope] = event
        if event.state == OPTED_IN:
            old = self.latest_in.get(scope)
            if old is None or event.order > old.order:
                self.latest_in[scope] = event

    @classmethod
    def of(cls, events: Iterable[ConsentEvent]) -> NumberConsent:
        index = cls()
        for event in events:
            index.add(event)
        return index

    def blocking(self, covering: Sequence[Scope]) -> ConsentEvent | None:
        """The latest opt-out among ``covering`` not lifted by a later opt-in in the same
        or a narrower covering scope; None: allowed."""
        found: ConsentEvent | None = None
        for scope in covering:
            out = self.latest.get(scope)
            if out is None or out.state != OPTED_OUT:
                continue
            lifted = any(
                (lift := self.latest_in.get(other)) is not None and other.rank <= scope.rank
                and lift.order > out.order
                for other in covering
            )  # fmt: skip
            if not lifted and (found is None or out.order > found.order):
                found = out
        return found


@attrs.frozen(kw_only=True)
class ReplyTexts:
    """What a sender answers: the STOP confirmation, the START confirmation, HELP.
    ``{brand}``, ``{contact}`` and ``{frequency}`` are filled in from the config."""

    opt_out: str = (
        "You are unsubscribed from {brand} messages. No more messages will be sent. "
        "Reply START to resubscribe."
    )
    opt_in: str = (
        "{brand}: You are subscribed again. {frequency}. Msg&data rates may apply. "
        "Reply HELP for help, STOP to opt out."
    )
    help: str = "{brand}: Help at {contact}. {frequency}. Msg&data rates may apply. Reply STOP to opt out."


@attrs.frozen(kw_only=True)
class Consent:
    """The consent settings (``[twoway.consent]``, ``[twoway.programmes]``,
    ``[twoway.texts]``) and the rules that use them."""

    scope: str = "pair"  # what a plain STOP covers: "pair" | "programme" | "account"
    programmes: Mapping[str, frozenset[str]] = attrs.field(factory=dict)  # name -> senders
    brand: str = "Our service"
    contact: str = "the number you signed up with"
    frequency: str = "Msg frequency varies"
    texts: ReplyTexts = ReplyTexts()
    # Per sender address or programme name: their own texts (a sender's win over its programme's).
    texts_for: Mapping[str, ReplyTexts] = attrs.field(factory=dict)
    # The numbers of each sender pool ([[twoway.pool]]): to the people it texts a pool is one
    # sender, so a STOP to one of its numbers covers the others (else the pool would pick
    # another number and text on), and a START to any of them lifts it.
    pools: Sequence[frozenset[str]] = ()

    def programmes_of(self, sender: str, tags: Iterable[str] = ()) -> list[str]:
        """The programmes a message from ``sender`` with ``tags`` belongs to, in config order."""
        tagged = set(tags)
        return [name for name, senders in self.programmes.items() if sender in senders or name in tagged]

    def covering(self, sender: str, tags: Iterable[str] = ()) -> list[Scope]:
        """Every scope a message from ``sender`` (with ``tags``) falls under: its pool's
        other numbers count as ``sender`` itself."""
        pool = next((p for p in self.pools if sender in p), frozenset())
        siblings = [Scope.of(s) for s in pool if s != sender]  # (only the number's events are looked up)
        return [
            ALL,
            *(Scope.of(programme=p) for p in self.programmes_of(sender, tags)),
            Scope.of(sender),
            *siblings,
        ]

    def covering_scope(self, scope: Scope) -> list[Scope]:
        """The scopes whose opt-outs already cover all of ``scope`` (a STOP in ``scope``
        changes nothing when one of them blocks)."""
        if scope.kind == "sender":
            return self.covering(scope.name)
        return [ALL, scope] if scope.kind == "programme" else [ALL]

    def decide(self, index: NumberConsent | None, sender: str, tags: Iterable[str] = ()) -> str | None:
        """May a message from ``sender`` go to this number now? None, or why not."""
        if index is None:
            return None
        event = index.blocking(self.covering(sender, tags))
        return None if event is None else blocked_reason(event)

    def keyword_scope(self, sender: str, *, all_senders: bool = False, argument: str | None = None) -> Scope:
        """What a STOP or START sent to ``sender`` covers: STOP ALL everything; "STOP PROMO"
        the programme promo (or "STOP 12345" that sender), when configured; else the
        configured ``scope``."""
        if all_senders:
            return ALL
        if argument:
            named = {name.upper(): name for name in self.programmes}
            if argument.upper() in named:
                return Scope.of(programme=named[argument.upper()])
            if any(argument in senders for senders in self.programmes.values()) or argument == sender:
                return Scope.of(argument)
        if self.scope == "account":
            return ALL
        if self.scope == "programme" and (mine := self.programmes_of(sender)):
            return Scope.of(programme=mine[0])
        return Scope.of(sender)

    def confirms(self, event: ConsentEvent, before: ConsentEvent | None) -> bool:
        """Whether ``event`` gets the one opt-out confirmation: a keyword opt-out that
        changed something (``before``: what blocked its whole scope already, from
        ``NumberConsent.blocking(covering_scope(scope))`` just before it; None: nothing)."""
        return event.source == "keyword" and event.state == OPTED_OUT and before is None

    def reply(self, kind: str, sender: str) -> str:
        """The ``kind`` text ("opt_out", "opt_in", "help") ``sender`` answers with."""
        texts = self.texts_for.get(sender)
        if texts is None:
            texts = next(
                (self.texts_for[p] for p in self.programmes_of(sender) if p in self.texts_for), self.texts
            )
        return str(getattr(texts, kind)).format(
            brand=self.brand, contact=self.contact, frequency=self.frequency
        )


def blocked_reason(event: ConsentEvent) -> str:
    """Why a message is not sent: ``destination opted out of 12345 (STOP at ...)``."""
    return f"destination opted out of {event.scope.label()} ({event.why()})"
