"""The voucher desk: codes from a pool given to numbers, and their redemptions.

``VoucherDesk.issue`` is what a keyword rule (``[[twoway.rule]] voucher = "POOL"``,
``voucher_reply`` below) and a flow step (``IssueVoucher``) call: the number's code of
the pool (the same one every time it asks), else the next unused one, taken atomically
by the store (``store.vouchers``), which writes its ``voucher.issued`` event with it.
An empty pool is None: logged as a WARNING once until the pool gives a code again (a
keyword campaign that ran dry must not fill the log with one line per text), and counted
in ``smppgw_voucher_pool_empty_total`` every time. ``redeem`` marks a code used (the API's
``POST /v1/vouchers/{code}/redeem``), with its ``voucher.redeemed`` event. Times are
wall-clock seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from smppgw.store.base import InboundRecord, VoucherStore
from smppgw.store.vouchers import PoolCounts, RedeemError, VoucherImport, VoucherRecord
from smppgw.support.logsafe import kv
from smppgw.twoway.keyword_config import Rule

__all__ = [
    "CODE",
    "PoolCounts",
    "RedeemError",
    "VoucherDesk",
    "VoucherImport",
    "VoucherRecord",
    "voucher_reply",
]

log = logging.getLogger(__name__)

#: In a rule's reply (and exhausted text): replaced by the code.
CODE: Final = "{code}"


class VoucherDesk:
    def __init__(self, store: VoucherStore, *, registry: CollectorRegistry | None = None) -> None:
        """``registry``: the gateway's metrics (``GatewayMetrics.registry``); None: a
        registry of its own (tests)."""
        self.store = store
        r = registry if registry is not None else CollectorRegistry()
        self.issued = Counter(
            "smppgw_vouchers_issued", "Voucher codes given to a number", ["pool"], registry=r
        )
        self.redeemed = Counter("smppgw_vouchers_redeemed", "Voucher codes redeemed", ["pool"], registry=r)
        self.empty = Counter(
            "smppgw_voucher_pool_empty", "Codes asked of a pool with none left", ["pool"], registry=r
        )
        self._warned: set[str] = set()  # pools found empty since their last code or import

    def issue(self, pool: str, number: str, *, campaign: str | None = None, now: float) -> str | None:
        """``number``'s code of ``pool`` (its own again when it has one), or None when the
        pool has no code left. ``now``: wall-clock seconds. Raises StoreError."""
        number = number.lstrip("+")  # one form of a number everywhere (E.164 digits)
        found = self.store.issue_voucher(pool, number, campaign=campaign, at=now)
        if found is None:
            self.empty.labels(pool).inc()
            if pool not in self._warned:
                self._warned.add(pool)
                log.warning("voucher pool empty %s", kv(pool=pool, number=number))
            return None
        record, new = found
        self._warned.discard(pool)
        if new:
            self.issued.labels(pool).inc()
            log.info("voucher issued %s", kv(pool=pool, number=number, campaign=record.campaign))
        return record.code

    def import_codes(self, pool: str, codes: Sequence[tuple[str, str | None]], *, at: float) -> VoucherImport:
        """Add (code, campaign) pairs to ``pool``; a code a pool has is reported, not added."""
        result = self.store.import_vouchers(pool, codes, at=at)
        if result.imported:
            self._warned.discard(pool)
        log.info(
            "vouchers imported %s", kv(pool=pool, imported=result.imported, duplicates=len(result.duplicates))
        )
        return result

    def redeem(self, code: str, *, at: float) -> VoucherRecord:
        """Mark ``code`` redeemed. Raises RedeemError (unknown, not issued, already
        redeemed) or StoreError."""
        record = self.store.redeem_voucher(code, at=at)
        self.redeemed.labels(record.pool).inc()
        log.info(
            "voucher redeemed %s", kv(pool=record.pool, number=record.issued_to, campaign=record.campaign)
        )
        return record


def voucher_reply(desk: VoucherDesk | None, rule: Rule, record: InboundRecord) -> str | None:
    """The reply of a rule with a ``voucher`` pool to the inbound ``record``: its reply
    with the number's code, or its ``exhausted`` text when the pool has none left."""
    code = None
    if desk is not None and rule.voucher is not None:
        code = desk.issue(rule.voucher, record.source, now=record.received_at)
    elif desk is None:
        log.warning("voucher rule without a voucher desk %s", kv(rule=rule.name))
    if code is None:
        return rule.exhausted
    return None if rule.reply is None else rule.reply.replace(CODE, code)
