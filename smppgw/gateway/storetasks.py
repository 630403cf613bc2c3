"""The store's background tasks in ``smppgw serve`` (``app.run_app`` starts them): the
write-behind flush every ``flush_interval`` and the WAL checkpoints, each retried on
failure (nothing is lost meanwhile: ``StoreControl``)."""

from __future__ import annotations

import logging

import trio

from smppgw.store.base import StoreControl

__all__ = ["checkpointer", "flusher"]

log = logging.getLogger("smppgw.app")


async def flusher(store: StoreControl, interval: float) -> None:
    while True:
        await trio.sleep(interval)
        try:
            store.flush()
        except Exception:  # kept in memory for the next try (StoreControl.flush)
            log.exception("store flush failed; retrying")


async def checkpointer(store: StoreControl, interval: float = 1.0) -> None:
    """The store's checkpoints, in a worker thread: never on the event loop."""
    while True:
        await trio.sleep(interval)
        try:
            await trio.to_thread.run_sync(store.checkpoint)
        except Exception:  # the WAL keeps everything meanwhile; the next one catches up
            log.exception("store checkpoint failed; retrying")
