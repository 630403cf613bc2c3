"""What one ``Behaviour`` means for every message, worked out once per behaviour.

A submit asks the same questions of its account's behaviour each time: is any fault or
random error on, is there a response delay, is the outcome fixed. A ``Behaviour`` is
replaced, never changed, when it is patched at run time, so the answers are computed
once per behaviour object (``Plans``) and the default, fault-free path skips
the optional features with one flag test each instead of a dozen attribute tests.
"""

from __future__ import annotations

import attrs

from simulator.config import FINAL_STATES, Behaviour
from simulator.validate import ValidationPolicy
from smppgw.core.constants import MessageState

__all__ = ["Plan", "Plans", "plan_for"]


@attrs.frozen(kw_only=True)
class Plan:
    behaviour: Behaviour  # kept alive: plans are cached by id(behaviour)
    policy: ValidationPolicy
    # Faults that replace an answer (SMPP-REFERENCE §7.1): drop, black hole, nack, malformed.
    faults: bool
    # Admission rules besides the TPS buckets: queue_size, forced statuses, random errors.
    admit_rules: bool
    # resp_latency or response_delay can be non-zero: the response may be scheduled.
    resp_delayed: bool
    # The final state when no force rule decides outcomes and only one outcome is weighted
    # (no RNG draw is made for it, as in ``Receipts.decide``); None otherwise.
    fixed_state: MessageState | None
    # dlr_delay can be non-zero: it is sampled.
    dlr_delayed: bool


def plan_for(b: Behaviour) -> Plan:
    """The plan of ``b`` (cheap, but not for every PDU: ``Plans`` caches it)."""
    outcome_rules = any(rule.outcome is not None for rule in b.force)
    fixed_state = None
    if not outcome_rules and len(b.outcomes) == 1:
        fixed_state = FINAL_STATES[b.outcomes[0][0]]
    return Plan(
        behaviour=b,
        policy=ValidationPolicy(strict=b.strict),
        faults=bool(
            b.drop_after_pdus is not None
            or b.drop_probability
            or b.black_hole
            or b.nack_probability
            or b.malformed_probability
        ),
        admit_rules=bool(b.queue_size is not None or b.force or b.error_probability),
        resp_delayed=not (b.resp_latency.is_zero and b.response_delay.is_zero),
        fixed_state=fixed_state,
        dlr_delayed=not b.dlr_delay.is_zero,
    )


class Plans(dict[int, Plan]):
    """Plans by ``id(behaviour)``.

    Keyed by identity: hashing a 40-field ``Behaviour`` per PDU costs more than the
    validation. A plan keeps its behaviour alive, so the id cannot be reused while the
    entry exists.
    """

    __slots__ = ()  # no instance dict: ``plans.get`` finds dict.get with one lookup

    def of(self, b: Behaviour) -> Plan:
        plan = self.get(id(b))
        if plan is None or plan.behaviour is not b:
            plan = self[id(b)] = plan_for(b)
        return plan
