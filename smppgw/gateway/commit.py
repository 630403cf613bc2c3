"""Group commit (DESIGN §3): one transaction for everything that must be durable before
it is told, shared by every bind and every dispatcher of the gateway.

Two kinds of work wait for a commit:

- the answers to deliver_sm (receipts, MO parts), which the SMSC may hear only once the
  change they cause is on disk: ``Deliveries`` hands a read batch's answers to ``defer``;
- the submit_sm a dispatcher is about to write, ``submitting`` on disk first: the
  dispatcher calls ``commit_now`` before it yields (its connection writers run only
  after that).

``commit_now`` commits once and then sends every deferred answer, so a dispatcher's
commit carries the receipts read since the last one. Answers deferred while no
dispatcher commits go out when the SMSC has gone quiet for ``max_delay`` seconds (no
new deferral), or ``max_wait`` seconds after the first of them if receipts keep coming
(the committer task, ``run``). An SMSC that waits for each answer (a deliver_sm window
of 1) is answered ``max_delay`` after its deliver_sm, as before; one that streams
receipts gets one commit per ``max_wait`` instead of one per ``max_delay``. Under load
that makes about one commit per dispatcher cycle, plus a few for receipts; a commit has
a fixed cost (about 160 us on SQLite: the transaction, the WAL frames of the pages it
touches, most of them the same few at the end of each index) beside its cost per
change, so fewer commits is a good part of the store's throughput.

A store that keeps nothing back (the memory store) has nothing to wait for: answers go
out at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import trio

from smppgw.core.constants import CommandStatus
from smppgw.core.pdu import Response
from smppgw.net.connection import SmppConnection
from smppgw.store.base import StoreError

__all__ = ["GroupCommit"]

log = logging.getLogger(__name__)

_NOT_RECORDED = int(CommandStatus.ESME_RX_T_APPN)  # the commit failed: redeliver later

Answer = tuple[SmppConnection, int, Response, int]  # (connection, sequence, response, status)


class GroupCommit:
    def __init__(
        self, commit: Callable[[], object] | None, *, max_delay: float = 0.002, max_wait: float = 0.01
    ) -> None:
        """``commit``: the store's ``StoreControl.commit``; None for a store that keeps
        nothing back. ``max_delay``: how long after the last deferral the committer task
        commits for answers no dispatcher committed; ``max_wait``: how long after the
        first, at most, while deferrals keep coming."""
        self._commit = commit
        self.max_delay = max_delay
        self.max_wait = max(max_wait, max_delay)
        self._answers: list[Answer] = []
        self._wake = trio.Event()
        self._last = 0.0  # when the newest answer was deferred (trio clock)
        self.commits = 0

    @property
    def durable(self) -> bool:
        return self._commit is not None

    def defer(self, answers: list[Answer]) -> None:
        """Send ``answers`` after the next commit (at once for a store with none)."""
        if self._commit is None:
            _send(answers, ok=True)
            return
        self._answers += answers
        self._last = trio.current_time()
        self._wake.set()

    def commit_now(self) -> None:
        """Commit, then send the deferred answers (each with ESME_RX_T_APPN instead of
        ESME_ROK if the commit failed, so the SMSC redelivers).

        Raises:
            StoreError: the commit failed (the answers were sent as failures first).
        """
        if self._commit is None:
            return
        answers, self._answers = self._answers, []
        try:
            self._commit()
        except StoreError:
            if answers:
                log.exception("store commit failed; %d deliveries answered ESME_RX_T_APPN", len(answers))
                _send(answers, ok=False)
            raise
        self.commits += 1
        _send(answers, ok=True)

    async def run(self) -> None:
        """Commit for deferred answers no dispatcher committed: ``max_delay`` after the
        last deferral, at most ``max_wait`` after the first."""
        if self._commit is None:
            return
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            first = trio.current_time()
            while self._answers:
                # Quiet for max_delay, or max_wait since the first: whichever comes first.
                due = min(self._last + self.max_delay, first + self.max_wait)
                if trio.current_time() >= due:
                    # A failure is logged and answered by commit_now; the next change retries.
                    with contextlib.suppress(StoreError):
                        self.commit_now()
                    break
                await trio.sleep_until(due)
            self._wake = trio.Event()  # what the commit carried set it: nothing is waiting


def _send(answers: list[Answer], *, ok: bool) -> None:
    for conn, sequence_number, response, status in answers:
        conn.send_response(sequence_number, response, status if ok else (status or _NOT_RECORDED))
