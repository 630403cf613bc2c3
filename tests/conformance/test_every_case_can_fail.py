"""Every SMSC case is able to fail: some deliberately wrong SMSC makes each one not pass.

A case that passes against everything proves nothing. The two doubles of
``tests.conformance.doubles`` (a yes-man and a no-man) together break every SMSC case;
the simulator faults of ``test_smsc_faults`` show the same for real behaviours.
"""

from __future__ import annotations

import trio

from conformance.model import Outcome
from conformance.smsc import ALL
from tests.conformance.doubles import no_man, serve_double, yes_man
from tests.conformance.helpers import run_smsc, smsc_settings


async def test_every_smsc_case_fails_against_some_wrong_smsc() -> None:
    never_failed = {c.id for c in ALL}
    async with trio.open_nursery() as nursery:
        for double in (yes_man, no_man):
            port = await nursery.start(serve_double, double)
            settings = smsc_settings(
                port, timeout=0.3, receipt_timeout=0.3, session_init_timeout=0.3, inactivity_timeout=0.3
            )
            results = await run_smsc(settings)
            never_failed -= {cid for cid, r in results.items() if r.outcome is not Outcome.PASSED}
            crashed = {cid: r.message for cid, r in results.items() if r.message.startswith("suite error")}
            assert not crashed, f"{double.__name__} crashed the suite: {crashed}"
        nursery.cancel_scope.cancel()
    assert not never_failed, f"these cases never fail, so they prove nothing: {sorted(never_failed)}"
