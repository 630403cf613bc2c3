"""The 2-way inbound path (``gateway.twoway.TwoWay``): keywords before conversations,
the message stored with its notes before the desks act, replies sent, and a reply that
cannot be sent never makes the SMSC redeliver."""

from __future__ import annotations

import attrs

from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.messages import SubmitError
from smppgw.gateway.twoway import Link, Reply, TwoWay
from smppgw.store.base import InboundRecord
from smppgw.store.memory import MemoryStore
from smppgw.twoway.keyword_config import keywords_from_dict
from smppgw.twoway.keywords import KeywordMatch, Keywords, Kind


def _mo(text: str) -> InboundMessage:
    return InboundMessage(smsc="sim", source="447700900001", destination="12345", text=text, data_coding=0,
                          parts=1, received_at=1.0)  # fmt: skip


@attrs.define
class _Consent:
    seen: list[tuple[KeywordMatch, InboundRecord]] = attrs.field(factory=list)

    def on_keyword(self, match: KeywordMatch, record: InboundRecord) -> list[Reply]:
        self.seen.append((match, record))
        return [Reply(source=record.destination, destination=record.source, text="bye", purpose="opt_out_confirmation",
                      bypass_consent=True)]  # fmt: skip


@attrs.define
class _Conversations:
    links: list[InboundMessage] = attrs.field(factory=list)
    settled: list[tuple[Link, InboundRecord]] = attrs.field(factory=list)

    def link(self, message: InboundMessage) -> Link:
        self.links.append(message)
        return Link(conversation_id="c1", in_reply_to="m1", answer="YES", linked_by="exact")

    def settle(self, link: Link, record: InboundRecord) -> list[Reply]:
        self.settled.append((link, record))
        return []


def _twoway(store: MemoryStore, sent: list[Reply], **kw: object) -> TwoWay:
    return TwoWay(store=store, send=sent.append, tenants={"12345": "acme"}, **kw)  # type: ignore[arg-type]


def test_a_stop_goes_to_consent_not_to_the_conversation() -> None:
    store, sent, consent, talks = MemoryStore(), [], _Consent(), _Conversations()
    _twoway(store, sent, consent=consent, conversations=talks)(_mo(" stop "))
    (record,) = store.inbound()
    assert record.keyword == "STOP" and record.tenant == "acme" and record.conversation_id is None
    assert talks.links == [] and [m.kind for m, _ in consent.seen] == [Kind.OPT_OUT]
    assert consent.seen[0][1] == record  # the desk sees the stored record (its seq)
    assert [r.purpose for r in sent] == ["opt_out_confirmation"]


def test_an_answer_is_linked_stored_with_its_notes_then_settled() -> None:
    store, sent, consent, talks = MemoryStore(), [], _Consent(), _Conversations()
    _twoway(store, sent, consent=consent, conversations=talks)(_mo("yes"))
    (record,) = store.inbound()
    assert (record.keyword, record.conversation_id, record.in_reply_to, record.answer, record.linked_by) == (
        None, "c1", "m1", "YES", "exact",
    )  # fmt: skip
    assert talks.settled == [
        (Link(conversation_id="c1", in_reply_to="m1", answer="YES", linked_by="exact"), record)
    ]
    assert consent.seen == [] and sent == []


def test_a_reply_that_cannot_be_sent_is_dropped_not_redelivered() -> None:
    store = MemoryStore()

    def refuse(reply: Reply) -> None:
        raise SubmitError("no route")

    TwoWay(store=store, send=refuse, consent=_Consent())(_mo("STOP"))  # does not raise
    assert [r.keyword for r in store.inbound()] == ["STOP"]


def test_a_custom_rule_replies_and_writes_its_keyword_matched_event() -> None:
    store, sent = MemoryStore(), []
    store.route_events(lambda kind, callback_url: [])  # the outbox on, no endpoint
    config = keywords_from_dict(
        None,
        [
            {"keyword": "JOIN", "reply": "Welcome!", "tag": "join", "event": True},
            {"name": "quiet", "pattern": "^PRICES?$", "senders": ["12345"]},
        ],
    )
    twoway = _twoway(store, sent, keywords=Keywords(config))
    twoway(_mo("Join please"))
    twoway(_mo("prices"))  # no reply, no event: only the keyword noted
    assert [r.keyword for r in store.inbound()] == ["JOIN", "QUIET"]
    assert sent == [
        Reply(source="12345", destination="447700900001", text="Welcome!", purpose="rule", tags=("join",))
    ]
    events = store.events(types=["keyword.matched"])
    assert [(e.subject, e.sequence, e.id) for e in events] == [("inbound:1", 2, "evt_inbound_1_2")]
    data = events[0].data
    assert (data["rule"], data["keyword"], data["tag"], data["source"], data["tenant"]) == (
        "JOIN", "JOIN", "join", "447700900001", "acme",
    )  # fmt: skip
