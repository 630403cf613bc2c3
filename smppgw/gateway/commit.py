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
dispatcher commits wait at most ``max_delay`` seconds for the committer task (``run``).
Under load that makes one commit per dispatcher cycle instead of one per read plus one
per cycle; a commit costs about the same for one change as for a hundred (the pages
it writes), so fewer commits is most of the store's throughput.

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
    def __init__(self, commit: Callable[[], object] | None, *, max_delay: float = 0.002) -> None:
        """``commit``: the store's ``StoreControl.commit``; None for a store that keeps
        nothing back. ``max_delay``: how long deferred answers wait for a dispatcher's
        commit before the committer task commits for them."""
        self._commit = commit
        self.max_delay = max_delay
        self._answers: list[Answer] = []
        self._wake = trio.Event()
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
        """Commit for deferred answers no dispatcher commit took within ``max_delay``."""
        if self._commit is None:
            return
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            await trio.sleep(self.max_delay)
            # A failure is logged and answered by commit_now; the next change retries.
            with contextlib.suppress(StoreError):
                if self._answers:
                    self.commit_now()


def _send(answers: list[Answer], *, ok: bool) -> None:
    for conn, sequence_number, response, status in answers:
        conn.send_response(sequence_number, response, status if ok else (status or _NOT_RECORDED))
