"""The 2-way inbound path: what an inbound (MO) message is, what it changes, what it gets
back. ``TwoWay`` is the ``InboundHandler`` of ``smppgw serve``.

For each whole inbound message, in order:

1. ``Keywords.classify`` (``twoway.keywords``, pure): STOP, START, HELP or a custom rule.
2. STOP, START and HELP take precedence over any flow run and any open conversation.
   Otherwise the flow desk (``gateway.flows``) says whether a flow takes it: the pair's
   active run reads it first, else a flow's keyword ("BOOK") starts a run; HELP is a
   flow's only when a flow starts with HELP (the triage flow). Else the conversation
   desk links it to the message it answers (``in_reply_to``, ``conversation_id``, the
   parsed ``answer``, ``linked_by``).
3. The message is stored with those notes, durably, with its ``message.inbound`` event
   (``InboundStore.add_inbound``), before its deliver_sm_resp (DESIGN §3).
4. The consent desk records what a keyword changes (``consent.changed``), and a STOP
   ends the pair's active flow run (``stopped``); the conversation desk settles the
   conversation (answered, re-prompted, invalid); the flow desk moves its run on (and
   sends what the run says, through ``send``).
5. What they answer (a STOP's one confirmation, HELP's text, a re-prompt, a custom
   rule's reply) is sent through the gateway like any message (``send``). A custom
   rule (``[[twoway.rule]]``; with ``voucher``, its reply carries a code: ``gateway.vouchers``)
   with ``event = true`` also writes a ``keyword.matched``
   event (subject ``inbound:<seq>``, sequence 2: after the message's ``message.inbound``).

If step 3 or 4 raises, the SMSC is asked to redeliver (``gateway.inbound``): a STOP is
never lost, at worst stored twice. A reply that cannot be sent is logged and dropped;
it never makes the SMSC redeliver the message it answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.messages import SubmitError
from smppgw.gateway.vouchers import VoucherDesk, voucher_reply
from smppgw.store.base import EventRecord, EventStore, InboundRecord, InboundStore, event_id, iso
from smppgw.support.logsafe import TEXT_LIMIT, Fields, kv
from smppgw.twoway.keywords import KeywordMatch, Keywords, Kind

__all__ = ["ConsentDesk", "ConversationDesk", "FlowDesk", "Link", "Reply", "TwoWay", "TwoWayStore"]

log = logging.getLogger(__name__)

_CONSENT_KINDS = frozenset({Kind.OPT_OUT, Kind.OPT_IN, Kind.HELP})
_OPT_KINDS = frozenset({Kind.OPT_OUT, Kind.OPT_IN})  # never a flow's (HELP may be: triage)


@attrs.frozen(kw_only=True)
class Reply:
    """A message the gateway sends because of an inbound one."""

    source: str  # our number: the inbound message's destination
    destination: str  # the subscriber
    text: str
    purpose: str  # "opt_out_confirmation", "opt_in_confirmation", "help", "reprompt", "rule", "flow"
    # The one STOP confirmation passes the opt-out block once (and carries no marketing).
    bypass_consent: bool = False
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Link:
    """How an inbound message relates to an open conversation (``ConversationDesk.link``)."""

    conversation_id: str | None = None
    in_reply_to: str | None = None  # the message id the conversation belongs to
    answer: str | None = None  # the parsed answer ("YES", "8", the text); None: not valid
    linked_by: str | None = None  # "exact" | "latest" | None


class ConsentDesk(Protocol):
    def on_keyword(self, match: KeywordMatch, record: InboundRecord) -> list[Reply]:
        """Record what ``match`` (STOP, START, HELP) changes for ``record``'s number and
        sender; return what to send back."""


class ConversationDesk(Protocol):
    def link(self, message: InboundMessage) -> Link:
        """Which open conversation ``message`` answers, and its parsed answer (a read)."""

    def settle(self, link: Link, record: InboundRecord) -> list[Reply]:
        """Apply the stored answer to its conversation; return what to send back."""


class FlowDesk(Protocol):
    """``gateway.flows.FlowDesk``, as the inbound path uses it."""

    def claim(self, message: InboundMessage, match: KeywordMatch | None) -> Any:
        """Whether a flow takes ``message`` (a read): a claim for ``take``, or None."""

    def take(self, claim: Any, record: InboundRecord) -> object:
        """The stored message goes to its flow run (which sends what it says)."""

    def stopped(self, record: InboundRecord) -> object:
        """A STOP (recorded): the pair's active run ends."""


class TwoWayStore(InboundStore, EventStore, Protocol):
    """What the inbound path writes: the message and its events."""


class TwoWay:
    def __init__(
        self,
        *,
        store: TwoWayStore,
        send: Callable[[Reply], object],
        keywords: Keywords | None = None,
        consent: ConsentDesk | None = None,
        conversations: ConversationDesk | None = None,
        tenants: Mapping[str, str] | None = None,
        vouchers: VoucherDesk | None = None,
        flows: FlowDesk | None = None,
    ) -> None:
        """``send``: sends one reply (``Gateway.submit`` in ``smppgw serve``); may raise
        ``SubmitError``. ``tenants``: inbound destination number -> tenant. ``vouchers``:
        the codes of rules with a ``voucher`` pool (``gateway.vouchers``)."""
        self.store = store
        self.send = send
        self.keywords = keywords or Keywords()
        self.consent = consent
        self.conversations = conversations
        self.flows = flows
        self.tenants = dict(tenants or {})
        self.vouchers = vouchers

    def __call__(self, message: InboundMessage) -> None:
        # One form of a number everywhere (E.164 digits, as a message's "to"): a carrier's
        # "+447700900001" is the 447700900001 a STOP must block and a reply must link to.
        source, destination = message.source.lstrip("+"), message.destination.lstrip("+")
        if (source, destination) != (message.source, message.destination):
            message = attrs.evolve(message, source=source, destination=destination)
        match = self.keywords.classify(message.text, sender=message.destination)
        claim = None
        if self.flows is not None and (match is None or match.kind not in _OPT_KINDS):
            claim = self.flows.claim(message, match)  # the pair's run first; HELP if a triage flow
        link = Link()
        if (
            claim is None
            and self.conversations is not None
            and (match is None or match.kind not in _CONSENT_KINDS)
        ):
            link = self.conversations.link(message)
        fields = {f.name: getattr(message, f.name) for f in attrs.fields(InboundMessage)}
        record = self.store.add_inbound(
            **fields,
            tenant=self.tenants.get(message.destination.lstrip("+")),
            keyword=match.keyword if match is not None else getattr(claim, "keyword", None),
            conversation_id=link.conversation_id,
            in_reply_to=link.in_reply_to,
            answer=link.answer,
            linked_by=link.linked_by,
        )
        log.info(
            "inbound stored %s",
            kv(
                seq=record.seq, source=message.source, destination=message.destination, parts=message.parts,
                keyword=record.keyword, conversation=record.conversation_id,
            ),
        )  # fmt: skip
        log.debug("inbound text %s", Fields({"text": message.text}, limit=TEXT_LIMIT))  # only its start
        replies: list[Reply] = []
        if match is not None and match.kind in _CONSENT_KINDS and self.consent is not None and claim is None:
            replies += self.consent.on_keyword(match, record)
        if match is not None and match.kind is Kind.OPT_OUT and self.flows is not None:
            self.flows.stopped(record)  # after the consent desk wrote it: the run sends nothing more
        if link.conversation_id is not None and self.conversations is not None:
            replies += self.conversations.settle(link, record)
        if claim is not None and self.flows is not None:
            self.flows.take(claim, record)
        elif match is not None and match.kind is Kind.CUSTOM:
            replies += self._rule(match, record)
        for reply in replies:
            self._send(reply)

    def _rule(self, match: KeywordMatch, record: InboundRecord) -> list[Reply]:
        """A custom rule's event (with the record's, durable at the next commit) and reply."""
        rule = self.keywords.rule(match.rule or "")
        if rule.event:
            subject = f"inbound:{record.seq}"
            data = {
                "inbound_seq": record.seq, "rule": rule.name, "keyword": match.keyword,
                "argument": match.argument, "tag": rule.tag, "source": record.source,
                "destination": record.destination, "tenant": record.tenant,
                "received_at": iso(record.received_at),
            }  # fmt: skip
            self.store.append_event(
                EventRecord(id=event_id(subject, 2), type="keyword.matched", subject=subject, sequence=2,
                            occurred_at=record.received_at, data=data)
            )  # fmt: skip
        text = rule.reply if rule.voucher is None else voucher_reply(self.vouchers, rule, record)
        if text is None:
            return []
        tags = (rule.tag,) if rule.tag else ()
        return [
            Reply(
                source=record.destination,
                destination=record.source,
                text=text,
                purpose="rule",
                tags=tags,
            )
        ]

    def _send(self, reply: Reply) -> None:
        try:
            self.send(reply)
        except SubmitError as exc:
            log.warning(
                "2-way reply not sent %s",
                kv(purpose=reply.purpose, source=reply.source, destination=reply.destination, error=str(exc)),
            )
