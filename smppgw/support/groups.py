"""Exception-group hygiene: trio's nurseries wrap every error in an ExceptionGroup.

One place for the three things callers do with such a group: re-raise a lone member as
itself (``unwrap_single``, ``lone``), or look inside for an error of a kind they report
(``find``), or walk every member (``leaves``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["find", "leaves", "lone", "unwrap_single"]

_E = TypeVar("_E", bound=BaseException)


def lone(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The only exception inside ``group`` (through nested one-member groups), else None."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        if len(exc.exceptions) != 1:
            return None
        exc = exc.exceptions[0]
    return exc


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
        inner = lone(group)
        if inner is None:
            raise
        raise inner from group.__cause__


def leaves(exc: BaseException) -> list[BaseException]:
    """Every exception inside ``exc`` (nested groups flattened), in order; ``[exc]`` for
    an exception that is not a group."""
    if not isinstance(exc, BaseExceptionGroup):
        return [exc]
    out: list[BaseException] = []
    for inner in exc.exceptions:
        out += leaves(inner)
    return out


def find(exc: BaseException, kind: type[_E] | tuple[type[_E], ...]) -> _E | None:
    """``exc`` itself if it is a ``kind``, else the first ``kind`` inside (nested) groups."""
    for leaf in leaves(exc):
        if isinstance(leaf, kind):
            return leaf
    return None
