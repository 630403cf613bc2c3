"""ESME cases, one module per area; ``ALL`` lists them in run order.

The order matters for the cases that hold back the client's submit_sm: they are given
the client's submits in this order (``EsmeCase.submits``), so the window case, which
takes every submit until it is done, comes last.
"""

from __future__ import annotations

from conformance.esme.cases import delivery, flow, keepalive, session
from conformance.esme.context import EsmeCase

__all__ = ["ALL", "AREAS"]

AREAS: dict[str, tuple[EsmeCase, ...]] = {
    "keepalive": keepalive.CASES,
    "delivery": delivery.CASES,
    "flow": flow.CASES,
    "session": session.CASES,
}

ALL: tuple[EsmeCase, ...] = tuple(c for cases in AREAS.values() for c in cases)

_ids = [c.id for c in ALL]
assert len(set(_ids)) == len(_ids), "duplicate case ids"
assert all(c.area == area for area, cases in AREAS.items() for c in cases), "case id outside its area"
del _ids
