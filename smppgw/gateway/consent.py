"""Consent in the gateway: asked before every send, changed by keywords and carriers.

- ``ConsentGate``: the check. ``at_accept`` runs in ``Intake.accept`` (a message to a
  number opted out of its sender is stored ``blocked`` with the reason, never queued);
  ``at_dispatch`` runs again in the dispatcher just before its submit_sm, since consent
  may change while a message waits (throttled, scheduled, its SMSC down).
- ``ConsentDesk``: the ``ConsentDesk`` of ``gateway.twoway``. A STOP or START is written
  to the history (``ConsentStore.add_consent``: durable, with its ``consent.changed``
  event, before the MO's deliver_sm_resp; if it raises the SMSC redelivers), a STOP
  blocks what is queued for the number within its scope, and the replies are made:
  one confirmation after a STOP that changed something, the opt-in confirmation after
  START, the HELP text always.
- ``CarrierOptOuts``: a status listener; a submit_sm_resp command_status or a receipt
  error the SMSC's config lists (``optout_statuses``, ``optout_network_errors``) is a
  consent event of source ``carrier``.

The one pass. The STOP confirmation and the HELP answer go to a number that is opted
out, so they pass the block once: ``ConsentGate.passing(reply)`` opens a pass for that
exact reply (number, sender, text) around the synchronous ``Gateway.submit`` of it, and
closes it when the call returns, used or not. An API request runs in another task and
cannot run inside that call, so no caller of the API can use a pass. The message the
pass let in is remembered (by id, in memory) so the dispatch check lets it go too; a
confirmation still queued when the process stops is blocked after the restart (never
sent twice; at worst not at all).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping

import attrs

from smppgw.core.constants import CommandStatus
from smppgw.gateway.config import SmscConfig
from smppgw.gateway.twoway import Reply
from smppgw.store.base import InboundRecord, MessageRecord, Status
from smppgw.store.consent import ConsentStore
from smppgw.support.logsafe import kv
from smppgw.twoway.consent import OPTED_IN, OPTED_OUT, Consent, ConsentEvent, Scope, blocked_reason
from smppgw.twoway.keywords import KeywordMatch, Kind

__all__ = ["Block", "CarrierOptOuts", "ConsentDesk", "ConsentGate", "block_within"]

log = logging.getLogger(__name__)

#: ``Gateway.block_destination``: (number, reason, within=, source=) -> parts dropped.
Block = Callable[..., int]
_PASSED_KEPT = 10_000  # messages let in by a pass, remembered for the dispatch check


class ConsentGate:
    def __init__(self, store: ConsentStore, rules: Consent) -> None:
        self.store = store
        self.rules = rules
        self._pass: tuple[str, str, str] | None = None
        self._passed: OrderedDict[str, None] = OrderedDict()

    def at_accept(self, record: MessageRecord) -> str | None:
        """None: ``record`` may be queued; else why it is blocked."""
        # Called for every message; nearly every number has no consent history (no rules asked).
        index = self.store.consent(record.destination)
        why = None if index is None else self.rules.decide(index, record.source, record.tags)
        if why is not None and self._pass == (record.destination, record.source, record.text):
            self._pass = None  # used: once
            self._passed[record.id] = None
            if len(self._passed) > _PASSED_KEPT:
                self._passed.popitem(last=False)
            return None
        return why

    def at_dispatch(self, record: MessageRecord) -> str | None:
        """Just before a part's submit_sm: None, or why it is blocked now."""
        index = self.store.consent(record.destination)
        if index is None:  # nearly every message: no rules, no lookup of the passes
            return None
        why = self.rules.decide(index, record.source, record.tags)
        return None if why is None or record.id in self._passed else why

    @contextlib.contextmanager
    def passing(self, reply: Reply) -> Iterator[None]:
        """Around the synchronous submit of ``reply``: one pass if it bypasses consent."""
        if reply.bypass_consent:
            self._pass = (reply.destination, reply.source, reply.text)
        try:
            yield
        finally:
            self._pass = None


class ConsentDesk:
    def __init__(self, store: ConsentStore, rules: Consent, block: Block) -> None:
        self.store = store
        self.rules = rules
        self.block = block

    def on_keyword(self, match: KeywordMatch, record: InboundRecord) -> list[Reply]:
        number, sender = record.source, record.destination
        reply = _replier(number, sender)
        if match.kind is Kind.HELP:
            return [reply(self.rules.reply("help", sender), "help", bypass=True)]
        scope = self.rules.keyword_scope(sender, all_senders=match.all_senders, argument=match.argument)
        out = match.kind is Kind.OPT_OUT
        index = self.store.consent(number)
        before = None if index is None else index.blocking(self.rules.covering_scope(scope))
        event = ConsentEvent(
            number=number, scope=scope, state=OPTED_OUT if out else OPTED_IN, source="keyword",
            at=record.received_at, keyword=match.keyword, inbound_seq=record.seq, text=record.text,
        )  # fmt: skip
        (written,) = self.store.add_consent([event])  # durable before the MO is answered
        log.info("consent %s", kv(number=number, sender=sender, state=event.state, scope=scope.key))
        if out:
            self._block(written)
            if self.rules.confirms(written, before):
                return [reply(self.rules.reply("opt_out", sender), "opt_out_confirmation", bypass=True)]
            return []
        if self.rules.decide(self.store.consent(number), sender) is not None:
            # Still blocked by a narrower opt-out (the scope setting changed since): a START
            # sent to this sender always opts in to it.
            self.store.add_consent([attrs.evolve(written, scope=Scope.of(sender), seq=0)])
        return [reply(self.rules.reply("opt_in", sender), "opt_in_confirmation")]

    def _block(self, event: ConsentEvent) -> int:
        return block_within(self.block, self.store, self.rules, event)


class CarrierOptOuts:
    """A status listener (``Gateway.add_listener``): a carrier status that means "the
    recipient opted out or blocked this sender" becomes a consent event (of the scope a
    STOP to that sender records), once per message."""

    @staticmethod
    def wanted(smscs: Mapping[str, SmscConfig]) -> bool:
        """Whether any SMSC lists such statuses (else no listener is needed)."""
        return any(s.optout_statuses or s.optout_network_errors for s in smscs.values())

    def __init__(self, desk: ConsentDesk, smscs: Mapping[str, SmscConfig], now: Callable[[], float]) -> None:
        """``now``: wall-clock seconds (the consent event's time)."""
        self.desk = desk
        self.now = now
        self._statuses = {s.name: frozenset(_status_names(s.optout_statuses)) for s in smscs.values()}
        self._errors = {s.name: frozenset(_error(e) for e in s.optout_network_errors) for s in smscs.values()}
        self._seen: OrderedDict[str, None] = OrderedDict()  # messages already recorded

    def __call__(self, record: MessageRecord) -> None:
        if record.smsc is None or record.id in self._seen:
            return
        statuses, errors = self._statuses.get(record.smsc), self._errors.get(record.smsc)
        if not statuses and not errors:
            return
        cause = None
        for part in record.parts:
            if statuses and part.status is Status.REJECTED and (part.error or "").split(":")[0] in statuses:
                cause = f"{record.smsc}: submit_sm_resp {part.error}"
            elif errors and part.receipt_error is not None and _error(part.receipt_error) in errors:
                cause = f"{record.smsc}: receipt {part.receipt_stat} err:{part.receipt_error}"
        if cause is None:
            return
        self._seen[record.id] = None
        if len(self._seen) > _PASSED_KEPT:
            self._seen.popitem(last=False)
        scope = self.desk.rules.keyword_scope(record.source)
        event = ConsentEvent(
            number=record.destination, scope=scope, state=OPTED_OUT, source="carrier",
            at=self.now(), reason=cause,
        )  # fmt: skip
        (written,) = self.desk.store.add_consent([event])
        log.info("consent %s", kv(number=record.destination, state=OPTED_OUT, scope=scope.key, cause=cause))
        self.desk._block(written)


def block_within(block: Block, store: ConsentStore, rules: Consent, event: ConsentEvent) -> int:
    """What is queued for ``event``'s number and now blocked by it is not sent (its
    messages end ``blocked`` with the reason). Returns how many parts were dropped."""
    number = event.number
    return int(
        block(
            number, blocked_reason(event), source=event.source,
            within=lambda m: rules.decide(store.consent(number), m.source, m.tags) is not None,
        )
    )  # fmt: skip


def _replier(number: str, sender: str) -> Callable[..., Reply]:
    def reply(text: str, purpose: str, *, bypass: bool = False) -> Reply:
        return Reply(source=sender, destination=number, text=text, purpose=purpose, bypass_consent=bypass)

    return reply


def _status_names(values: tuple[int, ...]) -> list[str]:
    """command_status values as the dispatcher words them (``policy.retry``)."""
    names = []
    for value in values:
        try:
            names.append(CommandStatus(value).name)
        except ValueError:
            names.append(f"0x{value:08X}")
    return names


def _error(value: str | int) -> str:
    """A receipt ``err:`` (or network error code) compared without case or leading zeros."""
    return str(value).strip().upper().lstrip("0") or "0"
