"""The seam to the live progress display (``loadtest.live.LiveDisplay``, rich).

The runner only knows this Protocol: ``start(params)`` once, ``update(snapshot)`` once
per second (the newest timeline entry plus ``totals`` and ``elapsed_s``), ``stop()``
once. ``open_display`` picks the live view on a terminal and plain progress lines
(``loadtest.progress``) elsewhere, so a CI log shows a run is alive; it returns None
when nothing is wanted. The runner disables a display that raises. A missing or broken
display never breaks a run.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Display", "open_display"]

log = logging.getLogger(__name__)


class Display(Protocol):
    def start(self, params: dict[str, Any]) -> None: ...

    def update(self, snapshot: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


def open_display(
    live: bool | None, *, progress_every: float = 5.0, also: Sequence[Display] = ()
) -> Display | None:
    """``live`` True forces the live view, False disables it, None: only on a terminal.
    Without the live view, a plain progress line every ``progress_every`` seconds (0:
    none). ``also``: displays that get every call too (the Prometheus exporter)."""
    from loadtest.progress import PlainProgress, Tee

    shown: Display | None = None
    if live is True or (live is None and sys.stdout.isatty()):
        try:
            from loadtest import live as live_module

            shown = live_module.LiveDisplay()
        except Exception as exc:  # ImportError, or a constructor that fails
            log.info("no live display: %r", exc)
    if shown is None and progress_every > 0:
        shown = PlainProgress(progress_every)
    displays = [d for d in (shown, *also) if d is not None]
    if len(displays) <= 1:
        return displays[0] if displays else None
    return Tee(displays)
