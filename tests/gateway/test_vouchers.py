"""The voucher desk (``gateway.vouchers``): one code per number, an empty pool warned
about once until it gives a code again and counted every time, and a rule's reply."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from smppgw.gateway.vouchers import VoucherDesk, voucher_reply
from smppgw.store.base import InboundRecord
from smppgw.store.memory import MemoryStore
from smppgw.twoway.config import twoway_from_dict


def _empty_count(registry: CollectorRegistry, pool: str) -> float:
    return registry.get_sample_value("smppgw_voucher_pool_empty_total", {"pool": pool}) or 0.0


def test_an_empty_pool_is_warned_about_once_and_counted_every_time(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    desk = VoucherDesk(MemoryStore(), registry=registry)
    desk.import_codes("p", [("P1", None)], at=1.0)
    caplog.set_level(logging.INFO, logger="smppgw.gateway.vouchers")
    assert desk.issue("p", "+447700900001", now=2.0) == "P1"
    assert desk.issue("p", "447700900001", now=3.0) == "P1"  # the same number, + or not
    assert [desk.issue("p", f"44770090001{i}", now=4.0) for i in range(3)] == [None, None, None]
    assert desk.issue("other", "447700900001", now=4.0) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "pool=p" in warnings[0] and "pool=other" in warnings[1], warnings
    assert (_empty_count(registry, "p"), _empty_count(registry, "other")) == (3.0, 1.0)
    assert registry.get_sample_value("smppgw_vouchers_issued_total", {"pool": "p"}) == 1.0
    assert not any("P1" in r.getMessage() for r in caplog.records)  # a code is not logged
    # Refilled, it gives codes again; empty again, it is warned about again.
    desk.import_codes("p", [("P2", None)], at=5.0)
    assert desk.issue("p", "447700900010", now=6.0) == "P2"
    assert desk.issue("p", "447700900011", now=7.0) is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3


def test_a_rule_reply_carries_the_code_or_the_exhausted_text() -> None:
    [rule] = twoway_from_dict(
        {
            "rule": [
                {"keyword": "VOUCHER", "voucher": "v", "reply": "Code {code}, once.", "exhausted": "Gone."}
            ]
        }
    ).keywords.rules
    desk = VoucherDesk(MemoryStore())
    desk.import_codes("v", [("V1", None)], at=1.0)

    def inbound(source: str) -> InboundRecord:
        return InboundRecord(
            seq=1, smsc="sim", source=source, destination="12345", text="VOUCHER", data_coding=0,
            received_at=10.0, parts=1, complete=True,
        )  # fmt: skip

    assert voucher_reply(desk, rule, inbound("447700900001")) == "Code V1, once."
    assert voucher_reply(desk, rule, inbound("447700900001")) == "Code V1, once."
    assert voucher_reply(desk, rule, inbound("447700900002")) == "Gone."
    assert voucher_reply(None, rule, inbound("447700900003")) == "Gone."  # no desk: never a code
