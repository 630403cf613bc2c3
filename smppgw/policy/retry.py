"""What to do after a submit fails: requeue, reject or rebind (SMPP-REFERENCE §2).

Pure: the RNG for jitter is injected. The classification defaults follow Kannel (transient
0x08, 0x14, 0x58, 0x64, plus 0x102) and can be overridden per carrier, because vendor codes
(0x400-0x4FF) and the "context" statuses (0x45, 0xFF) mean different things at each.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping

import attrs

from smppgw.core.constants import CommandStatus, StatusClass, classify_status

__all__ = ["Backoff", "Decision", "RetryPolicy", "Verdict"]


class Verdict(enum.Enum):
    RETRY = "retry"  # transient: requeue the same message (same id), after a backoff
    REJECT = "reject"  # permanent: final `rejected` with the status
    REBIND = "rebind"  # the bind is unusable: requeue the message and rebind
    FAIL = "fail"  # out of attempts or too old: final `failed`


@attrs.frozen
class Decision:
    verdict: Verdict
    delay: float = 0.0
    reason: str = ""


@attrs.frozen(kw_only=True)
class Backoff:
    """Jittered exponential backoff: ``initial * factor**n``, capped, with +-``jitter``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.2  # fraction

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before attempt ``attempt`` (1 = the first retry)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return max(0.0, base * (1 + self.jitter * (2 * rng.random() - 1)))


@attrs.frozen(kw_only=True)
class RetryPolicy:
    max_attempts: int = 5
    max_age: float = 3600.0  # seconds since the message was accepted
    backoff: Backoff = Backoff()
    throttle_backoff: Backoff = Backoff(initial=1.0, factor=2.0, maximum=30.0)
    overrides: Mapping[int, StatusClass] = attrs.field(factory=dict)  # per-carrier table

    def classify(self, status: int) -> StatusClass:
        cls = self.overrides.get(status)
        if cls is not None:
            return cls
        cls = classify_status(status)
        return StatusClass.PERMANENT if cls is StatusClass.CONTEXT else cls

    def decide(self, status: int | None, *, attempts: int, age: float, rng: random.Random) -> Decision:
        """``status`` None means no answer (response timeout or lost bind).

        ``attempts`` counts submits already made for this part (>= 1).
        """
        if status is None:
            cls = StatusClass.TRANSIENT
            reason = "no response"
        else:
            cls = self.classify(status)
            try:
                reason = CommandStatus(status).name
            except ValueError:
                reason = f"0x{status:08X}"
        if cls is StatusClass.PERMANENT:
            return Decision(Verdict.REJECT, 0.0, reason)
        if attempts >= self.max_attempts:
            return Decision(Verdict.FAIL, 0.0, f"{reason}: {attempts} attempts")
        if age >= self.max_age:
            return Decision(Verdict.FAIL, 0.0, f"{reason}: older than {self.max_age:.0f}s")
        if cls is StatusClass.SESSION:
            return Decision(Verdict.REBIND, 0.0, reason)
        throttled = status in (CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL)
        backoff = self.throttle_backoff if throttled else self.backoff
        return Decision(Verdict.RETRY, backoff.delay(attempts, rng), reason)
