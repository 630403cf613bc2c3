"""The thread desk: conversations with human responders, one thread per (tenant, number,
sender). ``ThreadDesk`` is what the threads API (``api.threads``) and the flows' handoff
use.

A pair's thread is made by its first MO message, a handoff or an agent's reply (lazy:
a campaign to numbers that never answer makes none), with the pair's earlier MT
messages as its first entries. From then on every MT and MO message of the pair is
written into its thread by the store itself, in the message's own transaction
(``store.threads``: the entry, the status change, the ``thread.message`` /
``thread.updated`` events), so the desk adds no step to the inbound or the accept
path. What the desk does:

- ``handoff``: a flow hands a customer to a human queue: the thread is opened (or
  reopened) ``waiting_on_agent`` with the flow's transcript attached.
- ``reply``: an agent's answer, sent through the thread's sender like any message
  (``Gateway.submit``: routing, quiet hours, the consent check at acceptance and
  dispatch). A reply consent forbids is refused before anything is stored or sent
  (``ReplyBlocked``, with the reason); one the quiet hours hold is accepted
  ``scheduled``.
- ``update``: assign, close, reopen, tag (the API's PATCH).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

import attrs
import trio

from smppgw.store.base import ConsentStore, InboundStore, MessageRecord, MessageStore, Status, StoreControl
from smppgw.store.threads import (
    CLOSED,
    WAITING_ON_AGENT,
    ThreadBackfill,
    ThreadRecord,
    ThreadStore,
    new_thread_id,
    thread_updated,
)
from smppgw.support.isotime import iso
from smppgw.support.logsafe import kv
from smppgw.twoway.config import TwowayConfig

__all__ = ["UNSET", "ReplyBlocked", "ThreadDesk", "ThreadDeskStore", "thread_desk"]

log = logging.getLogger(__name__)

#: ``update``: a field not given (None is a value: no assignee).
UNSET: Any = object()


class ReplyBlocked(Exception):
    """An agent's reply may not go (the number opted out of the sender, ...): nothing was
    stored or sent. ``reason`` says why, as the consent rules word it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ThreadDeskStore(ThreadStore, MessageStore, InboundStore, StoreControl, Protocol):
    """What the desk reads and writes."""


class ThreadDesk:
    def __init__(
        self,
        store: ThreadDeskStore,
        *,
        send: Callable[..., MessageRecord],
        consent: Callable[[str, str, tuple[str, ...]], str | None] | None = None,
        now: Callable[[], float],
        tenants: Mapping[str, str] | None = None,
    ) -> None:
        """``send``: ``Gateway.submit``; ``consent``: (number, sender, tags) -> why a
        message may not go now, or None; ``now``: wall-clock seconds; ``tenants``: our
        number -> its tenant (a handoff without a tenant lands where the pair's messages do)."""
        self.store = store
        self.send = send
        self.consent = consent
        self.now = now
        self.tenants = dict(tenants or {})

    # -- the flows' handoff (gateway.flows) --------------------------------------------------------

    def handoff(
        self,
        number: str,
        sender: str,
        *,
        tenant: str | None,
        queue: str,
        note: str,
        transcript: list[dict[str, Any]],
        source: dict[str, Any],
    ) -> str:
        """Open or reopen the thread of (tenant, number, sender) ``waiting_on_agent``, in
        ``queue``, with the flow's ``transcript`` and ``note``; returns its id.
        Raises StoreError."""
        now = self.now()
        tenant = tenant or self.tenants.get(sender)
        thread = self.store.find_thread(tenant, number, sender)
        if thread is None:
            thread = ThreadRecord(
                id=new_thread_id(), number=number, sender=sender, tenant=tenant, created_at=now
            )
        changes = _changed(thread, status=WAITING_ON_AGENT, queue=queue)
        thread.status, thread.queue, thread.pending_handoff = WAITING_ON_AGENT, queue, True
        thread.updated_at = now
        thread.handoff = {
            "queue": queue, "note": note, "transcript": list(transcript), "source": dict(source), "at": now,
        }  # fmt: skip
        self.store.save_thread(thread, [thread_updated(thread, now, reason="handoff", changes=changes)])
        log.info("thread handed off %s", kv(thread=thread.id, queue=queue, number=number, sender=sender))
        return thread.id

    # -- an agent's reply --------------------------------------------------------------------------

    def reply(
        self, thread: str | ThreadRecord, text: str, agent: str, *, tags: Sequence[str] = ()
    ) -> MessageRecord:
        """Send ``text`` to the thread's number from its sender, as ``agent``'s reply.

        Raises:
            KeyError: no such thread.
            ReplyBlocked: consent forbids it (nothing stored or sent).
            SubmitError: it cannot be sent as given (text too long, no route).
            StoreError: not stored, so not sent.
        """
        if isinstance(thread, str):
            found = self.store.get_thread(thread)
            if found is None:
                raise KeyError(thread)
            thread = found
        tags = ("thread", *tags)
        why = None if self.consent is None else self.consent(thread.number, thread.sender, tags)
        if why is not None:
            raise ReplyBlocked(why)
        message_id = os.urandom(16).hex()
        self.store.stage_thread_author(message_id, agent)  # written with the message by its add
        try:
            record = self.send(
                source=thread.sender, destination=thread.number, text=text, tags=tags, tenant=thread.tenant,
                message_id=message_id,
            )  # fmt: skip
        finally:
            self.store.stage_thread_author(message_id, None)
        if record.status is Status.BLOCKED:  # consent changed between the two checks
            raise ReplyBlocked(record.error or "blocked")
        log.info("thread reply %s", kv(thread=thread.id, message=record.id, agent=agent))
        return record

    # -- assign, close, reopen, tag ------------------------------------------------------------------

    def update(
        self,
        thread: str | ThreadRecord,
        *,
        status: str = UNSET,
        assignee: str | None = UNSET,
        tags: Iterable[str] = UNSET,
        by: str | None = None,
    ) -> ThreadRecord:
        """Apply the fields given to the thread as stored now (a message may have changed
        it since ``thread`` was read); one ``thread.updated`` event if anything changed.
        Raises KeyError (no such thread), StoreError."""
        found = self.store.get_thread(thread if isinstance(thread, str) else thread.id)
        if found is None:
            raise KeyError(thread if isinstance(thread, str) else thread.id)
        thread = found
        wanted: dict[str, Any] = {}
        if status is not UNSET:
            wanted["status"] = status
        if assignee is not UNSET:
            wanted["assignee"] = assignee
        if tags is not UNSET:
            wanted["tags"] = list(dict.fromkeys(tags))  # in order, once each
        changes = _changed(thread, **wanted)
        if not changes:
            return thread
        now = self.now()
        changed = attrs.evolve(thread, **wanted, updated_at=now)
        if changed.status == CLOSED:
            changed.pending_handoff = False
        self.store.save_thread(changed, [thread_updated(changed, now, reason="api", changes=changes, by=by)])
        log.info("thread updated %s", kv(thread=thread.id, by=by, fields=",".join(changes)))
        return changed

    # -- reading ------------------------------------------------------------------------------------

    def messages(self, thread: ThreadRecord, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The thread's messages with position > ``after``, in order: MT and MO, each with
        its direction, text, status and time (ISO 8601 UTC)."""
        out: list[dict[str, Any]] = []
        for e in self.store.thread_entries(thread.id, after=after, limit=limit):
            item: dict[str, Any] = {"n": e.n, "direction": e.direction, "at": _iso(e.at)}
            if e.message_id is not None:
                item.update(
                    _mt(self.store.get(e.message_id), self.store.wall), id=e.message_id, author=e.author
                )
            else:
                item.update(_mo(self._inbound(e.inbound_seq or 0)), inbound_seq=e.inbound_seq)
            out.append(item)
        return out

    def _inbound(self, seq: int) -> Any:
        found = self.store.inbound(after=seq - 1, limit=1)  # by its seq (the thread is the caller's)
        return found[0] if found and found[0].seq == seq else None


def _changed(thread: ThreadRecord, **wanted: Any) -> Mapping[str, dict[str, Any]]:
    return {
        name: {"from": getattr(thread, name), "to": value}
        for name, value in wanted.items()
        if getattr(thread, name) != value
    }


def _iso(wall: float | None) -> str | None:
    return None if wall is None else iso(wall)


def _mt(record: MessageRecord | None, wall: Callable[[float | None], float | None]) -> dict[str, Any]:
    if record is None:
        return {"from": None, "to": None, "text": None, "status": None}
    return {
        "from": record.source, "to": record.destination, "text": record.text, "status": record.status.value,
        "error": record.error, "updated_at": _iso(wall(record.updated_at)),
        "send_at": None if record.send_at is None else _iso(wall(record.send_at)),
    }  # fmt: skip


def _mo(record: Any) -> dict[str, Any]:
    if record is None:
        return {"from": None, "to": None, "text": None, "status": None}
    return {"from": record.source, "to": record.destination, "text": record.text, "status": "received",
            "keyword": record.keyword}  # fmt: skip


def thread_desk(
    store: object, send: Callable[..., MessageRecord], twoway: TwowayConfig, tenants: Mapping[str, str]
) -> ThreadDesk | None:
    """The desk of ``smppgw serve``, with threads turned on in ``store`` (``tenants``: our
    number -> tenant); None when ``[twoway] threads`` is false or for a store that keeps
    no threads. ``send``: ``Gateway.submit``; an agent's reply is checked against
    ``twoway.consent`` first."""
    if not twoway.threads or not isinstance(store, ThreadStore):
        return None
    consent_store = store if isinstance(store, ConsentStore) else None
    rules = twoway.consent

    def consent(number: str, sender: str, tags: tuple[str, ...]) -> str | None:
        index = None if consent_store is None else consent_store.consent(number)
        return None if index is None else rules.decide(index, sender, tags)

    desk_store = cast(ThreadDeskStore, store)

    def wall_now() -> float:
        return desk_store.wall(trio.current_time()) or 0.0

    desk_store.keep_threads(tenants)
    if isinstance(store, ThreadBackfill):
        store.thread_backfill(twoway.thread_backfill, twoway.thread_backfill_days)
    return ThreadDesk(desk_store, send=send, consent=consent, now=wall_now, tenants=tenants)
