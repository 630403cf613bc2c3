"""The receipt deadline shared by several gateways (issue 19; the store's half is
``store.redis_guards``).

Theory of operation. One gateway keeps the receipt deadline of the parts it sent in
memory (``ReceiptBook.overdue``): if it dies and never comes back, nothing else would
make its submitted-but-unreceipted messages final. So on the shared store the deadline
is kept in Redis too: when a part is submitted (with a receipt asked for), its message
goes into a sorted set scored by the part's deadline (validity + ``receipt_grace``
after the submit; the latest part's counts), written with the part's correlation. Every
gateway, once a second, takes the due entries still not final (``claim_overdue``: one
atomic step that also leases each to it for ``lease`` seconds, so a gateway that dies
while settling leaves the entry to another), and settles each as the sender would:
every part without a final receipt ``unknown``, the message ``unknown`` with its history
entry and its ``message.status`` event (``ReceiptBook.settle_overdue``). That change is
guarded: written only if the message is still ``submitted`` or ``en_route`` in Redis, in
the same atomic step, so a receipt another gateway applied first wins and no second final
event is written. A message the local correlator still holds open is left to the local
deadline (it fires at the same time; the entry comes back after the lease, and is gone
once the message is final). A message saved final leaves the set.

SQLite and memory stores have one gateway: none of this runs there.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import trio

from smppgw.store.base import MessageRecord, StoreError
from smppgw.support.logsafe import kv

if TYPE_CHECKING:
    from smppgw.gateway.receipts import ReceiptBook

__all__ = ["DeadlineStore", "Guarded", "SharedDeadline"]

log = logging.getLogger(__name__)


@runtime_checkable
class Guarded(Protocol):
    """Guarded writes (``RedisStore``): a change applied only if the stored status is
    one of ``allowed``, checked in the commit's atomic step."""

    def guard(self, message_id: str, allowed: Collection[str]) -> None: ...
    def refused(self, message_id: str) -> bool: ...
    def commit(self) -> None: ...


@runtime_checkable
class DeadlineStore(Guarded, Protocol):
    """The shared receipt deadline (``RedisStore``); times on the trio clock."""

    def put_deadline(self, message_id: str, at: float) -> None: ...
    def claim_overdue(self, now: float, limit: int, lease: float) -> list[MessageRecord]: ...


class SharedDeadline:
    """Settles any gateway's messages past their receipt deadline (a task of the work
    queue, ``gateway.workqueue``)."""

    def __init__(
        self, receipts: ReceiptBook, store: DeadlineStore, *, lease: float = 30.0, every: float = 1.0,
        batch: int = 100,
    ) -> None:  # fmt: skip
        self.receipts = receipts
        self.store = store
        self.lease = lease
        self.every = every
        self.batch = batch
        self.settled = 0  # messages this gateway made unknown here (guard passed)

    def sweep(self, now: float) -> int:
        """One round: returns how many messages this gateway made ``unknown``."""
        done = 0
        while True:
            records = self.store.claim_overdue(now, self.batch, self.lease)
            mine = [r for r in records if self.receipts.settle_overdue(r, now)]
            if mine:
                self.store.commit()  # the guarded writes, now: a refused one is known
                done += sum(1 for r in mine if not self.store.refused(r.id))
            if len(records) < self.batch:
                break
        self.settled += done
        return done

    async def run(self) -> None:
        while True:
            await trio.sleep(self.every)
            try:
                if n := self.sweep(trio.current_time()):
                    log.info("receipt deadline: %d messages of any gateway made unknown", n)
            except StoreError as exc:  # Redis away: the entries wait in Redis, leased or not
                log.warning("receipt deadline: sweep failed %s", kv(error=str(exc)))
