"""Retry classes (SMPP-REFERENCE §2, checklist 46-47) and jittered backoff."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import CommandStatus as S
from smppgw.core.constants import StatusClass
from smppgw.policy.retry import Backoff, Decision, RetryPolicy, Verdict

RNG = random.Random(0)
POLICY = RetryPolicy(max_attempts=5, max_age=600.0)


@pytest.mark.parametrize(
    "status", [S.ESME_RSYSERR, S.ESME_RMSGQFUL, S.ESME_RTHROTTLED, S.ESME_RX_T_APPN, S.ESME_RSERTYPUNAVAIL]
)
def test_transient_statuses_are_retried(status: int) -> None:
    decision = POLICY.decide(status, attempts=1, age=1.0, rng=RNG)
    assert decision.verdict is Verdict.RETRY
    assert decision.delay > 0
    assert decision.reason == S(status).name


@pytest.mark.parametrize(
    "status",
    [
        S.ESME_RINVMSGLEN,
        S.ESME_RINVSRCADR,
        S.ESME_RINVDSTADR,
        S.ESME_RINVESMCLASS,
        S.ESME_RSUBMITFAIL,  # context: permanent by default
        S.ESME_RUNKNOWNERR,
        S.ESME_RX_P_APPN,
        0x401,  # vendor-specific: permanent unless the carrier's table says otherwise
    ],
)
def test_permanent_statuses_are_rejected_at_once(status: int) -> None:
    for attempts in (1, 5, 50):  # rejected, not "failed", even at the attempt limit
        decision = POLICY.decide(status, attempts=attempts, age=1.0, rng=RNG)
        assert decision == Decision(Verdict.REJECT, 0.0, decision.reason)
    assert POLICY.decide(0x401, attempts=1, age=0, rng=RNG).reason == "0x00000401"


@pytest.mark.parametrize("status", [S.ESME_RINVBNDSTS, S.ESME_RALYBND, S.ESME_RINVCMDID])
def test_session_statuses_rebind(status: int) -> None:
    assert POLICY.decide(status, attempts=1, age=1.0, rng=RNG).verdict is Verdict.REBIND


def test_no_response_is_transient() -> None:
    decision = POLICY.decide(None, attempts=2, age=1.0, rng=RNG)
    assert decision.verdict is Verdict.RETRY and decision.reason == "no response"


def test_attempt_and_age_limits() -> None:
    assert POLICY.decide(S.ESME_RSYSERR, attempts=4, age=1.0, rng=RNG).verdict is Verdict.RETRY
    assert POLICY.decide(S.ESME_RSYSERR, attempts=5, age=1.0, rng=RNG) == Decision(
        Verdict.FAIL, 0.0, "ESME_RSYSERR: 5 attempts"
    )
    assert POLICY.decide(None, attempts=1, age=600.0, rng=RNG) == Decision(
        Verdict.FAIL, 0.0, "no response: older than 600s"
    )
    assert POLICY.decide(S.ESME_RINVBNDSTS, attempts=5, age=1.0, rng=RNG).verdict is Verdict.FAIL


def test_per_carrier_overrides() -> None:
    policy = RetryPolicy(overrides={0x401: StatusClass.TRANSIENT, S.ESME_RSUBMITFAIL: StatusClass.TRANSIENT})
    assert policy.decide(0x401, attempts=1, age=0, rng=RNG).verdict is Verdict.RETRY
    assert policy.decide(S.ESME_RSUBMITFAIL, attempts=1, age=0, rng=RNG).verdict is Verdict.RETRY
    assert policy.classify(S.ESME_RSYSERR) is StatusClass.TRANSIENT
    strict = RetryPolicy(overrides={S.ESME_RSYSERR: StatusClass.PERMANENT})
    assert strict.decide(S.ESME_RSYSERR, attempts=1, age=0, rng=RNG).verdict is Verdict.REJECT


def test_throttling_uses_its_own_backoff() -> None:
    policy = RetryPolicy(
        backoff=Backoff(initial=0.1, jitter=0.0), throttle_backoff=Backoff(initial=5.0, jitter=0.0)
    )
    assert policy.decide(S.ESME_RTHROTTLED, attempts=1, age=0, rng=RNG).delay == 5.0
    assert policy.decide(S.ESME_RMSGQFUL, attempts=2, age=0, rng=RNG).delay == 10.0
    assert policy.decide(S.ESME_RSYSERR, attempts=2, age=0, rng=RNG).delay == pytest.approx(0.2)


@given(
    initial=st.floats(0.01, 10),
    factor=st.floats(1.0, 4.0),
    maximum=st.floats(0.01, 120),
    jitter=st.floats(0.0, 0.99),
    attempt=st.integers(-2, 40),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_within_its_jitter_bounds(
    initial: float, factor: float, maximum: float, jitter: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(initial=initial, factor=factor, maximum=maximum, jitter=jitter)
    base = min(maximum, initial * factor ** max(0, attempt - 1))
    delay = backoff.delay(attempt, random.Random(seed))
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    assert delay >= 0


def test_backoff_grows_then_caps_and_jitters() -> None:
    backoff = Backoff(initial=1.0, factor=2.0, maximum=8.0, jitter=0.0)
    assert [backoff.delay(n, RNG) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    jittered = Backoff(initial=1.0, jitter=0.5)
    rng = random.Random(1)
    delays = {round(jittered.delay(1, rng), 6) for _ in range(50)}
    assert len(delays) > 40 and min(delays) >= 0.5 and max(delays) <= 1.5
