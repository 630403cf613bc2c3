"""Intake: the one plan step (validate -> route -> split -> limits -> PDUs), without a network.

The gateway is built but not run: nothing binds, so every SMSC is down unless a test puts
a sender into its pool's list of bound senders (what a bind does).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.gateway.intake import Intake
from smppgw.gateway.messages import SubmitError
from smppgw.store.base import Status

_LONG = "x" * 200  # GSM 7-bit: two parts with an 8-bit UDH


def _smsc(name: str) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": 1, "system_id": "s", "password": "p"}


def _gateway(**tables: Any) -> Gateway:
    smscs = tables.pop("smscs", ["a", "b"])
    config = config_from_dict({"smsc": [_smsc(n) for n in smscs], **tables})
    gw = Gateway(config, rng=random.Random(1))
    gw.intake.now = lambda: 0.0  # not in a trio run: a fixed clock
    return gw


def _up(gw: Gateway, name: str) -> None:
    gw.smscs[name].pool.senders.append(object())  # type: ignore[arg-type]  # a bound sender


def _fields(**more: Any) -> Any:
    return {"source": "12345", "destination": "447700900001", "text": "hi", **more}


def test_a_long_message_becomes_parts_with_one_reference_and_a_job_each() -> None:
    gw = _gateway()
    record, plan = gw.intake.accept(_fields(text=_LONG))
    assert plan is not None
    assert (record.status, record.route, record.smsc) == (Status.QUEUED, "default", "a")
    assert [(p.index, p.total) for p in record.parts] == [(1, 2), (2, 2)]
    assert plan.dispatcher is gw.smscs["a"].dispatcher
    assert [j.part for j in plan.jobs] == record.parts
    udhs = [j.pdu.short_message[:6] for j in plan.jobs]  # 05 00 03 ref total n (UDH8)
    assert udhs[0][3] == udhs[1][3] == record.reference % 256
    assert [u[5] for u in udhs] == [1, 2]
    assert len(gw.smscs["a"].dispatcher) == 0  # planned, not queued
    plan.enqueue()
    assert len(gw.smscs["a"].dispatcher) == 2


def test_the_first_tier_with_a_bind_up_wins_and_exclude_skips_an_smsc() -> None:
    gw = _gateway(route=[{"name": "r", "smscs": ["a", "b"]}])
    intake = gw.intake
    assert intake.accept(_fields())[0].smsc == "a"  # all down: the route's first, it waits
    _up(gw, "b")
    assert intake.accept(_fields())[0].smsc == "b"
    _up(gw, "a")
    assert intake.accept(_fields())[0].smsc == "a"
    record, _ = intake.accept(_fields())
    assert intake.plan(record, exclude=frozenset({"a"})).dispatcher is gw.smscs["b"].dispatcher
    with pytest.raises(SubmitError, match="no SMSC left"):
        intake.plan(record, exclude=frozenset({"a", "b"}))


def test_what_cannot_be_sent_is_refused_before_anything_is_queued() -> None:
    gw = _gateway(route=[{"name": "uk", "prefixes": ["44"], "smscs": ["a"]}])
    with pytest.raises(SubmitError, match="no route"):
        gw.intake.accept(_fields(destination="33600000001"))
    with pytest.raises(SubmitError, match="text"):
        gw.intake.accept(_fields(text="x" * 100_000))
    with pytest.raises(SubmitError, match="not a phone number"):
        gw.intake.accept(_fields(destination="ACME"))
    assert gw.queued() == 0


def test_resume_keeps_the_smsc_the_parts_and_the_bytes() -> None:
    gw = _gateway(route=[{"name": "r", "smscs": [["a", "b"]]}])
    record, plan = gw.intake.accept(_fields(text=_LONG))
    assert plan is not None
    sent = [j.pdu for j in plan.jobs]
    parts = record.parts
    record.status = Status.SUBMITTED
    # After a restart: another rng and only the other SMSC up; the message stays put.
    again = _gateway(route=[{"name": "r", "smscs": [["a", "b"]]}])
    _up(again, "b" if record.smsc == "a" else "a")
    resumed = again.intake.plan(record, resume=True)
    assert resumed.dispatcher is again.smscs[record.smsc or ""].dispatcher
    assert record.parts is parts and [j.part for j in resumed.jobs] == parts
    assert [j.pdu for j in resumed.jobs] == sent
    assert record.status is Status.SUBMITTED
    record.text = "short now"
    with pytest.raises(SubmitError, match="splits into 1 parts now, was 2"):
        again.intake.plan(record, resume=True)
    record.smsc = "gone"
    with pytest.raises(SubmitError, match="no longer configured"):
        again.intake.plan(record, resume=True)


def test_an_opted_out_destination_is_blocked_not_planned_and_counted() -> None:
    gw = _gateway()
    intake = Intake(
        gw.config,
        {n: s.dispatcher for n, s in gw.smscs.items()},
        store=gw.store,
        metrics=gw.metrics,
        rng=random.Random(1),
        opted_out={"447700900001"}.__contains__,
    )
    intake.now = lambda: 0.0
    record, plan = intake.accept(_fields(destination="+447700900001"))
    assert plan is None
    assert (record.status, record.error, record.parts) == (Status.BLOCKED, "destination opted out", [])
    assert gw.metrics.registry.get_sample_value("smppgw_messages_total", {"status": "blocked"}) == 1
    assert intake.accept(_fields(destination="447700900002"))[1] is not None


def test_limits_are_shared_per_sender_and_per_route() -> None:
    gw = _gateway(
        route=[{"name": "r", "smscs": ["a"], "tps": 50}],
        limits={"senders": {"12345": 5}, "long_code_tps": 1},
    )
    first = gw.intake.accept(_fields())[1]
    second = gw.intake.accept(_fields(destination="447700900002"))[1]
    long_code = gw.intake.accept(_fields(source="447700900009"))[1]
    alpha = gw.intake.accept(_fields(source="ACME"))[1]
    assert first is not None and second is not None and long_code is not None and alpha is not None
    sender, route = first.jobs[0].limits
    assert second.jobs[0].limits == (sender, route)  # the same limiters, not copies
    assert long_code.jobs[0].limits[1] is route and long_code.jobs[0].limits[0] is not sender
    assert alpha.jobs[0].limits == (route,)  # no sender limit for an alphanumeric sender


def test_submit_and_submit_many_refuse_while_not_running() -> None:
    gw = _gateway()
    with pytest.raises(SubmitError, match="not running"):
        gw.submit(source="12345", destination="447700900001", text="hi")
    results = gw.submit_many([_fields(), _fields()])
    assert [str(r) for r in results] == ["the gateway is not running"] * 2


def test_routes_without_prefixes_go_by_sender_kind_and_tags() -> None:
    # No route has prefixes: a tagless message takes its sender kind's route from the
    # table made at start; a tagged one is routed by the router as before.
    gw = _gateway(
        smscs=["a", "b", "c"],
        route=[
            {"name": "tagged", "tags": ["otp"], "smscs": ["c"]},
            {"name": "alpha", "sender_kinds": ["alphanumeric"], "smscs": ["b"]},
            {"name": "rest", "smscs": ["a"]},
        ],
    )
    cases: list[tuple[dict[str, Any], str, str]] = [({}, "rest", "a"), ({"source": "Shop"}, "alpha", "b"), ({"tags": ["otp"]}, "tagged", "c"),
             ({"source": "Shop", "tags": ["x"]}, "alpha", "b")]  # fmt: skip
    for more, route, smsc in cases:
        record, _ = gw.intake.accept(_fields(**more))
        assert (record.route, record.smsc) == (route, smsc), more


def test_a_route_with_prefixes_is_still_chosen_by_destination() -> None:
    gw = _gateway(
        route=[{"name": "uk", "prefixes": ["44"], "smscs": ["b"]}, {"name": "rest", "smscs": ["a"]}]
    )
    assert gw.intake.accept(_fields())[0].route == "uk"
    assert gw.intake.accept(_fields(destination="33612345678"))[0].route == "rest"
