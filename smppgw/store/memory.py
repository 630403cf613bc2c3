"""The in-memory store: for tests and for one-shot tools (``smppgw send``, ``smppgw demo``).

It implements every protocol of ``store.base`` with the same answers as the SQLite
store, nothing durable: ``add`` refuses a duplicate id or idempotency key with
``StoreError`` (the whole batch, as SQLite's transaction does), ``save`` keeps the
record itself (so ``flush`` has nothing to write), and a process that ends forgets
everything. Times: records carry the trio clock; ``clock_offset`` (wall - monotonic)
turns them into wall-clock seconds for inbound messages, opt-outs and ``wall``.
Nothing is ever evicted: meant for runs that end, not for a server. A message's history
(``MessageRecord.history``) is kept on the record itself, so it is there as long as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smppgw.store.base import (
    INBOUND_NOTES,
    InboundPart,
    InboundRecord,
    MessageQuery,
    MessageRecord,
    StoreError,
    owes_work,
)
from smppgw.store.memory_consent import MemoryConsent
from smppgw.store.memory_conversations import MemoryConversations
from smppgw.store.memory_events import MemoryEvents
from smppgw.store.memory_flows import MemoryFlows
from smppgw.store.memory_keys import MemoryKeys
from smppgw.store.memory_threads import MemoryThreads
from smppgw.store.memory_vouchers import MemoryVouchers

if TYPE_CHECKING:
    from smppgw.store.base import InboundPartStore, Store, ThreadStore

__all__ = ["MemoryStore"]


class MemoryStore(
    MemoryEvents, MemoryKeys, MemoryConsent, MemoryConversations, MemoryVouchers, MemoryFlows, MemoryThreads
):
    """Implements every protocol of ``store.base`` (``Store``), in memory."""

    def __init__(self, *, clock_offset: float = 0.0) -> None:
        self.clock_offset = clock_offset
        self._messages: dict[str, MessageRecord] = {}
        self._keys: dict[tuple[str | None, str], str] = {}  # (tenant, idempotency key) -> message id
        self._inbound: list[InboundRecord] = []  # seq - 1 is the index
        self._parts: dict[tuple[object, ...], InboundPart] = {}  # held for reassembly
        # (smsc, key) -> (message id, part, submitted_at), oldest first (a put moves it last)
        self._correlations: dict[tuple[str, str], tuple[str, int, float]] = {}
        self._events_init()  # the outbox (store.memory_events)
        self._keys_init()  # API keys (store.memory_keys)
        self._consent_init()  # the consent history (store.memory_consent)
        self._conversations_init()  # conversations (store.memory_conversations)
        self._vouchers_init()  # voucher pools (store.memory_vouchers)
        self._flows_init()  # flows and their runs (store.memory_flows)
        self._threads_init()  # threads (store.memory_threads)

    def checkpoint(self) -> int:
        return 0  # nothing is written anywhere

    def close(self) -> None:
        """Nothing to release; the records stay readable."""

    def flush(self) -> int:
        return 0  # ``save`` keeps nothing back

    def wall(self, monotonic: float | None) -> float | None:
        return None if monotonic is None else monotonic + self.clock_offset

    # -- messages ---------------------------------------------------------------------------

    def add(self, messages: Sequence[MessageRecord]) -> None:
        known, keys = self._messages, self._keys
        opened = self._take_opened()  # written with these messages, or dropped with them
        if len(messages) == 1:  # the gateway's per-message call: no batch bookkeeping
            m = messages[0]
            if m.id in known:
                raise _taken("message id", m.id)
            if m.idempotency_key is not None and (m.tenant, m.idempotency_key) in keys:
                raise _taken("idempotency_key", m.idempotency_key)
        else:
            ids: set[str] = set()
            new_keys: set[tuple[str | None, str]] = set()
            for m in messages:
                if m.id in known or m.id in ids:
                    raise _taken("message id", m.id)
                ids.add(m.id)
                if m.idempotency_key is not None:
                    key = (m.tenant, m.idempotency_key)
                    if key in keys or key in new_keys:
                        raise _taken("idempotency_key", m.idempotency_key)
                    new_keys.add(key)
        for m in messages:
            known[m.id] = m
            if m.idempotency_key is not None:
                keys[m.tenant, m.idempotency_key] = m.id
        if opened:
            self._write_opened(opened)  # their conversations (store.memory_conversations)
        self._write_mt_threads(messages)  # their thread entries (store.memory_threads)

    def save(self, message: MessageRecord) -> None:
        self._messages[message.id] = message

    def get(self, message_id: str) -> MessageRecord | None:
        return self._messages.get(message_id)

    def find_key(self, idempotency_key: str, tenant: str | None = None) -> MessageRecord | None:
        message_id = self._keys.get((tenant, idempotency_key))
        return None if message_id is None else self._messages.get(message_id)

    def unfinished(self) -> list[MessageRecord]:
        """Messages still owed work, oldest first (a fresh store has none)."""
        return sorted((m for m in self._messages.values() if owes_work(m)), key=lambda m: m.created_at)

    def all(self) -> list[MessageRecord]:
        return list(self._messages.values())

    def counts(self) -> dict[str, int]:
        return dict(Counter(m.status.value for m in self._messages.values()))

    # -- inbound ----------------------------------------------------------------------------

    def add_inbound(
        self,
        *,
        smsc: str,
        source: str,
        destination: str,
        text: str,
        data_coding: int,
        parts: int,
        complete: bool,
        received_at: float,
        tenant: str | None = None,
        **notes: str | None,
    ) -> InboundRecord:
        record = InboundRecord(
            seq=len(self._inbound) + 1, smsc=smsc, source=source, destination=destination, text=text,
            data_coding=data_coding, parts=parts, complete=bool(complete),
            received_at=received_at + self.clock_offset, tenant=tenant,
            **{name: notes.get(name) for name in INBOUND_NOTES},
        )  # fmt: skip
        self._inbound.append(record)
        self._inbound_event(record)  # its message.inbound event
        self._write_mo_thread(record)  # its thread entry (store.memory_threads)
        return record

    def inbound(self, *, after: int = 0, limit: int = 100, tenant: str | None = None) -> list[InboundRecord]:
        if tenant is None:
            return self._inbound[after : after + limit]  # seq n sits at index n - 1
        return [m for m in self._inbound[after:] if m.tenant == tenant][:limit]

    # -- group commit and inbound parts ---------------------------------------------------------

    def commit(self) -> None:
        """Nothing is kept back: a no-op (the group commit of a durable store)."""

    def add_inbound_part(self, part: InboundPart) -> None:
        key = (part.smsc, part.source, part.destination, part.reference, part.total, part.seqnum)
        self._parts.setdefault(key, part)

    def drop_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> None:
        parts = self._parts
        for key in [k for k in parts if k[:5] == (smsc, source, destination, reference, total)]:
            del parts[key]

    def inbound_parts(self, smsc: str) -> list[InboundPart]:
        return sorted(
            (p for p in self._parts.values() if p.smsc == smsc), key=lambda p: (p.received_at, p.seqnum)
        )

    # -- listing ----------------------------------------------------------------------------

    def list_messages(self, query: MessageQuery) -> tuple[list[MessageRecord], tuple[float, str] | None]:
        """A scan of every message (this store is for tests and one-shot tools)."""
        offset = self.clock_offset
        found = sorted(
            ((m.created_at + offset, m.id, m) for m in self._messages.values()
             if query.matches(m, m.created_at + offset)),
            key=lambda t: (t[0], t[1]),
            reverse=True,
        )  # fmt: skip
        page = found[: query.limit]
        after = (page[-1][0], page[-1][1]) if len(found) > query.limit else None
        return [t[2] for t in page], after

    # -- correlations -----------------------------------------------------------------------

    def put_correlation(self, smsc: str, key: str, message_id: str, part: int, submitted_at: float) -> None:
        rows = self._correlations
        rows.pop((smsc, key), None)
        rows[smsc, key] = (message_id, part, submitted_at)

    def get_correlation(self, smsc: str, key: str) -> tuple[str, int] | None:
        row = self._correlations.get((smsc, key))
        return None if row is None else (row[0], row[1])

    def expire_correlations(self, before: float, limit: int = 10_000) -> int:
        """Rows are kept in put order, nearly submit order: drop from the oldest."""
        rows, dropped = self._correlations, 0
        while rows and dropped < limit:
            key = next(iter(rows))
            if rows[key][2] >= before:
                break
            del rows[key]
            dropped += 1
        return dropped


def _taken(what: str, value: str) -> StoreError:
    """A refused ``add``, worded like SQLite's constraint error."""
    return StoreError(f"store: UNIQUE constraint failed: {what} {value!r}")


if TYPE_CHECKING:

    def _implements(store: MemoryStore) -> Store:
        return store  # mypy checks MemoryStore against every protocol

    def _holds_parts(store: MemoryStore) -> InboundPartStore:
        return store

    def _keeps_threads(store: MemoryStore) -> ThreadStore:
        return store
