"""The SMSC suite: the suite plays an ESME against a live SMSC.

Every case (``conformance.smsc.cases``) is a script of steps (``conformance.smsc.steps``)
run on fresh connections by ``run_smsc_cases``; negative cases write raw frames built with
``smppgw.core.codec``. See ``conformance.smsc.steps`` for the step DSL and
``conformance.smsc.factories`` for the building blocks cases are made of.
"""

from __future__ import annotations

from conformance.smsc.cases import ALL, AREAS
from conformance.smsc.context import SmscContext, SmscSettings
from conformance.smsc.runner import SmscCase, run_smsc_case, run_smsc_cases

__all__ = ["ALL", "AREAS", "SmscCase", "SmscContext", "SmscSettings", "run_smsc_case", "run_smsc_cases"]
