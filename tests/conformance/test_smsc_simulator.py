"""The whole SMSC suite, strict mode, against our simulator (profiles default and strict).

Every case must pass, except the ones in ``KNOWN_SIMULATOR_FINDINGS``: there the
*simulator* is wrong, and the case stays as it is (a conformance suite is not weakened
to fit the implementation it qualifies). Each entry says what the simulator does and what
the spec wants; fix the simulator and delete the entry. A listed case that starts passing
fails this test too, so the list cannot go stale.
"""

from __future__ import annotations

from typing import Final

import pytest
import trio

from conformance.model import Outcome
from conformance.smsc import ALL
from tests.conformance.helpers import explain, run_smsc, smsc_settings, start_simulator

#: case id -> (profiles where it fails, what the simulator gets wrong).
# Fixed since they were found: schedule_delivery_time ignored (manage.cancel-scheduled,
# manage.cancel-by-address, manage.replace-scheduled) and owed responses dropped on unbind
# (unbind.answers-pending-first). Add an entry here, with its explanation, for a new finding.
KNOWN_SIMULATOR_FINDINGS: Final[dict[str, tuple[frozenset[str], str]]] = {}

PROFILES: Final = {
    # the default profile, its receipt delay a tenth of the shipped one (which, up to 20 s,
    # would outlast these tests' short timers): receipts still come after the resp
    "default": {
        "behaviour": {"dlr_delay": {"kind": "lognormal", "p50": 0.15, "p99": 1.0, "min": 0.02, "max": 0.5}}
    },
    # strict validation, TPS/queue limits, resp latency; receipts sped up from ~2 s to 0
    "strict": {"behaviour": {"dlr_delay": 0.0}},
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_whole_smsc_suite_passes_in_strict_mode(profile: str) -> None:
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery, profile=profile, **PROFILES[profile])
        results = await run_smsc(smsc_settings(sim.port, strict=True))
        nursery.cancel_scope.cancel()
    assert set(results) == {c.id for c in ALL}
    known = {cid for cid, (profiles, _) in KNOWN_SIMULATOR_FINDINGS.items() if profile in profiles}
    unexpected = {cid for cid, r in results.items() if r.outcome is not Outcome.PASSED and cid not in known}
    assert not unexpected, explain(results, unexpected)
    fixed = {cid for cid in known if results[cid].outcome is Outcome.PASSED}
    assert not fixed, (
        f"simulator findings now pass, remove them from KNOWN_SIMULATOR_FINDINGS: {sorted(fixed)}"
    )


async def test_findings_are_failures_not_errors() -> None:
    """The known findings fail with a finding about the SMSC, never a suite error."""
    async with trio.open_nursery() as nursery:
        sim = await start_simulator(nursery)
        results = await run_smsc(smsc_settings(sim.port), only=KNOWN_SIMULATOR_FINDINGS)
        nursery.cancel_scope.cancel()
    for cid, (profiles, _) in KNOWN_SIMULATOR_FINDINGS.items():
        if "default" in profiles:
            assert results[cid].outcome is Outcome.FAILED, explain(results, [cid])
            assert results[cid].observed, "a failure carries the observed PDUs"
