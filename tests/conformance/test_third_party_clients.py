"""The ESME suite against two independent clients: python-smpplib and aiosmpplib.

Their failures are findings about those clients (as they are commonly used), not errors
of the suite. They are recorded here, with the reason read from each library's source,
so the record stays true: a finding that disappears, or a new one, fails this test.
"""

from __future__ import annotations

import sys
from typing import Final

import pytest
import trio

from conformance.model import CaseResult, Outcome
from tests.conformance.helpers import HERE, esme_settings, explain, run_esme

KNOWN_CLIENT_FINDINGS: Final[dict[str, dict[str, str]]] = {
    "smpplib": {
        "flow.window-respected": "smpplib has no window: send_message() writes at once, all 16 submits "
        "go out unanswered (the window is left to the application)",
        "flow.throttled-resubmitted": "smpplib hands ESME_RTHROTTLED to error_pdu_handler (raises by default) "
        "and never resubmits",
        "session.answers-smsc-unbind": "smpplib 2.2.4 Client.read_once() logs an SMSC's unbind "
        "('Unbind command received') and returns without sending unbind_resp",
    },
    "aiosmpplib": {
        "flow.window-respected": "aiosmpplib 0.7.4 writes every queued submit_sm without waiting for "
        "responses (no window; its throttle handler only paces after throttling)",
        "flow.throttled-resubmitted": "aiosmpplib reports the ESME_RTHROTTLED response to the hook and "
        "does not resubmit the message itself",
        "session.unbinds-cleanly": "aiosmpplib ESME._disconnect writes unbind, write_eof()s and drops its "
        "StreamWriter, so the socket closes before the unbind_resp arrives",
    },
}
CLIENTS: Final = {
    "smpplib": (sys.executable, str(HERE / "smpplib_client.py"), "--port", "{port}", "--stay", "3"),
    "aiosmpplib": (sys.executable, str(HERE / "aiosmpplib_client.py"), "--port", "{port}", "--stay", "3"),
}


@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_third_party_clients_findings_are_as_recorded() -> None:
    got: dict[str, dict[str, CaseResult]] = {}

    async def one(name: str) -> None:
        got[name] = await run_esme(esme_settings(CLIENTS[name], wait=9.0))

    async with trio.open_nursery() as nursery:
        for name in CLIENTS:
            nursery.start_soon(one, name)
    for name, results in got.items():
        errors = {cid for cid, r in results.items() if r.outcome is Outcome.ERROR}
        assert not errors, f"{name}: the suite could not run\n" + explain(results, errors)
        findings = {cid for cid, r in results.items() if r.outcome is Outcome.FAILED}
        assert findings == set(KNOWN_CLIENT_FINDINGS[name]), f"{name}:\n" + explain(
            results, findings ^ set(KNOWN_CLIENT_FINDINGS[name])
        )
