"""The defaults of the per-key limits (``[api]``), apart from ``api.keys`` so that the
config can be read without importing the API (FastAPI)."""

from __future__ import annotations

import attrs

__all__ = ["KeyLimits"]


@attrs.frozen(kw_only=True)
class KeyLimits:
    """The ``[api]`` defaults. ``rate``/``burst`` and ``max_queued`` apply to store keys
    that set none of their own (None: no limit); config keys have none."""

    rate: float | None = 100.0
    burst: float | None = None  # None: 2 x rate
    max_queued: int | None = None
    auth_failures: int = 20
    auth_window: float = 60.0
    auth_block: float = 60.0
