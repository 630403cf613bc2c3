"""Shared helpers for the conformance tests: a simulator on a free port, fast settings,
and running a selection of cases to a dict of results by case id."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from conformance.esme import ALL as ESME_CASES
from conformance.esme import EsmeSettings, run_esme_cases
from conformance.model import CaseResult, Outcome, select_cases
from conformance.smsc import ALL as SMSC_CASES
from conformance.smsc import SmscSettings, run_smsc_cases
from simulator import run_simulator
from simulator.config import config_from_dict
from simulator.smsc import Simulator

__all__ = [
    "ACCOUNT",
    "BAD_CLIENT",
    "GOOD_CLIENT",
    "HERE",
    "esme_settings",
    "failed",
    "run_esme",
    "run_smsc",
    "smsc_settings",
    "start_simulator",
]

HERE: Final = Path(__file__).resolve().parent
GOOD_CLIENT: Final = (sys.executable, str(HERE / "esme_client.py"), "--port", "{port}")
BAD_CLIENT: Final = (sys.executable, str(HERE / "bad_esme_client.py"), "--port", "{port}")
ACCOUNT: Final = {"system_id": "smppclient1", "password": "password"}
#: The simulator's timers, as the timer cases are told to expect them.
SESSION_INIT: Final = 0.4
INACTIVITY: Final = 1.5


async def start_simulator(nursery: trio.Nursery, **config: Any) -> Simulator:
    """A simulator on a free loopback port with short session timers; ``config`` as in TOML."""
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "seed": 7,
        "profile": "fast",  # receipts at once: a test that wants a carrier's delay asks for it
        "session": {
            "bind_timeout": SESSION_INIT,
            "inactivity_timeout": INACTIVITY,
            "enquire_link_interval": None,
        },
    }
    data.update(config)
    sim = await nursery.start(run_simulator, config_from_dict(data))
    assert isinstance(sim, Simulator)
    return sim


def smsc_settings(port: int, **overrides: Any) -> SmscSettings:
    """Tight timeouts: the simulator answers in milliseconds on loopback."""
    base = SmscSettings(
        host="127.0.0.1",
        port=port,
        system_id=ACCOUNT["system_id"],
        password=ACCOUNT["password"],
        strict=True,
        timeout=1.0,
        quiet=0.2,
        receipt_timeout=2.0,
        session_init_timeout=SESSION_INIT,
        inactivity_timeout=INACTIVITY,
        throttle_backoff=0.05,
    )
    return attrs.evolve(base, **overrides)


async def run_smsc(settings: SmscSettings, only: Iterable[str] = ()) -> dict[str, CaseResult]:
    cases = select_cases(SMSC_CASES, tuple(only))
    return {r.case.id: r for r in await run_smsc_cases(cases, settings)}


def esme_settings(command: tuple[str, ...], **overrides: Any) -> EsmeSettings:
    base = EsmeSettings(
        host="127.0.0.1",
        port=0,
        command=command,
        wait=10.0,
        window=10,
        timeout=1.0,
        quiet=0.4,
        connect_timeout=5.0,
        grace=2.0,
        strict=True,
    )
    return attrs.evolve(base, **overrides)


async def run_esme(settings: EsmeSettings, only: Iterable[str] = ()) -> dict[str, CaseResult]:
    cases = select_cases(ESME_CASES, tuple(only))
    report = await run_esme_cases(cases, settings)
    return {r.case.id: r for r in report.results}


def failed(results: dict[str, CaseResult]) -> set[str]:
    """Ids of the cases that did not pass (failed, errored or were skipped)."""
    return {case_id for case_id, r in results.items() if r.outcome is not Outcome.PASSED}


def explain(results: dict[str, CaseResult], ids: Iterable[str]) -> str:
    """Messages, notes and transcripts of ``ids``, for assertion messages."""
    out = []
    for case_id in sorted(ids):
        r = results[case_id]
        out.append(f"{r.verdict.value} {case_id}: {r.message}")
        out += [f"    note: {n}" for n in r.notes]
        out += [f"    {o}" for o in r.observed[-15:]]
    return "\n".join(out)
