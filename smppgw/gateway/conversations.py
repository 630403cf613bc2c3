"""The conversation desk: messages that expect a reply, the replies linked to them, and
the senders of pools. ``Conversations`` is the ``ConversationDesk`` of ``gateway.twoway``
and the intake's ``conversations`` (``Intake.accept``).

- At acceptance: a message from a pool (``pool`` in ``SubmitFields``) gets its sender
  (``with_sender``: ``twoway.pools.pick_sender`` over the open conversations and the
  senders' recent use); a message with ``expect`` opens a conversation (``opening``),
  staged in the store and written with the message by its ``add``, tracked here once
  that succeeded (its plan's ``enqueue``).
- Inbound: ``link`` (a read) says which open conversation of the (our number, their
  number) pair a reply answers and parses it; ``settle`` applies it (answered, a
  re-prompt, invalid), written with its event before the SMSC hears deliver_sm_resp.
- Time: ``run`` expires conversations at their deadline, the earliest first; after a
  restart ``reload`` takes the open ones back, and those that fell due while the
  gateway was down expire as it starts.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import trio

from smppgw.gateway.inbound import InboundMessage
from smppgw.gateway.intake import Plan
from smppgw.gateway.messages import SubmitError, SubmitFields
from smppgw.gateway.twoway import Link, Reply
from smppgw.policy.addressing import AddressError, AddressKind, SmppAddress, to_smpp
from smppgw.policy.routing import Router
from smppgw.store.base import (
    ConversationRecord,
    ConversationStore,
    InboundRecord,
    MessageRecord,
    StoreError,
    conversation_event,
)
from smppgw.support.logsafe import kv
from smppgw.twoway.conversations import (
    Expect,
    ExpectError,
    OpenRef,
    State,
    expect_from,
    link,
    parse_answer,
    step,
)
from smppgw.twoway.pools import Pool, pick_sender

__all__ = ["Conversations"]

log = logging.getLogger(__name__)

_RETRY = 5.0  # seconds before an expiry the store refused is tried again
_Pair = tuple[str, str]  # (our number, their number), SMPP digits


class _Opening(Plan):
    """The plan of a message that opens a conversation: once it is stored (``enqueue``
    runs after ``add``), the desk tracks its conversation."""

    __slots__ = ("desk", "inner", "record")

    def __init__(self, inner: Plan, desk: Conversations, record: ConversationRecord) -> None:
        super().__init__(inner.dispatcher, inner.jobs)
        self.inner, self.desk, self.record = inner, desk, record

    def enqueue(self) -> None:
        self.desk.confirm(self.record)
        self.inner.enqueue()


class Conversations:
    def __init__(
        self,
        store: ConversationStore,
        *,
        wall: Callable[[float | None], float | None],
        pools: Sequence[Pool] = (),
        route_pools: Mapping[str, str] | None = None,
        router: Router | None = None,
        sender_tps: Callable[[str], float | None] = lambda sender: None,
        now: Callable[[], float] = trio.current_time,
    ) -> None:
        """``wall``: trio clock -> wall clock (``StoreControl.wall``); ``route_pools``:
        route name -> pool ([[route]] pool); ``sender_tps``: a sender's TPS limit."""
        self.store = store
        self.wall = wall
        self.pools = {p.name: p for p in pools}
        self.route_pools = dict(route_pools or {})
        self.router = router
        self.sender_tps = sender_tps
        self.now = now
        self._open: dict[str, ConversationRecord] = {}
        self._expects: dict[str, Expect] = {}
        self._pairs: dict[_Pair, list[ConversationRecord]] = {}
        self._pending: set[str] = set()  # staged with a message not stored yet
        self._deadlines: list[tuple[float, str]] = []  # a heap; stale entries skipped
        self._wake = trio.Event()
        self._turns = itertools.count()
        self._picks: dict[str, collections.deque[float]] = {}  # sender -> recent pick times

    # -- at acceptance ----------------------------------------------------------------------

    def with_sender(self, fields: SubmitFields) -> SubmitFields:
        """``fields`` with the sender picked from their pool (``pool``: its name, or ""
        for the pool of the message's route). Raises SubmitError naming ``from``."""
        try:
            recipient = to_smpp(fields["destination"]).addr
        except AddressError as exc:
            raise SubmitError(f"destination {exc}") from None
        name = fields.get("pool") or self._route_pool(recipient, fields)
        pool = self.pools.get(name)
        if pool is None:
            raise SubmitError(f"from: no sender pool named {name!r} ([[twoway.pool]])")
        now = self.now()
        open_since = {}
        for sender in pool.numbers:
            live = [c for c in self._pairs.get((sender, recipient), ()) if c.deadline > now]
            if live:
                open_since[sender] = max(c.opened_at for c in live)
        load = {s: self._load(s, now) for s in pool.numbers}
        sender = pick_sender(
            pool.numbers, open_since=open_since, opens=fields.get("expect") is not None, load=load,
            turn=next(self._turns),
        )  # fmt: skip
        self._picks.setdefault(sender, collections.deque()).append(now)
        return {**fields, "source": sender, "pool": name}

    def _route_pool(self, recipient: str, fields: SubmitFields) -> str:
        route = (
            self.router.route(recipient, AddressKind.E164, fields.get("tags") or ()) if self.router else None
        )
        if route is None:
            raise SubmitError(f'from: no route for {recipient} from a pool ("pool" takes its route\'s pool)')
        name = self.route_pools.get(route.name)
        if name is None:
            raise SubmitError(f'from: route {route.name} has no sender pool; name one: "pool:NAME"')
        return name

    def _load(self, sender: str, now: float) -> float:
        """Picks in the last second, as a fraction of the sender's TPS (or a count)."""
        picks = self._picks.get(sender)
        if not picks:
            return 0.0
        while picks and picks[0] <= now - 1.0:
            picks.popleft()
        return len(picks) / (self.sender_tps(sender) or 1.0)

    def opening(self, record: MessageRecord, src: SmppAddress, fields: SubmitFields, plan: Plan) -> Plan:
        """``record`` expects a reply (``fields["expect"]``: an ``Expect`` or its JSON
        object): stage its conversation; the plan returned tracks it once stored.
        Raises SubmitError naming ``expect``."""
        if src.kind is AddressKind.ALPHANUMERIC:
            raise SubmitError(f"expect: replies cannot reach an alphanumeric sender ({record.source})")
        spec: Any = fields.get("expect")
        try:
            expect = spec if isinstance(spec, Expect) else expect_from(spec)
        except (ExpectError, AttributeError) as exc:
            raise SubmitError(f"expect: {exc}") from None
        start = max(record.created_at, record.send_at or 0.0)  # a scheduled one: from its time
        conversation = ConversationRecord(
            id=os.urandom(16).hex(), message_id=record.id, sender=record.source, recipient=record.destination,
            expect=expect.to_dict(), opened_at=record.created_at, deadline=start + expect.timeout,
            tenant=record.tenant, pool=fields.get("pool"),
        )  # fmt: skip
        self.store.open_conversations([conversation])
        self._expects[conversation.id] = expect
        self._track(conversation, pending=True)
        return _Opening(plan, self, conversation)

    def confirm(self, record: ConversationRecord) -> None:
        """Its message is stored: the conversation is."""
        self._pending.discard(record.id)

    # -- inbound (gateway.twoway.ConversationDesk) ------------------------------------------------

    def link(self, message: InboundMessage) -> Link:
        pair = (message.destination.lstrip("+"), message.source.lstrip("+"))
        candidates = self._pairs.get(pair)
        if not candidates:
            return Link()
        pending = self._pending
        refs = [
            OpenRef(id=c.id, opened_at=c.opened_at, deadline=c.deadline)
            for c in candidates
            if c.id not in pending
        ]
        linked = link(refs, self.now())
        if linked.conversation_id is None:
            return Link()
        found = self._open[linked.conversation_id]
        answer = parse_answer(self._expect(found), message.text)
        return Link(
            conversation_id=found.id, in_reply_to=found.message_id, answer=answer, linked_by=linked.linked_by
        )

    def settle(self, link: Link, record: InboundRecord) -> list[Reply]:
        """Raises StoreError (the inbound message is then delivered again)."""
        found = self._open.get(link.conversation_id or "")
        if found is None:  # expired between link and settle: a plain inbound message
            return []
        invalid_before = sum(1 for r in found.replies if r["answer"] is None)
        done = step(self._expect(found), State(found.state), invalid_before, link.answer)
        now = self.now()
        changed = attrs.evolve(
            found,
            state=done.state.value,
            answer=link.answer,
            replies=[*found.replies, {"inbound_seq": record.seq, "answer": link.answer, "at": now}],
            reprompts=found.reprompts + (done.reprompt is not None),
            closed_at=None if done.state is State.OPEN else now,
        )
        self._save(changed)
        if done.reprompt is None:
            return []
        return [
            Reply(source=found.sender, destination=found.recipient, text=done.reprompt, purpose="reprompt")
        ]

    # -- time ----------------------------------------------------------------------------------

    def reload(self) -> int:
        """Take back the open conversations of the store (at start); returns how many."""
        records = self.store.open_conversation_records()
        for r in records:
            self._track(r)
        return len(records)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Expire conversations at their deadlines (earliest first), until cancelled."""
        task_status.started()
        while True:
            self.expire(self.now())
            self._wake = trio.Event()
            with trio.move_on_at(self._deadlines[0][0] if self._deadlines else math.inf):
                await self._wake.wait()

    def expire(self, now: float) -> int:
        """Close every open conversation past its deadline; returns how many."""
        heap, done = self._deadlines, 0
        while heap and heap[0][0] <= now:
            deadline, cid = heapq.heappop(heap)
            found = self._open.get(cid)
            if found is None or found.deadline != deadline:
                continue
            if cid in self._pending:  # its message was never stored (add failed): no conversation
                self._untrack(cid)
                continue
            try:
                self._save(attrs.evolve(found, state=State.EXPIRED.value, closed_at=now))
            except StoreError as exc:
                log.warning(
                    "conversation expiry not saved, retrying %s", kv(conversation=cid, error=str(exc))
                )
                heapq.heappush(heap, (deadline + _RETRY, cid))
                found.deadline = deadline + _RETRY
                break
            done += 1
        return done

    # -- bookkeeping -------------------------------------------------------------------------------

    def _expect(self, record: ConversationRecord) -> Expect:
        found = self._expects.get(record.id)
        if found is None:
            found = self._expects[record.id] = expect_from(record.expect)
        return found

    def _save(self, changed: ConversationRecord) -> None:
        """Write a change (with its event, if it ended), then follow it here."""
        event = None if changed.is_open else conversation_event(changed, self.wall)
        self.store.save_conversation(changed, event)
        self._untrack(changed.id)
        if changed.is_open:
            self._track(changed)
        else:
            self._expects.pop(changed.id, None)
            # A text answer is the subscriber's own words: never at INFO (only its length).
            text = changed.expect.get("type") == "text" and changed.answer is not None
            answer = {"answer_chars": len(changed.answer or "")} if text else {"answer": changed.answer}
            log.info(
                "conversation %s %s",
                changed.state,
                kv(conversation=changed.id, message=changed.message_id, **answer),
            )

    def _track(self, record: ConversationRecord, *, pending: bool = False) -> None:
        self._open[record.id] = record
        self._pairs.setdefault((record.sender, record.recipient), []).append(record)
        if pending:
            self._pending.add(record.id)
        if not self._deadlines or record.deadline < self._deadlines[0][0]:
            self._wake.set()  # an earlier deadline than the one ``run`` waits for
        heapq.heappush(self._deadlines, (record.deadline, record.id))

    def _untrack(self, cid: str) -> None:
        found = self._open.pop(cid, None)
        if found is None:
            return
        self._pending.discard(cid)
        pair = (found.sender, found.recipient)
        left = [c for c in self._pairs.get(pair, ()) if c.id != cid]
        if left:
            self._pairs[pair] = left
        else:
            self._pairs.pop(pair, None)

    def open_count(self) -> int:
        return len(self._open)
