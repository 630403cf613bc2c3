"""The seam to the live progress display (``loadtest.live.LiveDisplay``, rich).

The runner only knows this Protocol: ``start(params)`` once, ``update(snapshot)`` once
per second (the newest timeline entry plus ``totals`` and ``elapsed_s``), ``stop()``
once. ``open_display`` returns None when no display is wanted or the display cannot be
imported or built; the runner disables a display that raises. A missing or broken
display never breaks a run.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

__all__ = ["Display", "open_display"]

log = logging.getLogger(__name__)


class Display(Protocol):
    def start(self, params: dict[str, Any]) -> None: ...

    def update(self, snapshot: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


def open_display(live: bool | None) -> Display | None:
    """``live`` True forces the display, False disables it, None: only on a terminal."""
    if live is False or (live is None and not sys.stdout.isatty()):
        return None
    try:
        from loadtest import live as live_module

        display: Display = live_module.LiveDisplay()
    except Exception as exc:  # ImportError, or a constructor that fails
        log.info("no live display: %r", exc)
        return None
    return display
