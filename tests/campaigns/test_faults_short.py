"""The fault campaign, short and seeded: 100 messages per simulator fault through one
``smppgw serve`` (a real process) and ``smppsim`` (a real process, restarted once).
Nothing acknowledged is lost or stuck, no duplicate goes uncounted, and after the SMSC
restarts counting its ids from 1, no receipt lands on the wrong message."""

from __future__ import annotations

from campaigns.faults import FAULTS, run


def test_every_fault_loses_nothing_and_counts_every_duplicate() -> None:
    results = {r.fault: r for r in run(per_fault=100, seed=1, phase_time=45, say=lambda _: None)}
    assert list(results) == [f.name for f in FAULTS]
    for name, r in results.items():
        s = r.summary
        assert r.violations == [], (name, r.violations)
        assert s.sent == 100, name
        assert s.stuck == s.lost == s.uncounted == s.strangers == r.misapplied == 0, name
        assert s.duplicated == s.counted, name
        if not name.startswith("SMSC restart"):
            assert s.delivered == 100, (name, dict(s.failed))
    # Faults that take binds down: the gateway was seen without them, and got them back.
    for name in ("drops (every 40 PDUs)", "black hole 3 s", "SMSC unbind at 0.5 s"):
        rebind = results[name].rebind
        assert rebind is not None and rebind < 30, name
    # The faults fired: the SMSC answered with generic_nack and ESME_RSYSERR.
    assert results["generic_nack 5%"].refusals + results["ESME_RSYSERR 5%"].refusals > 0
    assert results["none"].refusals == 0
    # The restart: what the old SMSC took never gets its receipt (unknown, after the
    # grace); what the new one took is delivered, though its ids repeat the old ones.
    restart = results["SMSC restart, ids from 1"].summary
    assert restart.delivered >= 50 and restart.failed["unknown"] >= 20
    assert restart.delivered + restart.failed["unknown"] == 100
