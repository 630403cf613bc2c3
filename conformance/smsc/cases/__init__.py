"""SMSC cases, one module per area; ``ALL`` lists them in run order."""

from __future__ import annotations

from conformance.smsc.cases import framing
from conformance.smsc.runner import SmscCase

__all__ = ["ALL"]

ALL: tuple[SmscCase, ...] = (*framing.CASES,)
