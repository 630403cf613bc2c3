"""Exception-group hygiene for context managers that own a nursery."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["unwrap_single"]


@contextlib.contextmanager
def unwrap_single() -> Iterator[None]:
    """Re-raise the lone exception of a nursery's ExceptionGroup as itself.

    A context manager that runs background tasks in a nursery would otherwise turn
    every exception of its caller's body into an ExceptionGroup (trio's strict groups).
    Groups with several members pass through unchanged.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
            inner = group.exceptions[0]
            if not isinstance(inner, BaseExceptionGroup):
                raise inner from group.__cause__
            group = inner
        raise
