"""The crash campaign, short and seeded: 300 messages through ``smppgw serve`` (a real
process, SQLite) to ``smppsim`` (a real process), the gateway SIGKILLed twice under load
and restarted. Everything acknowledged is delivered, and every duplicate the SMSC saw is
counted in its part's ``resent_unknown``. And the reconciliation itself: it does flag a
duplicate beyond ``resent_unknown``, a message shown sent that never reached the SMSC, and
one that is not final."""

from __future__ import annotations

from typing import Any

from campaigns.common import destination
from campaigns.crash import run
from campaigns.reconcile import reconcile


def test_two_sigkills_under_load_lose_nothing_and_every_duplicate_is_counted() -> None:
    result = run(count=300, kills=2, seed=7, max_time=120, say=lambda _: None)
    s = result.summary
    assert result.violations == [], result.violations
    assert len(result.kills) == 2
    assert all(k["restart_s"] > 0 for k in result.kills)
    assert s.sent == result.records == s.delivered == 300
    assert s.stuck == s.lost == s.unreached == s.uncounted == s.strangers == 0
    assert s.duplicated == s.counted <= result.resent_unknown
    # 330 parts (every tenth message has two), each with its receipt.
    assert result.receipts.get("delivered", 0) >= 330
    assert result.pending_receipts == 0


def _view(status: str, *parts: tuple[str | None, int]) -> dict[str, Any]:
    return {
        "status": status,
        "parts": [
            {"index": k, "smsc_message_id": sid, "resent_unknown": resent, "status": status}
            for k, (sid, resent) in enumerate(parts, 1)
        ],
    }


def _received(i: int) -> dict[str, Any]:
    return {"destination_addr": destination(i), "esm_class": 0, "payload_hex": "6869"}


def test_the_reconciliation_flags_uncounted_duplicates_losses_and_stuck_messages() -> None:
    acked = {0: "a", 1: "b", 2: "c", 3: "d"}
    views = {
        "a": _view("delivered", ("1", 1)),  # two copies, one counted: fine
        "b": _view("delivered", ("2", 0)),  # two copies, none counted: uncounted
        "c": _view("delivered", ("3", 0)),  # shown sent, never at the SMSC: lost
        "d": _view("submitted", ("4", 0)),  # not final: stuck
    }
    received = [_received(0), _received(0), _received(1), _received(1), _received(3), _received(9)]
    r = reconcile(acked, views, received, range(10))
    assert (r.sent, r.delivered, r.stuck) == (4, 3, 1)
    assert (r.duplicated, r.counted, r.uncounted) == (2, 1, 1)
    assert (r.lost, r.unreached, r.strangers) == (1, 1, 1)
    assert len(r.problems) == 4, r.problems
