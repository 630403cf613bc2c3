"""SMSC cases, one module per area; ``ALL`` lists them in run order."""

from __future__ import annotations

from conformance.smsc.cases import (
    bind,
    delivery,
    enquire_link,
    framing,
    generic_nack,
    manage,
    submit,
    text,
    timers,
    tlv,
    unbind,
    windowing,
)
from conformance.smsc.runner import SmscCase

__all__ = ["ALL", "AREAS"]

AREAS: dict[str, tuple[SmscCase, ...]] = {
    "framing": framing.CASES,
    "bind": bind.CASES,
    "enquire_link": enquire_link.CASES,
    "generic_nack": generic_nack.CASES,
    "unbind": unbind.CASES,
    "window": windowing.CASES,
    "submit": submit.CASES,
    "manage": manage.CASES,
    "delivery": delivery.CASES,
    "tlv": tlv.CASES,
    "text": text.CASES,
    "timers": timers.CASES,
}

ALL: tuple[SmscCase, ...] = tuple(c for cases in AREAS.values() for c in cases)

_ids = [c.id for c in ALL]
assert len(set(_ids)) == len(_ids), "duplicate case ids"
assert all(c.area == area for area, cases in AREAS.items() for c in cases), "case id outside its area"
del _ids
