"""The defaults of the per-key limits (``[api]``), apart from ``api.keys`` so that the
config can be read without importing the API (FastAPI)."""

from __future__ import annotations

from typing import Any

import attrs

from smppgw.support.config import integer, positive

__all__ = ["KeyLimits", "key_limits_from"]


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


def key_limits_from(t: dict[str, Any]) -> KeyLimits:
    """``[api] key_rate`` ... ``auth_block`` (the ``[api]`` table): the defaults where unset."""
    given: dict[str, Any] = {}
    for name in ("key_rate", "key_burst", "auth_window", "auth_block"):
        if name in t:
            given[name.removeprefix("key_")] = positive(t[name], f"api.{name}")
    for name in ("key_max_queued", "auth_failures"):
        if name in t:
            given[name.removeprefix("key_")] = integer(t[name], f"api.{name}", 1, 100_000_000)
    return KeyLimits(**given)
